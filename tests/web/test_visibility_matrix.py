"""Every role × every entity: lists, detail pages, edit pages, API reads and writes, CSV exports — no leaks.

What each role must see is worked out here from the world's owners, departments, accounts and shares
(DESIGN.md §3), independently of the SQL in crm_app.services.visibility.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from crm_app.models import Account, Opportunity, SoftDeleteMixin, User
from crm_app.services import opportunities
from crm_app.services.registry import RESOURCES
from crm_app.services.visibility import Viewer, restrict, rule, scope_on, viewer_for, visible_ids
from tests.web.world import ROLE_USERS, Rec, World

GLOBAL = {
    "campaigns",
    "templates",
    "surveys",
    "survey_questions",
    "competitors",
    "competitor_products",
    "products",
    "product_categories",
    "price_policies",
    "price_policy_items",
    "document_templates",
    "users",
    "departments",
    "pipeline_stages",
}
CUSTOMER_SIDE = {
    "accounts",
    "contacts",
    "opportunities",
    "quotes",
    "orders",
    "payments",
    "payment_plans",
    "activities",
    "cases",
    "communications",
    "campaign_members",
    "survey_responses",
    "competitor_orders",
}
FIELD = {"admin", "manager", "sales_rep", "service_agent"}
DEALS = {"admin", "manager", "sales_rep"}
MARKETING = {"admin", "manager", "marketing_analyst"}
CATALOGUE = {"admin", "manager"}
WRITERS = {
    "accounts": FIELD,
    "contacts": FIELD,
    "activities": FIELD,
    "cases": FIELD,
    "opportunities": DEALS,
    "quotes": DEALS,
    "orders": DEALS,
    "payments": DEALS,
    "payment_plans": DEALS,
    "communications": FIELD | {"marketing_analyst"},
    "survey_responses": FIELD | {"marketing_analyst"},
    "campaigns": MARKETING,
    "campaign_members": MARKETING,
    "templates": MARKETING,
    "surveys": MARKETING,
    "survey_questions": MARKETING,
    "competitors": MARKETING,
    "competitor_products": MARKETING,
    "competitor_orders": MARKETING,
    "products": CATALOGUE,
    "product_categories": CATALOGUE,
    "price_policies": CATALOGUE,
    "price_policy_items": CATALOGUE,
    "document_templates": CATALOGUE,
    "sales_plans": CATALOGUE,
    "purchase_orders": CATALOGUE,
    "users": {"admin"},
    "departments": {"admin"},
    "custom_fields": {"admin"},
    "pipeline_stages": {"admin"},
}
ENTITIES = sorted(name for name, spec in RESOURCES.items() if spec.entity == name)


def may_see(world: World, username: str, entity: str, rec: Rec) -> bool:
    role = world.roles[username]
    uid = world.users[username]
    if entity == "custom_fields":
        return role == "admin"
    if role in ("admin", "executive"):
        return True
    if entity in GLOBAL:
        return True
    if role == "marketing_analyst":
        return entity in CUSTOMER_SIDE
    if entity == "purchase_orders" and role != "manager":
        return False
    tree = world.tree(world.user_department[uid]) if role == "manager" else set()

    def in_tree(department: int | None, owner: int | None) -> bool:
        return role == "manager" and (department in tree or world.user_department.get(owner) in tree)

    def account_visible(account_id: int) -> bool:
        acc = world.account(account_id)
        return acc.owner == uid or (account_id, uid) in world.shares or in_tree(acc.department, acc.owner)

    if entity == "accounts":
        return account_visible(rec.id)
    if rec.owner == uid or in_tree(rec.department, rec.owner):
        return True
    if rec.account is not None and account_visible(rec.account):
        return True
    if rec.parent is not None:
        parent_entity, parent_id = rec.parent
        parent = next(r for r in world.records[parent_entity] if r.id == parent_id)
        return may_see(world, username, parent_entity, parent)
    return False


def expected(world: World, username: str, entity: str) -> set[int]:
    return {r.id for r in world.records.get(entity, []) if may_see(world, username, entity, r)}


def test_world_covers_every_entity(world: World) -> None:
    missing = [e for e in ENTITIES if not world.records.get(e)]
    assert missing == [], f"the test world has no {missing}"


@pytest.mark.parametrize("username", sorted(ROLE_USERS))
def test_visibility_matrix_has_no_leaks(username: str, world: World, sign_in) -> None:  # type: ignore[no-untyped-def]
    client = sign_in(username)
    role = world.roles[username]
    problems: list[str] = []
    for entity in ENTITIES:
        spec = RESOURCES[entity]
        visible = expected(world, username, entity)
        readable = (entity == "custom_fields" and role == "admin") or entity != "custom_fields"
        readable = readable and not (
            (role in ("sales_rep", "service_agent") and entity == "purchase_orders")
            or (role == "marketing_analyst" and entity in ("sales_plans", "purchase_orders"))
        )
        # API list
        response = client.get(f"/api/v1/{entity}", params={"page_size": 200})
        if readable:
            got = {item["id"] for item in response.json()["items"]} if response.status_code == 200 else None
            if got != visible:
                problems.append(f"API list {entity}: got {got}, expected {visible}")
        elif response.status_code != 404:
            problems.append(f"API list {entity}: {response.status_code} for a role that may not read it")
        # page list: the first column links to each row's own page
        page = client.get(f"/{entity}", params={"page_size": 200})
        if readable:
            got = set(map(int, re.findall(rf'<tr><td class="col-\w+"><a href="/{entity}/(\d+)">', page.text)))
            if page.status_code != 200 or got != visible:
                problems.append(f"page list {entity}: {page.status_code} {got}, expected {visible}")
        elif page.status_code != 404:
            problems.append(f"page list {entity}: {page.status_code} for a role that may not read it")
        # CSV export
        export = client.get(f"/{entity}/export.csv")
        if readable:
            rows = list(csv.DictReader(io.StringIO(export.text))) if export.status_code == 200 else []
            got = {int(row["id"]) for row in rows}
            if export.status_code != 200 or got != visible:
                problems.append(f"export {entity}: {export.status_code} {got}, expected {visible}")
        elif export.status_code != 404:
            problems.append(f"export {entity}: {export.status_code} for a role that may not read it")
        writable = role in WRITERS[entity]
        for rec in world.records[entity]:
            sees = rec.id in visible
            detail = client.get(f"/{entity}/{rec.id}")
            if detail.status_code != (200 if sees else 404):
                problems.append(f"page {entity}/{rec.id}: {detail.status_code}, visible={sees}")
            api = client.get(f"/api/v1/{entity}/{rec.id}")
            if api.status_code != (200 if sees else 404):
                problems.append(f"API {entity}/{rec.id}: {api.status_code}, visible={sees}")
            if spec.update_schema is None:
                continue
            want = 404 if not sees else (200 if writable else 403)
            edit = client.get(f"/{entity}/{rec.id}/edit")
            if edit.status_code != want:
                problems.append(f"edit page {entity}/{rec.id}: {edit.status_code}, wanted {want}")
            version = api.json()["version"] if api.status_code == 200 else 1
            patch = client.api("PATCH", f"/api/v1/{entity}/{rec.id}", json={"version": version})
            if patch.status_code != want:
                problems.append(f"API PATCH {entity}/{rec.id}: {patch.status_code} {patch.text[:120]}, wanted {want}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("username", sorted(ROLE_USERS))
def test_row_by_row_scope_finds_the_same_rows_as_the_list_scope(username: str, world: World, engine: Engine) -> None:
    """Detail pages and reference names check the scope row by row (``one_row``), lists gather the visible ids,
    a manager's board checks each row against sets worked out once (``scope_on``; a deal's account by the owner
    and department the deal mirrors), other entities' scopes use the visible ids of their account or parent: all
    four must find exactly the same rows — also once an account they reach records through is deleted, or handed
    to another owner and department."""
    with Session(engine) as session:

        def ids(viewer: Viewer, entity: str, *, one_row: bool) -> set[int]:
            model: Any = rule(entity).model
            query = restrict(
                select(model.id).where(model.id.in_([r.id for r in world.records[entity]])),
                viewer,
                entity,
                one_row=one_row,
            )
            return set(session.scalars(query))

        def ids_by_sets(viewer: Viewer, entity: str) -> set[int]:
            model: Any = rule(entity).model
            query = select(model.id).where(model.id.in_([r.id for r in world.records[entity]]))
            if issubclass(model, SoftDeleteMixin):
                query = query.where(model.deleted_at.is_(None))
            scope = scope_on(viewer, entity, model)
            return set(session.scalars(query if scope is None else query.where(scope)))

        for viewer, _, moment in _as_accounts_change(session, world, username):
            for entity in ENTITIES:
                if entity == "custom_fields" and viewer.role != "admin":
                    continue
                by_list, by_row = ids(viewer, entity, one_row=False), ids(viewer, entity, one_row=True)
                assert by_row == by_list, f"{entity} ({moment}): row by row {by_row}, list {by_list}"
                by_sets = ids_by_sets(viewer, entity)
                assert by_sets == by_list, f"{entity} ({moment}): by sets {by_sets}, list {by_list}"
                # the ids other entities' scopes are built on (an opportunity is seen through its account)
                known = {r.id for r in world.records[entity]}
                by_ids = set(session.scalars(visible_ids(viewer, entity))) & known
                assert by_ids == by_list, f"{entity} ({moment}): visible ids {by_ids}, list {by_list}"
        session.rollback()


@pytest.mark.parametrize("username", sorted(ROLE_USERS))
def test_a_search_narrowing_the_scope_finds_the_scope_rows_that_match(
    username: str, world: World, engine: Engine
) -> None:
    """A list's search narrows the scope's own parts too (``narrow``, so a rep's matches come from one index
    range): it must find exactly the rows of the whole scope that match, whatever the reason to see them (own,
    the department's, shared, on a visible account, under a visible parent), also once an account that records
    are seen through is deleted."""
    with Session(engine) as session:
        for viewer, shared, moment in _as_accounts_change(session, world, username):
            for entity in ENTITIES:
                if entity == "custom_fields" and viewer.role != "admin":
                    continue
                model: Any = rule(entity).model
                known = [r.id for r in world.records[entity]]
                for matching in (known[::2], known[1::2], [shared.id] if entity == "accounts" else known[:1]):
                    query = select(model.id).where(model.id.in_(known))
                    whole = set(session.scalars(restrict(query, viewer, entity)))
                    narrowed = set(session.scalars(restrict(query, viewer, entity, narrow=[model.id.in_(matching)])))
                    assert narrowed == whole & set(matching), (
                        f"{entity} ({moment}): narrowed {narrowed}, scope rows that match {whole & set(matching)}"
                    )
        session.rollback()


def _as_accounts_change(session: Session, world: World, username: str) -> Iterator[tuple[Viewer, Rec, str]]:
    """``username``'s viewer at three moments: the test world as it is; once rep2's account that is shared with
    someone is soft-deleted (records stay, the account they are seen through goes); then once rep2's other account
    is handed to rep1 and their department (its records keep their owner and department: the boss now sees them
    through the account alone, and a deal's mirror of its account must follow). Yields (viewer, the shared
    account, the moment). The caller's session rolls the changes back."""
    user = session.get(User, world.users[username])
    assert user is not None
    viewer = viewer_for(session, user)
    shared_ids = {a for a, _ in world.shares}
    rep2_accounts = [acc for acc in world.records["accounts"] if acc.owner == world.users["rep2"]]
    shared = next(acc for acc in rep2_accounts if acc.id in shared_ids)
    moved = next(acc for acc in rep2_accounts if acc.id not in shared_ids)
    yield viewer, shared, "as built"
    session.execute(update(Account).where(Account.id == shared.id).values(deleted_at=dt.datetime(2026, 1, 1)))
    yield viewer, shared, "a shared account deleted"
    rep1 = world.users["rep1"]
    session.execute(
        update(Account).where(Account.id == moved.id).values(owner_id=rep1, department_id=world.user_department[rep1])
    )
    yield viewer, shared, "a shared account deleted, another moved to rep1"


def test_a_deal_mirrors_its_live_accounts_owner_and_department(world: World, engine: Engine) -> None:
    """The database keeps each deal's copy of its account's owner and department (migration 0009) whoever writes:
    a new deal, a deal moved to another account, an account handed over, deleted and restored. A manager's board
    sees a deal's account through that copy (``scope_on``), so the boss gains a deal of another department as soon
    as its account comes to them."""
    u, d = world.users, world.departments
    with Session(engine) as session:
        boss = viewer_for(session, session.get(User, u["boss"]))
        bravo = next(
            acc
            for acc in world.records["accounts"]
            if acc.owner == u["rep2"] and acc.id not in {a for a, _ in world.shares}
        )
        deal = next(opp for opp in world.records["opportunities"] if opp.account == bravo.id)

        def mirror(deal_id: int) -> tuple[int | None, int | None]:
            row = session.execute(
                select(Opportunity.account_owner_id, Opportunity.account_department_id).where(Opportunity.id == deal_id)
            ).one()
            return row[0], row[1]

        def boss_sees(deal_id: int) -> bool:
            scope = scope_on(boss, "opportunities", Opportunity)
            assert scope is not None
            return session.scalar(select(Opportunity.id).where(Opportunity.id == deal_id, scope)) is not None

        assert mirror(deal.id) == (u["rep2"], d["O"]) and not boss_sees(deal.id)
        session.execute(update(Account).where(Account.id == bravo.id).values(owner_id=u["rep1"], department_id=d["S1"]))
        assert mirror(deal.id) == (u["rep1"], d["S1"]) and boss_sees(deal.id)
        session.execute(update(Account).where(Account.id == bravo.id).values(deleted_at=dt.datetime(2026, 1, 1)))
        assert mirror(deal.id) == (None, None) and not boss_sees(deal.id)
        session.execute(update(Account).where(Account.id == bravo.id).values(deleted_at=None))
        assert mirror(deal.id) == (u["rep1"], d["S1"])
        # the deal moved to the boss's own department's account, then a new deal on it
        alpha = next(acc for acc in world.records["accounts"] if acc.owner == u["rep1"])
        session.execute(update(Opportunity).where(Opportunity.id == deal.id).values(account_id=alpha.id))
        assert mirror(deal.id) == (u["rep1"], d["S1"])
        new = opportunities.create_opportunity(
            session,
            {"name": "Fresh deal", "account_id": alpha.id, "amount": Decimal("5")},
            session.get(User, u["admin"]),
        )
        session.flush()
        assert mirror(new.id) == (u["rep1"], d["S1"]) and boss_sees(new.id)
        session.rollback()
