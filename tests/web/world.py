"""A small, complete CRM world for web tests: departments, one user per role, records of every entity.

Each record remembers who owns it, its department and its account, so tests can say independently of the
app's SQL which role must see it (DESIGN.md §3).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crm_app.models import (
    Account,
    AccountShare,
    Activity,
    Campaign,
    CampaignMember,
    Case,
    Communication,
    Competitor,
    CompetitorOrder,
    CompetitorProduct,
    Contact,
    CustomFieldDefinition,
    Department,
    DocumentTemplate,
    DocumentTemplateLine,
    PipelineStage,
    PricePolicy,
    PricePolicyItem,
    Product,
    ProductCategory,
    PurchaseOrder,
    PurchaseOrderLine,
    SalesPlan,
    Survey,
    SurveyQuestion,
    SurveyResponse,
    Template,
    User,
    utcnow,
)
from crm_app.security import hash_password
from crm_app.services import opportunities, orders
from crm_app.services.orders import LineInput

PASSWORD = "correct-horse-9"


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class Rec:
    id: int
    owner: int | None = None
    department: int | None = None
    account: int | None = None
    parent: tuple[str, int] | None = None


@dataclass
class World:
    users: dict[str, int] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    user_department: dict[int, int | None] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)
    parent_department: dict[int, int | None] = field(default_factory=dict)
    records: dict[str, list[Rec]] = field(default_factory=dict)
    shares: set[tuple[int, int]] = field(default_factory=set)
    stages: dict[str, int] = field(default_factory=dict)

    def add(self, entity: str, rec: Rec) -> Rec:
        self.records.setdefault(entity, []).append(rec)
        return rec

    def account(self, account_id: int) -> Rec:
        return next(r for r in self.records["accounts"] if r.id == account_id)

    def tree(self, department_id: int | None) -> set[int]:
        if department_id is None:
            return set()
        found = {department_id}
        changed = True
        while changed:
            changed = False
            for child, parent in self.parent_department.items():
                if parent in found and child not in found:
                    found.add(child)
                    changed = True
        return found


ROLE_USERS = {
    "admin": ("admin", None),
    "exec": ("executive", None),
    "boss": ("manager", "S"),
    "boss2": ("manager", "O"),
    "rep1": ("sales_rep", "S1"),
    "rep2": ("sales_rep", "O"),
    "agent": ("service_agent", "S1"),
    "analyst": ("marketing_analyst", "M"),
}


def build_world(engine: Engine) -> World:
    world = World()
    with Session(engine, expire_on_commit=False) as session:
        for name, stage in ((s.name, s.id) for s in session.scalars(select(PipelineStage))):
            world.stages[name] = stage
        for code, parent in (("S", None), ("S1", "S"), ("O", None), ("M", None)):
            dept = Department(
                name=f"Dept {code}", code=code, parent_id=world.departments.get(parent) if parent else None
            )
            session.add(dept)
            session.flush()
            world.departments[code] = dept.id
            world.parent_department[dept.id] = dept.parent_id
        for username, (role, dept_code) in ROLE_USERS.items():
            user = User(
                username=username,
                full_name=username.title(),
                role=role,
                department_id=world.departments.get(dept_code) if dept_code else None,
                password_hash=password_hash(),
                email=f"{username}@example.com",
            )
            session.add(user)
            session.flush()
            world.users[username] = user.id
            world.roles[username] = role
            world.user_department[user.id] = user.department_id
        u, d = world.users, world.departments

        def account(name: str, owner: str, kind: str = "customer") -> Account:
            dept = world.user_department[u[owner]]
            acc = Account(
                name=name,
                kind=kind,
                owner_id=u[owner],
                department_id=dept,
                lifecycle_stage="signed",
                email=f"{name.lower().replace(' ', '')}@example.com",
            )
            session.add(acc)
            session.flush()
            world.add("accounts", Rec(acc.id, u[owner], dept, None))
            return acc

        acc_r1 = account("Alpha Rep1", "rep1")
        acc_r2 = account("Bravo Rep2", "rep2")
        acc_shared = account("Charlie Shared", "rep2")
        acc_agent = account("Delta Agent", "agent")
        account("Echo Supplier", "boss2", "supplier")
        account("Foxtrot Partner", "rep1", "partner")
        session.add(AccountShare(account_id=acc_shared.id, user_id=u["rep1"], can_edit=True))
        world.shares.add((acc_shared.id, u["rep1"]))

        category = ProductCategory(name="Hardware", code="HW")
        session.add(category)
        session.flush()
        world.add("product_categories", Rec(category.id))
        product = Product(
            sku="P-1", name="Widget", category_id=category.id, list_price=Decimal("100"), unit_cost=Decimal("60")
        )
        session.add(product)
        session.flush()
        world.add("products", Rec(product.id))
        policy = PricePolicy(name="Friends", default_discount_pct=Decimal("5"))
        session.add(policy)
        session.flush()
        world.add("price_policies", Rec(policy.id))
        item = PricePolicyItem(price_policy_id=policy.id, product_id=product.id, discount_pct=Decimal("10"))
        session.add(item)
        session.flush()
        world.add("price_policy_items", Rec(item.id))
        doc = DocumentTemplate(name="Starter kit", document="quote")
        doc.lines.append(DocumentTemplateLine(position=1, product_id=product.id, quantity=Decimal("2")))
        session.add(doc)
        session.flush()
        world.add("document_templates", Rec(doc.id))
        campaign = Campaign(name="Spring mailing", kind="email", owner_id=u["analyst"], department_id=d["M"])
        session.add(campaign)
        session.flush()
        world.add("campaigns", Rec(campaign.id))
        template = Template(name="Hello", channel="email", subject="Hello {contact_name}", body="Dear {first_name}")
        session.add(template)
        session.flush()
        world.add("templates", Rec(template.id))
        survey = Survey(name="Deal check", kind="opportunity_evaluation")
        session.add(survey)
        session.flush()
        world.add("surveys", Rec(survey.id))
        question = SurveyQuestion(survey_id=survey.id, position=1, text="Budget?", kind="yes_no")
        session.add(question)
        session.flush()
        world.add("survey_questions", Rec(question.id))
        competitor = Competitor(name="Rival Inc")
        session.add(competitor)
        session.flush()
        world.add("competitors", Rec(competitor.id))
        cproduct = CompetitorProduct(competitor_id=competitor.id, name="Rival widget")
        session.add(cproduct)
        session.flush()
        world.add("competitor_products", Rec(cproduct.id))
        field_def = CustomFieldDefinition(entity="accounts", name="vat_id", label="VAT id", field_type="text")
        session.add(field_def)
        session.flush()
        world.add("custom_fields", Rec(field_def.id))

        admin = session.get(User, u["admin"])
        for acc in (acc_r1, acc_r2, acc_shared):
            owner, dept = acc.owner_id, acc.department_id
            owner_user = session.get(User, owner)
            contact = Contact(account_id=acc.id, first_name="Pat", last_name=acc.name.split()[0], owner_id=owner)
            session.add(contact)
            session.flush()
            world.add("contacts", Rec(contact.id, owner, None, acc.id))
            opp = opportunities.create_opportunity(
                session,
                {"name": f"Deal {acc.name}", "account_id": acc.id, "amount": Decimal("1000"), "owner_id": owner},
                owner_user,
            )
            opp.department_id = dept
            world.add("opportunities", Rec(opp.id, owner, dept, acc.id))
            quote = orders.create_quote(
                session,
                {"account_id": acc.id, "owner_id": owner, "department_id": dept},
                [LineInput(quantity=Decimal(1), product_id=product.id)],
                owner_user,
            )
            world.add("quotes", Rec(quote.id, owner, dept, acc.id))
            order = orders.create_order(
                session,
                {"account_id": acc.id, "owner_id": owner, "department_id": dept},
                [LineInput(quantity=Decimal(2), product_id=product.id)],
                owner_user,
            )
            world.add("orders", Rec(order.id, owner, dept, acc.id))
            plan = orders.add_payment_plan(session, order, dt.date.today(), Decimal("50"), owner_user)
            world.add("payment_plans", Rec(plan.id, parent=("orders", order.id)))
            payment = orders.record_payment(session, order, Decimal("20"), dt.date.today(), owner_user)
            world.add("payments", Rec(payment.id, parent=("orders", order.id)))
            activity = Activity(kind="call", subject=f"Call {acc.name}", owner_id=owner, account_id=acc.id)
            session.add(activity)
            case = Case(
                number=f"CS-{acc.id:07d}",
                kind="complaint",
                subject=f"Broken at {acc.name}",
                account_id=acc.id,
                owner_id=owner,
                department_id=dept,
                opened_at=utcnow(),
            )
            session.add(case)
            comm = Communication(channel="phone", account_id=acc.id, user_id=owner, subject=f"Rang {acc.name}")
            session.add(comm)
            member = CampaignMember(campaign_id=campaign.id, account_id=acc.id)
            session.add(member)
            corder = CompetitorOrder(
                competitor_id=competitor.id, account_id=acc.id, order_date=dt.date.today(), amount=Decimal("5")
            )
            session.add(corder)
            response = SurveyResponse(
                survey_id=survey.id, account_id=acc.id, user_id=owner, responded_at=utcnow(), opportunity_id=opp.id
            )
            session.add(response)
            session.flush()
            world.add("activities", Rec(activity.id, owner, None, acc.id))
            world.add("cases", Rec(case.id, owner, dept, acc.id))
            world.add("communications", Rec(comm.id, owner, None, acc.id))
            world.add("campaign_members", Rec(member.id, None, None, acc.id))
            world.add("competitor_orders", Rec(corder.id, None, None, acc.id))
            world.add("survey_responses", Rec(response.id, owner, None, acc.id))
        # owned by rep1 on an account rep1 may not see: visible to rep1 through ownership alone
        stray = Activity(kind="task", subject="Rep1 task at Bravo", owner_id=u["rep1"], account_id=acc_r2.id)
        session.add(stray)
        agent_case = Case(
            number="CS-AGENT",
            kind="inquiry",
            subject="Agent case",
            account_id=acc_agent.id,
            owner_id=u["agent"],
            department_id=acc_agent.department_id,
            opened_at=utcnow(),
        )
        session.add(agent_case)
        session.flush()
        world.add("activities", Rec(stray.id, u["rep1"], None, acc_r2.id))
        world.add("cases", Rec(agent_case.id, u["agent"], acc_agent.department_id, acc_agent.id))
        for plan_values in ({"user_id": u["rep1"]}, {"department_id": d["O"]}):
            plan = SalesPlan(period_month=dt.date.today().replace(day=1), target_revenue=Decimal("1000"), **plan_values)
            session.add(plan)
            session.flush()
            world.add("sales_plans", Rec(plan.id, plan_values.get("user_id"), plan_values.get("department_id"), None))
        supplier_id = next(r.id for r in world.records["accounts"] if r.owner == u["boss2"])
        for owner in ("boss", "boss2"):
            po = PurchaseOrder(
                number=f"PO-{owner}",
                supplier_id=supplier_id,
                owner_id=u[owner],
                department_id=world.user_department[u[owner]],
                order_date=dt.date.today(),
                total_amount=Decimal("60"),
            )
            po.lines.append(
                PurchaseOrderLine(
                    position=1,
                    product_id=product.id,
                    quantity=Decimal(1),
                    unit_cost=Decimal(60),
                    line_total=Decimal(60),
                )
            )
            session.add(po)
            session.flush()
            world.add("purchase_orders", Rec(po.id, u[owner], po.department_id, None))
        for user_id in u.values():
            world.add("users", Rec(user_id))
        for dept_id in d.values():
            world.add("departments", Rec(dept_id))
        for stage_id in world.stages.values():
            world.add("pipeline_stages", Rec(stage_id))
        del admin
        session.commit()
    return world


def world_summary(world: World) -> dict[str, Any]:
    return {entity: len(recs) for entity, recs in world.records.items()}
