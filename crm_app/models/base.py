"""Declarative base, naming convention and the columns every operational table carries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, Integer, MetaData, Numeric
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(14, 2)
QUANTITY = Numeric(12, 3)
PERCENT = Numeric(5, 2)  # 0.00 – 100.00
PROBABILITY = Numeric(5, 4)  # 0.0000 – 1.0000


def utcnow() -> dt.datetime:
    """Naive UTC timestamp: every stored datetime is UTC without a zone (SQLite has none)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Choice(Enum):
    """:class:`~sqlalchemy.Enum` of plain strings whose values are read back as the database returns them.

    Enum maps each value read to its declared value by a look-up, which for strings is the value itself: two
    Python calls for every such column of every row a page reads (~170 on an account 360). The CHECK constraint
    already admits only the declared values; what is written is still validated (``validate_strings``).
    """

    cache_ok = True

    def result_processor(self, dialect: Any, coltype: Any) -> None:
        return None


def choice(name: str, *values: str) -> Enum:
    """A string column restricted to ``values`` by a named CHECK constraint (portable, no native enum)."""
    return Choice(
        *values,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=max(len(v) for v in values),
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSON,
        Decimal: MONEY,
        dt.datetime: DateTime(),
    }


class TimestampedMixin:
    """Integer key, creation/update times (indexed: ingest reads them) and an optimistic-lock version."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # SQLAlchemy adds "WHERE version = :old" to every UPDATE and bumps it: a concurrent
        # writer who loaded an older row gets StaleDataError instead of silently overwriting.
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class SoftDeleteMixin:
    """Rows users delete stay in the table with ``deleted_at`` set, so ingest can propagate it."""

    deleted_at: Mapped[dt.datetime | None] = mapped_column(default=None, index=True)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class CustomFieldsMixin:
    """Values of admin-defined custom fields (see ``CustomFieldDefinition``), keyed by field name."""

    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
