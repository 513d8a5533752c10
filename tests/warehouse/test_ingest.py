"""`crm ingest`: the raw layer mirrors the operational DB, incrementally and idempotently (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, delete, update
from sqlalchemy.orm import Session

from crm_app.cli import cli
from crm_app.models import Account, AccountShare, Favorite, Order, OrderLine, Product
from crm_app.services.orders import LineInput, create_order
from crm_app.services.records import soft_delete, update_record
from ingest.extract import PAUSE_ENV, IngestResult, ingest, raw_tables, read_watermarks
from tests.warehouse.helpers import assert_raw_matches_source, digest, raw_rows
from tests.warehouse.sample import Sample, populate
from warehouse.cli import register

register(cli)


@pytest.fixture
def raw_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "raw.duckdb"


@pytest.fixture
def sample(session: Session) -> Sample:
    return populate(session)


def run_ingest(db_url: str, raw_path: Path, **kwargs: object) -> IngestResult:
    return ingest(db_url, raw_path, **kwargs)  # type: ignore[arg-type]


def test_ingest_copies_every_table_faithfully(engine: Engine, db_url: str, raw_path: Path, sample: Sample) -> None:
    result = run_ingest(db_url, raw_path)

    assert {t.table for t in result.tables} == {t.name for t in raw_tables()}
    assert result.inserted > 50
    assert_raw_matches_source(engine, raw_path)
    con = duckdb.connect(str(raw_path), read_only=True)
    try:
        types = dict(
            con.execute(
                "select table_name || '.' || column_name, data_type from information_schema.columns "
                "where table_schema = 'raw'"
            ).fetchall()
        )
        product = con.execute("select list_price, unit_cost from raw.raw.products order by id desc limit 1").fetchall()
    finally:
        con.close()
    assert types["order_lines.line_total"] == "DECIMAL(14,2)"
    assert types["order_lines.quantity"] == "DECIMAL(12,3)"
    assert types["orders.order_date"] == "DATE"
    assert types["orders.updated_at"] == "TIMESTAMP"
    assert types["pipeline_stages.is_won"] == "BOOLEAN"
    assert types["accounts.custom"] == "JSON"
    assert types["order_lines.id"] == "INTEGER"
    # Credentials stay in the operational DB: every dashboard user reads the warehouse.
    assert "users.username" in types
    assert not {"users.password_hash", "users.failed_login_count", "users.locked_until"} & set(types)
    # Money keeps its cents exactly, even from SQLite (which stores NUMERIC as floating point).
    assert product == [(Decimal("1234.56"), Decimal("1000.01"))]


def test_ingest_creates_typed_tables_for_empty_operational_tables(db_url: str, raw_path: Path) -> None:
    run_ingest(db_url, raw_path)

    con = duckdb.connect(str(raw_path), read_only=True)
    try:
        empty = con.execute("select count(*) from raw.raw.order_lines").fetchall()[0][0]
        kind = con.execute(
            "select data_type from information_schema.columns "
            "where table_name = 'order_lines' and column_name = 'unit_cost'"
        ).fetchall()
    finally:
        con.close()
    assert empty == 0
    assert kind == [("DECIMAL(14,2)",)]


def test_repeated_ingest_changes_nothing(db_url: str, raw_path: Path, sample: Sample) -> None:
    run_ingest(db_url, raw_path)
    before = raw_rows(raw_path, "order_lines")
    ingested_at = duckdb.connect(str(raw_path), read_only=True)
    stamps = ingested_at.execute("select max(_ingested_at), count(*) from raw.raw.orders").fetchall()
    ingested_at.close()

    again = run_ingest(db_url, raw_path)

    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
    # Every row is still inside the cursor's overlap window, yet no full row travelled: only keys did.
    assert sum(t.fetched for t in again.tables) == 0
    assert raw_rows(raw_path, "order_lines") == before
    con = duckdb.connect(str(raw_path), read_only=True)
    assert con.execute("select max(_ingested_at), count(*) from raw.raw.orders").fetchall() == stamps
    con.close()


def test_changed_row_is_updated_not_duplicated(
    engine: Engine, session: Session, db_url: str, raw_path: Path, sample: Sample
) -> None:
    run_ingest(db_url, raw_path)
    account = session.get(Account, sample.customers[2])
    assert account is not None
    update_record(session, account, {"name": "Renamed Ltd", "credit_limit": Decimal("2500.50")}, None, None)
    session.commit()

    result = run_ingest(db_url, raw_path)

    by_table = {t.table: t for t in result.tables}
    assert (by_table["accounts"].inserted, by_table["accounts"].updated) == (0, 1)
    assert by_table["accounts"].fetched == 1
    renamed = [r for r in raw_rows(raw_path, "accounts") if "Renamed Ltd" in r]
    assert len(renamed) == 1
    assert Decimal("2500.50") in renamed[0]
    assert_raw_matches_source(engine, raw_path)


def test_new_orders_and_soft_deletes_propagate(
    engine: Engine, session: Session, db_url: str, raw_path: Path, sample: Sample
) -> None:
    run_ingest(db_url, raw_path)
    order = create_order(
        session,
        {"account_id": sample.customers[0], "order_date": dt.date.today()},
        [LineInput(quantity=Decimal("3"), product_id=sample.products[1])],
        None,
    )
    gone = session.get(Account, sample.customers[5])
    assert gone is not None
    soft_delete(session, gone, None, None)
    session.commit()

    result = run_ingest(db_url, raw_path)

    by_table = {t.table: t for t in result.tables}
    assert by_table["orders"].inserted == 1
    assert by_table["order_lines"].inserted == 1
    assert by_table["accounts"].updated == 1
    con = duckdb.connect(str(raw_path), read_only=True)
    deleted_at = con.execute("select deleted_at from raw.raw.accounts where id = ?", [gone.id]).fetchall()
    lines = con.execute("select count(*) from raw.raw.order_lines where order_id = ?", [order.id]).fetchall()
    con.close()
    assert deleted_at[0][0] is not None
    assert lines == [(1,)]
    assert_raw_matches_source(engine, raw_path)


def test_hard_deletes_and_rows_with_old_timestamps_are_caught(
    engine: Engine, session: Session, db_url: str, raw_path: Path, sample: Sample
) -> None:
    run_ingest(db_url, raw_path)
    session.execute(delete(AccountShare).where(AccountShare.id == sample.share))
    session.execute(delete(Favorite).where(Favorite.id == sample.favorite))
    # A row written with an updated_at far behind the watermark (e.g. a back-dated import) is still found.
    old = dt.datetime(2001, 1, 1, 12, 0)
    late = Product(sku="LATE-1", name="Back-dated", list_price=Decimal("5.00"), created_at=old, updated_at=old)
    session.add(late)
    session.commit()
    session.execute(update(Product).where(Product.id == late.id).values(updated_at=old))
    session.commit()

    result = run_ingest(db_url, raw_path)

    by_table = {t.table: t for t in result.tables}
    assert by_table["account_shares"].deleted == 1
    assert by_table["favorites"].deleted == 1
    assert by_table["products"].inserted == 1
    assert_raw_matches_source(engine, raw_path)


def test_watermarks_are_stored_with_the_data(db_url: str, raw_path: Path, sample: Sample) -> None:
    result = run_ingest(db_url, raw_path)

    marks = read_watermarks(raw_path)
    assert set(marks) == {t.table for t in result.tables}
    assert marks["orders"]["row_count"] == len(raw_rows(raw_path, "orders"))
    assert marks["orders"]["max_updated_at"] is not None
    assert marks["orders"]["max_updated_at"] <= marks["orders"]["last_ingested_at"]


def test_changed_operational_schema_reloads_the_table(
    engine: Engine, db_url: str, raw_path: Path, sample: Sample
) -> None:
    tables = raw_tables()
    narrowed = [
        t if t.name != "products" else type(t)(t.name, tuple(c for c in t.columns if c.name != "description"))
        for t in tables
    ]
    run_ingest(db_url, raw_path, tables=narrowed)

    result = run_ingest(db_url, raw_path, tables=tables)

    products = next(t for t in result.tables if t.table == "products")
    assert products.reloaded
    assert_raw_matches_source(engine, raw_path)


def test_ingest_command_reports_changes(crm_env: dict[str, str], sample: Sample) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["ingest"])
    second = runner.invoke(cli, ["ingest"])

    assert first.exit_code == 0, first.output
    assert "order_lines" in first.output
    assert "0 new, 0 changed, 0 deleted" in second.output


def test_ingest_of_a_missing_sqlite_database_fails_clearly(tmp_path: Path) -> None:
    env = {**os.environ, "CRM_DATABASE_URL": f"sqlite:///{tmp_path / 'nope.db'}", "CRM_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "crm_app.cli", "ingest"], env=env, capture_output=True, text=True)

    assert proc.returncode != 0
    assert "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "nope.db").exists()
    assert not (tmp_path / "warehouse" / "raw.duckdb").exists()


# ---------------------------------------------------------------------------------- kill recovery


def _start_paused_ingest(env: dict[str, str], pause: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crm_app.cli", "ingest"],
        env={**os.environ, **env, PAUSE_ENV: pause},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_pause(proc: subprocess.Popen[str], marker: str, timeout: float = 60) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return
    proc.kill()
    pytest.fail(f"ingest never reached {marker!r}; stderr: {''.join(seen)}")


def _mutate(session: Session, sample: Sample, n: int) -> None:
    """Changes made while the killed run was half-way: new order, changed account, soft delete."""
    create_order(
        session,
        {"account_id": sample.customers[n % 4], "order_date": dt.date.today()},
        [LineInput(quantity=Decimal(n + 1), product_id=sample.products[0])],
        None,
    )
    account = session.get(Account, sample.customers[3])
    assert account is not None
    update_record(session, account, {"city": f"City {n}"}, None, None)
    line = session.query(OrderLine).order_by(OrderLine.id).first()
    assert line is not None
    session.execute(update(Order).where(Order.id == line.order_id).values(notes=f"touched {n}"))
    session.commit()


@pytest.mark.slow
@pytest.mark.parametrize(
    "pause",
    [
        "before_commit@accounts",  # killed inside a table's transaction: data written, not committed
        "after_commit@orders",  # killed between tables: orders committed, their lines not yet
        "before_commit@order_lines",
        "before_commit@survey_answers",  # the last table
    ],
)
def test_killed_ingest_loses_and_duplicates_nothing(
    engine: Engine, session: Session, crm_env: dict[str, str], sample: Sample, pause: str
) -> None:
    raw = Path(crm_env["CRM_DATA_DIR"]) / "warehouse" / "raw.duckdb"
    first = _start_paused_ingest(crm_env, "before_commit@orders:60")
    point, _, table = pause.partition("@")
    # A first run killed on its very first load, then a complete one, then the run we kill at `pause`.
    _wait_for_pause(first, "before commit of orders")
    first.send_signal(signal.SIGKILL)
    first.wait()
    subprocess.run([sys.executable, "-m", "crm_app.cli", "ingest"], env={**os.environ, **crm_env}, check=True)
    _mutate(session, sample, 1)

    victim = _start_paused_ingest(crm_env, f"{pause}:60")
    _wait_for_pause(victim, f"{point.replace('_', ' ')} of {table}")
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL
    _mutate(session, sample, 2)

    clean = subprocess.run(
        [sys.executable, "-m", "crm_app.cli", "ingest"], env={**os.environ, **crm_env}, capture_output=True, text=True
    )

    assert clean.returncode == 0, clean.stderr
    assert_raw_matches_source(engine, raw)
    before = digest(raw)
    again = subprocess.run(
        [sys.executable, "-m", "crm_app.cli", "ingest"], env={**os.environ, **crm_env}, capture_output=True, text=True
    )
    assert "0 new, 0 changed, 0 deleted" in " ".join(again.stdout.split())
    assert_raw_matches_source(engine, raw)
    assert before  # the file is still a readable DuckDB database after all the kills
