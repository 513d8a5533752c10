"""The three busiest pages — account search, pipeline board, account 360 — as users see them.

Their queries are tuned for 100k accounts (one select per indexed search column merged in name order,
board totals from a covering index, statements built once and run with parameters, HTML built in one
pass); these tests pin what a user notices: which rows, in which order, which counts and sums, for whom.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

from crm_app.models import Account, AccountShare, Opportunity, Order, PipelineStage, User, utcnow
from crm_app.services import opportunities as opportunity_service
from crm_app.services import records
from crm_app.services.visibility import restrict, viewer_for
from tests.web.world import World

ROW = re.compile(r'<tr><td class="col-\w+"><a href="/accounts/(\d+)">([^<]+)</a>')


def _rows(page: str) -> list[str]:
    return [name for _, name in ROW.findall(page)]


def _count(page: str) -> int:
    found = re.search(r'<span class="count">([\d,]+)</span>', page)
    assert found, "the list shows no count"
    return int(found.group(1).replace(",", ""))


def _add_accounts(engine: Engine, *accounts: dict[str, Any]) -> list[int]:
    with Session(engine) as session:
        made = [Account(kind="customer", **values) for values in accounts]
        session.add_all(made)
        session.commit()
        return [a.id for a in made]


def test_search_finds_accounts_whose_name_or_reference_starts_with_the_text_in_any_case(
    world: World, sign_in, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    deleted = _add_accounts(
        engine,
        {"name": "Rookwood Trading", "external_ref": "RW-001"},
        {"name": "rookery Ltd"},
        {"name": "ROOKIE Corp"},
        {"name": "Zeta Partners", "external_ref": "ROOK-77"},
        {"name": "Rook Both", "external_ref": "rook-both"},
        {"name": "Brook Rook"},
        {"name": "Rook Gone"},
    )[-1]
    with Session(engine) as session:
        session.execute(text("update accounts set deleted_at = :now where id = :id"), {"now": utcnow(), "id": deleted})
        session.commit()
    client = sign_in("admin")
    page = client.get("/accounts", params={"q": "rOOk"}).text
    # sorted by name whatever its case; a name and a reference both matching list the account once
    assert _rows(page) == ["Rook Both", "rookery Ltd", "ROOKIE Corp", "Rookwood Trading", "Zeta Partners"]
    assert _count(page) == 5
    assert _rows(client.get("/accounts", params={"q": "rw-0"}).text) == ["Rookwood Trading"]
    # "contains" only when nothing starts with the text
    assert _rows(client.get("/accounts", params={"q": "ook ro"}).text) == ["Brook Rook"]
    api = client.get("/api/v1/accounts", params={"q": "ROOK"}).json()
    assert api["total"] == 5
    assert [a["name"] for a in api["items"]] == _rows(page)


def test_search_finds_accounts_by_the_start_of_their_city_as_by_their_name(
    world: World, sign_in, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    """The search box offers name, city and e-mail: a city is found by "starts with" too (migration 0011), with
    the accounts whose name starts with the same text, each once; for a manager only those they may see."""
    u, d = world.users, world.departments
    gone = _add_accounts(
        engine,
        {"name": "Acme Works", "city": "Dresden", "owner_id": u["rep1"], "department_id": d["S1"]},
        {"name": "Blue Harbour", "city": "dresden-Neustadt", "owner_id": u["boss"], "department_id": d["S"]},
        {"name": "Dresdner Bank Branch", "city": "Leipzig", "owner_id": u["rep1"], "department_id": d["S1"]},
        {"name": "Dresden Dairy", "city": "Dresden", "owner_id": u["rep1"], "department_id": d["S1"]},
        {"name": "Far Away", "city": "Dresden", "owner_id": u["rep2"], "department_id": d["O"]},
        {"name": "Old Dresden Shop", "city": "Dresden", "owner_id": u["rep1"], "department_id": d["S1"]},
        {"name": "Inner Dresden", "city": "Berlin"},
    )[-2]
    with Session(engine) as session:
        session.execute(text("update accounts set deleted_at = :now where id = :id"), {"now": utcnow(), "id": gone})
        session.commit()
    expected = ["Acme Works", "Blue Harbour", "Dresden Dairy", "Dresdner Bank Branch", "Far Away"]
    admin = sign_in("admin")
    page = admin.get("/accounts", params={"q": "DRESD"}).text
    assert _rows(page) == expected and _count(page) == 5
    # a city with no name or reference starting with it: the same "starts with", not "contains"
    assert _rows(admin.get("/accounts", params={"q": "leip"}).text) == ["Dresdner Bank Branch"]
    assert _rows(admin.get("/accounts", params={"q": "Dresden-n"}).text) == ["Blue Harbour"]
    boss = sign_in("boss").get("/accounts", params={"q": "dresd"}).text
    assert _rows(boss) == [n for n in expected if n != "Far Away"] and _count(boss) == 4
    # nothing starts with it: "contains" still finds the name
    assert _rows(admin.get("/accounts", params={"q": "ner dres"}).text) == ["Inner Dresden"]


def test_search_pages_through_every_match_once_in_either_order(world: World, sign_in, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    names = [f"{'Quasar' if i % 2 else 'QUASAR'} {i:02d}" for i in range(30)]
    _add_accounts(
        engine,
        *({"name": n} for n in names),
        {"name": "Other One", "external_ref": "quasar-ref-1"},
        {"name": "Other Two", "external_ref": "QUASAR-REF-2"},
    )
    client = sign_in("admin")
    expected = sorted([*names, "Other One", "Other Two"], key=lambda n: n.lower())
    first = client.get("/accounts", params={"q": "quasar"}).text
    second = client.get("/accounts", params={"q": "quasar", "page": 2}).text
    assert _count(first) == _count(second) == 32
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert _rows(first) + _rows(second) == expected
    backwards = client.get("/accounts", params={"q": "quasar", "sort": "-name"}).text
    assert _rows(backwards) == expected[::-1][:25]
    newest = client.get("/accounts", params={"q": "quasar", "sort": "-created_at"}).text
    assert len(_rows(newest)) == 25 and set(_rows(newest)) <= set(expected)


def test_search_keeps_to_what_a_rep_may_see(world: World, sign_in) -> None:  # type: ignore[no-untyped-def]
    rep = sign_in("rep1")
    assert _rows(rep.get("/accounts", params={"q": "alpha"}).text) == ["Alpha Rep1"]
    assert _rows(rep.get("/accounts", params={"q": "shared"}).text) == ["Charlie Shared"]  # shared with rep1
    hidden = rep.get("/accounts", params={"q": "bravo"}).text
    assert _rows(hidden) == [] and "No accounts match" in hidden
    assert _count(rep.get("/accounts").text) == 3  # own two and the shared one


def test_a_managers_search_finds_each_match_they_may_see_once_whatever_the_reason(
    world: World, sign_in, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    """A manager sees an account for several reasons at once — owned in their department, of their department,
    their own, shared with them — and a search matches it by name or by reference: each match is listed and
    counted once, in name order, page after page; deleted and unseen accounts never."""
    u, d = world.users, world.departments
    owned_in_tree = [{"name": f"Kestrel {i:02d}", "owner_id": u["rep1"], "department_id": d["S1"]} for i in range(30)]
    ids = _add_accounts(
        engine,
        *owned_in_tree,
        {"name": "kestrel of S1", "owner_id": u["rep2"], "department_id": d["S1"]},  # of the department only
        {"name": "Other Shared", "external_ref": "KESTREL-9", "owner_id": u["rep2"], "department_id": d["O"]},
        {"name": "Kestrel Mine", "external_ref": "kestrel-mine", "owner_id": u["boss"], "department_id": d["S"]},
        {"name": "Kestrel Hidden", "owner_id": u["rep2"], "department_id": d["O"]},
        {"name": "Kestrel Gone", "owner_id": u["rep1"], "department_id": d["S1"]},
        {"name": "Kestrel Shared Gone", "owner_id": u["rep2"], "department_id": d["O"]},
    )
    shared, gone, shared_gone = ids[31], ids[-2], ids[-1]
    with Session(engine) as session:
        session.add_all([AccountShare(account_id=i, user_id=u["boss"]) for i in (shared, shared_gone)])
        session.execute(
            text("update accounts set deleted_at = :now where id in (:a, :b)"),
            {"now": utcnow(), "a": gone, "b": shared_gone},
        )
        session.commit()
    expected = sorted(
        [a["name"] for a in owned_in_tree] + ["kestrel of S1", "Other Shared", "Kestrel Mine"], key=str.lower
    )
    boss = sign_in("boss")
    first = boss.get("/accounts", params={"q": "KESTREL"}).text
    second = boss.get("/accounts", params={"q": "KESTREL", "page": 2}).text
    assert _count(first) == _count(second) == 33
    assert _rows(first) + _rows(second) == expected
    assert _rows(boss.get("/accounts", params={"q": "kestrel", "sort": "-name"}).text) == expected[::-1][:25]
    assert _rows(boss.get("/accounts", params={"q": "kestrel", "mine": "1"}).text) == ["Kestrel Mine"]
    assert _rows(boss.get("/accounts", params={"q": "kestrel-"}).text) == ["Kestrel Mine", "Other Shared"]
    # "contains" (nothing starts with the text): the same reasons, the same once-only
    assert _rows(boss.get("/accounts", params={"q": "strel 0"}).text) == expected[:10]
    api = boss.get("/api/v1/accounts", params={"q": "kestrel", "page_size": 50}).json()
    assert api["total"] == 33
    assert [a["name"] for a in api["items"]] == expected
    # the rep of S1 sees only their own of these
    assert _count(sign_in("rep1").get("/accounts", params={"q": "kestrel"}).text) == 30


def test_a_list_kept_for_its_shape_answers_each_request_with_its_own_values(world: World, sign_in) -> None:  # type: ignore[no-untyped-def]
    """A list's statements are built once per shape of request and run with each request's values
    (resources._listing): requests of the same shape — another word of the same length and case, another filter
    value, another page size, another person of the role — must each get their own rows."""
    admin = sign_in("admin")
    for kind, name in (("partner", "Foxtrot Partner"), ("supplier", "Echo Supplier"), ("partner", "Foxtrot Partner")):
        assert _rows(admin.get("/accounts", params={"kind": kind}).text) == [name]
    for word, name in (("alpha", "Alpha Rep1"), ("bravo", "Bravo Rep2"), ("delta", "Delta Agent")):
        assert _rows(admin.get("/accounts", params={"q": word}).text) == [name]
        assert _rows(admin.get("/accounts", params={"q": word, "kind": "customer"}).text) == [name]
    assert _rows(admin.get("/accounts", params={"q": "echo", "kind": "customer"}).text) == []
    assert len(_rows(admin.get("/accounts", params={"page_size": 2}).text)) == 2
    assert len(_rows(admin.get("/accounts", params={"page_size": 4}).text)) == 4
    # "contains" (nothing starts with the text) with another pattern of the same shape
    assert _rows(admin.get("/accounts", params={"q": "lta ag"}).text) == ["Delta Agent"]
    assert _rows(admin.get("/accounts", params={"q": "avo re"}).text) == ["Bravo Rep2"]
    # two reps: the same shape, each their own scope
    assert _rows(sign_in("rep1").get("/accounts", params={"q": "bravo"}).text) == []
    assert _rows(sign_in("rep2").get("/accounts", params={"q": "bravo"}).text) == ["Bravo Rep2"]


def test_search_text_with_accents_matches_as_typed_or_capitalised(world: World, sign_in, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    _add_accounts(engine, {"name": "Ärztehaus Nord"}, {"name": "Øresund Shipping"})
    client = sign_in("admin")
    assert _rows(client.get("/accounts", params={"q": "Ärzte"}).text) == ["Ärztehaus Nord"]
    assert _rows(client.get("/accounts", params={"q": "ärzte"}).text) == ["Ärztehaus Nord"]
    assert _rows(client.get("/accounts", params={"q": "øresund"}).text) == ["Øresund Shipping"]


def _board(page: str) -> dict[str, dict[str, Any]]:
    """Per column: the header's count and amount, the cards' deal ids and account names, the "more" link."""
    columns: dict[str, dict[str, Any]] = {}
    parts = re.split(r'<div class="column[^"]*" data-stage="\d+"[^>]*aria-label="([^"]+)">', page)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        count, amount = re.search(r'<span class="sum">(\d+) · ([^<]+)</span>', body).groups()  # type: ignore[union-attr]
        more = re.search(r"\+ (\d+) more</a>", body)
        columns[name] = {
            "count": int(count),
            "amount": amount,
            "cards": [int(i) for i in re.findall(r'<div class="deal"[^>]* data-id="(\d+)"', body)],
            "accounts": re.findall(r'<div class="deal-meta"><span>([^<]*)</span></div>', body),
            "more": int(more.group(1)) if more else 0,
        }
    return columns


def _short(amount: Decimal) -> str:
    value = float(amount)
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:,.1f}{suffix}"
    return f"{value:,.0f}"


def test_board_counts_and_sums_every_deal_and_shows_the_newest_twenty(world: World, sign_in, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    today = dt.date.today()
    with Session(engine, expire_on_commit=False) as session:
        admin = session.get(User, world.users["admin"])
        account = session.get(Account, world.records["accounts"][0].id)
        assert admin is not None and account is not None
        made = [
            opportunity_service.create_opportunity(
                session, {"name": f"Bulk {i}", "account_id": account.id, "amount": Decimal(100 + i)}, admin
            )
            for i in range(23)
        ]
        won = session.scalar(select(PipelineStage).where(PipelineStage.is_won))
        assert won is not None
        old_win, new_win, gone = made[0], made[1], made[2]
        for deal, closed in ((old_win, today - dt.timedelta(days=40)), (new_win, today - dt.timedelta(days=5))):
            opportunity_service.change_stage(session, deal, won.id, admin)
            deal.closed_date = closed
        gone.deleted_at = utcnow()
        session.commit()
        stages = list(session.scalars(select(PipelineStage).where(PipelineStage.is_active)))
        live = list(session.scalars(select(Opportunity).where(Opportunity.deleted_at.is_(None))))

    def shown(stage: PipelineStage, deals: list[Opportunity]) -> list[Opportunity]:
        cutoff = today - dt.timedelta(days=30)
        return [
            d
            for d in deals
            if d.stage_id == stage.id and (not stage.is_closed or (d.closed_date and d.closed_date >= cutoff))
        ]

    # the admin sees every deal; a manager their department tree's (the kept totals, see _department_statements),
    # here through the account too: the admin's deals are on an account of the manager's department
    with Session(engine) as session:
        boss_user = session.get(User, world.users["boss"])
        assert boss_user is not None
        boss_sees = set(
            session.scalars(restrict(select(Opportunity.id), viewer_for(session, boss_user), "opportunities"))
        )
    assert {d.id for d in made} - {gone.id} <= boss_sees
    for username, sees in (("admin", {d.id for d in live}), ("boss", boss_sees)):
        board = _board(sign_in(username).get("/opportunities/board").text)
        for stage in stages:
            expected = [d for d in shown(stage, live) if d.id in sees]
            column = board[stage.name]
            assert column["count"] == len(expected), (username, stage.name)
            assert column["amount"] == (_short(sum((d.amount for d in expected), Decimal(0))) if expected else "0")
            newest = sorted((d.id for d in expected), reverse=True)[:20]
            assert column["cards"] == newest, (username, stage.name)
            assert column["more"] == max(0, len(expected) - 20)
        assert old_win.id not in board[won.name]["cards"] and new_win.id in board[won.name]["cards"]
        assert gone.id not in [i for column in board.values() for i in column["cards"]]

    # a rep sees only the deals of their scope (their own and those on accounts they see)
    rep_board = _board(sign_in("rep2").get("/opportunities/board").text)
    rep_cards = {i for column in rep_board.values() for i in column["cards"]}
    rep_deals = {r.id for r in world.records["opportunities"] if r.owner == world.users["rep2"]}
    assert rep_cards == rep_deals
    assert sum(column["count"] for column in rep_board.values()) == len(rep_deals)
    mine = _board(sign_in("admin").get("/opportunities/board", params={"mine": "true"}).text)
    assert {i for column in mine.values() for i in column["cards"]} == {d.id for d in made[1:] if d is not gone}


def test_board_names_accounts_only_while_they_exist(world: World, sign_in, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    shared = next(r.id for r in world.records["accounts"] if (r.id, world.users["rep1"]) in world.shares)

    def account_names(username: str) -> set[str]:
        columns = _board(sign_in(username).get("/opportunities/board").text).values()
        return {name for column in columns for name in column["accounts"]}

    assert "Charlie Shared" in account_names("admin") and "Charlie Shared" in account_names("rep1")
    with Session(engine) as session:
        session.execute(text("update accounts set deleted_at = :now where id = :id"), {"now": utcnow(), "id": shared})
        session.commit()
    # the admin's board reads names with the cards, a rep's through the visibility rule: neither shows it
    assert "Charlie Shared" not in account_names("admin") and "Charlie Shared" not in account_names("rep2")


def test_owner_filter_lists_people_as_they_are_now(world: World, sign_in, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("admin")

    def owners() -> list[str]:
        page = client.get("/accounts").text
        select_html = re.search(r'<select name="owner_id"[^>]*>(.*?)</select>', page, flags=re.S)
        assert select_html, "no owner filter"
        return re.findall(r"<option value=\"\d+\"[^>]*>([^<]+)</option>", select_html.group(1))

    before = owners()
    assert "Rep1" in before and "Newcomer" not in before
    with Session(engine) as session:
        admin = session.get(User, world.users["admin"])
        newcomer = records.create_record(
            session, User, {"username": "newcomer", "full_name": "Newcomer", "role": "sales_rep"}, admin
        )
        session.commit()
        assert "Newcomer" in owners()
        records.update_record(session, newcomer, {"full_name": "Newcomer Renamed"}, admin, None)
        session.commit()
        assert "Newcomer Renamed" in owners() and "Newcomer" not in owners()
        records.soft_delete(session, newcomer, admin, None)
        session.commit()
    assert "Newcomer Renamed" not in owners()
    selected = client.get("/accounts", params={"owner_id": world.users["rep1"]}).text
    assert f'<option value="{world.users["rep1"]}" selected>Rep1</option>' in selected


def test_account_360_shows_each_section_to_whoever_sees_the_account(world: World, sign_in, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    shared = next(r.id for r in world.records["accounts"] if (r.id, world.users["rep1"]) in world.shares)
    with Session(engine) as session:
        order_total = session.scalar(select(Order.total_amount).where(Order.account_id == shared))
        assert order_total is not None
    for username in ("admin", "rep1", "boss2"):
        page = sign_in(username).get(f"/accounts/{shared}").text
        assert "<h1>Charlie Shared" in page, username
        assert "Deal Charlie Shared" in page and "Lead" in page  # the deal with its stage's name
        assert "Broken at Charlie Shared" in page  # the case
        assert "Payment plan" in page and "Payment 20.00" in page  # plan and payment, also on the timeline
        assert "Call: Call Charlie Shared" in page and "PHONE outbound: Rang Charlie Shared" in page
        tiles = re.findall(r'<div class="value">([^<]+)</div>', page)
        # net revenue, open pipeline, outstanding (the order less its payment of 20), open cases
        assert tiles == [f"{order_total:,.2f}", "1,000.00", f"{order_total - 20:,.2f}", "1"], (username, tiles)
    assert sign_in("rep1").get(f"/accounts/{world.records['accounts'][1].id}").status_code == 404


def test_busy_queries_are_answered_from_their_indexes(world: World, sign_in, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """The search is served by the indexes of migrations 0004 and 0011 (a city's start). The board's counts and
    amounts are read from the totals the database keeps (migration 0010) along their key, a manager's too (plus
    the deals seen only through a share, by their account); each column's newest cards along the index on
    (stage_id, id), never a scan of the deals."""
    statements: list[tuple[str, Any]] = []

    def remember(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    _add_accounts(engine, {"name": "Havel Boats", "city": "Potsdam"})
    client, manager = sign_in("admin"), sign_in("boss")
    event.listen(engine, "before_cursor_execute", remember)
    try:
        assert client.get("/accounts", params={"q": "alpha"}).status_code == 200
        assert client.get("/accounts", params={"q": "potsd"}).status_code == 200  # a city's start
        assert client.get("/opportunities/board").status_code == 200
        assert manager.get("/opportunities/board").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    search = [s for s in statements if "lower(accounts.name)" in s[0]]
    totals = [s for s in statements if "opportunity_board_totals" in s[0]]
    cards = [s for s in statements if "ORDER BY opportunities.id DESC" in s[0]]
    assert search and len(totals) == 2 and len(cards) == 2  # the admin's and the manager's
    with engine.connect() as conn:
        # a handful of test rows: let the planners know that, rather than guess (rolled back with the connection)
        conn.exec_driver_sql("analyze")
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("set local enable_seqscan = off")
        plans = {
            statement: "\n".join(
                str(row[-1] if engine.dialect.name == "sqlite" else row[0])
                for row in conn.exec_driver_sql(
                    ("EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ") + statement, parameters
                )
            )
            for statement, parameters in [*search, *totals, *cards]
        }
    for statement, _ in search:
        assert "ix_accounts_name_lower" in plans[statement], plans[statement]
    assert any("ix_accounts_city_lower" in plans[statement] for statement, _ in search)
    if engine.dialect.name == "sqlite":
        # PostgreSQL's choice among the indexes over a few rows says nothing (the benchmark measures it)
        stages = len(world.stages)
        for statement, _ in totals:
            # both ranges (open stages; closed ones since the recent date) along the key, nothing else
            assert plans[statement].count("SEARCH opportunity_board_totals USING INDEX") == 2, plans[statement]
            assert "SCAN opportunit" not in plans[statement], plans[statement]
        for statement, _ in cards:
            assert plans[statement].count("USING INDEX ix_opportunities_stage_id_id") == stages, plans[statement]
            assert "SCAN opportunities" not in plans[statement], plans[statement]
