"""Fixtures for the dashboards: a small warehouse built by the real pipeline once per session, and pages.

The warehouse comes from the product's own commands — ``crm init``, ``crm demo-data --customers 300`` and
``crm refresh`` — run as subprocesses on an operational SQLite file in a temporary data directory, so the
dashboards are tested against the marts exactly as they are published.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from crm_app.services.visibility import Viewer

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboards" / "app.py"
CUSTOMERS = 300


@dataclass(frozen=True)
class Warehouse:
    """The session's data directory, its operational database and its published warehouse."""

    data_dir: Path
    database_url: str
    env: dict[str, str]

    @property
    def published(self) -> Path:
        return self.data_dir / "warehouse" / "crm.duckdb"

    def mart(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Query the published marts directly (independently of the dashboards' code)."""
        connection = duckdb.connect(str(self.published), read_only=True)
        try:
            return connection.execute(sql, params or []).df()
        finally:
            connection.close()

    def value(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.mart(sql, params).iloc[0, 0]

    @property
    def as_of(self) -> dt.date:
        return pd.Timestamp(
            self.value("select as_of_date from main.refresh_log order by finished_at desc limit 1")
        ).date()

    @property
    def default_range(self) -> tuple[dt.date, dt.date]:
        """The sidebar's default dates: twelve whole months ending with the as-of month."""
        as_of = self.as_of
        month = as_of.month - 11
        year = as_of.year
        if month <= 0:
            month += 12
            year -= 1
        return dt.date(year, month, 1), as_of


def _crm(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crm_app.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"crm {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    data_dir = tmp_path_factory.mktemp("dashboards") / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update({"CRM_DATA_DIR": str(data_dir), "CRM_DEMO_MODE": "1"})
    _crm(env, "init")
    _crm(env, "demo-data", "--customers", str(CUSTOMERS), "--no-progress")
    _crm(env, "refresh")
    return Warehouse(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'crm.db'}", env=env)


@pytest.fixture
def dash_env(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    """This process configured like the dashboards' server: the session's database and warehouse."""
    from crm_app.db import get_engine
    from crm_app.settings import get_settings

    for key in [k for k in os.environ if k.startswith("CRM_")]:
        monkeypatch.delenv(key)
    for key, value in warehouse.env.items():
        if key.startswith("CRM_"):
            monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield warehouse
    get_settings.cache_clear()
    get_engine.cache_clear()


def demo_password() -> str:
    from ingest.demo_data import DEMO_PASSWORD

    return DEMO_PASSWORD


def viewer(username: str) -> Viewer:
    """Sign in as a demo user the way the login page does."""
    from dashboards.auth import authenticate

    return authenticate(username, demo_password())


def open_page(who: Viewer, page: str | None = None, *, timeout: float = 120) -> Any:
    """Run the dashboards app signed in as ``who`` and switch to ``page`` (a file in dashboards/app_pages)."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(APP), default_timeout=timeout)
    app.session_state["viewer"] = who
    app.session_state["viewer_checked_at"] = time.monotonic()
    app.run()
    if page is not None:
        app.switch_page(f"app_pages/{page}.py")
        app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def metric(app: Any, label: str) -> Any:
    found = [m for m in app.metric if m.label == label]
    assert found, f"no metric {label!r}; metrics: {[m.label for m in app.metric]}"
    return found[0]


def exact(app: Any, label: str) -> float:
    """The exact figure of a money KPI (its tooltip says ``Exact: 1,234,567``)."""
    tip = metric(app, label).proto.help
    assert "Exact: " in tip, tip
    return float(tip.split("Exact: ")[1].split()[0].replace(",", ""))


def copy_warehouse(warehouse: Warehouse, target: Path) -> Warehouse:
    """A private copy of the session's data directory (for tests that change the published file)."""
    shutil.copytree(warehouse.data_dir, target)
    env = {**warehouse.env, "CRM_DATA_DIR": str(target)}
    return Warehouse(data_dir=target, database_url=f"sqlite:///{target / 'crm.db'}", env=env)
