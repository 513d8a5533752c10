"""`crm demo-data`: deterministic, internally consistent demo data on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from crm_app.db import make_engine
from crm_app.migrations import upgrade
from crm_app.models import (
    Account,
    Activity,
    Base,
    Order,
    PipelineStage,
    PricePolicy,
    Product,
    User,
)
from crm_app.security import verify_password
from crm_app.services.activities import occurrences
from crm_app.services.pricing import line_amounts, policy_price
from crm_app.services.records import create_record, next_number
from crm_app.services.setup import seed_reference_data
from ingest.demo.baskets import line_amounts_cents
from ingest.demo.clock import Clock
from ingest.demo_data import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    LOADED_TABLES,
    TRUTH_FILE,
    DemoConfig,
    DemoDataError,
    DemoSummary,
    generate,
)
from tests import factories
from tests.board_totals import expected as board_totals_expected
from tests.board_totals import kept as board_totals_kept
from tests.conftest import BACKENDS, PG_ADMIN_URL

CUSTOMERS = 400
AS_OF = dt.datetime(2026, 3, 16, 15, 30)  # a Monday afternoon; the story ends here
CENT = Decimal("0.01")


# --------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pg_admin() -> Iterator[Engine]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield admin
    admin.dispose()


@pytest.fixture(scope="module")
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[Engine, DemoSummary, pd.DataFrame]]]:
    """The same demo data (seed 7) generated once per backend into a database of this module's own."""
    out: dict[str, tuple[Engine, DemoSummary, pd.DataFrame]] = {}
    cleanups = []
    for backend in BACKENDS:
        truth_dir = tmp_path_factory.mktemp(f"truth-{backend}")
        if backend == "sqlite":
            template: Path = request.getfixturevalue("sqlite_template")
            target = tmp_path_factory.mktemp("demo") / "crm.db"
            shutil.copyfile(template, target)
            engine = make_engine(f"sqlite:///{target}")
        else:
            admin = request.getfixturevalue("pg_admin")
            name = f"demo_data_test_{uuid.uuid4().hex[:10]}"
            with admin.connect() as conn:
                conn.exec_driver_sql(f'create database "{name}"')
            engine = make_engine(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
            upgrade(engine)
            with Session(engine) as session:
                seed_reference_data(session)
                session.commit()
            cleanups.append((admin, name))
        summary = generate(engine, DemoConfig(customers=CUSTOMERS, seed=7, as_of=AS_OF), truth_dir, progress=False)
        out[backend] = (engine, summary, pd.read_parquet(summary.truth_path))
    yield out
    for engine, _, _ in out.values():
        engine.dispose()
    for admin, name in cleanups:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'drop database if exists "{name}" with (force)')


@pytest.fixture(params=BACKENDS)
def demo(request: pytest.FixtureRequest, generated: dict) -> tuple[Engine, DemoSummary, pd.DataFrame]:
    return generated[request.param]


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def frame(engine: Engine, sql: str) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(text(sql))
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def as_datetime(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


TODAY = AS_OF.date()


# ------------------------------------------------------------------------------ what was generated


def test_generate_fills_every_table_and_reports_true_counts(demo: tuple) -> None:
    engine, summary, _ = demo
    for table in LOADED_TABLES:
        stored = rows(engine, f'select count(*) from "{table}"')[0][0]
        assert stored == summary.counts.get(table, 0), table
        assert stored > 0, f"{table} is empty"
    customers = rows(engine, "select count(*) from accounts where kind = 'customer'")[0][0]
    assert customers == CUSTOMERS
    kinds = {k for (k,) in rows(engine, "select distinct kind from accounts")}
    assert kinds == {"customer", "partner", "supplier"}
    described = summary.describe()
    assert f"{CUSTOMERS:,} customers" in described and str(summary.truth_path) in described
    assert "order_lines" in described and DEMO_PASSWORD in described


def test_demo_users_have_their_roles_and_share_the_demo_password(demo: tuple) -> None:
    engine, _, _ = demo
    with Session(engine) as session:
        users = {u.username: u for u in session.scalars(select(User))}
        for login in DEMO_LOGINS:
            assert users[login.username].role == login.role
        hashes = {u.password_hash for u in users.values()}
        assert len(hashes) == 1 and len(users) > len(DEMO_LOGINS)
        assert verify_password(hashes.pop(), DEMO_PASSWORD)
        manager, rep, agent = users["manager"], users["rep"], users["agent"]
        assert rep.manager_id == manager.id and rep.department_id == manager.department_id
    assert rows(engine, "select count(*) from accounts where owner_id = :u and kind = 'customer'", u=rep.id)[0][0] > 0
    open_deals = "select count(*) from opportunities where owner_id = :u and status = 'open'"
    assert rows(engine, open_deals, u=rep.id)[0][0] > 0
    open_cases = "select count(*) from cases where owner_id = :u and status in ('open', 'in_progress')"
    assert rows(engine, open_cases, u=agent.id)[0][0] > 0
    managed = rows(engine, "select count(*) from departments where manager_id = :u", u=manager.id)[0][0]
    assert managed == 1


def test_order_totals_equal_their_lines_and_line_arithmetic_holds(demo: tuple) -> None:
    engine, _, _ = demo
    lines = rows(
        engine,
        "select order_id, quantity, unit_price, discount_pct, discount_amount, line_total from order_lines",
    )
    sums: dict[int, Decimal] = defaultdict(Decimal)
    for order_id, qty, price, pct, discount, total in lines:
        gross = money(Decimal(str(qty)) * money(price))
        assert money(discount) == money(gross * Decimal(str(pct)) / 100)
        assert money(total) == gross - money(discount)
        sums[order_id] += money(total)
    orders = rows(engine, "select id, total_amount from orders")
    assert len(orders) == len(sums)
    for order_id, total in orders:
        assert money(total) == sums[order_id]
    quote_sums: dict[int, Decimal] = defaultdict(Decimal)
    for quote_id, total in rows(engine, "select quote_id, line_total from quote_lines"):
        quote_sums[quote_id] += money(total)
    for quote_id, total in rows(engine, "select id, total_amount from quotes"):
        assert money(total) == quote_sums[quote_id]


def test_lines_are_priced_as_the_pricing_service_prices_them(demo: tuple) -> None:
    """Direct orders' lines carry the account's price-policy price; the arithmetic is line_amounts'."""
    engine, _, _ = demo
    with Session(engine) as session:
        products = {p.id: p for p in session.scalars(select(Product))}
        policies = {p.id: p for p in session.scalars(select(PricePolicy))}
        lines: Sequence[Any] = session.execute(
            text(
                "select a.price_policy_id, l.product_id, l.quantity, l.unit_price, l.discount_pct, l.line_total "
                "from order_lines l join orders o on o.id = l.order_id join accounts a on a.id = o.account_id "
                "where o.kind = 'sale' and o.quote_id is null"
            )
        ).all()
        expected: dict[tuple[int | None, int], tuple[Decimal, Decimal]] = {}
        for policy_id, product_id, qty, price, pct, total in lines:
            key = (policy_id, product_id)
            if key not in expected:
                expected[key] = policy_price(session, policies.get(policy_id), products[product_id])
            list_price, policy_pct = expected[key]
            assert money(price) == money(list_price)
            assert Decimal(str(pct)) >= policy_pct  # a rep may give more than the policy, never less
            amounts = line_amounts(Decimal(str(qty)), money(price), Decimal(str(pct)))
            assert money(total) == amounts.line_total
    assert any(policy is not None for policy, _ in expected)


def test_vectorised_line_arithmetic_is_the_pricing_services() -> None:
    rng = np.random.default_rng(3)
    qty = rng.integers(1, 500, 4000)
    price = rng.integers(0, 5_000_000, 4000)
    bp = rng.integers(0, 10_001, 4000)
    discount, total = line_amounts_cents(qty, price, bp)
    for q, p, b, d, t in zip(qty, price, bp, discount, total, strict=True):
        amounts = line_amounts(Decimal(int(q)), Decimal(int(p)) / 100, Decimal(int(b)) / 100)
        assert (amounts.discount_amount, amounts.line_total) == (Decimal(int(d)) / 100, Decimal(int(t)) / 100)


def test_payments_never_exceed_what_is_due_and_never_precede_the_order(demo: tuple) -> None:
    engine, _, _ = demo
    orders = {i: (money(t), as_date(d)) for i, t, d in rows(engine, "select id, total_amount, order_date from orders")}
    planned: dict[int, Decimal] = defaultdict(Decimal)
    plan_amount = {}
    for plan_id, order_id, amount, due in rows(engine, "select id, order_id, amount, due_date from payment_plans"):
        planned[order_id] += money(amount)
        plan_amount[plan_id] = money(amount)
        assert as_date(due) >= orders[order_id][1]
    for order_id, (total, _) in orders.items():
        assert planned[order_id] == total  # the plan schedules exactly the order total
    paid: dict[int, Decimal] = defaultdict(Decimal)
    for order_id, plan_id, amount, paid_on in rows(
        engine, "select order_id, payment_plan_id, amount, paid_on from payments"
    ):
        paid[order_id] += money(amount)
        assert money(amount) <= plan_amount[plan_id]
        assert orders[order_id][1] <= as_date(paid_on) <= TODAY
    assert all(paid[o] <= orders[o][0] for o in paid)
    overdue = rows(
        engine,
        "select count(*) from payment_plans p where p.due_date < :today and p.kind = 'collection' "
        "and not exists (select 1 from payments x where x.payment_plan_id = p.id)",
        today=TODAY,
    )[0][0]
    ahead = rows(engine, "select count(*) from payment_plans where due_date > :today", today=TODAY)[0][0]
    late = rows(
        engine,
        "select count(*) from payments x join payment_plans p on p.id = x.payment_plan_id where x.paid_on > p.due_date",
    )[0][0]
    assert overdue > 0 and ahead > 0 and late > 0


def test_stage_history_is_contiguous_and_ends_at_the_current_stage(demo: tuple) -> None:
    engine, _, _ = demo
    with Session(engine) as session:
        stages = {s.id: s for s in session.scalars(select(PipelineStage))}
    history = defaultdict(list)
    for opp, frm, to, at in rows(
        engine,
        "select opportunity_id, from_stage_id, to_stage_id, changed_at from opportunity_stage_history order by id",
    ):
        history[opp].append((frm, to, as_datetime(at)))
    opportunities = rows(
        engine, "select id, stage_id, status, closed_date, lost_reason, probability, created_at from opportunities"
    )
    assert len(history) == len(opportunities)
    for opp, stage_id, status, closed, reason, probability, created in opportunities:
        steps = history[opp]
        assert steps[0][0] is None and steps[0][2] == as_datetime(created)
        for before, after in itertools.pairwise(steps):
            assert after[0] == before[1] and after[2] >= before[2]
        assert steps[-1][1] == stage_id
        stage = stages[stage_id]
        assert status == ("open" if not stage.is_closed else "won" if stage.is_won else "lost")
        assert Decimal(str(probability)) == stage.probability
        if stage.is_closed:
            assert as_date(closed) == steps[-1][2].date() >= as_datetime(created).date()
        else:
            assert closed is None
        assert (reason is not None) == (status == "lost")
    statuses = {s for _, _, s, *_ in opportunities}
    assert statuses == {"open", "won", "lost"}


def test_win_rates_differ_by_rep_and_by_stage(demo: tuple) -> None:
    engine, _, _ = demo
    deals = frame(engine, "select owner_id, status from opportunities where status <> 'open'")
    by_rep = deals.assign(won=deals.status == "won").groupby("owner_id").won.agg(["mean", "size"])
    by_rep = by_rep[by_rep["size"] >= 10]
    assert by_rep["mean"].max() - by_rep["mean"].min() > 0.15
    lost_at = frame(
        engine,
        "select h.from_stage_id from opportunity_stage_history h join pipeline_stages s on s.id = h.to_stage_id "
        "where s.is_closed and not s.is_won",
    )
    assert lost_at.from_stage_id.nunique() >= 3  # deals are lost at several stages, not all at one


def test_returns_never_exceed_what_was_sold(demo: tuple) -> None:
    engine, _, _ = demo
    sold = {
        i: (order_id, product, Decimal(str(qty)), money(total))
        for i, order_id, product, qty, total in rows(
            engine,
            "select id, order_id, product_id, quantity, line_total from order_lines where return_of_line_id is null",
        )
    }
    returned: dict[int, Decimal] = defaultdict(Decimal)
    refunds: dict[int, Decimal] = defaultdict(Decimal)
    returns = rows(
        engine,
        "select l.return_of_line_id, l.product_id, l.quantity, l.line_total, o.return_of_id, o.order_date, "
        "s.order_date from order_lines l join orders o on o.id = l.order_id join orders s on s.id = o.return_of_id "
        "where o.kind = 'return'",
    )
    assert returns
    for line_id, product, qty, total, sale_id, back_on, sold_on in returns:
        order_id, sold_product, _, _ = sold[line_id]
        assert order_id == sale_id and product == sold_product and as_date(back_on) >= as_date(sold_on)
        returned[line_id] += Decimal(str(qty))
        refunds[line_id] += money(total)
    for line_id, qty in returned.items():
        assert qty <= sold[line_id][2]
        assert refunds[line_id] <= sold[line_id][3]
    share = len(returns) / rows(engine, "select count(*) from orders where kind = 'sale'")[0][0]
    assert 0.005 < share < 0.08  # a few percent


def test_nothing_happens_before_its_cause(demo: tuple) -> None:
    engine, _, _ = demo
    checks = {
        "orders before their customer": "select count(*) from orders o join accounts a on a.id = o.account_id "
        "where o.order_date < {date_of_a} or o.created_at < a.created_at",
        "deals before their customer": "select count(*) from opportunities o join accounts a on a.id = o.account_id "
        "where o.created_at < a.created_at",
        "quotes before their deal": "select count(*) from quotes q join opportunities o on o.id = q.opportunity_id "
        "where q.created_at < o.created_at",
        "cases before their order": "select count(*) from cases c join orders o on o.id = c.order_id "
        "where c.opened_at < o.created_at or c.resolved_at < c.opened_at or c.closed_at < c.resolved_at",
        "contacts before their account": "select count(*) from contacts c join accounts a on a.id = c.account_id "
        "where c.created_at < a.created_at",
        "won deals closed before the order": "select count(*) from orders o join opportunities p "
        "on p.id = o.opportunity_id where p.status <> 'won' or p.closed_date <> o.order_date",
        "converted quotes without their order": "select count(*) from quotes q left join orders o on o.id = q.order_id "
        "where q.status = 'converted' and (o.id is null or o.quote_id <> q.id)",
        "satisfaction on unclosed cases": "select count(*) from cases "
        "where satisfaction is not null and status <> 'closed'",
        "campaign responses before sending": "select count(*) from campaign_members where responded_at < sent_at "
        "or converted_at < responded_at",
        "times after now": "select count(*) from orders where created_at > :now",
    }
    dialect = engine.dialect.name
    date_of_a = "date(a.created_at)" if dialect == "sqlite" else "cast(a.created_at as date)"
    for what, sql in checks.items():
        assert rows(engine, sql.format(date_of_a=date_of_a), now=AS_OF)[0][0] == 0, what


def test_created_at_tells_the_story_and_updated_at_is_insertion_time(demo: tuple) -> None:
    engine, summary, _ = demo
    for table in ("accounts", "orders", "order_lines", "opportunities", "payments", "cases", "activities"):
        first, last, touched = rows(engine, f"select min(created_at), max(created_at), min(updated_at) from {table}")[0]
        assert as_datetime(last) <= AS_OF
        assert as_datetime(touched) > AS_OF  # written now, long after the story ended: ingest sees them
        if table != "accounts":
            assert (as_datetime(last) - as_datetime(first)).days > 300, table
    assert summary.as_of == AS_OF


def test_dashboards_get_recent_activity_and_work_ahead(demo: tuple) -> None:
    engine, _, _ = demo
    ahead = rows(
        engine, "select count(*) from opportunities where status = 'open' and expected_close_date >= :t", t=TODAY
    )
    assert ahead[0][0] > 0
    recent = rows(engine, "select count(*) from orders where order_date >= :d", d=TODAY - dt.timedelta(days=30))
    assert recent[0][0] > 0
    open_cases = rows(engine, "select count(*) from cases where status in ('open', 'in_progress')")[0][0]
    assert open_cases > 0
    # open one-off tasks (follow-ups, payment chasers, planned visits) fall due in the days ahead, in office
    # hours; they are not all due this very moment (and so overdue a minute after the data was generated)
    tasks = frame(
        engine, "select due_at from activities where status = 'open' and kind = 'task' and recurrence_rule is null"
    )
    due = pd.to_datetime(tasks["due_at"])
    assert len(due) > 0
    assert (due > AS_OF).mean() > 0.9
    assert due.max() > AS_OF + dt.timedelta(days=5)
    assert due.dt.hour.between(8, 17).all()
    with Session(engine) as session:
        weekly = session.scalars(
            select(Activity).where(Activity.status == "open", Activity.recurrence_rule == "FREQ=WEEKLY;BYDAY=MO")
        ).all()
        assert weekly
        for task in weekly:  # as the app expands the series: the next occurrence is due within a week
            upcoming = occurrences(task, AS_OF, AS_OF + dt.timedelta(days=7))
            assert len(upcoming) == 1 and upcoming[0].weekday() == 0 and upcoming[0].hour == 9
            done = session.scalars(select(Activity.due_at).where(Activity.recurrence_parent_id == task.id)).all()
            past = occurrences(task, task.due_at, AS_OF)
            assert set(done) <= set(past) and len(done) >= len(past) - 1
    series = rows(engine, "select count(*) from activities where recurrence_parent_id is not null")[0][0]
    assert series > 0
    channels = {c for (c,) in rows(engine, "select distinct channel from communications")}
    assert channels == {"email", "sms", "phone", "letter", "fax", "web"}
    kinds = {k for (k,) in rows(engine, "select distinct kind from activities")}
    assert {"call", "visit", "meeting", "email", "task", "note"} <= kinds
    assert rows(engine, "select count(*) from activities where expense > 0")[0][0] > 0


def test_lifecycle_stages_agree_with_history(demo: tuple) -> None:
    engine, _, _ = demo
    accounts = frame(
        engine,
        "select a.id, a.lifecycle_stage, (select count(*) from orders o where o.account_id = a.id "
        "and o.kind = 'sale') as orders from accounts a where a.kind = 'customer'",
    )
    buyers = accounts.orders > 0
    assert set(accounts[~buyers].lifecycle_stage) <= {"prospect", "opportunity"}
    assert set(accounts[buyers].lifecycle_stage) <= {"signed", "end_user", "lost"}
    assert set(accounts.lifecycle_stage) == {"prospect", "opportunity", "signed", "end_user", "lost"}


def test_sales_plans_are_set_near_what_was_sold(demo: tuple) -> None:
    engine, _, _ = demo
    plans = frame(
        engine,
        "select user_id, period_month, target_revenue from sales_plans where user_id is not null",
    )
    sales = frame(engine, "select owner_id, order_date, kind, total_amount from orders")
    sales["month"] = pd.to_datetime(sales.order_date).dt.to_period("M")
    sales["net"] = sales.total_amount.map(money).astype(float) * np.where(sales.kind == "return", -1, 1)
    actual = sales.rename(columns={"owner_id": "user_id"}).groupby(["user_id", "month"]).net.sum()
    plans["month"] = pd.to_datetime(plans.period_month).dt.to_period("M")
    plans = plans[plans.month < pd.Period(TODAY, "M")].set_index(["user_id", "month"])
    both = plans.join(actual.rename("actual"), how="inner")
    both = both[both.actual > 0]
    ratio = both.actual / both.target_revenue.astype(float)
    assert len(ratio) > 20
    assert ratio.between(0.79, 1.26).all()  # targets were actuals × 0.8–1.25


def test_document_numbers_follow_the_apps_scheme_and_the_app_can_continue(demo: tuple) -> None:
    engine, _, _ = demo
    for table, prefix, where in (
        ("orders", "SO", "kind = 'sale'"),
        ("orders", "RT", "kind = 'return'"),
        ("quotes", "Q", "1 = 1"),
        ("cases", "CS", "1 = 1"),
        ("purchase_orders", "PO", "kind = 'purchase'"),
    ):
        for record_id, number in rows(engine, f"select id, number from {table} where {where}"):
            assert number == f"{prefix}-{record_id:07d}"
    refs = [r for (r,) in rows(engine, "select external_ref from accounts where kind = 'customer' order by id")]
    assert refs == [f"CUST-{i:07d}" for i in range(1, CUSTOMERS + 1)]
    with Session(engine) as session:
        top = session.scalar(select(func.max(Order.id))) or 0
        assert next_number(session, Order, "SO") == f"SO-{top + 1:07d}"
        # the id sequences moved past the loaded rows: the app's own inserts still work
        account = create_record(session, Account, {"name": "Walk-in customer", "kind": "customer"}, None)
        assert account.id > CUSTOMERS
        session.rollback()


def test_foreign_keys_hold(demo: tuple) -> None:
    engine, _, _ = demo
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":  # COPY checked every row against these constraints
            checked = conn.exec_driver_sql(
                "select count(*), count(*) filter (where not convalidated) from pg_constraint where contype = 'f'"
            ).one()
            assert checked[0] > 30 and checked[1] == 0
            return
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_every_deal_mirrors_its_accounts_owner_and_department(demo: tuple) -> None:
    """The bulk load (COPY, ADBC) goes through the database's triggers too (migration 0009): a manager's board
    relies on each deal's copy of its live account's owner and department."""
    engine, _, _ = demo
    with engine.connect() as conn:
        deals, mirrored, wrong = conn.exec_driver_sql(
            "select count(*), count(o.account_owner_id), sum(case when "
            "coalesce(o.account_owner_id, -1) = coalesce(case when a.deleted_at is null then a.owner_id end, -1) "
            "and coalesce(o.account_department_id, -1) = "
            "coalesce(case when a.deleted_at is null then a.department_id end, -1) then 0 else 1 end) "
            "from opportunities o join accounts a on a.id = o.account_id"
        ).one()
    assert deals > 100 and mirrored > deals // 2 and wrong == 0


def test_the_board_totals_count_every_loaded_deal(demo: tuple) -> None:
    """The bulk load goes through the triggers that keep the pipeline board's totals too (migration 0010): on
    PostgreSQL one grouped statement per COPY, on SQLite one per row."""
    engine, _, _ = demo
    with Session(engine) as session:
        kept, expected = board_totals_kept(session), board_totals_expected(session)
    assert sum(deals for deals, _ in expected.values()) > 100
    assert kept == expected


def test_postgresql_load_keeps_the_statistics_targets_of_the_search_indexes(generated: dict) -> None:
    """The loader drops and rebuilds secondary indexes around COPY; a rebuilt index must keep the finer statistics
    migrations 0005, 0007 and 0008 give the account search expressions, or a search plans for one match (seconds)."""
    engine, _, _ = generated["postgresql"]
    targets = rows(
        engine,
        "select a.attrelid::regclass::text, a.attnum, a.attstattarget from pg_attribute a "
        "where a.attrelid in ('ix_accounts_name_lower'::regclass, 'ix_accounts_external_ref_lower'::regclass, "
        "'ix_accounts_owner_id_name_lower'::regclass, 'ix_accounts_department_id_name_lower'::regclass) "
        "and a.attstattarget > 0 order by 1",
    )
    assert [tuple(row) for row in targets] == [
        ("ix_accounts_department_id_name_lower", 3, 1000),
        ("ix_accounts_external_ref_lower", 1, 1000),
        ("ix_accounts_name_lower", 1, 1000),
        ("ix_accounts_owner_id_name_lower", 3, 1000),
    ]


def test_custom_fields_have_values_on_accounts_and_products(demo: tuple) -> None:
    engine, _, _ = demo
    defined = rows(engine, "select entity, name from custom_field_definitions")
    for entity, name in defined:
        values = [json.loads(c) if isinstance(c, str) else c for (c,) in rows(engine, f"select custom from {entity}")]
        assert any(name in v for v in values), (entity, name)


# ------------------------------------------------------------------------------------ hidden truth


def test_truth_file_has_one_row_per_customer_and_no_purchase_after_dropout(demo: tuple) -> None:
    engine, summary, truth = demo
    assert summary.truth_path.name == TRUTH_FILE
    customers = {i for (i,) in rows(engine, "select id from accounts where kind = 'customer'")}
    assert len(truth) == CUSTOMERS and set(truth.account_id) == customers
    sales = frame(engine, "select account_id, order_date from orders where kind = 'sale'")
    sales["order_date"] = pd.to_datetime(sales.order_date)
    per_customer = sales.groupby("account_id").order_date.agg(["max", "size"])
    merged = truth.set_index("account_id").join(per_customer)
    dropped = merged[merged.dropout_date.notna()]
    assert len(dropped) > 0
    assert (dropped["max"] <= pd.to_datetime(dropped.dropout_date)).all()
    bought = merged["size"].fillna(0).astype(int)
    assert (bought == merged.purchases).all()
    assert merged.alive_at_end.isna().equals(bought == 0)
    assert (merged.purchase_rate_per_year > 0).all() and merged.dropout_probability.between(0, 1).all()
    for column in ("account_id", "external_ref", "purchase_rate_per_year", "dropout_probability", "dropout_date"):
        assert column in truth.columns
    # nothing of the truth leaks into CRM tables
    assert "purchase_rate" not in json.dumps(rows(engine, "select custom from accounts limit 50"), default=str)


def test_customers_who_left_look_different_and_complaints_drive_dropout(generated: dict) -> None:
    """The signal churn and value models should find: recency, frequency and badly handled complaints."""
    engine, _, truth = generated["sqlite"]
    buyers = truth[truth.purchases > 0].set_index("account_id")
    last = pd.to_datetime(buyers.last_purchase_date)
    recency = (pd.Timestamp(TODAY) - last).dt.days
    alive = buyers.alive_at_end.astype(bool)
    assert recency[~alive].mean() > recency[alive].mean()
    assert buyers.complaints_raised_dropout.sum() > 0
    assert not buyers[alive].complaints_raised_dropout.any()
    assert np.corrcoef(np.log(buyers.purchase_rate_per_year), np.log(buyers.purchases))[0, 1] > 0.3
    unhappy = {
        a for (a,) in rows(engine, "select account_id from cases where kind = 'complaint' and satisfaction <= 2")
    }
    had_bad_complaint = buyers.index.isin(unhappy)
    assert had_bad_complaint.sum() >= 5
    assert (~alive[had_bad_complaint]).mean() > (~alive[~had_bad_complaint]).mean()


# ------------------------------------------------------------------------------------- determinism


CHECKSUM_COLUMNS = {
    "accounts": ("id", "external_ref", "name", "lifecycle_stage", "tier", "owner_id", "created_at"),
    "orders": ("id", "number", "account_id", "order_date", "total_amount", "created_at"),
    "order_lines": (
        "id",
        "order_id",
        "product_id",
        "quantity",
        "unit_price",
        "discount_pct",
        "line_total",
        "unit_cost",
    ),
    "opportunity_stage_history": ("id", "opportunity_id", "from_stage_id", "to_stage_id", "changed_at"),
    "payments": ("id", "order_id", "paid_on", "amount"),
    "cases": ("id", "account_id", "opened_at", "satisfaction"),
    "activities": ("id", "subject", "due_at"),
    "communications": ("id", "channel", "occurred_at"),
    "sales_plans": ("id", "user_id", "period_month", "target_revenue"),
}


def checksum(engine: Engine) -> str:
    """A digest of the key columns of the generated story (everything but insertion times)."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for name, columns in CHECKSUM_COLUMNS.items():
            table = Base.metadata.tables[name]
            for row in conn.execute(select(*(table.c[c] for c in columns)).order_by(table.c.id)):
                digest.update(repr(tuple(normal(v) for v in row)).encode())
    return digest.hexdigest()


def normal(value: Any) -> Any:
    if isinstance(value, Decimal | float):
        return str(money(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def fresh_sqlite(template: Path, folder: Path) -> Engine:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, folder / "crm.db")
    return make_engine(f"sqlite:///{folder / 'crm.db'}")


def test_same_seed_gives_the_same_data_on_every_backend(generated: dict) -> None:
    assert checksum(generated["sqlite"][0]) == checksum(generated["postgresql"][0])
    pd.testing.assert_frame_equal(generated["sqlite"][2], generated["postgresql"][2])


def test_same_seed_same_data_different_seed_different_data(sqlite_template: Path, tmp_path: Path) -> None:
    config = DemoConfig(customers=60, seed=11, months=6, as_of=AS_OF)
    sums = []
    for name, seed, executemany in (("a", 11, False), ("b", 11, True), ("c", 12, False)):
        engine = fresh_sqlite(sqlite_template, tmp_path / name)
        run = DemoConfig(customers=config.customers, seed=seed, months=config.months, as_of=AS_OF)
        generate(engine, run, tmp_path / name, progress=False, prefer_executemany=executemany)
        sums.append(checksum(engine))
        engine.dispose()
    assert sums[0] == sums[1]  # same seed; the plain executemany path stores the same rows
    assert sums[0] != sums[2]


def test_chunks_stream_the_customers_with_the_same_invariants(sqlite_template: Path, tmp_path: Path) -> None:
    engine = fresh_sqlite(sqlite_template, tmp_path)
    summary = generate(engine, DemoConfig(customers=150, seed=5, as_of=AS_OF), tmp_path, progress=False, chunk_size=40)
    truth = pd.read_parquet(summary.truth_path)
    assert len(truth) == 150 and truth.account_id.is_unique
    assert rows(engine, "select count(*) from accounts where kind = 'customer'")[0][0] == 150
    mismatched = rows(
        engine,
        "select count(*) from orders o where o.total_amount <> "
        "(select round(sum(l.line_total), 2) from order_lines l where l.order_id = o.id)",
    )[0][0]
    assert mismatched == 0
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    engine.dispose()


# ------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("customers", "months"), [(0, 24), (-5, 24), (10, 0), (10, 241)], ids=["zero", "negative", "no-months", "too-long"]
)
def test_config_refuses_impossible_sizes(customers: int, months: int) -> None:
    with pytest.raises(DemoDataError, match="must be"):
        DemoConfig(customers=customers, months=months)


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f'select count(*) from "{t}"')).scalar_one() for t in LOADED_TABLES}


def test_refuses_a_database_that_holds_accounts_and_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as session:
        factories.account(session, name="Existing customer")
        session.commit()
    before = table_counts(engine)
    with pytest.raises(DemoDataError, match="already holds 1 accounts"):
        generate(engine, DemoConfig(customers=20, as_of=AS_OF), tmp_path, progress=False)
    assert table_counts(engine) == before
    assert not (tmp_path / TRUTH_FILE).exists()
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_refuses_when_a_demo_username_is_taken(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as session:
        factories.user(session, role="admin", username="admin")
        session.commit()
    before = table_counts(engine)
    with pytest.raises(DemoDataError, match="demo users admin already exist"):
        generate(engine, DemoConfig(customers=20, as_of=AS_OF), tmp_path, progress=False)
    assert table_counts(engine) == before


def test_users_added_before_are_kept(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as session:
        boss = factories.user(session, role="admin", username="boss").id
        session.commit()
    generate(engine, DemoConfig(customers=20, as_of=AS_OF), tmp_path, progress=False)
    with Session(engine) as session:
        users = {u.username: u for u in session.scalars(select(User))}
    assert users["boss"].id == boss and users["boss"].password_hash is None  # untouched
    assert {login.username for login in DEMO_LOGINS} <= set(users)
    assert min(u.id for name, u in users.items() if name != "boss") > boss


def test_a_failure_half_way_leaves_the_database_as_it_was(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.demo import customers

    calls = {"n": 0}
    original = customers.Chunk.run

    def fail_on_second(self: customers.Chunk) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return original(self)

    monkeypatch.setattr(customers.Chunk, "run", fail_on_second)
    before = table_counts(engine)
    with pytest.raises(RuntimeError, match="disk full"):
        generate(engine, DemoConfig(customers=30, as_of=AS_OF), tmp_path, progress=False, chunk_size=10)
    assert table_counts(engine) == before
    assert not list(tmp_path.glob("*demo_truth*"))
    with engine.connect() as conn:  # the indexes dropped for the load are back
        names = {i["name"] for i in inspect(conn).get_indexes("order_lines")}
    assert "ix_order_lines_order_id" in names


def test_progress_bar_is_shown_on_request(sqlite_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    engine = fresh_sqlite(sqlite_template, tmp_path)
    generate(engine, DemoConfig(customers=15, as_of=AS_OF), tmp_path, progress=True)
    assert "Customers and their history" in capsys.readouterr().err
    engine.dispose()


# -------------------------------------------------------------------------------------------- CLI


def crm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    crm_bin = Path(sys.executable).with_name("crm")
    return subprocess.run(
        [str(crm_bin), *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False
    )


def test_cli_generates_demo_data_then_refuses_to_do_it_twice(crm_env: dict[str, str]) -> None:
    first = crm(crm_env, "demo-data", "--customers", "40", "--seed", "3", "--months", "12", "--no-progress")
    assert first.returncode == 0, first.stderr
    assert "Generated demo data for 40 customers (seed 3, 12 months" in first.stdout
    truth = Path(crm_env["CRM_DATA_DIR"]).resolve() / TRUTH_FILE
    assert str(truth) in first.stdout and len(pd.read_parquet(truth)) == 40
    engine = make_engine(crm_env["CRM_DATABASE_URL"])
    newest = rows(engine, "select max(order_date) from orders")[0][0]
    engine.dispose()
    assert as_date(newest) >= dt.date.today() - dt.timedelta(days=60)  # history ends today
    again = crm(crm_env, "demo-data", "--customers", "40", "--no-progress")
    assert again.returncode == 1
    assert "already holds" in again.stderr and "Traceback" not in again.stderr


def test_clock_office_hours_keep_order_and_day() -> None:
    clock = Clock(now=AS_OF, months=3)
    days = np.sort(np.random.default_rng(1).uniform(-5, clock.end, 5000))
    stamped = clock.office(days)
    assert (np.diff(stamped) >= 0).all()
    assert (np.floor(stamped) == np.floor(days)).all()
    hours = (stamped - np.floor(stamped)) * 24
    assert ((hours >= 8) & (hours <= 18)).all() and stamped.max() <= clock.end


@pytest.mark.parametrize(("customers", "months"), [(1, 1), (3, 240)], ids=["one-customer-one-month", "twenty-years"])
def test_tiny_and_long_histories_work(sqlite_template: Path, tmp_path: Path, customers: int, months: int) -> None:
    engine = fresh_sqlite(sqlite_template, tmp_path)
    summary = generate(engine, DemoConfig(customers=customers, months=months, seed=9), tmp_path, progress=False)
    assert len(pd.read_parquet(summary.truth_path)) == customers
    first = rows(engine, "select min(created_at) from accounts where kind = 'customer'")[0][0]
    assert as_datetime(first) >= summary.as_of - dt.timedelta(days=31 * months + 1)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    engine.dispose()
