"""Operational rows that break a rule the database itself normally enforces, written on purpose.

The app (services, foreign keys, CHECK constraints) never lets these in; data can still arrive broken
(a restore, a manual fix in SQL, a legacy import with constraints off). To create them honestly the tests
switch the enforcement off for one statement: SQLite ``PRAGMA foreign_keys=OFF`` /
``ignore_check_constraints=ON`` on a connection of their own; PostgreSQL ``session_replication_role =
replica`` (skips foreign-key triggers) and, for a CHECK, dropping the constraint and adding it back
``NOT VALID`` (enforced again for new rows, the bad row stays).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from crm_app.models import Base


@contextmanager
def unchecked(engine: Engine, check: tuple[str, str, str] | None = None) -> Iterator[Connection]:
    """A connection on which foreign keys (and the CHECK ``(table, name, expression)``) are not enforced."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.exec_driver_sql("PRAGMA ignore_check_constraints=ON")
            conn.commit()  # SQLAlchemy autobegan around the pragmas (SQLite itself did not)
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.exec_driver_sql("PRAGMA ignore_check_constraints=OFF")
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
            return
        with conn.begin():
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            if check:
                table, name, _ = check
                conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
            yield conn
            if check:
                table, name, expression = check
                conn.exec_driver_sql(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" CHECK ({expression}) NOT VALID')


def _copy_row(conn: Connection, table: str, row_id: int, changes: dict[str, Any]) -> int:
    """Insert a copy of row ``row_id`` with ``changes``; returns the new id."""
    t = Base.metadata.tables[table]
    row = conn.execute(select(t).where(t.c.id == row_id)).mappings().one()
    values = {k: v for k, v in row.items() if k != "id"}
    values.update(changes)
    return int(conn.execute(insert(t).values(**values).returning(t.c.id)).scalar_one())


def order_line_with_missing_product(engine: Engine, like_line_id: int, product_id: int = 999_999) -> int:
    with unchecked(engine) as conn:
        return _copy_row(conn, "order_lines", like_line_id, {"product_id": product_id})


def negative_quantity_on_a_sale(engine: Engine, like_line_id: int) -> int:
    check = ("order_lines", "ck_order_lines_quantity_positive", "quantity > 0")
    with unchecked(engine, check) as conn:
        return _copy_row(conn, "order_lines", like_line_id, {"quantity": -2, "line_total": 0})


def opportunity_in_unknown_stage(engine: Engine, like_opportunity_id: int, stage_id: int = 424_242) -> int:
    with unchecked(engine) as conn:
        return _copy_row(conn, "opportunities", like_opportunity_id, {"stage_id": stage_id})
