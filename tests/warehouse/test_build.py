"""`crm build`: dbt into a new file, quality gate, atomic publish; failures change nothing and say why.

These tests use a tiny dbt project (tests/warehouse/tiny_dbt.py) so each build takes seconds; the real
dbt_project/ runs end to end in test_refresh.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crm_app.models import OrderLine
from crm_app.settings import Settings, get_settings
from ingest.extract import ingest
from tests.warehouse import bad_data
from tests.warehouse.helpers import digest
from tests.warehouse.sample import Sample, populate
from tests.warehouse.tiny_dbt import write_tiny_project
from warehouse.build import AsOfError, BuildFailed, build, parse_as_of
from warehouse.lock import PipelineBusyError, pipeline_lock
from warehouse.paths import build_path, failures_path, published_path, raw_path, warehouse_dir
from warehouse.readers import connect, published_version, recent_failures, refresh_history


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_tiny_project(tmp_path / "tiny_dbt")


@pytest.fixture
def settings(crm_env: dict[str, str]) -> Settings:
    return get_settings()


@pytest.fixture
def sample(session: Session) -> Sample:
    return populate(session)


def ingest_now(settings: Settings) -> None:
    ingest(settings.sqlalchemy_url, raw_path(settings))


def mart(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(published_path(settings)), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_build_publishes_marts_with_a_refresh_log(settings: Settings, sample: Sample, tiny: Path) -> None:
    ingest_now(settings)

    result = build(settings, project_dir=tiny)

    assert result.published == published_path(settings)
    assert result.row_counts["customer_value"] == len(sample.customers)
    assert result.dbt.tests_passed >= 6  # data tests and the unit test
    assert result.gate.ok and result.gate.passed >= 40
    assert not build_path(warehouse_dir(settings)).exists()
    log = mart(settings, "select as_of_date, horizon_days, status, row_counts, checks_passed from refresh_log")
    assert len(log) == 1
    as_of, horizon, status, row_counts, checks_passed = log[0]
    assert (as_of, horizon, status) == (dt.datetime.now(dt.UTC).date(), 365, "published")
    assert json.loads(str(row_counts))["fct_orders"] == result.row_counts["fct_orders"]
    assert checks_passed == result.checks_passed
    # The published file is self-contained: the raw layer travels with the marts.
    assert mart(settings, "select count(*) from raw.orders") == mart(settings, "select count(*) from marts.fct_orders")


def test_each_publish_keeps_the_history(settings: Settings, sample: Sample, tiny: Path) -> None:
    ingest_now(settings)
    first = build(settings, project_dir=tiny)
    second = build(settings, project_dir=tiny, horizon_days=30)

    history = refresh_history(settings)

    assert list(history["build_id"]) == [second.build_id, first.build_id]
    assert list(history["horizon_days"]) == [30, 365]
    # Unit tests ran once; with the very same project they are not rerun (their outcome cannot differ).
    first_checks, second_checks = (json.loads(c) for c in reversed(list(history["checks"])))
    assert first_checks["unit_tests"] == {"passed": 1}
    assert second_checks["unit_tests"] == {"skipped": f"unchanged project, passed in build {first.build_id}"}
    assert not [n for n in second.dbt.nodes if n.resource_type == "unit_test"]


def test_build_as_of_a_past_date_leaves_later_orders_out(settings: Settings, sample: Sample, tiny: Path) -> None:
    ingest_now(settings)
    as_of = dt.date.today() - dt.timedelta(days=45)

    result = build(settings, project_dir=tiny, as_of=as_of)

    latest = mart(settings, "select max(order_date) from marts.fct_orders")[0][0]
    assert isinstance(latest, dt.date) and latest <= as_of
    assert result.as_of == as_of
    assert mart(settings, "select as_of_date from refresh_log") == [(as_of,)]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-13-01", "must be a date written YYYY-MM-DD"),
        ("yesterday", "must be a date written YYYY-MM-DD"),
        ("2024-1-5", "must be a date written YYYY-MM-DD"),
        ((dt.date.today() + dt.timedelta(days=2)).isoformat(), "is in the future"),
    ],
)
def test_parse_as_of_refuses_bad_dates(value: str, message: str) -> None:
    with pytest.raises(AsOfError, match=message):
        parse_as_of(value)


def test_bad_as_of_on_the_command_line_builds_nothing(crm_env: dict[str, str], sample: Sample) -> None:
    env = {**os.environ, **crm_env}
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    subprocess.run([sys.executable, "-m", "crm_app.cli", "ingest"], env=env, check=True, capture_output=True)
    published = Path(crm_env["CRM_DATA_DIR"]) / "warehouse" / "crm.duckdb"

    for args, expected in [
        (["build", "--as-of", "2024-02-30"], "--as-of must be a date written YYYY-MM-DD, got '2024-02-30'"),
        (["build", "--as-of", future], f"--as-of {future} is in the future"),
        (["refresh", "--as-of", "last week"], "--as-of must be a date written YYYY-MM-DD"),
        (["build", "--horizon-days", "0"], "--horizon-days must be between 1 and 3650"),
    ]:
        proc = subprocess.run([sys.executable, "-m", "crm_app.cli", *args], env=env, capture_output=True, text=True)
        assert proc.returncode != 0, args
        assert expected in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
        assert not published.exists()
        assert not (published.parent / "building.duckdb").exists()
        assert not (published.parent / "dbt").exists()  # dbt never started


def _publish_good_build(settings: Settings, tiny: Path) -> str:
    ingest_now(settings)
    build(settings, project_dir=tiny)
    return digest(published_path(settings))


def _first_sale_line(session: Session) -> int:
    line = session.query(OrderLine).order_by(OrderLine.id).first()
    assert line is not None
    # End the read transaction: PostgreSQL's ALTER TABLE in bad_data would otherwise wait for it forever.
    session.commit()
    return line.id


def _refused(settings: Settings, tiny: Path, before: str) -> BuildFailed:
    ingest_now(settings)
    with pytest.raises(BuildFailed) as failure:
        build(settings, project_dir=tiny)
    assert digest(published_path(settings)) == before
    assert not build_path(warehouse_dir(settings)).exists()
    return failure.value


def test_gate_refuses_an_order_line_with_a_missing_product(
    engine: Engine, session: Session, settings: Settings, sample: Sample, tiny: Path
) -> None:
    before = _publish_good_build(settings, tiny)
    bad = bad_data.order_line_with_missing_product(engine, _first_sale_line(session))

    failure = _refused(settings, tiny, before)

    assert f"order_lines: product_id must exist in products — failed for order_line ids {bad}" in str(failure)
    assert "the previously published warehouse is unchanged" in str(failure)
    logged = recent_failures(settings)[0]
    assert logged["stage"] == "raw checks"
    assert any(f"order_line ids {bad}" in p for p in logged["problems"])


def test_gate_refuses_a_negative_quantity_on_a_sale(
    engine: Engine, session: Session, settings: Settings, sample: Sample, tiny: Path
) -> None:
    before = _publish_good_build(settings, tiny)
    bad = bad_data.negative_quantity_on_a_sale(engine, _first_sale_line(session))

    failure = _refused(settings, tiny, before)

    assert (
        f"order_lines: quantity must be positive on a sale — failed for order_line ids {bad} (sale_quantity=-2.0)"
        in str(failure)
    )


def test_gate_refuses_a_stage_missing_from_pipeline_stages(
    engine: Engine, settings: Settings, sample: Sample, tiny: Path
) -> None:
    before = _publish_good_build(settings, tiny)
    bad = bad_data.opportunity_in_unknown_stage(engine, sample.opportunities[0])

    failure = _refused(settings, tiny, before)

    assert f"opportunities: stage_id must exist in pipeline_stages — failed for opportunity ids {bad}" in str(failure)


def test_failing_dbt_test_is_named_with_example_rows(
    settings: Settings, sample: Sample, tmp_path: Path, tiny: Path
) -> None:
    before = _publish_good_build(settings, tiny)
    duplicated = write_tiny_project(
        tmp_path / "dup",
        {
            "models/marts/dim_products.sql": (
                "select id as product_id, sku from {{ source('crm', 'products') }}\n"
                "union all select id, sku from {{ source('crm', 'products') }} where id = "
                f"{sample.products[1]}\n"
            )
        },
    )

    with pytest.raises(BuildFailed) as failure:
        build(settings, project_dir=duplicated)

    message = str(failure.value)
    assert "build failed in dbt build" in message
    assert "dim_products: product_id must be unique (dbt unique test) — failed for 1 row" in message
    assert f"unique_field={sample.products[1]}" in message
    assert digest(published_path(settings)) == before


def test_failing_dbt_unit_test_and_model_error_are_reported(
    settings: Settings, sample: Sample, tmp_path: Path, tiny: Path
) -> None:
    before = _publish_good_build(settings, tiny)
    broken = write_tiny_project(
        tmp_path / "broken",
        {
            "models/marts/customer_value.sql": FILES_CUSTOMER_VALUE_WRONG,
            "models/marts/customer_rfm.sql": "select account_id, from nowhere_at_all\n",
        },
    )

    with pytest.raises(BuildFailed) as failure:
        build(settings, project_dir=broken)

    message = str(failure.value)
    assert "dbt unit test customer_value_sums_revenue_orders_only failed" in message
    assert "dbt model customer_rfm error" in message
    assert digest(published_path(settings)) == before


FILES_CUSTOMER_VALUE_WRONG = """
select
    c.account_id,
    coalesce(sum(o.net_revenue), 0) as lifetime_net_revenue,
    0.5 as p_alive,
    1.0 as expected_purchases
from {{ ref('dim_customers') }} as c
left join {{ ref('fct_orders') }} as o on o.account_id = c.account_id
group by c.account_id
"""


def test_mart_reconciliation_failure_names_the_customers(
    settings: Settings, sample: Sample, tmp_path: Path, tiny: Path
) -> None:
    before = _publish_good_build(settings, tiny)
    first = sample.customers[0]
    skewed = write_tiny_project(
        tmp_path / "skewed",
        {
            "models/marts/customer_value.sql": f"""
select account_id,
       lifetime_net_revenue + case when account_id = {first} then 10 else 0 end as lifetime_net_revenue,
       p_alive, expected_purchases
from (
    select c.account_id,
           coalesce(sum(o.net_revenue) filter (where o.is_revenue), 0) as lifetime_net_revenue,
           0.5 as p_alive, 1.0 as expected_purchases
    from {{{{ ref('dim_customers') }}}} as c
    left join {{{{ ref('fct_orders') }}}} as o on o.account_id = c.account_id
    group by c.account_id
)
""",
            "models/marts/schema.yml": "version: 2\n",
        },
    )

    with pytest.raises(BuildFailed) as failure:
        build(settings, project_dir=skewed)

    message = str(failure.value)
    assert "in the quality gate (marts)" in message
    assert (
        "customer_value: lifetime_net_revenue must equal the customer's net revenue in fct_orders — "
        f"failed for account ids {first} (difference=10.0)"
    ) in message
    assert "customer_value: Σ lifetime_net_revenue must equal total net revenue in fct_orders — failed" in message
    assert digest(published_path(settings)) == before


def test_a_mart_missing_from_the_contract_fails_the_gate(
    settings: Settings, sample: Sample, tmp_path: Path, tiny: Path
) -> None:
    ingest_now(settings)
    without_funnel = write_tiny_project(tmp_path / "nofunnel")
    (without_funnel / "models/marts/sales_funnel.sql").unlink()

    with pytest.raises(BuildFailed) as failure:
        build(settings, project_dir=without_funnel)

    assert "sales_funnel.stage_id" in str(failure.value)
    assert "nothing is published yet" in str(failure.value)
    assert not published_path(settings).exists()


def test_build_without_a_raw_layer_says_what_to_do(settings: Settings, tiny: Path) -> None:
    with pytest.raises(Exception, match="run `crm ingest`"):
        build(settings, project_dir=tiny)


def test_a_second_pipeline_run_is_refused_while_one_is_running(settings: Settings, tiny: Path) -> None:
    with pipeline_lock(warehouse_dir(settings)):
        child = subprocess.run(
            [sys.executable, "-m", "crm_app.cli", "ingest"],
            env={**os.environ, "CRM_DATABASE_URL": settings.sqlalchemy_url, "CRM_DATA_DIR": str(settings.data_dir)},
            capture_output=True,
            text=True,
        )
    assert child.returncode != 0
    assert "another ingest/build is running" in child.stderr
    assert PipelineBusyError.__doc__


def test_failures_file_is_readable_after_a_crash_mid_line(settings: Settings) -> None:
    path = failures_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"stage": "dbt", "problems": ["x"]}\n{"stage": "ga', encoding="utf-8")

    assert recent_failures(settings) == [{"stage": "dbt", "problems": ["x"]}]


def test_readers_see_each_new_publish(settings: Settings, session: Session, sample: Sample, tiny: Path) -> None:
    ingest_now(settings)
    build(settings, project_dir=tiny)
    version = published_version(settings)
    old = connect(settings)
    count = old.execute("select count(*) from marts.dim_customers").fetchall()[0][0]

    populate(session, customers=2, tag="b")
    ingest_now(settings)
    build(settings, project_dir=tiny)

    assert published_version(settings) != version
    assert old.execute("select count(*) from marts.dim_customers").fetchall()[0][0] == count
    fresh = connect(settings)
    assert fresh.execute("select count(*) from marts.dim_customers").fetchall()[0][0] == count + 2
