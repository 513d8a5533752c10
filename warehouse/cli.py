"""Command line of the refresh pipeline: `crm ingest`, `crm build`, `crm refresh` (DESIGN.md §7).

Heavy imports (duckdb, ADBC, dbt, great_expectations) happen inside the commands so `crm --help`
stays fast.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.console import Console

    from ingest.extract import IngestResult, TableIngest


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def _run_ingest(console: Console, *, full: bool, overlap_minutes: float) -> IngestResult:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from crm_app.settings import get_settings
    from ingest.extract import ingest, raw_tables
    from warehouse.lock import pipeline_lock
    from warehouse.paths import raw_path, warehouse_dir

    settings = get_settings()
    tables = raw_tables()
    with (
        pipeline_lock(warehouse_dir(settings)),
        Progress(
            TextColumn("[bold]ingest[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("", total=len(tables))

        def progress(table: str, done: TableIngest | None) -> None:
            if done is None:
                bar.update(task, description=table)
            else:
                bar.advance(task)

        return ingest(
            settings.sqlalchemy_url,
            raw_path(settings),
            overlap=dt.timedelta(minutes=overlap_minutes),
            full=full,
            tables=tables,
            progress=progress,
        )


def _print_ingest(console: Console, result: IngestResult) -> None:
    from rich.table import Table

    changed = [t for t in result.tables if t.changed or t.reloaded]
    if changed:
        table = Table(title="Raw layer changes", title_justify="left")
        for name in ("table", "inserted", "updated", "deleted", "rows now"):
            table.add_column(name, justify="left" if name == "table" else "right")
        for t in changed:
            table.add_row(t.table, f"{t.inserted:,}", f"{t.updated:,}", f"{t.deleted:,}", f"{t.rows:,}")
        console.print(table)
    console.print(
        f"Ingested {result.source} into {result.raw_path}: {result.inserted:,} new, {result.updated:,} changed, "
        f"{result.deleted:,} deleted rows in {len(changed)} of {len(result.tables)} tables "
        f"({result.seconds:.1f} s)."
    )


def register(cli: click.Group) -> None:
    """Add the warehouse commands to the `crm` group."""

    @cli.command("ingest")
    @click.option("--full", is_flag=True, help="Re-read every row, not only those changed since the watermark.")
    @click.option(
        "--overlap-minutes",
        type=click.FloatRange(min=0),
        default=5.0,
        show_default=True,
        help="Re-read rows updated this long before each table's watermark (late commits).",
    )
    def ingest_command(full: bool, overlap_minutes: float) -> None:
        """Copy new, changed and deleted operational rows into the raw layer (incremental, idempotent)."""
        console = _console()
        _print_ingest(console, _run_ingest(console, full=full, overlap_minutes=overlap_minutes))
