"""dbt project: marts as of a date (records dated later change nothing), reconciliation, the gate's refusals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy.orm import Session

from tests.dbt.conftest import (
    AS_OF,
    add_later_records,
    build_history,
    day,
    query,
    read_marts,
    run_dbt,
)

pytestmark = pytest.mark.slow

ONLY_MODELS = ("--exclude", "test_type:data", "test_type:unit")


# the scenario's purchases lie within 100 days of AS_OF: a 50-day hold-out puts some on each side of the back-test
HOLDOUT_DAYS = 50


def _as_of(date: dt.date) -> dict[str, Any]:
    return {"as_of_date": date.isoformat(), "clv_backtest_holdout_days": HOLDOUT_DAYS}


def _first_difference(before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]) -> str:
    only_before = [row for row in before if row not in after][:3]
    only_after = [row for row in after if row not in before][:3]
    return f"{len(before)} rows before, {len(after)} after; only before: {only_before}; only after: {only_after}"


def test_build_gives_the_defined_figures_and_reconciles(
    session: Session, db_url: str, raw_layer: Any, build_copy: Any, tmp_path: Path
) -> None:
    s = build_history(session)
    build = build_copy(raw_layer(db_url), "build")

    run = run_dbt(build, tmp_path / "dbt", "build", variables=_as_of(AS_OF))

    assert run.success, f"dbt build failed: {run.error or list(run.failed())}"
    assert any(r["unique_id"].startswith("unit_test.") for r in run.results), "the unit tests ran"
    a, b = s.ids["a"], s.ids["b"]
    revenue = dict(query(build, "select account_id, lifetime_net_revenue from marts.customer_value"))
    # A: 2 x 100 + 1 x 50 + 1 x 100, one unit of the first sale returned; B: 3 x 50
    assert revenue[a] == Decimal("250.00")
    assert revenue[b] == Decimal("150.00")
    margin = dict(query(build, "select account_id, lifetime_gross_margin from marts.customer_value"))
    assert margin[a] == Decimal("110.00")  # 250 - (120 + 20 + 60 - 60)
    # the two orders of one day are one purchase occasion: A repeated once, B never
    frequency = dict(query(build, "select account_id, frequency from marts.customer_value"))
    assert (frequency[a], frequency[b]) == (1, 0)
    # Σ customer revenue = total net revenue; every deal sits in one funnel stage
    totals = query(
        build,
        "select (select sum(lifetime_net_revenue) from marts.customer_value),"
        " (select sum(net_revenue) from marts.fct_orders),"
        " (select sum(current_count) from marts.sales_funnel),"
        " (select count(*) from marts.fct_opportunities)",
    )[0]
    assert totals == (Decimal("400.00"), Decimal("400.00"), 3, 3)
    deals = dict(
        query(build, "select opportunity_id, stage_name || ':' || opportunity_status from marts.fct_opportunities")
    )
    assert deals == {s.ids["o1"]: "Proposal:open", s.ids["o2"]: "Won:won", s.ids["o3"]: "Lost:lost"}
    weighted = query(build, "select sum(weighted_pipeline_amount) from marts.sales_forecast")[0][0]
    assert weighted == Decimal("600.00")  # 1000 in Proposal at 60 %
    care = query(build, "select account_id, reason_kind, reason, owner_name from marts.care_list")
    assert (
        a,
        "problem",
        f"1 open complaint (oldest opened {(AS_OF - dt.timedelta(days=10)).isoformat()})",
        "Sam Rep",
    ) in care
    win = query(build, "select sum(won_count), sum(lost_count) from marts.win_loss")[0]
    assert win == (1, 1)

    # role scoping: the funnel rows are the rep's own and add up to the deals; the product rows carry the department
    rep, sales = s.ids["rep"], s.ids["sales"]
    assert query(build, "select distinct owner_id from marts.sales_funnel") == [(rep,)]
    assert query(build, f"select sum(open_count) from marts.sales_funnel where owner_id = {rep}") == [(1,)]
    assert query(build, "select distinct department_id from marts.product_rankings") == [(sales,)]
    products = dict(query(build, "select product_id, t12m_customers from marts.product_rankings"))
    assert products == {s.ids["p1"]: 1, s.ids["p2"]: 2}  # A bought both, B only p2

    # plans: the month that has begun with its actuals; the coming month made before AS_OF with its target only
    plans = query(
        build,
        "select period_month, is_future_month, target_revenue, actual_revenue from marts.plan_vs_actual order by 1",
    )
    assert plans == [
        (day(-40).replace(day=1), False, Decimal("500.00"), plans[0][3]),
        (day(100).replace(day=1), True, Decimal("800.00"), None),
    ]
    assert plans[0][3] is not None

    # the customer value back-test: fitted on what was known HOLDOUT_DAYS before AS_OF (A's first purchase, B's),
    # compared with what they bought after (A's purchase on day -40)
    backtest = dict(
        query(
            build,
            "select account_id, actual_purchases || ':' || actual_net_revenue from marts.clv_backtest_customers",
        )
    )
    assert backtest == {a: "1:100.00", b: "0:0.00"}
    total = query(
        build,
        "select customers, actual_purchases, actual_net_revenue, calibration_end_date, holdout_end_date, bg_nbd_status"
        " from marts.clv_backtest where breakdown = 'total'",
    )
    assert total == [(2, 1, Decimal("100.00"), day(-HOLDOUT_DAYS), AS_OF, "fallback_too_few_customers")]
    months = query(build, "select sum(actual_purchases), count(*) from marts.clv_backtest where breakdown = 'month'")
    assert months[0][0] == 1 and months[0][1] >= 2

    # every month column (the first day of a month) is a DATE, whatever the source database typed its timestamps as
    month_types = [
        (f"{table}.{column}", dtype)
        for table, column, dtype in query(
            build,
            "select table_name, column_name, data_type from information_schema.columns where table_schema = 'marts'",
        )
        if column.endswith("_month") and not column.startswith("is_") and column != "day_of_month"
    ]
    assert ("fct_orders.order_month", "DATE") in month_types
    assert ("fct_order_lines.order_month", "DATE") in month_types
    assert {dtype for _, dtype in month_types} == {"DATE"}, month_types


def test_records_dated_after_the_as_of_date_change_no_mart(
    session: Session, db_url: str, raw_layer: Any, build_copy: Any, tmp_path: Path
) -> None:
    s = build_history(session)
    before_file = build_copy(raw_layer(db_url), "before")
    first = run_dbt(before_file, tmp_path / "dbt1", "build", *ONLY_MODELS, variables=_as_of(AS_OF))
    assert first.success, first.error or list(first.failed())
    before = read_marts(before_file)

    add_later_records(session, s)
    raw = raw_layer(db_url)  # incremental ingest of the later records
    after_file = build_copy(raw, "after")
    second = run_dbt(after_file, tmp_path / "dbt2", "build", *ONLY_MODELS, variables=_as_of(AS_OF))
    assert second.success, second.error or list(second.failed())
    after = read_marts(after_file)

    assert sorted(after) == sorted(before)
    assert len(before) >= 30, f"expected every mart, got {sorted(before)}"
    changed = {name: _first_difference(before[name], after[name]) for name in before if before[name] != after[name]}
    assert changed == {}
    assert all(before[name] for name in ("fct_orders", "fct_opportunities", "customer_value", "care_list"))

    # the later records are there and do count once the as-of date reaches them
    today_file = build_copy(raw, "today")
    third = run_dbt(today_file, tmp_path / "dbt3", "build", *ONLY_MODELS, variables=_as_of(dt.date.today()))
    assert third.success, third.error or list(third.failed())
    revenue = dict(query(today_file, "select account_id, lifetime_net_revenue from marts.customer_value"))
    assert revenue[s.ids["a"]] == Decimal("650.00")  # + 4 x 100 on day 5
    assert revenue[s.ids["b"]] == Decimal("100.00")  # one of three returned on day 3
    assert len(revenue) == 3  # the customer created after the as-of date
    status = dict(query(today_file, "select opportunity_id, opportunity_status from marts.fct_opportunities"))
    assert status[s.ids["o1"]] == "won"
    # the plan made after AS_OF is there once its month has begun; the back-test moved with the as-of date
    assert query(today_file, "select count(*) from marts.plan_vs_actual where not is_future_month") == [(3,)]
    assert before["clv_backtest"] and before["clv_backtest_customers"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_build_refuses_operational_rule_breaks_naming_table_rule_and_keys(
    session: Session, db_url: str, raw_layer: Any, build_copy: Any, tmp_path: Path
) -> None:
    s = build_history(session)
    build = build_copy(raw_layer(db_url), "bad")
    con = duckdb.connect(str(build))
    try:
        line_id = con.execute("select max(id) + 1 from raw.order_lines").fetchall()[0][0]
        # a line pointing at a product that does not exist (its order total no longer adds up either)
        con.execute(
            "insert into raw.order_lines by name select * replace (? as id, 999999 as product_id) "
            "from raw.order_lines where order_id = ? limit 1",
            [line_id, s.ids["b1"]],
        )
        # a negative quantity on a sale, a stage that is not in pipeline_stages, a payment above the total
        con.execute("update raw.order_lines set quantity = -1 where order_id = ?", [s.ids["a3"]])
        con.execute("update raw.opportunities set stage_id = 999 where id = ?", [s.ids["o1"]])
        con.execute("update raw.payments set amount = amount + 500 where order_id = ?", [s.ids["a1"]])
    finally:
        con.close()

    run = run_dbt(build, tmp_path / "dbt", "build", "--select", "staging", variables=_as_of(AS_OF))

    assert not run.success
    failed = run.failed()
    expected = {
        "order_lines__product_exists": str(line_id),
        "order_lines__quantity_positive": None,
        "opportunities__stage_id_in_pipeline_stages": str(s.ids["o1"]),
        "order_totals_match_lines": str(s.ids["b1"]),
        "payments_within_amount_due": str(s.ids["a1"]),
    }
    assert set(expected) <= set(failed), sorted(failed)
    for name, key in expected.items():
        examples = query(build, f"select * from ({failed[name]['compiled_code']}) as failing")
        assert examples, name
        if key is not None:
            assert key in {str(row[0]) for row in examples}, (name, examples)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_failing_row_check_names_the_table_the_rule_and_the_keys(
    session: Session, db_url: str, raw_layer: Any, build_copy: Any, tmp_path: Path
) -> None:
    from warehouse.dbt_run import run_dbt_build

    s = build_history(session)
    build = build_copy(raw_layer(db_url), "bad")
    con = duckdb.connect(str(build))
    try:
        # two rules of the staging models' `checks` tests (one dbt test per model checks all its rules)
        con.execute("update raw.pipeline_stages set probability = 1.5 where id = ?", [s.ids["won"]])
        con.execute("update raw.orders set kind = 'gift' where id = ?", [s.ids["b1"]])
    finally:
        con.close()

    outcome = run_dbt_build(build, as_of=AS_OF, horizon_days=365, work_dir=tmp_path / "dbt", skip_unit_tests=True)

    assert not outcome.success
    problems = outcome.problems()
    assert (
        f"stg_crm__pipeline_stages: probability must be between 0 and 1 — failed for 1 row: stage_id {s.ids['won']} "
        "(1.5000)"
    ) in problems, problems
    assert (
        f"stg_crm__orders: order_kind must be one of sale, return — failed for 1 row: order_id {s.ids['b1']} (gift)"
    ) in problems, problems
    # the models reading the broken staging models were not built
    assert {n.name for n in outcome.nodes if n.status == "skipped"} >= {"fct_orders", "fct_opportunities"}


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("2026-02-30", "as_of_date 2026-02-30 is not a calendar date"),
        ("30/06/2026", "as_of_date must be a date written YYYY-MM-DD"),
        ((dt.date.today() + dt.timedelta(days=2)).isoformat(), "is in the future"),
    ],
)
def test_bad_as_of_date_is_refused_with_a_clear_message(tmp_path: Path, as_of: str, message: str) -> None:
    run = run_dbt(tmp_path / "none.duckdb", tmp_path / "dbt", "parse", variables={"as_of_date": as_of})

    assert not run.success
    assert message in (run.error or "")
    assert not (tmp_path / "none.duckdb").exists()
