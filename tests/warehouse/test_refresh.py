"""`crm refresh` end to end with the real dbt_project/: ingest, dbt build, gate, publish, then again after changes."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from sqlalchemy.orm import Session

from crm_app.models import Account
from crm_app.services.orders import LineInput, create_order
from crm_app.services.records import update_record
from tests.warehouse.sample import Sample, populate


def crm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm_app.cli", *args], env={**os.environ, **env}, capture_output=True, text=True
    )


def published(env: dict[str, str], sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(Path(env["CRM_DATA_DIR"]) / "warehouse" / "crm.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_refresh_publishes_the_real_marts_and_refreshes_incrementally(
    crm_env: dict[str, str], session: Session
) -> None:
    sample: Sample = populate(session, customers=8)

    first = crm(crm_env, "refresh")

    assert first.returncode == 0, first.stdout + first.stderr
    output = " ".join(first.stdout.split())
    for expected in ("Raw layer changes", "order_lines", "Duration per stage", "ingest", "dbt", "Published"):
        assert expected in output
    assert published(crm_env, "select count(*) from marts.customer_value") == [(len(sample.customers),)]
    revenue = published(crm_env, "select sum(lifetime_net_revenue) from marts.customer_value")[0][0]
    assert isinstance(revenue, Decimal | float) and revenue > 0
    log = published(crm_env, "select status, stage_seconds, checks_passed, checks_failed from refresh_log")
    assert len(log) == 1 and log[0][0] == "published" and log[0][3] == 0
    assert set(json.loads(str(log[0][1]))) >= {"ingest", "prepare", "raw checks", "dbt", "mart checks"}
    assert int(str(log[0][2])) > 50

    # A new order and a changed account, made through the app's services, show up after the next refresh.
    create_order(
        session,
        {"account_id": sample.customers[1], "order_date": dt.date.today()},
        [LineInput(quantity=Decimal("4"), product_id=sample.products[0])],
        None,
    )
    account = session.get(Account, sample.customers[2])
    assert account is not None
    update_record(session, account, {"city": "Lyon"}, None, None)
    session.commit()

    second = crm(crm_env, "refresh")

    assert second.returncode == 0, second.stdout + second.stderr
    rows = [line.replace("│", " ").replace("┃", " ").split() for line in second.stdout.splitlines()]
    changes = {r[0]: r[1:4] for r in rows if r and r[0] in ("orders", "order_lines", "accounts")}
    assert changes == {"orders": ["1", "0", "0"], "order_lines": ["1", "0", "0"], "accounts": ["0", "1", "0"]}
    after = published(crm_env, "select sum(lifetime_net_revenue) from marts.customer_value")[0][0]
    assert isinstance(after, Decimal | float) and after > revenue
    assert published(crm_env, "select count(*) from refresh_log") == [(2,)]
