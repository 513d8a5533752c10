"""Readers of the published warehouse (dashboards, API, data-health page): read-only, swap-aware.

A refresh publishes by ``os.replace``-ing a new file over ``crm.duckdb``. A reader here holds an
in-memory DuckDB with the published file attached ``READ_ONLY`` as ``wh``; it checks the file's identity
(inode, size, mtime) each time a connection is asked for and, when a new file was published, attaches the
new one in a fresh in-memory database. Connections handed out earlier keep the old, consistent file
(Linux keeps a replaced file alive while it is open) until they are dropped.

Use::

    from warehouse.readers import connect, published_version, query_df
    df = query_df("select * from marts.customer_value where value_tier = ?", ["top"])
    cache_key = published_version()
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_app.errors import CrmError
from crm_app.settings import Settings, get_settings
from warehouse.paths import attach_read_only, failures_path
from warehouse.paths import published_path as _published_path
from warehouse.refresh_log import read_failures

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

ALIAS = "wh"


class WarehouseNotPublishedError(CrmError):
    """No warehouse has been published yet."""


def published_path(settings: Settings | None = None) -> Path:
    """The published warehouse file (``<data_dir>/warehouse/crm.duckdb``)."""
    return _published_path(settings)


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def published_version(settings: Settings | None = None) -> str:
    """A string that changes with every publish (for cache keys); ``"none"`` before the first one."""
    identity = _identity(published_path(settings))
    return "none" if identity is None else "-".join(str(part) for part in identity)


@dataclass
class _Attached:
    identity: tuple[int, int, int, int]
    database: duckdb.DuckDBPyConnection


class WarehouseReader:
    """One process-wide reader per published path; thread-safe (each caller gets its own cursor)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._current: _Attached | None = None

    def _attach(self, identity: tuple[int, int, int, int]) -> _Attached:
        import duckdb

        database = duckdb.connect(":memory:")
        try:
            attach_read_only(database, self.path, ALIAS)
        except duckdb.Error as exc:
            database.close()
            raise CrmError(f"cannot open the published warehouse {self.path}: {exc}") from None
        # The file may have been replaced between stat() and ATTACH: trust what we actually opened.
        return _Attached(_identity(self.path) or identity, database)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the currently published file, with ``wh`` as the default catalog."""
        identity = _identity(self.path)
        if identity is None:
            raise WarehouseNotPublishedError(
                f"no warehouse has been published at {self.path} yet: run `crm refresh` first"
            )
        with self._lock:
            if self._current is None or self._current.identity != identity:
                # The old in-memory database is not closed here: cursors handed out earlier may still be
                # reading the old file; it goes away with the last of them.
                self._current = self._attach(identity)
            cursor = self._current.database.cursor()
        cursor.execute(f"USE {ALIAS}").fetchall()
        return cursor

    def version(self) -> str:
        identity = _identity(self.path)
        return "none" if identity is None else "-".join(str(part) for part in identity)


_readers: dict[Path, WarehouseReader] = {}
_readers_lock = threading.Lock()


def reader(settings: Settings | None = None) -> WarehouseReader:
    path = published_path(settings)
    with _readers_lock:
        if path not in _readers:
            _readers[path] = WarehouseReader(path)
        return _readers[path]


def connect(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only cursor on the published warehouse; marts are ``marts.<name>``, the log ``refresh_log``."""
    return reader(settings).connect()


def query_df(sql: str, params: list[Any] | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """Run one query on the published warehouse and return a pandas DataFrame."""
    cursor = connect(settings)
    try:
        return cursor.execute(sql, params).df()
    finally:
        cursor.close()


def refresh_history(settings: Settings | None = None) -> pd.DataFrame:
    """Every successful publish, newest first (from the published file's ``refresh_log``)."""
    return query_df("select * from main.refresh_log order by finished_at desc", settings=settings)


def recent_failures(settings: Settings | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The latest failed builds and refreshes (nothing published by them), newest first."""
    return read_failures(failures_path(settings or get_settings()), limit)


def published_at(settings: Settings | None = None) -> float | None:
    """Modification time of the published file (seconds since the epoch), or None."""
    try:
        return os.stat(published_path(settings)).st_mtime
    except FileNotFoundError:
        return None
