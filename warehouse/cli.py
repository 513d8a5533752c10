"""Command line of the refresh pipeline: `crm ingest`, `crm build`, `crm refresh` (DESIGN.md §7).

Heavy imports (duckdb, ADBC, dbt, great_expectations) happen inside the commands so `crm --help`
stays fast.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from crm_app.cli import quick_exit

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from ingest.extract import IngestResult, TableIngest
    from warehouse.build import BuildResult


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def _progress(console: Console) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[stage]:<11}[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


class _IngestDisplay:
    """Per-table progress of ingest."""

    def __init__(self, bar: Progress, total: int) -> None:
        self.bar = bar
        self.task = bar.add_task("", total=total, stage="ingest")

    def __call__(self, table: str, done: TableIngest | None) -> None:
        if done is None:
            self.bar.update(self.task, description=table)
        else:
            self.bar.advance(self.task)
            if self.bar.tasks[self.task].finished:
                self.bar.update(self.task, description="all tables")


class _BuildDisplay:
    """Per-stage progress of build; dbt advances per finished node (models, tests, unit tests)."""

    LABELS = {
        "prepare": "copy the raw layer into a new build file",
        "dbt": "dbt build: models, tests, unit tests",
        "raw checks": "quality gate on the raw layer (great_expectations, alongside dbt)",
        "mart checks": "quality gate on the marts (great_expectations)",
        "publish": "write refresh_log, publish atomically",
    }

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.tasks: dict[str, TaskID] = {}
        self.dbt_nodes = 0
        self.dbt_failed = 0

    def stage_started(self, stage: str) -> None:
        self.tasks[stage] = self.bar.add_task(self.LABELS.get(stage, stage), total=None, stage=stage)

    def node_finished(self, unique_id: str, status: str) -> None:
        self.dbt_nodes += 1
        if status in ("error", "fail", "runtime error"):
            self.dbt_failed += 1
        task = self.tasks.get("dbt")
        if task is not None:
            failed = f", [red]{self.dbt_failed} failed[/red]" if self.dbt_failed else ""
            name = unique_id.split(".")[-1] if not unique_id.startswith("test.") else unique_id.split(".")[2]
            name = name if len(name) <= 36 else name[:35] + "…"
            self.bar.update(task, description=f"dbt build: {self.dbt_nodes} nodes done{failed} — {name}")

    def stage_finished(self, stage: str, seconds: float) -> None:
        task = self.tasks[stage]
        self.bar.update(task, total=1, completed=1)


def _run_ingest(console: Console, *, full: bool, overlap_minutes: float) -> IngestResult:
    from crm_app.settings import get_settings
    from ingest.extract import ingest, raw_tables
    from warehouse.lock import pipeline_lock
    from warehouse.paths import raw_path, warehouse_dir

    settings = get_settings()
    tables = raw_tables()
    with pipeline_lock(warehouse_dir(settings)), _progress(console) as bar:
        return ingest(
            settings.sqlalchemy_url,
            raw_path(settings),
            overlap=dt.timedelta(minutes=overlap_minutes),
            full=full,
            tables=tables,
            progress=_IngestDisplay(bar, len(tables)),
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


def _print_build(console: Console, result: BuildResult, stage_seconds: dict[str, float]) -> None:
    from rich.table import Table

    timing = Table(title="Duration per stage", title_justify="left")
    timing.add_column("stage")
    timing.add_column("seconds", justify="right")
    for stage, seconds in stage_seconds.items():
        # the raw checks run alongside dbt: their row is the wait for them once dbt was done
        label = "raw checks (waited after dbt)" if stage == "raw checks" else stage
        timing.add_row(label, f"{seconds:.1f}")
    timing.add_row("[bold]total[/bold]", f"[bold]{sum(stage_seconds.values()):.1f}[/bold]")
    console.print(timing)
    slowest = ", ".join(f"{m} {s:.1f}s" for m, s in result.dbt.slowest_models(5))
    if slowest:
        console.print(f"Slowest dbt models: {slowest}")
    marts = len(result.row_counts)
    rows = sum(result.row_counts.values())
    console.print(
        f"Published {result.published} (as of {result.as_of.isoformat()}, horizon {result.horizon_days} days): "
        f"{marts} marts, {rows:,} rows; {result.checks_passed} checks passed "
        f"({result.dbt.tests_passed} dbt test rules, {result.gate.passed} gate rules)."
    )


def _as_of_option(function):  # type: ignore[no-untyped-def]
    function = click.option(
        "--horizon-days",
        type=int,
        default=365,
        show_default=True,
        help="Horizon of the customer-value model's expected purchases and CLV.",
    )(function)
    return click.option(
        "--as-of",
        "as_of",
        metavar="YYYY-MM-DD",
        help="Compute every mart as of this date (default: today, UTC); nothing dated later counts.",
    )(function)


def register(cli: click.Group) -> None:
    """Add the warehouse commands to the `crm` group."""

    @cli.command("ingest")
    @click.option(
        "--full", is_flag=True, help="Compare every row with the raw layer, not only those changed since the watermark."
    )
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

    @cli.command("build")
    @_as_of_option
    def build_command(as_of: str | None, horizon_days: int) -> None:
        """Build the marts into a new warehouse file (dbt), check them (dbt tests + great_expectations) and
        publish it atomically only if every check passes."""
        from warehouse.build import build, check_horizon, parse_as_of

        day = parse_as_of(as_of)
        check_horizon(horizon_days)
        console = _console()
        with _progress(console) as bar:
            result = build(as_of=day, horizon_days=horizon_days, progress=_BuildDisplay(bar))
        _print_build(console, result, result.stage_seconds)
        quick_exit()

    @cli.command("refresh")
    @_as_of_option
    def refresh_command(as_of: str | None, horizon_days: int) -> None:
        """Ingest, then build and publish (the whole refresh), with progress per stage and a summary."""
        from ingest.extract import raw_tables
        from warehouse.build import check_horizon, parse_as_of
        from warehouse.refresh import refresh

        day = parse_as_of(as_of)
        check_horizon(horizon_days)
        console = _console()
        with _progress(console) as bar:
            result = refresh(
                as_of=day,
                horizon_days=horizon_days,
                ingest_progress=_IngestDisplay(bar, len(raw_tables())),
                build_progress=_BuildDisplay(bar),
            )
        _print_ingest(console, result.ingest)
        _print_build(console, result.build, result.stage_seconds)
        quick_exit()
