"""Warehouse files: where the raw layer, build files, the published file and the failure log live."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from crm_app.settings import Settings, get_settings

RAW_FILE = "raw.duckdb"
PUBLISHED_FILE = "crm.duckdb"
FAILURES_FILE = "refresh_failures.jsonl"
BUILD_FILE = "building.duckdb"
LOCK_FILE = ".pipeline.lock"


def attach_read_only(con: Any, path: Path, alias: str) -> None:
    """ATTACH the DuckDB file at ``path`` to ``con`` read-only as catalog ``alias`` (the path quoted for SQL)."""
    escaped = str(path).replace("'", "''")
    con.execute(f"ATTACH '{escaped}' AS {alias} (READ_ONLY)").fetchall()


def warehouse_dir(settings: Settings | None = None) -> Path:
    """``<data_dir>/warehouse`` (not created here: readers must not create anything)."""
    return (settings or get_settings()).warehouse_dir


def raw_path(settings: Settings | None = None) -> Path:
    """The raw layer written by ``crm ingest`` (one table per operational table, schema ``raw``)."""
    return warehouse_dir(settings) / RAW_FILE


def published_path(settings: Settings | None = None) -> Path:
    """The published warehouse that dashboards read; replaced atomically by each good build."""
    return warehouse_dir(settings) / PUBLISHED_FILE


def failures_path(settings: Settings | None = None) -> Path:
    """JSON lines, one per failed build or refresh, for the data-health page."""
    return warehouse_dir(settings) / FAILURES_FILE


def build_path(directory: Path) -> Path:
    """The build file: one name for every build, so dbt's partial parsing (which hashes the profile,
    path included) survives from one build to the next; the pipeline lock keeps builds one at a time."""
    return directory / BUILD_FILE


def new_build_id() -> str:
    """Identifies one build in refresh_log: UTC timestamp and pid."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f") + f"-{os.getpid()}"


def remove_duckdb_file(path: Path) -> None:
    """Delete a DuckDB file and its write-ahead log, if present."""
    for candidate in (path, path.with_name(path.name + ".wal")):
        candidate.unlink(missing_ok=True)
