"""A small but varied operational data set for the pipeline tests, written through the services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from crm_app.models import (
    AccountShare,
    Campaign,
    CampaignMember,
    Case,
    Competitor,
    Favorite,
    Order,
)
from crm_app.services.opportunities import change_stage, create_opportunity, lost_stage
from crm_app.services.orders import LineInput, add_payment_plan, create_order, create_return, record_payment
from crm_app.services.records import soft_delete
from tests import factories


@dataclass
class Sample:
    """Ids of the records the tests refer to."""

    customers: list[int] = field(default_factory=list)
    products: list[int] = field(default_factory=list)
    orders: list[int] = field(default_factory=list)
    opportunities: list[int] = field(default_factory=list)
    users: list[int] = field(default_factory=list)
    deleted_customer: int = 0
    share: int = 0
    favorite: int = 0


def populate(session: Session, *, today: dt.date | None = None, customers: int = 6, tag: str = "") -> Sample:
    """Departments, users, products, customers with sales, a return, payments, a funnel, cases, a campaign."""
    today = today or dt.date.today()
    sample = Sample()
    dept = factories.department(session, name="Sales East")
    rep = factories.user(session, department_id=dept.id)
    agent = factories.user(session, role="service_agent", department_id=dept.id)
    sample.users = [rep.id, agent.id]
    cat = factories.category(session)
    products = [
        factories.product(session, list_price="100.00", unit_cost="60.00", category_id=cat.id),
        factories.product(session, list_price="19.99", unit_cost="7.50", category_id=cat.id),
        factories.product(session, list_price="1234.56", unit_cost="1000.01", category_id=cat.id),
    ]
    sample.products = [p.id for p in products]
    competitor = Competitor(name=f"Rival Corp{tag}")
    session.add(competitor)
    campaign = Campaign(name=f"Spring mailing{tag}", kind="email", status="completed", budget=Decimal("500.00"))
    session.add(campaign)
    session.flush()

    for n in range(customers):
        account = factories.account(
            session,
            lifecycle_stage="signed",
            owner_id=rep.id,
            department_id=dept.id,
            external_ref=f"CUST{tag}-{n:03d}",
            region=["North", "South"][n % 2],
            custom={"segment": "retail", "vip": n == 0},
        )
        sample.customers.append(account.id)
        for k in range(n % 3 + 1):
            order = create_order(
                session,
                {"account_id": account.id, "order_date": today - dt.timedelta(days=30 * (k + 1) + n)},
                [
                    LineInput(quantity=Decimal(k + 1), product_id=products[k % 3].id),
                    LineInput(quantity=Decimal("2.5"), product_id=products[(k + 1) % 3].id, discount_pct=Decimal("10")),
                ],
                rep,
            )
            sample.orders.append(order.id)
        session.add(CampaignMember(campaign_id=campaign.id, account_id=account.id, status="responded"))

    first = session.get(Order, sample.orders[0])
    assert first is not None
    create_return(session, first, {first.lines[0].id: Decimal("1")}, rep, return_date=today - dt.timedelta(days=5))
    plan = add_payment_plan(session, first, today + dt.timedelta(days=30), first.total_amount, rep)
    record_payment(session, first, first.total_amount / 2, today - dt.timedelta(days=3), rep, payment_plan_id=plan.id)

    stage_ids = {s.name: s.id for s in [factories.stage(session, n) for n in ("Qualified", "Proposal", "Won")]}
    for n, account_id in enumerate(sample.customers[:4]):
        opp = create_opportunity(
            session,
            {"name": f"Deal {n}", "account_id": account_id, "amount": Decimal("1000.00") * (n + 1)},
            rep,
            at=dt.datetime.combine(today - dt.timedelta(days=60), dt.time(9)),
        )
        change_stage(
            session, opp, stage_ids["Qualified"], rep, at=dt.datetime.combine(today - dt.timedelta(days=40), dt.time(9))
        )
        if n == 1:
            change_stage(
                session, opp, stage_ids["Won"], rep, at=dt.datetime.combine(today - dt.timedelta(days=20), dt.time(9))
            )
        elif n == 2:
            change_stage(
                session,
                opp,
                lost_stage(session).id,
                rep,
                lost_reason="competitor",
                competitor_id=competitor.id,
                at=dt.datetime.combine(today - dt.timedelta(days=10), dt.time(9)),
            )
        elif n == 3:
            change_stage(
                session,
                opp,
                stage_ids["Proposal"],
                rep,
                at=dt.datetime.combine(today - dt.timedelta(days=5), dt.time(9)),
            )
        sample.opportunities.append(opp.id)

    session.add(
        Case(
            number=f"CASE{tag}-1",
            kind="complaint",
            severity="high",
            status="open",
            subject="Late delivery",
            account_id=sample.customers[0],
            product_id=products[0].id,
            owner_id=agent.id,
            opened_at=dt.datetime.combine(today - dt.timedelta(days=7), dt.time(14, 30, 15, 123456)),
            satisfaction=2,
        )
    )
    share = AccountShare(account_id=sample.customers[1], user_id=agent.id, can_edit=False)
    favorite = Favorite(user_id=rep.id, entity="accounts", entity_id=sample.customers[0])
    session.add_all([share, favorite])
    gone = factories.account(session, name=f"Closed business{tag}", lifecycle_stage="lost")
    soft_delete(session, gone, rep, None)
    session.flush()
    sample.deleted_customer = gone.id
    sample.share = share.id
    sample.favorite = favorite.id
    session.commit()
    return sample
