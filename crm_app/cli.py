"""The `crm` command line (DESIGN.md §7): set-up, demo data, imports, refresh and servers."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from crm_app.errors import CrmError

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


_quick_exit = False


def quick_exit() -> None:
    """Have :func:`main` freeze the garbage collector once the running command has returned: at exit the
    interpreter would otherwise walk every object a command like `crm refresh` or `crm build` left behind
    (dbt's manifest, DuckDB and pandas objects) for ~0.9 s after the last line was printed. Exit handlers and
    finalizers of modules still run as usual. Only the console entry point does this (commands run in-process,
    e.g. in tests, are unaffected)."""
    global _quick_exit
    _quick_exit = True


def fail(message: str, code: int = 1) -> None:
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="crm")
def cli() -> None:
    """An analytics-centric CRM: operational app, DuckDB warehouse and dashboards.

    Configuration comes from the environment (or .env): CRM_DATABASE_URL (default
    sqlite:///<data dir>/crm.db), CRM_DATA_DIR (default ./var), CRM_SECRET_KEY.
    """


def _engine():  # type: ignore[no-untyped-def]
    from crm_app.db import check_connection, get_engine

    engine = get_engine()
    check_connection(engine)
    return engine


# ------------------------------------------------------------------------------------------ set-up


@cli.command()
def init() -> None:
    """Create or migrate the operational schema (Alembic upgrade head); safe to run again."""
    from crm_app.db import session_scope
    from crm_app.migrations import current_revision, upgrade
    from crm_app.services.setup import seed_reference_data

    engine = _engine()
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    with session_scope(engine) as session:
        added = seed_reference_data(session)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"Schema of {where} is up to date (revision {after}).")
    else:
        click.echo(f"Schema of {where} migrated from {before or 'empty'} to revision {after}.")
    if added:
        click.echo(f"Added the default sales pipeline ({added} stages).")


@cli.group()
def users() -> None:
    """Manage user accounts."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, help="admin, executive, manager, sales_rep, service_agent, marketing_analyst")
@click.option("--department", help="Department code or name.")
@click.option("--full-name", help="Display name (default: NAME).")
@click.option("--email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_add(
    name: str,
    role: str,
    department: str | None,
    full_name: str | None,
    email: str | None,
    password_stdin: bool,
) -> None:
    """Add a user NAME with a role (and a password read from stdin)."""
    from crm_app.db import session_scope
    from crm_app.models import ROLES
    from crm_app.services.users import add_user

    if role not in ROLES:
        fail(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}", 2)
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("--password-stdin was given but standard input held no password", 2)
    with session_scope(_engine()) as session:
        user = add_user(session, name, role, full_name=full_name, email=email, password=password, department=department)
        click.echo(f"Added user {user.username} ({user.role}) with id {user.id}.")


# ---------------------------------------------------------------------------------------- data in


@cli.command("demo-data")
@click.option("--customers", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same data.")
@click.option(
    "--months",
    type=click.IntRange(min=1, max=240),
    default=24,
    show_default=True,
    help="How many months of history up to today.",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def demo_data(customers: int, seed: int, months: int, progress: bool) -> None:
    """Generate realistic, deterministic demo data (bulk inserts, with a progress bar)."""
    from crm_app.settings import get_settings

    engine = _engine()
    _ensure_schema(engine)
    from ingest.demo_data import DemoConfig, generate

    config = DemoConfig(customers=customers, seed=seed, months=months)
    summary = generate(engine, config, truth_dir=get_settings().resolved_data_dir, progress=progress)
    click.echo(summary.describe())


@cli.group("import")
def import_() -> None:
    """Import accounts or orders from CSV or Excel (.xlsx): all rows or none."""


def _import(kind: str, file: Path, dry_run: bool) -> None:
    from crm_app.db import session_scope

    engine = _engine()
    _ensure_schema(engine)
    from ingest.importers import import_file

    with session_scope(engine) as session:
        result = import_file(session, kind, file, dry_run=dry_run)
        if dry_run:
            session.rollback()
    click.echo(result.describe())


@import_.command("accounts")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate only; change nothing.")
def import_accounts(file: Path, dry_run: bool) -> None:
    """Import accounts (columns: name, kind, external_ref, industry, region, city, ...)."""
    _import("accounts", file, dry_run)


@import_.command("orders")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate only; change nothing.")
def import_orders(file: Path, dry_run: bool) -> None:
    """Import orders (columns: customer_ref, order_date, amount; optional order_ref, sku, quantity,
    unit_price, channel). An unknown customer_ref creates a customer with that external_ref."""
    _import("orders", file, dry_run)


def _ensure_schema(engine) -> None:  # type: ignore[no-untyped-def]
    from crm_app.migrations import current_revision

    if current_revision(engine) is None:
        fail("the database has no schema yet: run `crm init` first", 2)


# -------------------------------------------------------------------------------------- warehouse


def _register_warehouse_commands() -> None:
    from warehouse.cli import register

    register(cli)


# ----------------------------------------------------------------------------------------- servers


@cli.group()
def serve() -> None:
    """Run the web app or the dashboards."""


@serve.command("app")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
def serve_app(host: str, port: int) -> None:
    """Serve the CRM web app and JSON API."""
    from crm_app.web.server import run

    run(host=host, port=port)


@serve.command("dashboards")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
def serve_dashboards(host: str, port: int) -> None:
    """Serve the Streamlit dashboards (read-only on the published warehouse)."""
    from dashboards.server import run

    run(host=host, port=port)


@cli.command()
@click.option("--customers", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--app-port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--dashboards-port", type=click.IntRange(1, 65535), default=8501, show_default=True)
def demo(customers: int, app_port: int, dashboards_port: int) -> None:
    """Everything on the embedded default: init, demo data if empty, refresh, both servers."""
    from crm_app.demo import run_demo

    os.environ.setdefault("CRM_DEMO_MODE", "1")
    run_demo(customers=customers, app_port=app_port, dashboards_port=dashboards_port)


def main() -> None:
    """Entry point: every error a user can cause ends in one clear line, never a traceback."""
    from sqlalchemy.exc import OperationalError

    with contextlib.suppress(ImportError):
        _register_warehouse_commands()
    global _quick_exit
    _quick_exit = False  # only the command this call runs may ask for it
    try:
        cli.main(standalone_mode=False)
        if _quick_exit:
            import gc

            gc.freeze()
    except click.exceptions.Abort:
        fail("aborted", 130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except CrmError as exc:
        fail(str(exc))
    except OperationalError as exc:
        fail(f"database error: {str(exc.orig).strip().splitlines()[0] if exc.orig else exc}")
    except KeyboardInterrupt:
        fail("interrupted", 130)


if __name__ == "__main__":
    # `python -m crm_app.cli`: run the importable module's main(), the one whose state (quick_exit) the
    # commands set when they import crm_app.cli
    from crm_app.cli import main as module_main

    module_main()
