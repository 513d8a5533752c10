"""Comparisons the pipeline tests share: raw layer against the operational DB, files byte for byte."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import Engine, select

from crm_app.models import Base
from ingest.extract import WITHHELD_COLUMNS


def _normal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _copied_columns(table: str) -> list[str]:
    """The operational columns the raw layer carries (credentials are withheld)."""
    withheld = WITHHELD_COLUMNS.get(table, frozenset())
    return [c.name for c in Base.metadata.tables[table].columns if c.name not in withheld]


def source_rows(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    t = Base.metadata.tables[table]
    with engine.connect() as conn:
        rows = conn.execute(select(*(t.c[name] for name in _copied_columns(table))).order_by(t.c.id)).all()
    return [tuple(_normal(v) for v in row) for row in rows]


def raw_rows(raw_path: Path, table: str) -> list[tuple[Any, ...]]:
    columns = ", ".join(f'"{name}"' for name in _copied_columns(table))
    con = duckdb.connect(str(raw_path), read_only=True)
    try:
        catalog = con.execute("select current_database()").fetchall()[0][0]
        rows = con.execute(f'select {columns} from "{catalog}".raw."{table}" order by id').fetchall()
    finally:
        con.close()
    return [tuple(_normal(v) for v in row) for row in rows]


def assert_raw_matches_source(engine: Engine, raw_path: Path) -> None:
    """Every operational table equals its raw copy: same rows, same values, no duplicates."""
    for table in Base.metadata.sorted_tables:
        expected = source_rows(engine, table.name)
        actual = raw_rows(raw_path, table.name)
        assert actual == expected, f"raw.{table.name} differs from the operational table"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
