"""Publish stage, bookkeeping: the `refresh_log` table of the published file and the failure log beside it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from warehouse.paths import attach_read_only

REFRESH_LOG_DDL = """
CREATE TABLE IF NOT EXISTS main.refresh_log (
    build_id VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    as_of_date DATE NOT NULL,
    horizon_days INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    row_counts JSON,
    checks_passed INTEGER NOT NULL,
    checks_failed INTEGER NOT NULL,
    checks JSON,
    stage_seconds JSON,
    slowest_models JSON,
    ingested JSON
)
"""


def carry_history(con: Any, previous: Path) -> int:
    """Copy the refresh_log rows of the previously published file into the build file's table."""
    if not previous.exists():
        return 0
    attach_read_only(con, previous, "previous_publish")
    try:
        present = con.execute(
            "select column_name from information_schema.columns "
            "where table_catalog = 'previous_publish' and table_schema = 'main' and table_name = 'refresh_log'"
        ).fetchall()
        if not present:
            return 0
        mine = {r[0] for r in con.execute("select column_name from (describe main.refresh_log)").fetchall()}
        shared = [r[0] for r in present if r[0] in mine]
        columns = ", ".join(f'"{c}"' for c in shared)
        con.execute(
            f"INSERT INTO main.refresh_log ({columns}) SELECT {columns} FROM previous_publish.main.refresh_log"
        ).fetchall()
        rows = con.execute("select count(*) from previous_publish.main.refresh_log").fetchall()
        return int(rows[0][0])
    finally:
        con.execute("DETACH previous_publish").fetchall()


def write_entry(con: Any, entry: dict[str, Any]) -> None:
    columns = list(entry)
    values = [json.dumps(v, default=str) if isinstance(v, dict | list) else v for v in entry.values()]
    con.execute(
        f"INSERT INTO main.refresh_log ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        values,
    ).fetchall()


def record_failure(path: Path, entry: dict[str, Any]) -> None:
    """Append a failed build or refresh to the JSON lines log (read by the data-health page)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, default=str) + "\n")


def read_failures(path: Path, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent failures, newest first."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a crash
    return list(reversed(entries))[:limit]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
