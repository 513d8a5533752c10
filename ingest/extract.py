"""Ingest stage: copy new, changed and deleted operational rows into the warehouse's raw layer (Arrow, ADBC).

For every operational table (``crm_app.models.Base.metadata``) the raw layer holds a table of the same
name and columns in schema ``raw`` of ``<data_dir>/warehouse/raw.duckdb``, plus ``_ingested_at``: the
latest version of each row, keyed on ``id``. Soft-deleted rows keep ``deleted_at`` (staging filters them);
rows deleted for real in the operational DB are deleted from the raw layer too.

Per table, in one DuckDB transaction that also moves the table's watermark in ``raw._watermarks``:

1. all tables are read in one read snapshot of the source (SQLite read transaction, PostgreSQL REPEATABLE
   READ) as Arrow batches through ADBC, so the raw layer never sees an order line whose order came later;
2. cursor: ``updated_at >= watermark - overlap``, where the watermark is the start of the previous
   extraction of the table (``last_ingested_at``, taken before its snapshot) and the overlap (5 minutes by
   default) covers transactions that stamped ``updated_at`` before that snapshot but committed after it.
   Only (id, updated_at, version) of the window's rows are read first; full rows travel only for the ids
   whose version differs from the raw copy, and replace it (delete + insert by id);
3. the id sets are compared (a count/sum/min/max fingerprint first, id by id when it differs): ids gone
   from the source are deleted (real deletes), ids the raw table lacks are fetched (rows written with an
   old ``updated_at``).

A repeated run writes nothing; a run killed at any point leaves each table either before or after its
transaction, so the next run loses nothing and duplicates nothing. ``max_updated_at`` (the newest change
seen) is kept in the watermarks too, for freshness.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from crm_app.errors import ConfigurationError, CrmError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"
WATERMARKS_TABLE = "_watermarks"
INGESTED_AT = "_ingested_at"
DEFAULT_OVERLAP = dt.timedelta(minutes=5)
# Test hook for the kill-recovery tests: "before_commit[@TABLE]:SECONDS" or "after_commit[@TABLE]:SECONDS"
# makes ingest log a line and sleep at that point (of every table, or of TABLE), so a test can SIGKILL it
# exactly there.
PAUSE_ENV = "CRM_INGEST_PAUSE"
_ID_CHUNK = 10_000
_VERSION_COLUMNS = ("id", "updated_at", "version")


class IngestError(CrmError):
    """The extraction or the load of a table failed; the raw layer keeps its last committed state."""


# ------------------------------------------------------------------------------------ raw schema


@dataclass(frozen=True)
class RawColumn:
    """One column of a raw table: its transport kind (how it travels through Arrow) and DuckDB type."""

    name: str
    kind: str  # int, bool, float, decimal, text, json, timestamp, date, time, blob
    duckdb_type: str


@dataclass(frozen=True)
class RawTable:
    name: str
    columns: tuple[RawColumn, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def has_version(self) -> bool:
        return "version" in self.column_names


def column_mapping(column: sa.Column[Any]) -> tuple[str, str]:
    """(transport kind, DuckDB type) for a SQLAlchemy column; the declared type decides, never the data."""
    t = column.type
    if isinstance(t, sa.Boolean):
        return "bool", "BOOLEAN"
    if isinstance(t, sa.JSON):
        return "json", "JSON"
    if isinstance(t, sa.String):  # includes Text and non-native Enum
        return "text", "VARCHAR"
    if isinstance(t, sa.BigInteger):
        return "int", "BIGINT"
    if isinstance(t, sa.SmallInteger):
        return "int", "SMALLINT"
    if isinstance(t, sa.Integer):
        return "int", "INTEGER"
    if isinstance(t, sa.Float):  # before Numeric: Float is a Numeric
        return "float", "DOUBLE"
    if isinstance(t, sa.Numeric):
        if t.precision is None:
            return "decimal", "DECIMAL(38,10)"
        return "decimal", f"DECIMAL({t.precision},{t.scale or 0})"
    if isinstance(t, sa.DateTime):
        return "timestamp", "TIMESTAMP"
    if isinstance(t, sa.Date):
        return "date", "DATE"
    if isinstance(t, sa.Time):
        return "time", "TIME"
    if isinstance(t, sa.LargeBinary):
        return "blob", "BLOB"
    if isinstance(t, sa.Uuid):
        return "text", "UUID"
    raise TypeError(f"no raw-layer type for {column.table.name}.{column.name} ({t!r})")


# Credentials and login state never leave the operational DB: the published warehouse is read by every
# dashboard user, and no analysis needs them. Nor do a deal's copies of its account's owner and department
# (migration 0009): the database changes them without the deal's updated_at, so an incremental copy would go stale,
# and the warehouse joins the account itself.
WITHHELD_COLUMNS: dict[str, frozenset[str]] = {
    "users": frozenset({"password_hash", "failed_login_count", "locked_until"}),
    "opportunities": frozenset({"account_owner_id", "account_department_id"}),
}


def raw_tables(metadata: sa.MetaData | None = None) -> list[RawTable]:
    """Every operational table (parents first), as the raw layer stores it."""
    if metadata is None:
        from crm_app.models import Base

        metadata = Base.metadata
    tables = []
    for table in metadata.sorted_tables:
        if table.name == "alembic_version":
            continue
        pk = [c.name for c in table.primary_key.columns]
        if pk != ["id"] or "updated_at" not in table.c:
            raise TypeError(f"table {table.name} needs an integer key 'id' and an 'updated_at' column for ingest")
        withheld = WITHHELD_COLUMNS.get(table.name, frozenset())
        columns = tuple(RawColumn(c.name, *column_mapping(c)) for c in table.columns if c.name not in withheld)
        tables.append(RawTable(table.name, columns))
    return tables


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_table_sql(table: RawTable, ns: str = RAW_SCHEMA) -> str:
    """DDL of a raw table in namespace ``ns`` (``schema`` or ``catalog.schema``)."""
    columns = ", ".join(f"{_q(c.name)} {c.duckdb_type}" for c in table.columns)
    return f"CREATE TABLE {ns}.{_q(table.name)} ({columns}, {_q(INGESTED_AT)} TIMESTAMP NOT NULL)"


def raw_namespace(con: duckdb.DuckDBPyConnection) -> str:
    """``"<catalog>".raw``: a file named raw.duckdb is itself a catalog called raw, so bare ``raw.x`` is ambiguous."""
    return f"{_q(str(_scalar(con, 'SELECT current_database()')))}.{RAW_SCHEMA}"


WATERMARKS_DDL = """
CREATE TABLE IF NOT EXISTS {ns}._watermarks (
    table_name VARCHAR NOT NULL,
    max_updated_at TIMESTAMP,
    row_count BIGINT NOT NULL,
    last_ingested_at TIMESTAMP NOT NULL,
    last_fetched BIGINT NOT NULL,
    last_inserted BIGINT NOT NULL,
    last_updated BIGINT NOT NULL,
    last_deleted BIGINT NOT NULL
)
"""


# ---------------------------------------------------------------------------------------- source


class Source:
    """An ADBC connection to the operational DB holding one read snapshot for the whole run."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.where = url.render_as_string(hide_password=True)
        self.dialect = "sqlite" if url.drivername.startswith("sqlite") else "postgresql"
        self._child: subprocess.Popen[bytes] | None = None
        self.conn: Any = None
        if self.dialect == "sqlite":
            path = url.database
            if not path or path == ":memory:" or not Path(path).expanduser().exists():
                raise ConfigurationError(f"the operational database {self.where} does not exist: run `crm init`")
            # See ingest/sqlite_reader.py for why SQLite is read from a child process.
            self._child = subprocess.Popen(
                [sys.executable, "-m", "ingest.sqlite_reader", str(Path(path).expanduser().resolve())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            return
        try:
            import adbc_driver_postgresql.dbapi as adbc_pg

            uri = url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.conn = adbc_pg.connect(uri)
            cursor = self.conn.cursor()
            try:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            finally:
                cursor.close()
        except Exception as exc:  # ADBC raises its own DB-API error classes
            raise ConfigurationError(
                f"cannot connect to the operational database {self.where}: {_first_line(exc)}"
            ) from None

    def _literal(self, value: dt.datetime) -> str:
        text = value.strftime("%Y-%m-%d %H:%M:%S.%f")
        # SQLite keeps SQLAlchemy DateTime as text in this very format, so comparing text uses the index.
        return f"'{text}'" if self.dialect == "sqlite" else f"TIMESTAMP '{text}'"

    def _expr(self, column: RawColumn) -> str:
        name = _q(column.name)
        if self.dialect == "sqlite":
            if column.kind in ("int", "bool"):
                return f"CAST({name} AS INTEGER)"
            if column.kind == "float":
                return f"CAST({name} AS REAL)"
            if column.kind == "blob":
                return name
            # Numeric is stored as REAL or INTEGER by SQLite: its text form converts to DECIMAL exactly.
            return f"CAST({name} AS TEXT)"
        if column.kind in ("decimal", "json", "text"):
            return f"CAST({name} AS TEXT)"
        return name

    @staticmethod
    def _witness(column: RawColumn) -> str:
        return {"int": "0", "bool": "0", "float": "0.0", "blob": "X''"}.get(column.kind, "''")

    def select_sql(self, table: RawTable, since: dt.datetime | None = None, ids: Sequence[int] | None = None) -> str:
        conditions = []
        if since is not None:
            conditions.append(f'"updated_at" >= {self._literal(since)}')
        if ids is not None:
            conditions.append(f'"id" IN ({", ".join(str(int(i)) for i in ids)})')
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        exprs = ", ".join(f"{self._expr(c)} AS {_q(c.name)}" for c in table.columns)
        body = f'SELECT 1 AS "_w", {exprs} FROM {_q(table.name)}{where}'
        if self.dialect == "sqlite":
            # The SQLite driver infers each Arrow column's type from the first rows; a leading row of
            # typed placeholders (dropped on load) keeps an all-NULL start from being read as int64.
            witness = ", ".join(f"{self._witness(c)} AS {_q(c.name)}" for c in table.columns)
            return f'SELECT 0 AS "_w", {witness} UNION ALL {body}'
        return body

    def ids_sql(self, table: RawTable) -> str:
        return f'SELECT CAST("id" AS BIGINT) AS "id" FROM {_q(table.name)}'

    def keys_sql(self, table: RawTable, since: dt.datetime | None) -> str:
        """Only what tells a row's version apart — id, updated_at, version — for rows in the cursor window."""
        narrow = RawTable(table.name, tuple(c for c in table.columns if c.name in _VERSION_COLUMNS))
        return self.select_sql(narrow, since)

    @contextmanager
    def stream(self, sql: str) -> Iterator[pa.RecordBatchReader]:
        """The result of ``sql`` as Arrow batches, valid inside the ``with`` block."""
        if self._child is not None:
            with self._child_stream(sql) as reader:
                yield reader
            return
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql)
            yield cursor.fetch_record_batch()
        finally:
            cursor.close()

    @contextmanager
    def _child_stream(self, sql: str) -> Iterator[pa.RecordBatchReader]:
        import pyarrow as pa

        child = self._child
        assert child is not None and child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(sql).encode() + b"\n")
        child.stdin.flush()
        status = child.stdout.readline()
        if status != b"OK\n":
            raise self._child_error(status)
        reader = pa.ipc.open_stream(child.stdout)
        try:
            yield reader
        finally:
            for _ in reader:  # keep the protocol in step if the consumer stopped early
                pass
            trailer = child.stdout.readline()
        if trailer != b"END\n":
            raise self._child_error(trailer)

    def _child_error(self, line: bytes) -> CrmError:
        if line.startswith(b"ERR "):
            message = line[4:].decode(errors="replace").strip()
            if "unable to open" in message or "file is not a database" in message:
                return ConfigurationError(f"cannot read the operational database {self.where}: {message}")
            return IngestError(f"reading {self.where} failed: {message}")
        return IngestError(f"the SQLite reader process for {self.where} stopped unexpectedly")

    def read_all(self, sql: str) -> pa.Table:
        with self.stream(sql) as reader:
            return reader.read_all()

    def close(self) -> None:
        if self._child is not None:
            assert self._child.stdin is not None
            try:
                self._child.stdin.close()
                self._child.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._child.kill()
                self._child.wait()
            return
        try:
            self.conn.rollback()
        finally:
            self.conn.close()


# ------------------------------------------------------------------------------------------ load


@dataclass
class TableIngest:
    """What one table's ingest did."""

    table: str
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rows: int = 0
    watermark: dt.datetime | None = None
    reloaded: bool = False
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted


@dataclass
class IngestResult:
    raw_path: Path
    source: str
    tables: list[TableIngest] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def inserted(self) -> int:
        return sum(t.inserted for t in self.tables)

    @property
    def updated(self) -> int:
        return sum(t.updated for t in self.tables)

    @property
    def deleted(self) -> int:
        return sum(t.deleted for t in self.tables)

    @property
    def changed_tables(self) -> list[str]:
        return [t.table for t in self.tables if t.changed]


Progress = Callable[[str, TableIngest | None], None]
"""Called with (table, None) when a table starts and (table, result) when it is committed."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _pause_point() -> tuple[str, str | None, float] | None:
    """Parse the test hook ``POINT[@TABLE]:SECONDS`` (see PAUSE_ENV)."""
    spec = os.environ.get(PAUSE_ENV, "").strip()
    if not spec:
        return None
    where, _, seconds = spec.rpartition(":")
    point, _, table = where.partition("@")
    return point, table or None, float(seconds)


def _maybe_pause(pause: tuple[str, str | None, float] | None, point: str, table: str) -> None:
    if pause and pause[0] == point and pause[1] in (None, table):
        log.warning("ingest paused %s of %s", point.replace("_", " "), table)
        time.sleep(pause[2])


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> Any:
    # fetchall: DuckDB refuses new work on a connection while a result is only partly fetched.
    rows = con.execute(sql, params).fetchall()
    return rows[0][0] if rows else None


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> None:
    con.execute(sql, params).fetchall()


def _ensure_table(con: duckdb.DuckDBPyConnection, ns: str, table: RawTable) -> bool:
    """Create the raw table if needed; recreate it when the operational schema changed. True if (re)created."""
    existing = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [RAW_SCHEMA, table.name],
    ).fetchall()
    expected = [(c.name, c.duckdb_type) for c in table.columns] + [(INGESTED_AT, "TIMESTAMP")]
    if existing == expected:
        return False
    if existing:
        log.info("schema of %s changed: reloading it in full", table.name)
        _run(con, f"DROP TABLE {ns}.{_q(table.name)}")
    _run(con, f"DELETE FROM {ns}.{WATERMARKS_TABLE} WHERE table_name = ?", [table.name])
    _run(con, create_table_sql(table, ns))
    return True


def _load_sql(table: RawTable, relation: str) -> str:
    casts = ", ".join(f"CAST({_q(c.name)} AS {c.duckdb_type}) AS {_q(c.name)}" for c in table.columns)
    return f'SELECT {casts} FROM {relation} WHERE "_w" = 1'


def _ingest_table(
    con: duckdb.DuckDBPyConnection,
    ns: str,
    source: Source,
    table: RawTable,
    *,
    overlap: dt.timedelta,
    started: dt.datetime,
    full: bool,
    pause: tuple[str, str | None, float] | None,
) -> TableIngest:
    began = time.perf_counter()
    result = TableIngest(table.name)
    target = f"{ns}.{_q(table.name)}"
    _run(con, "BEGIN TRANSACTION")
    try:
        result.reloaded = _ensure_table(con, ns, table)
        # The cursor starts from the previous extraction of this table, not from the largest updated_at it
        # saw: rows stamped long ago (a bulk load, a quiet table) are then not read again on every run.
        previous_run = _scalar(
            con, f"SELECT last_ingested_at FROM {ns}.{WATERMARKS_TABLE} WHERE table_name = ?", [table.name]
        )
        has_rows = bool(_scalar(con, f"SELECT count(*) FROM {target}"))
        since = None if (full or previous_run is None or not has_rows) else previous_run - overlap

        if has_rows:
            _load_changes(con, source, table, target, since, started, result)
        else:
            # First load: nothing to compare with, stream every row straight into the table.
            with source.stream(source.select_sql(table)) as reader:
                con.register("_source_batches", reader)
                try:
                    inserted = _scalar(
                        con,
                        f"INSERT INTO {target} SELECT *, ? FROM ({_load_sql(table, '_source_batches')})",
                        [started],
                    )
                finally:
                    con.unregister("_source_batches")
            result.fetched = result.inserted = int(inserted or 0)

        result.watermark = _scalar(con, f"SELECT max(updated_at) FROM {target}")
        result.rows = _scalar(con, f"SELECT count(*) FROM {target}")
        _run(con, f"DELETE FROM {ns}.{WATERMARKS_TABLE} WHERE table_name = ?", [table.name])
        _run(
            con,
            f"INSERT INTO {ns}.{WATERMARKS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                table.name,
                result.watermark,
                result.rows,
                started,
                result.fetched,
                result.inserted,
                result.updated,
                result.deleted,
            ],
        )
        _maybe_pause(pause, "before_commit", table.name)
        _run(con, "COMMIT")
    except BaseException as exc:
        _run(con, "ROLLBACK")
        if isinstance(exc, CrmError | KeyboardInterrupt | SystemExit):
            raise
        raise IngestError(f"ingest of table {table.name} failed: {_first_line(exc)}") from exc
    _maybe_pause(pause, "after_commit", table.name)
    result.seconds = time.perf_counter() - began
    return result


def _load_changes(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    table: RawTable,
    target: str,
    since: dt.datetime | None,
    started: dt.datetime,
    result: TableIngest,
) -> None:
    """Bring a non-empty raw table up to date: narrow passes find what changed, full rows travel only for it.

    1. (id, updated_at, version) of the rows in the cursor window: rows that differ from their raw copy, or
       that the raw table lacks, changed. Only these three columns travel, so a window full of unchanged
       rows (a bulk load within the overlap) costs little.
    2. Their full rows are fetched by key; each replaces its raw row (delete + insert).
    3. The id sets are compared: first through a cheap fingerprint (count, sum, min and max of the ids) on
       both sides, then, only when it differs, id by id: ids gone from the source are deleted (rows deleted
       for real), ids the raw table lacks (a row written with an updated_at older than the window) are
       fetched. (Fingerprints that agree while the sets differ need as many back-dated inserts as deletes
       with ids summing alike: not a case this guards against.)
    """
    keys = ", ".join(
        f"CAST({_q(c.name)} AS {c.duckdb_type}) AS {_q(c.name)}" for c in table.columns if c.name in _VERSION_COLUMNS
    )
    with source.stream(source.keys_sql(table, since)) as reader:
        con.register("_window_batches", reader)
        try:
            _run(con, f'CREATE OR REPLACE TEMP TABLE _window AS SELECT {keys} FROM _window_batches WHERE "_w" = 1')
        finally:
            con.unregister("_window_batches")
    same = "r.updated_at IS NOT DISTINCT FROM w.updated_at"
    if table.has_version:
        same += " AND r.version IS NOT DISTINCT FROM w.version"
    changed = (
        f"SELECT w.id FROM _window AS w WHERE NOT EXISTS (SELECT 1 FROM {target} AS r WHERE r.id = w.id AND {same})"
    )
    wanted = [row[0] for row in con.execute(f"{changed} ORDER BY 1").fetchall()]
    _fetch_rows(con, source, table, target, wanted, started, result)

    if since is None:
        ids_relation = "(SELECT id FROM _window)"  # the window was the whole table
    else:
        fingerprint = 'count(*), coalesce(sum("id"), 0), min("id"), max("id")'
        theirs = tuple(source.read_all(f"SELECT {fingerprint} FROM {_q(table.name)}").to_pylist()[0].values())
        ours = tuple(con.execute(f"SELECT {fingerprint} FROM {target}").fetchall()[0])
        if tuple(map(_as_int, theirs)) == tuple(map(_as_int, ours)):
            _run(con, "DROP TABLE _window")
            return
        con.register("_source_ids", source.read_all(source.ids_sql(table)))
        ids_relation = "_source_ids"
    result.deleted = int(
        _scalar(
            con, f"DELETE FROM {target} AS r WHERE NOT EXISTS (SELECT 1 FROM {ids_relation} AS s WHERE s.id = r.id)"
        )
        or 0
    )
    missing = f"SELECT s.id FROM {ids_relation} AS s WHERE NOT EXISTS (SELECT 1 FROM {target} AS r WHERE r.id = s.id)"
    lacking = [row[0] for row in con.execute(f"{missing} ORDER BY 1").fetchall()]
    if since is not None:
        con.unregister("_source_ids")
    _run(con, "DROP TABLE _window")
    _fetch_rows(con, source, table, target, lacking, started, result)


def _as_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _fetch_rows(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    table: RawTable,
    target: str,
    ids: list[int],
    started: dt.datetime,
    result: TableIngest,
) -> None:
    """Fetch the full rows of ``ids`` by key and replace their raw rows (delete + insert)."""
    if not ids:
        return
    _run(con, f"CREATE OR REPLACE TEMP TABLE _incoming AS SELECT * FROM {target} LIMIT 0")
    _run(con, f"ALTER TABLE _incoming DROP COLUMN {_q(INGESTED_AT)}")
    for start in range(0, len(ids), _ID_CHUNK):
        with source.stream(source.select_sql(table, ids=ids[start : start + _ID_CHUNK])) as reader:
            con.register("_changed_batches", reader)
            try:
                _run(con, f"INSERT INTO _incoming {_load_sql(table, '_changed_batches')}")
            finally:
                con.unregister("_changed_batches")
    fetched = int(_scalar(con, "SELECT count(*) FROM _incoming"))
    updated = int(_scalar(con, f"DELETE FROM {target} WHERE id IN (SELECT id FROM _incoming)") or 0)
    _run(con, f"INSERT INTO {target} SELECT *, ? FROM _incoming", [started])
    _run(con, "DROP TABLE _incoming")
    result.fetched += fetched
    result.updated += updated
    result.inserted += fetched - updated


def open_raw(raw_path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the raw layer; a clear error when another process holds it."""
    import duckdb

    if read_only and not raw_path.exists():
        raise IngestError(f"the raw layer {raw_path} does not exist yet: run `crm ingest` first")
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(raw_path), read_only=read_only)
    except duckdb.IOException as exc:
        raise IngestError(f"cannot open the raw layer {raw_path}: {_first_line(exc)}") from None


def ingest(
    database_url: str,
    raw_path: Path,
    *,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
    full: bool = False,
    tables: Iterable[RawTable] | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Bring ``raw_path`` up to date with the operational DB at ``database_url``; see the module docstring."""
    from crm_app.models.base import utcnow

    began = time.perf_counter()
    selected = list(tables) if tables is not None else raw_tables()
    # Taken before the source snapshot exists: every row committed after the snapshot was stamped after
    # this moment minus the length of its transaction, which the overlap covers.
    started = utcnow()
    source = Source(database_url)
    result = IngestResult(raw_path=raw_path, source=source.where)
    pause = _pause_point()
    try:
        con = open_raw(raw_path)
        try:
            ns = raw_namespace(con)
            _run(con, f"CREATE SCHEMA IF NOT EXISTS {ns}")
            _run(con, WATERMARKS_DDL.format(ns=ns))
            for table in selected:
                if progress:
                    progress(table.name, None)
                done = _ingest_table(con, ns, source, table, overlap=overlap, started=started, full=full, pause=pause)
                result.tables.append(done)
                if progress:
                    progress(table.name, done)
            _run(con, "CHECKPOINT")
        finally:
            con.close()
    finally:
        source.close()
    result.seconds = time.perf_counter() - began
    return result


def read_watermarks(raw_path: Path) -> dict[str, dict[str, Any]]:
    """The per-table watermarks of the raw layer (empty when nothing was ingested yet)."""
    if not raw_path.exists():
        return {}
    con = open_raw(raw_path, read_only=True)
    try:
        present = _scalar(
            con,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [RAW_SCHEMA, WATERMARKS_TABLE],
        )
        if not present:
            return {}
        ns = raw_namespace(con)
        cursor = con.execute(f"SELECT * FROM {ns}.{WATERMARKS_TABLE} ORDER BY table_name")
        names = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    finally:
        con.close()
