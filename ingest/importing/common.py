"""Data in (CSV/Excel import): what importers share — the result, batched look-ups, numbering, audit."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_app.errors import ConflictError
from crm_app.models import AuditLog, Base, utcnow
from crm_app.services.records import integrity_message

T = TypeVar("T")

# Bound parameters per IN (...) look-up: far below SQLite's and PostgreSQL's limits, large enough
# that 100k keys take a hundred round trips rather than a hundred thousand.
CHUNK = 1000


@dataclass(frozen=True)
class ImportResult:
    """What an import did (or, in a dry run, would do)."""

    entity: str  # "accounts" | "orders"
    source: str
    rows: int
    created: int
    updated: int = 0
    unchanged: int = 0
    accounts_created: int = 0
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.accounts_created)

    def describe(self) -> str:
        would = " would be" if self.dry_run else ""
        counts = [f"{self.created} {self.entity}{would} created"]
        if self.entity == "accounts":
            counts.append(f"{self.updated}{would} updated")
        counts.append(f"{self.unchanged} unchanged")
        text = f"{'Checked' if self.dry_run else 'Imported'} {self.source}: {self.rows} rows read; {', '.join(counts)}"
        if self.entity == "orders" and (self.accounts_created or self.created):
            plural = "account" if self.accounts_created == 1 else "accounts"
            text += f"; {self.accounts_created} new customer {plural}{would} created for unknown customer_ref"
        text += "."
        if self.dry_run:
            text += " Dry run: every row is valid, nothing was written."
        elif not self.changed:
            text += " Nothing changed: the database already holds every row as given."
        return text


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for bulk statements."""
    return cast(Table, model.__table__)


def column_length(model: type[Base], column: str) -> int | None:
    """The declared length of a string column (None for unbounded text)."""
    return cast(int | None, getattr(table_of(model).c[column].type, "length", None))


def chunked(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def fetch_in(session: Session, query: Callable[[Sequence[Any]], Any], keys: Sequence[Any]) -> list[Any]:
    """Rows of ``query(chunk)`` for every chunk of ``keys`` (a batched ``WHERE key IN (...)``)."""
    rows: list[Any] = []
    for chunk in chunked(keys):
        rows.extend(session.execute(query(chunk)).all())
    return rows


def allocate_numbers(session: Session, model: type[Base], prefix: str, count: int) -> list[str]:
    """``count`` free document numbers in the scheme of ``records.next_number``, found in bulk.

    Like next_number: start after the highest id, skip numbers already taken.
    """
    table = table_of(model)
    column = table.c.number
    start = (session.scalar(select(table.c.id).order_by(table.c.id.desc()).limit(1)) or 0) + 1
    numbers: list[str] = []
    while len(numbers) < count:
        candidates = [f"{prefix}-{n:07d}" for n in range(start, start + count - len(numbers))]
        taken = {row[0] for row in fetch_in(session, lambda chunk: select(column).where(column.in_(chunk)), candidates)}
        numbers.extend(number for number in candidates if number not in taken)
        start += len(candidates)
    return numbers


def audit_import(session: Session, entity: str, file_name: str, counts: dict[str, int]) -> None:
    """One audit row per import run (per-record rows would double a 100k-row import for little use)."""
    session.add(
        AuditLog(
            at=utcnow(),
            user_id=None,
            action="import",
            entity=entity,
            entity_id=None,
            changes={"file": file_name, **counts},
        )
    )


def write_failed(session: Session, source: str, exc: IntegrityError) -> ConflictError:
    """Roll back and explain a refusal by the database that validation could not foresee."""
    session.rollback()
    return ConflictError(
        f"{source}: nothing was imported: the database refused the data ({integrity_message(exc)}); "
        "another user may have changed the same records meanwhile — run the import again"
    )
