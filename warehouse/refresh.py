"""Refresh pipeline: ingest then build, under one lock, as `crm refresh` and `crm demo` run it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from crm_app.settings import Settings, get_settings
from ingest.extract import DEFAULT_OVERLAP, IngestResult, Progress, ingest
from warehouse.build import (
    DEFAULT_HORIZON_DAYS,
    BuildProgress,
    BuildResult,
    build,
    check_horizon,
    parse_as_of,
    start_preload,
    stop_preload,
)
from warehouse.dbt_run import DEFAULT_PROJECT_DIR
from warehouse.lock import pipeline_lock
from warehouse.paths import failures_path, raw_path, warehouse_dir
from warehouse.refresh_log import now, record_failure


@dataclass
class RefreshResult:
    ingest: IngestResult
    build: BuildResult

    @property
    def stage_seconds(self) -> dict[str, float]:
        return self.build.stage_seconds  # ingest first, then the build's stages


def refresh(
    settings: Settings | None = None,
    *,
    as_of: str | dt.date | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
    project_dir: Path = DEFAULT_PROJECT_DIR,
    ingest_progress: Progress | None = None,
    build_progress: BuildProgress | None = None,
    threads: int | None = None,
) -> RefreshResult:
    """Bring the raw layer up to date, then build and publish; options are checked before anything runs."""
    settings = settings or get_settings()
    day = parse_as_of(as_of.isoformat() if isinstance(as_of, dt.date) else as_of)
    check_horizon(horizon_days)
    start_preload()  # the gate process imports great_expectations on the other core while ingest runs
    with pipeline_lock(warehouse_dir(settings)):
        try:
            ingested = ingest(settings.sqlalchemy_url, raw_path(settings), overlap=overlap, progress=ingest_progress)
        except BaseException as exc:
            stop_preload()
            record_failure(
                failures_path(settings),
                {
                    "failed_at": now().isoformat(timespec="seconds"),
                    "command": "refresh",
                    "stage": "ingest",
                    "as_of_date": day.isoformat(),
                    "horizon_days": horizon_days,
                    "problems": [f"{type(exc).__name__}: {exc}"],
                },
            )
            raise
        built = build(
            settings,
            as_of=day,
            horizon_days=horizon_days,
            project_dir=project_dir,
            progress=build_progress,
            ingested={t.table: t.changed for t in ingested.tables if t.changed},
            threads=threads,
            earlier_stages={"ingest": round(ingested.seconds, 3)},
        )
    return RefreshResult(ingest=ingested, build=built)
