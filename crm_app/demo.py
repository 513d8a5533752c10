"""`crm demo`: the whole product on the embedded default (SQLite + DuckDB) in one command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_app.errors import ConfigurationError
from crm_app.settings import get_settings

STARTUP_SECONDS = 60


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _wait_for_port(host: str, port: int, process: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def _crm(*args: str) -> list[str]:
    return [sys.executable, "-m", "crm_app.cli", *args]


def _prepare_database(customers: int) -> None:
    """Schema, default pipeline, and demo data when the database holds no accounts yet."""
    from crm_app.db import check_connection, get_engine
    from crm_app.migrations import upgrade
    from crm_app.models import Account
    from crm_app.services.setup import seed_reference_data
    from ingest.demo_data import DemoConfig, generate

    settings = get_settings()
    engine = get_engine(settings.sqlalchemy_url)
    check_connection(engine)
    click.echo(f"==> schema of {engine.url.render_as_string(hide_password=True)}")
    upgrade(engine)
    with Session(engine) as session:
        seed_reference_data(session)
        session.commit()
        has_accounts = (session.scalar(select(func.count()).select_from(Account)) or 0) > 0
    if has_accounts:
        click.echo("==> the database already holds data: keeping it (no demo data added)")
    else:
        click.echo(f"==> demo data: {customers} customers")
        summary = generate(engine, DemoConfig(customers=customers), truth_dir=settings.resolved_data_dir)
        click.echo(summary.describe())
    engine.dispose()


def run_demo(*, customers: int, app_port: int, dashboards_port: int, host: str = "127.0.0.1") -> None:
    """Prepare data, refresh the warehouse and serve app + dashboards until Ctrl-C."""
    os.environ["CRM_DEMO_MODE"] = "1"
    get_settings.cache_clear()
    for port in (app_port, dashboards_port):
        if not _port_is_free(host, port):
            raise ConfigurationError(
                f"port {port} on {host} is already in use: stop what runs there or choose another port "
                "(--app-port / --dashboards-port)"
            )
    _prepare_database(customers)

    click.echo("==> refreshing the warehouse (ingest → dbt build → quality gate → publish)")
    refresh = subprocess.run(_crm("refresh"), check=False)
    if refresh.returncode != 0:
        raise ConfigurationError("the warehouse refresh failed (see above); the dashboards would have no data")

    servers = {
        "CRM app": (subprocess.Popen(_crm("serve", "app", "--host", host, "--port", str(app_port))), app_port),
        "dashboards": (
            subprocess.Popen(_crm("serve", "dashboards", "--host", host, "--port", str(dashboards_port))),
            dashboards_port,
        ),
    }
    try:
        for name, (process, port) in servers.items():
            if not _wait_for_port(host, port, process, STARTUP_SECONDS):
                raise ConfigurationError(f"the {name} did not start on port {port} (see its output above)")
        _announce(host, app_port, dashboards_port)
        while all(process.poll() is None for process, _ in servers.values()):
            time.sleep(0.5)
        stopped = [name for name, (process, _) in servers.items() if process.poll() is not None]
        raise ConfigurationError(f"the {' and '.join(stopped)} stopped unexpectedly (see its output above)")
    except KeyboardInterrupt:
        click.echo("\n==> stopping")
    finally:
        for process, _ in servers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process, _ in servers.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _announce(host: str, app_port: int, dashboards_port: int) -> None:
    from ingest.demo_data import DEMO_LOGINS, DEMO_PASSWORD

    click.secho("\nThe CRM is up.", fg="green", bold=True)
    click.echo(f"  CRM app      http://{host}:{app_port}/   (API docs: http://{host}:{app_port}/api/docs)")
    click.echo(f"  Dashboards   http://{host}:{dashboards_port}/")
    click.echo(f"  Data         {get_settings().resolved_data_dir}")
    click.echo(f"\nDemo logins (password {DEMO_PASSWORD!r}) — the same accounts work in both:")
    for login in DEMO_LOGINS:
        click.echo(f"  {login.username:<8} {login.role:<18} {login.description}")
    click.echo("\nCtrl-C stops both servers.")
