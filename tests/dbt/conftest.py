"""Fixtures for the dbt project's tests: an operational scenario, the raw layer from `crm ingest`, dbt builds."""

from __future__ import annotations

import datetime as dt
import gc
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pytest
from sqlalchemy.orm import Session

from crm_app.models import (
    Account,
    Activity,
    Campaign,
    CampaignMember,
    Case,
    Opportunity,
    Order,
    PipelineStage,
    SalesPlan,
    User,
)
from crm_app.services.opportunities import change_stage, create_opportunity, stages
from crm_app.services.orders import LineInput, add_payment_plan, create_order, create_return, record_payment
from tests import factories

T = TypeVar("T")

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
DBT_PATH_ENV = "CRM_DBT_DUCKDB_PATH"
# Far enough in the past that the scenario's "later" records still lie before today.
AS_OF = dt.date.today() - dt.timedelta(days=150)


def day(offset: int) -> dt.date:
    """The as-of date shifted by ``offset`` days."""
    return AS_OF + dt.timedelta(days=offset)


def at(offset: int, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day(offset), dt.time(hour))


@dataclass
class DbtRun:
    success: bool
    results: list[dict[str, Any]]
    error: str | None = None

    def failed(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: r for r in self.results if r["status"] in ("fail", "error")}


def run_dbt(build_file: Path, work_dir: Path, *args: str, variables: dict[str, Any] | None = None) -> DbtRun:
    """One in-process dbt invocation on ``build_file``; results per node from run_results.json."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    command = [
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        "--log-level",
        "none",
        "--no-send-anonymous-usage-stats",
    ]
    if variables:
        command += ["--vars", json.dumps(variables)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DBT_PATH_ENV, str(build_file))
        try:
            outcome = dbtRunner().invoke(command)
        finally:
            # dbt-duckdb keeps its database open for the life of the process; close it so the file can be
            # reopened (read-only, or by the next build).
            with DuckDBConnectionManager._LOCK:
                environment, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
            if environment is not None:
                environment.close()
            gc.collect()
    results_file = work_dir / "target" / "run_results.json"
    results = []
    if results_file.exists() and outcome.exception is None:
        for item in json.loads(results_file.read_text())["results"]:
            results.append(
                {
                    "unique_id": item["unique_id"],
                    "name": item["unique_id"].split(".")[2],
                    "status": item["status"],
                    "failures": item.get("failures"),
                    "compiled_code": item.get("compiled_code"),
                    "message": item.get("message"),
                }
            )
    error = str(outcome.exception) if outcome.exception is not None else None
    return DbtRun(success=bool(outcome.success), results=results, error=error)


def read_marts(build_file: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every mart's full contents, rows in a stable order."""
    con = duckdb.connect(str(build_file), read_only=True)
    try:
        names = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' and table_type = 'BASE TABLE' order by table_name"
            ).fetchall()
        ]
        marts = {}
        for name in names:
            rows = con.execute(f'select * from marts."{name}"').fetchall()
            marts[name] = sorted(rows, key=lambda row: tuple((value is None, str(value)) for value in row))
        return marts
    finally:
        con.close()


def query(build_file: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(build_file), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@dataclass
class Scenario:
    """The operational records the tests refer to, by role in the story."""

    ids: dict[str, int] = field(default_factory=dict)


def _get(session: Session, model: type[T], key: int) -> T:
    record = session.get(model, key)
    assert record is not None, f"{model.__name__} {key} vanished"
    return record


def _order(session: Session, actor: User, account_id: int, on: dt.date, lines: list[tuple[int, str]]) -> Order:
    return create_order(
        session,
        {"account_id": account_id, "order_date": on},
        [LineInput(product_id=product_id, quantity=Decimal(quantity)) for product_id, quantity in lines],
        actor,
    )


def _opportunity(session: Session, actor: User, account_id: int, name: str, amount: str, offset: int) -> Opportunity:
    values = {"name": name, "account_id": account_id, "amount": Decimal(amount)}
    return create_opportunity(session, values, actor, at=at(offset))


def build_history(session: Session) -> Scenario:
    """Everything dated on or before AS_OF (the tests state the figures it must give)."""
    s = Scenario()
    company = factories.department(session, name="Company")
    sales = factories.department(session, name="Sales", parent_id=company.id)
    manager = factories.user(session, role="manager", department_id=sales.id, full_name="Mia Manager")
    sales.manager_id = manager.id
    rep = factories.user(session, role="sales_rep", department_id=sales.id, full_name="Sam Rep")
    category = factories.category(session)
    p1 = factories.product(session, list_price="100.00", unit_cost="60.00", category_id=category.id)
    p2 = factories.product(session, list_price="50.00", unit_cost="20.00", category_id=category.id)
    a = factories.account(session, region="North", owner_id=rep.id, department_id=sales.id, lifecycle_stage="signed")
    b = factories.account(session, region="South", owner_id=rep.id, department_id=sales.id, lifecycle_stage="signed")
    for account in (a, b):
        account.created_at = at(-200)
    s.ids.update(rep=rep.id, manager=manager.id, sales=sales.id, p1=p1.id, p2=p2.id, a=a.id, b=b.id)

    # A buys twice on one day (one purchase occasion), again later, and returns one unit of the first sale.
    a1 = _order(session, rep, a.id, day(-100), [(p1.id, "2")])
    a2 = _order(session, rep, a.id, day(-100), [(p2.id, "1")])
    a3 = _order(session, rep, a.id, day(-40), [(p1.id, "1")])
    create_return(session, a1, {a1.lines[0].id: Decimal("1")}, rep, return_date=day(-30))
    record_payment(session, a1, Decimal("200.00"), day(-90), rep)
    record_payment(session, a2, Decimal("50.00"), day(-95), rep)
    plan = add_payment_plan(session, a3, day(-10), Decimal("100.00"), rep)
    plan.created_at = at(-40)
    b1 = _order(session, rep, b.id, day(-60), [(p2.id, "3")])
    s.ids.update(a1=a1.id, a3=a3.id, b1=b1.id)

    stage: dict[str, PipelineStage] = {st.name: st for st in stages(session, active_only=False)}
    o1 = _opportunity(session, rep, a.id, "A expansion", "1000", -80)
    change_stage(session, o1, stage["Qualified"].id, rep, at=at(-70))
    change_stage(session, o1, stage["Proposal"].id, rep, at=at(-50))
    o2 = _opportunity(session, rep, b.id, "B deal", "400", -90)
    change_stage(session, o2, stage["Won"].id, rep, at=at(-45))
    o3 = _opportunity(session, rep, a.id, "A add-on", "300", -85)
    change_stage(session, o3, stage["Lost"].id, rep, at=at(-20), lost_reason="price")
    s.ids.update(o1=o1.id, o2=o2.id, o3=o3.id, won=stage["Won"].id)

    complaint = Case(
        number="CS-1",
        kind="complaint",
        subject="Late delivery",
        account_id=a.id,
        owner_id=rep.id,
        department_id=sales.id,
        opened_at=at(-10),
        status="open",
    )
    campaign = Campaign(name="Spring", kind="email", status="completed", start_date=day(-120), actual_cost=Decimal(100))
    session.add_all([complaint, campaign])
    session.flush()
    session.add_all(
        [
            CampaignMember(
                campaign_id=campaign.id, account_id=a.id, status="sent", added_at=at(-120), sent_at=at(-119)
            ),
            Activity(
                kind="visit",
                subject="Visit",
                account_id=a.id,
                owner_id=rep.id,
                status="done",
                due_at=at(-15),
                done_at=at(-15),
                expense=Decimal("25.00"),
            ),
            SalesPlan(period_month=day(-40).replace(day=1), department_id=sales.id, target_revenue=Decimal(500)),
            # a plan for a month after the as-of date, made before it: its target is known as of AS_OF
            SalesPlan(
                period_month=day(100).replace(day=1),
                department_id=sales.id,
                target_revenue=Decimal(800),
                created_at=at(-5),
            ),
        ]
    )
    session.flush()
    member = session.query(CampaignMember).filter_by(campaign_id=campaign.id).one()
    s.ids.update(complaint=complaint.id, member=member.id)
    session.commit()
    return s


def add_later_records(session: Session, s: Scenario) -> None:
    """Records dated after AS_OF of every kind the as-of guarantee covers (all before today)."""
    rep = _get(session, User, s.ids["rep"])
    _order(session, rep, s.ids["a"], day(5), [(s.ids["p1"], "4")])
    b1 = _get(session, Order, s.ids["b1"])
    create_return(session, b1, {b1.lines[0].id: Decimal("1")}, rep, return_date=day(3))
    record_payment(session, _get(session, Order, s.ids["a3"]), Decimal("100.00"), day(8), rep)
    late_plan = add_payment_plan(session, b1, day(30), Decimal("150.00"), rep)
    late_plan.created_at = at(1)
    change_stage(session, _get(session, Opportunity, s.ids["o1"]), s.ids["won"], rep, at=at(7))
    _opportunity(session, rep, s.ids["b"], "B new", "900", 2)
    newcomer = factories.account(session, region="West", owner_id=rep.id, department_id=s.ids["sales"])
    newcomer.created_at = at(1)
    _order(session, rep, newcomer.id, day(1), [(s.ids["p2"], "2")])
    complaint = _get(session, Case, s.ids["complaint"])
    complaint.status, complaint.resolved_at, complaint.closed_at, complaint.satisfaction = "closed", at(6), at(6), 1
    member = _get(session, CampaignMember, s.ids["member"])
    member.status, member.responded_at = "responded", at(3)
    a = _get(session, Account, s.ids["a"])
    session.add_all(
        [
            Case(number="CS-2", kind="complaint", subject="Broken", account_id=s.ids["b"], opened_at=at(4)),
            Activity(
                kind="call",
                subject="Call",
                account_id=a.id,
                owner_id=rep.id,
                status="done",
                due_at=at(2),
                done_at=at(2),
                expense=Decimal("10.00"),
            ),
            SalesPlan(period_month=day(40).replace(day=1), department_id=s.ids["sales"], target_revenue=Decimal(900)),
        ]
    )
    session.commit()


@pytest.fixture
def raw_layer(tmp_path: Path) -> Callable[[str], Path]:
    """`crm ingest`'s incremental copy of the operational DB into <tmp>/raw.duckdb; returns its path."""
    from ingest.extract import ingest

    raw = tmp_path / "raw.duckdb"

    def refresh(db_url: str) -> Path:
        ingest(db_url, raw)
        return raw

    return refresh


@pytest.fixture
def build_copy(tmp_path: Path) -> Callable[[Path, str], Path]:
    """A fresh build file copied from the raw layer (as the pipeline builds into a new file)."""

    def copy(raw: Path, name: str) -> Path:
        target = tmp_path / f"{name}.duckdb"
        shutil.copyfile(raw, target)
        return target

    return copy
