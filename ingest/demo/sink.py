"""Data in (demo data): bulk writing of Arrow tables into the operational database, in one transaction.

Row-by-row ORM flushes are far too slow for a million customers, so generated columns travel as Arrow
tables: into SQLite through the ADBC driver (bound in C, no Python object per value), into PostgreSQL
through COPY (CSV written by Arrow), and through the DBAPI's executemany anywhere else (in-memory SQLite).
Every value is already in the form SQLAlchemy itself stores (ISO date and time strings, numbers, JSON
text), so the app reads the rows back exactly as if it had written them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import JSON, Boolean, Connection, Engine, Integer, Numeric, Table
from sqlalchemy.engine import make_url

from crm_app.models import Base

ArrayLike = Any  # numpy array, pyarrow array, list or scalar (broadcast)
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite


class Sink:
    """One open transaction on the operational database that accepts whole tables of new rows."""

    backend = "generic"

    def execute(self, sql: str) -> None:
        raise NotImplementedError

    def scalar(self, sql: str) -> Any:
        raise NotImplementedError

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def values(self, sql: str) -> list[Any]:
        """The first column of every row ``sql`` returns."""
        return [row[0] for row in self.rows(sql)]

    def write(self, table: str, data: pa.Table) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- helpers shared by all backends

    def count(self, table: str) -> int:
        return int(self.scalar(f'select count(*) from "{table}"') or 0)

    def next_id(self, table: str) -> int:
        return int(self.scalar(f'select coalesce(max(id), 0) from "{table}"') or 0) + 1

    def drop_indexes(self, tables: Iterable[str]) -> list[str]:
        """Drop secondary indexes of ``tables`` for the load; returns the statements that rebuild them."""
        return []

    def finish(self, tables: Iterable[str]) -> None:
        """Backend chores after the load (sequences, statistics)."""


class SqliteAdbcSink(Sink):
    """SQLite through ADBC: Arrow batches are bound in C, several times faster than executemany.

    For the load the database leaves WAL mode for a rollback journal when it is the only connection:
    a fresh database's pages are then written once instead of twice (log, then checkpoint). The
    journal still makes the load one atomic transaction; WAL mode is restored afterwards.
    """

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        self._conn = adbc_sqlite.connect(str(path), autocommit=True)
        self._cur = self._conn.cursor()
        self._open = False
        # Foreign keys are not checked row by row during the load (a quarter of its time): the rows
        # come from one generator whose references the tests verify with PRAGMA foreign_key_check,
        # and PostgreSQL checks the same generated rows on every load.
        for pragma in ("PRAGMA foreign_keys=OFF", "PRAGMA busy_timeout=0", "PRAGMA cache_size=-131072"):
            self.execute(pragma)
        self._was_wal = str(self.scalar("PRAGMA journal_mode")).lower() == "wal"
        if self._was_wal:
            # fails (at once: busy_timeout 0) while other connections hold the file open; staying in
            # WAL mode is slower, not wrong
            with contextlib.suppress(Exception):
                self.execute("PRAGMA journal_mode=DELETE")
        self.execute("PRAGMA busy_timeout=30000")
        self.execute("PRAGMA synchronous=NORMAL")
        # IMMEDIATE takes the write lock now: nobody can add accounts between our check and our load.
        self.execute("BEGIN IMMEDIATE")
        self._open = True

    def execute(self, sql: str) -> None:
        self._cur.execute(sql)
        self._cur.fetchall()

    def scalar(self, sql: str) -> Any:
        self._cur.execute(sql)
        rows = self._cur.fetchall()
        return rows[0][0] if rows else None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        self._cur.execute(sql)
        return [tuple(row) for row in self._cur.fetchall()]

    def write(self, table: str, data: pa.Table) -> None:
        if data.num_rows:
            self._cur.adbc_ingest(table, data, mode="append")

    def drop_indexes(self, tables: Iterable[str]) -> list[str]:
        # Building an index once after the load (one scan and sort) costs less CPU than keeping it
        # up to date row by row. DDL is transactional in SQLite: a failed run gets them back.
        names = ", ".join(f"'{t}'" for t in tables)
        rows = self.rows(
            "select name, sql from sqlite_master where type = 'index' and sql is not null "
            f"and tbl_name in ({names}) order by name"
        )
        rebuild = []
        for name, sql in rows:
            if re.match(r"\s*create\s+index", sql, re.IGNORECASE):  # unique indexes stay
                self.execute(f'DROP INDEX "{name}"')
                rebuild.append(sql)
        return rebuild

    def commit(self) -> None:
        self.execute("COMMIT")
        self._open = False
        self._restore_wal()

    def rollback(self) -> None:
        if self._open:
            self.execute("ROLLBACK")
            self._open = False
        self._restore_wal()

    def _restore_wal(self) -> None:
        if self._was_wal and str(self.scalar("PRAGMA journal_mode")).lower() != "wal":
            self.execute("PRAGMA journal_mode=WAL")

    def close(self) -> None:
        self._cur.close()
        self._conn.close()


class _ConnectionSink(Sink):
    """A sink on a SQLAlchemy connection (PostgreSQL's COPY, or plain executemany)."""

    def __init__(self, engine: Engine) -> None:
        self._conn: Connection = engine.connect()
        self._trans = self._conn.begin()

    def execute(self, sql: str) -> None:
        self._conn.exec_driver_sql(sql)

    def scalar(self, sql: str) -> Any:
        return self._conn.exec_driver_sql(sql).scalar()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._conn.exec_driver_sql(sql)]

    def commit(self) -> None:
        self._trans.commit()

    def rollback(self) -> None:
        if self._trans.is_active:
            self._trans.rollback()

    def close(self) -> None:
        self._conn.close()


class PostgresCopySink(_ConnectionSink):
    backend = "postgresql"

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        # Nobody may add accounts between our emptiness check and the commit.
        self.execute("LOCK TABLE accounts IN SHARE ROW EXCLUSIVE MODE")

    def write(self, table: str, data: pa.Table) -> None:
        if not data.num_rows:
            return
        buffer = io.BytesIO()
        pa_csv.write_csv(data, buffer, pa_csv.WriteOptions(include_header=False))
        columns = ", ".join(f'"{name}"' for name in data.column_names)
        raw: Any = self._conn.connection.dbapi_connection  # psycopg's connection: COPY lives there
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN (FORMAT csv)') as copy:
            copy.write(buffer.getvalue())

    def drop_indexes(self, tables: Iterable[str]) -> list[str]:
        """Drop the loaded tables' foreign keys and plain indexes; returns the statements restoring them.

        A foreign key checked row by row costs a trigger call per row (most of a COPY's time); added
        back after the load, PostgreSQL validates it in one join instead, before the commit — so the
        load is still refused whole if a single reference were wrong. Needs the tables' owner (the user
        that migrated them); otherwise the load simply keeps them.
        """
        names = "array[" + ", ".join(f"'{t}'" for t in tables) + "]"
        loaded = f"(select c.oid from pg_class c where c.relname = any({names}) and pg_table_is_visible(c.oid))"
        keys = self.rows(
            "select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint "
            f"where contype = 'f' and conrelid in {loaded} order by 1, 2"
        )
        indexes = self.rows(
            "select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) from pg_index i "
            f"where i.indrelid in {loaded} and not i.indisunique and not i.indisprimary order by 1"
        )
        # pg_get_indexdef does not carry a column's statistics target (ALTER INDEX ... SET STATISTICS, e.g. the
        # account search expressions of migration 0005): without it the rebuilt index plans as if never tuned
        targets = self.rows(
            "select i.indexrelid::regclass::text, a.attnum, a.attstattarget from pg_index i "
            "join pg_attribute a on a.attrelid = i.indexrelid "
            f"where i.indrelid in {loaded} and not i.indisunique and not i.indisprimary "
            "and a.attstattarget > 0 order by 1, 2"
        )
        self.execute("SAVEPOINT demo_load")
        try:
            for table, name, _ in keys:
                self.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for index, _ in indexes:
                self.execute(f"DROP INDEX {index}")
        except Exception:  # not the owner: keep them, the load is slower but the same
            self.execute("ROLLBACK TO SAVEPOINT demo_load")
            return []
        self.execute("RELEASE SAVEPOINT demo_load")
        return (
            [sql for _, sql in indexes]
            + [f"ALTER INDEX {index} ALTER COLUMN {n} SET STATISTICS {target}" for index, n, target in targets]
            + [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d in keys]
        )

    def finish(self, tables: Iterable[str]) -> None:
        _advance_sequences(self, tables)


class ExecutemanySink(_ConnectionSink):
    """Any other database (e.g. in-memory SQLite): the DBAPI's executemany, one tuple per row."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.backend = engine.dialect.name

    def write(self, table: str, data: pa.Table) -> None:
        if not data.num_rows:
            return
        columns = ", ".join(f'"{name}"' for name in data.column_names)
        marks = ", ".join("?" if self._conn.dialect.paramstyle == "qmark" else "%s" for _ in data.column_names)
        rows = list(zip(*(column.to_pylist() for column in data.columns), strict=True))
        cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.executemany(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', rows)
        cursor.close()

    def finish(self, tables: Iterable[str]) -> None:
        if self.backend == "postgresql":
            _advance_sequences(self, tables)


def _advance_sequences(sink: Sink, tables: Iterable[str]) -> None:
    """Rows came with explicit ids: move each PostgreSQL id sequence past them so the app's inserts fit."""
    for table in tables:
        sink.execute(
            f"select setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f'coalesce((select max(id) from "{table}"), 0) + 1, false)'
        )
        sink.execute(f'analyze "{table}"')


def open_sink(engine: Engine, *, prefer_executemany: bool = False) -> Sink:
    """The fastest way to load into ``engine``'s database."""
    url = make_url(engine.url)
    if prefer_executemany:
        return ExecutemanySink(engine)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        engine.dispose()  # idle pooled connections would keep the file in WAL mode during the load
        return SqliteAdbcSink(Path(url.database))
    if url.get_backend_name() == "postgresql":
        return PostgresCopySink(engine)
    return ExecutemanySink(engine)


# ------------------------------------------------------------------------------------ building rows


def table_of(name: str) -> Table:
    return Base.metadata.tables[name]


def json_texts(values: Iterable[Mapping[str, Any] | list[Any] | None]) -> list[str | None]:
    return [None if v is None else json.dumps(v, separators=(", ", ": ")) for v in values]


def _scalar(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.strftime(DATETIME_FORMAT)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _column_array(column: Any, value: ArrayLike, n: int) -> pa.Array:
    kind = column.type
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.Array):
        array = value
    elif isinstance(value, np.ndarray | list):
        array = pa.array(value)
    elif value is None:
        array = pa.nulls(n)
    else:  # one value for every row
        value = _scalar(value)
        array = pa.array([value] * n) if isinstance(value, str) else pa.array(np.full(n, value))
    if len(array) != n:
        raise ValueError(f"column {column.table.name}.{column.name} has {len(array)} values for {n} rows")
    if isinstance(kind, Boolean):
        target: pa.DataType = pa.bool_()
    elif isinstance(kind, Integer):
        target = pa.int64()
    elif isinstance(kind, Numeric):
        target = pa.float64()
    else:  # text, enums, JSON text and dates/times already formatted as SQLAlchemy stores them
        target = pa.string()
    if pa.types.is_null(array.type):
        return pa.nulls(n, target)
    if array.type != target:
        array = array.cast(target)
    return array


def frame(name: str, columns: Mapping[str, ArrayLike], *, now: str) -> pa.Table:
    """An Arrow table of new ``name`` rows from ``columns`` (arrays of equal length, or scalars).

    Columns left out get what the app would store: ``updated_at`` = insertion time ``now``,
    ``version`` = 1, the model's scalar default, ``{}`` for custom fields, else NULL. A column that is
    required and has none of these is a bug in the generator and raises at once.
    """
    table = table_of(name)
    lengths = {len(v) for v in columns.values() if isinstance(v, np.ndarray | pa.Array | pa.ChunkedArray | list)}
    if len(lengths) != 1:
        raise ValueError(f"{name}: columns of different lengths {sorted(lengths)}")
    n = lengths.pop()
    unknown = set(columns) - set(table.columns.keys())
    if unknown:
        raise ValueError(f"{name}: no such columns {sorted(unknown)}")
    arrays, names = [], []
    for column in table.columns:
        if column.name in columns and not (columns[column.name] is None and not column.nullable):
            value = columns[column.name]
        elif column.name == "updated_at":
            value = now
        elif column.name == "version":
            value = 1
        elif column.name == "created_at":
            raise ValueError(f"{name}: created_at must be given (when the record was created in the story)")
        elif column.default is not None and column.default.is_scalar:
            value = cast(Any, column.default).arg
        elif column.default is not None and column.default.is_callable and isinstance(column.type, JSON):
            value = "{}"
        elif column.nullable:
            value = None
        else:
            raise ValueError(f"{name}: no value for required column {column.name}")
        arrays.append(_column_array(column, value, n))
        names.append(column.name)
    return pa.Table.from_arrays(arrays, names=names)


def without_empty_columns(name: str, data: pa.Table) -> pa.Table:
    """``data`` without the columns that are NULL in every row and NULL by default anyway.

    Binding values is most of a bulk insert's cost; a column left out of the INSERT gets its NULL for free.
    """
    table = table_of(name)
    keep = [
        i
        for i, column_name in enumerate(data.column_names)
        if data.column(i).null_count < data.num_rows
        or not table.c[column_name].nullable
        or table.c[column_name].server_default is not None
    ]
    return data.select(keep) if len(keep) < data.num_columns else data
