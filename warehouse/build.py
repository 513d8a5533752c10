"""Build stage: raw layer → new DuckDB file → dbt build → quality gate → atomic publish (DESIGN.md §5)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from crm_app.errors import CrmError
from crm_app.settings import Settings, get_settings
from warehouse.dbt_run import DEFAULT_PROJECT_DIR, DbtOutcome, project_fingerprint, run_dbt_build
from warehouse.dbt_run import preload as preload_dbt
from warehouse.gate import GateOutcome, GateWorker
from warehouse.lock import pipeline_lock
from warehouse.paths import (
    attach_read_only,
    build_path,
    failures_path,
    new_build_id,
    published_path,
    raw_path,
    remove_duckdb_file,
    warehouse_dir,
)
from warehouse.refresh_log import REFRESH_LOG_DDL, carry_history, now, record_failure, write_entry

DEFAULT_HORIZON_DAYS = 365
MAX_HORIZON_DAYS = 3650
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class AsOfError(CrmError):
    """An --as-of date that is malformed or in the future."""


class BuildFailed(CrmError):
    """dbt or the quality gate refused the build: nothing was published."""

    def __init__(self, stage: str, problems: list[str], published: Path) -> None:
        self.stage = stage
        self.problems = problems
        kept = "the previously published warehouse is unchanged" if published.exists() else "nothing is published yet"
        where = {
            "dbt": "in dbt build",
            "raw checks": "in the quality gate (raw layer)",
            "mart checks": "in the quality gate (marts)",
        }.get(stage, f"while {stage}")
        lines = [f"build failed {where}; nothing was published ({kept}):"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


class BuildProgress(Protocol):
    def stage_started(self, stage: str) -> None: ...

    def node_finished(self, unique_id: str, status: str) -> None: ...

    def stage_finished(self, stage: str, seconds: float) -> None: ...


def parse_as_of(value: str | None, today: dt.date | None = None) -> dt.date:
    """The as-of date of a build: ``YYYY-MM-DD``, not after today (UTC); default today."""
    today = today or now().date()
    if value is None or value.strip() == "":
        return today
    text = value.strip()
    try:
        if not _DATE.match(text):
            raise ValueError
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise AsOfError(f"--as-of must be a date written YYYY-MM-DD, got {value!r}") from None
    if day > today:
        raise AsOfError(f"--as-of {text} is in the future (today is {today.isoformat()}, UTC): nothing was built")
    return day


def check_horizon(days: int) -> int:
    if not 1 <= days <= MAX_HORIZON_DAYS:
        raise AsOfError(f"--horizon-days must be between 1 and {MAX_HORIZON_DAYS}, got {days}")
    return days


@dataclass
class BuildResult:
    build_id: str
    published: Path
    as_of: dt.date
    horizon_days: int
    started_at: dt.datetime
    finished_at: dt.datetime
    stage_seconds: dict[str, float]
    row_counts: dict[str, int]
    dbt: DbtOutcome
    gate: GateOutcome
    checks_passed: int = 0
    checks_failed: int = 0
    history: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(self.stage_seconds.values())


class _Stages:
    """Times each stage and tells the progress display."""

    def __init__(self, progress: BuildProgress | None, seconds: dict[str, float]) -> None:
        self.progress = progress
        self.seconds = seconds

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.progress:
            self.progress.stage_started(name)
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - began, 3)
            if self.progress:
                self.progress.stage_finished(name, self.seconds[name])


_worker: GateWorker | None = None
_dbt_import: threading.Thread | None = None


def start_preload() -> None:
    """Start the quality-gate process now (it imports great_expectations, seconds of work, on the other
    core) and import dbt in a thread of this process, e.g. before ingest. Safe to call more than once;
    build() takes them over."""
    global _worker, _dbt_import
    if _worker is None or _worker.process.poll() is not None:
        _worker = GateWorker()
    if _dbt_import is None:
        _dbt_import = threading.Thread(target=preload_dbt, name="dbt-import", daemon=True)
        _dbt_import.start()


def stop_preload() -> None:
    """Stop a gate process started by start_preload() that no build took over (e.g. ingest failed)."""
    global _worker
    if _worker is not None:
        _worker.close()
        _worker = None


def _take_worker() -> GateWorker:
    global _worker
    start_preload()
    worker, _worker = _worker, None
    assert worker is not None
    return worker


def _unit_tests_passed_before(published: Path, fingerprint: str) -> str | None:
    """The build that last passed the dbt unit tests with this very project (see project_fingerprint)."""
    import duckdb

    if not published.exists():
        return None
    try:
        con = duckdb.connect(":memory:")
        try:
            attach_read_only(con, published, "previous_publish")
            rows = con.execute(
                "select build_id from previous_publish.main.refresh_log "
                "where json_extract_string(checks, '$.unit_tests_passed_for') = ? "
                "order by finished_at desc limit 1",
                [fingerprint],
            ).fetchall()
        finally:
            con.close()
    except duckdb.Error:
        return None  # an older file without the log or the key: run them
    return str(rows[0][0]) if rows else None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _checkpoint_raw(raw: Path) -> None:
    """Fold a write-ahead log left by a killed ingest into the raw file before copying it."""
    import duckdb

    if raw.with_name(raw.name + ".wal").exists():
        con = duckdb.connect(str(raw))
        try:
            con.execute("CHECKPOINT").fetchall()
        finally:
            con.close()


def _row_counts(con: Any) -> dict[str, int]:
    tables = con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = 'marts' and table_type = 'BASE TABLE' order by table_name"
    ).fetchall()
    return {t: int(con.execute(f'select count(*) from marts."{t}"').fetchall()[0][0]) for (t,) in tables}


def build(
    settings: Settings | None = None,
    *,
    as_of: dt.date | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    project_dir: Path = DEFAULT_PROJECT_DIR,
    progress: BuildProgress | None = None,
    ingested: dict[str, int] | None = None,
    threads: int | None = None,
    earlier_stages: dict[str, float] | None = None,
) -> BuildResult:
    """Build a new warehouse file from the raw layer and publish it only if dbt and the gate pass."""
    settings = settings or get_settings()
    as_of = parse_as_of(as_of.isoformat() if as_of else None)
    horizon_days = check_horizon(horizon_days)
    directory = warehouse_dir(settings)
    started_at = now()
    seconds: dict[str, float] = dict(earlier_stages or {})  # e.g. the ingest of `crm refresh`
    worker = _take_worker()
    try:
        with pipeline_lock(directory):
            return _build_locked(
                settings,
                worker,
                as_of=as_of,
                horizon_days=horizon_days,
                project_dir=project_dir,
                progress=progress,
                ingested=ingested,
                threads=threads,
                seconds=seconds,
                started_at=started_at,
            )
    finally:
        worker.close()


def _build_locked(
    settings: Settings,
    worker: GateWorker,
    *,
    as_of: dt.date,
    horizon_days: int,
    project_dir: Path,
    progress: BuildProgress | None,
    ingested: dict[str, int] | None,
    threads: int | None,
    seconds: dict[str, float],
    started_at: dt.datetime,
) -> BuildResult:
    import duckdb

    directory = warehouse_dir(settings)
    raw = raw_path(settings)
    published = published_path(settings)
    stages = _Stages(progress, seconds)
    if not raw.exists():
        raise CrmError(f"there is no raw layer at {raw} yet: run `crm ingest` (or `crm refresh`) first")
    build_file = build_path(directory)
    build_id = new_build_id()
    # A build file left by a killed run (we hold the lock, so no one is using it).
    remove_duckdb_file(build_file)
    stage = "preparing the build file"
    try:
        with stages.stage("prepare"):
            _checkpoint_raw(raw)
            shutil.copyfile(raw, build_file)

        # The raw layer is checked while dbt builds: the checks run in the gate's process, on the other core,
        # reading raw.duckdb itself (read-only; nothing writes it while the pipeline lock is held), and dbt
        # reads its byte copy in the build file. dbt is mostly single-threaded Python, so the checks cost the
        # refresh next to nothing. A broken operational rule still refuses the build and is reported on the
        # operational table that breaks it, ahead of anything dbt says about the same data; dbt's work on such
        # data is thrown away with the build file.
        stage = "raw checks"
        worker.submit(raw, "raw")
        seconds["raw checks"] = 0.0  # the wait for them after dbt, below
        if progress:
            progress.stage_started("raw checks")

        stage = "dbt"
        with stages.stage("dbt"):
            if _dbt_import is not None:
                _dbt_import.join()  # started with the gate process (start_preload), e.g. while ingest ran
            # Unit tests check the models' logic on their own fixture rows, not the data: when this very
            # project (files and versions) already passed them in a published build, they are not rerun.
            fingerprint = project_fingerprint(project_dir)
            unit_tests_passed_in = _unit_tests_passed_before(published, fingerprint)
            dbt = run_dbt_build(
                build_file,
                skip_unit_tests=unit_tests_passed_in is not None,
                as_of=as_of,
                horizon_days=horizon_days,
                work_dir=directory / "dbt",
                project_dir=project_dir,
                on_node=progress.node_finished if progress else None,
                threads=threads,
            )

        stage = "raw checks"
        waiting = time.perf_counter()
        raw_gate = worker.collect()
        seconds["raw checks"] = round(time.perf_counter() - waiting, 3)
        if progress:
            progress.stage_finished("raw checks", seconds["raw checks"])
        if not raw_gate.ok:
            raise BuildFailed("raw checks", [r.explain() for r in raw_gate.failed], published)
        if not dbt.success:
            raise BuildFailed("dbt", dbt.problems(), published)

        stage = "mart checks"
        with stages.stage("mart checks"):
            mart_gate = worker.run(build_file, "marts")
        if not mart_gate.ok:
            raise BuildFailed("mart checks", [r.explain() for r in mart_gate.failed], published)
        gate = GateOutcome(raw_gate.results + mart_gate.results, raw_gate.seconds + mart_gate.seconds)

        stage = "publishing"
        with stages.stage("publish"):
            con = duckdb.connect(str(build_file))
            try:
                row_counts = _row_counts(con)
                con.execute(REFRESH_LOG_DDL).fetchall()
                history = carry_history(con, published)
                checks_passed = dbt.tests_passed + gate.passed
                finished_at = now()
                result = BuildResult(
                    build_id=build_id,
                    published=published,
                    as_of=as_of,
                    horizon_days=horizon_days,
                    started_at=started_at,
                    finished_at=finished_at,
                    stage_seconds=seconds,
                    row_counts=row_counts,
                    dbt=dbt,
                    gate=gate,
                    checks_passed=checks_passed,
                    checks_failed=0,
                    history=history,
                )
                write_entry(
                    con,
                    {
                        "build_id": result.build_id,
                        "started_at": started_at,
                        "finished_at": finished_at,
                        "as_of_date": as_of,
                        "horizon_days": horizon_days,
                        "status": "published",
                        "row_counts": row_counts,
                        "checks_passed": checks_passed,
                        "checks_failed": 0,
                        "checks": {
                            "dbt_project": fingerprint,
                            "unit_tests_passed_for": fingerprint,
                            "unit_tests": (
                                {"skipped": f"unchanged project, passed in build {unit_tests_passed_in}"}
                                if unit_tests_passed_in
                                else {"passed": dbt.unit_tests_passed}
                            ),
                            "dbt_tests_passed": dbt.tests_passed,
                            # the raw checks ran alongside dbt: their own duration (stage_seconds has the wait)
                            "raw_checks_seconds": round(raw_gate.seconds, 3),
                            "dbt_nodes": dbt.status_counts(),
                            "dbt_models": sum(1 for n in dbt.nodes if n.resource_type == "model"),
                            "gate": [r.as_dict() for r in gate.results],
                        },
                        # publish's own time is not known yet; everything before it is
                        "stage_seconds": dict(seconds),
                        "slowest_models": [{"model": m, "seconds": round(s, 3)} for m, s in dbt.slowest_models()],
                        "ingested": ingested or {},
                    },
                )
                con.execute("CHECKPOINT").fetchall()
            finally:
                con.close()
            os.replace(build_file, published)
            _fsync_dir(directory)
        return result
    except BaseException as exc:
        remove_duckdb_file(build_file)
        problems = exc.problems if isinstance(exc, BuildFailed) else [f"{type(exc).__name__}: {exc}"]
        record_failure(
            failures_path(settings),
            {
                "failed_at": now().isoformat(timespec="seconds"),
                "command": "build",
                "stage": stage,
                "as_of_date": as_of.isoformat(),
                "horizon_days": horizon_days,
                "problems": problems,
                "stage_seconds": seconds,
            },
        )
        if isinstance(exc, duckdb.Error):
            raise BuildFailed(stage, problems, published) from exc
        raise
