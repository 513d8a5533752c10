"""Generic create / update / soft-delete with audit log and optimistic locking."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from crm_app.errors import ConflictError, NotFoundError, ValidationError
from crm_app.models import AuditLog, Base, SoftDeleteMixin, User, utcnow

ModelT = TypeVar("ModelT", bound=Base)

PROTECTED_FIELDS = frozenset({"id", "created_at", "updated_at", "version", "deleted_at"})


def to_jsonable(value: Any) -> Any:
    """A value as it should appear in the audit log (JSON-safe, exact for money)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def actor_id(actor: User | None) -> int | None:
    return actor.id if actor is not None else None


def audit(
    session: Session,
    actor: User | None,
    action: str,
    record: Base,
    changes: Mapping[str, Any] | None = None,
) -> None:
    session.add(
        AuditLog(
            user_id=actor_id(actor),
            action=action,
            entity=record.__tablename__,
            entity_id=getattr(record, "id", None),
            changes={k: to_jsonable(v) for k, v in (changes or {}).items()},
        )
    )


def column_names(model: type[Base]) -> set[str]:
    return {c.key for c in inspect(model).column_attrs}


def _check_fields(model: type[Base], values: Mapping[str, Any]) -> None:
    unknown = set(values) - column_names(model)
    protected = set(values) & PROTECTED_FIELDS
    if unknown or protected:
        bad = sorted(unknown | protected)
        raise ValidationError(
            f"{model.__tablename__}: cannot set {', '.join(bad)}",
            {name: "not an editable field" for name in bad},
        )


def flush(session: Session, what: str) -> None:
    """Flush, turning database refusals into errors a user can read."""
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise ConflictError(
            f"{what} was changed by someone else while you were editing it; reload it and apply your change again."
        ) from None
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(f"{what} could not be saved: {integrity_message(exc)}") from None


def integrity_message(exc: IntegrityError) -> str:
    text = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    lowered = text.lower()
    if "unique" in lowered or "duplicate key" in lowered:
        return f"a record with the same unique value already exists ({text})"
    if "foreign key" in lowered:
        return f"it refers to a record that does not exist ({text})"
    if "check constraint" in lowered or "violates check" in lowered:
        return f"a value is out of its allowed range ({text})"
    if "not null" in lowered or "null value" in lowered:
        return f"a required value is missing ({text})"
    return text


def get_record(session: Session, model: type[ModelT], record_id: int, *, include_deleted: bool = False) -> ModelT:
    record = session.get(model, record_id)
    if record is None or (
        not include_deleted and isinstance(record, SoftDeleteMixin) and record.deleted_at is not None
    ):
        raise NotFoundError(f"{model.__tablename__} {record_id} does not exist")
    return record


def check_version(record: Base, expected_version: int | None) -> None:
    """Refuse an edit made on an older version of the record than the one stored."""
    if expected_version is None:
        return
    current = record.version  # type: ignore[attr-defined]
    if current != expected_version:
        raise ConflictError(
            f"{label(record)} was changed by someone else (you edited version {expected_version}, "
            f"it is now version {current}); reload it to see their changes, then apply yours again."
        )


def label(record: Base) -> str:
    name = getattr(record, "name", None) or getattr(record, "number", None) or getattr(record, "subject", None)
    base = f"{record.__tablename__[:-1] if record.__tablename__.endswith('s') else record.__tablename__}"
    return f"{base} {name!r}" if name else f"{base} #{getattr(record, 'id', '?')}"


def create_record(session: Session, model: type[ModelT], values: Mapping[str, Any], actor: User | None) -> ModelT:
    _check_fields(model, values)
    record = model(**values)
    session.add(record)
    flush(session, f"new {model.__tablename__[:-1]}")
    audit(session, actor, "create", record, {k: v for k, v in values.items() if v is not None})
    return record


def update_record(
    session: Session,
    record: ModelT,
    values: Mapping[str, Any],
    actor: User | None,
    expected_version: int | None,
) -> ModelT:
    """Apply ``values``; refuse with ConflictError when ``expected_version`` is stale, changing nothing."""
    _check_fields(type(record), values)
    check_version(record, expected_version)
    changes: dict[str, Any] = {}
    for name, new in values.items():
        old = getattr(record, name)
        if old != new:
            changes[name] = [to_jsonable(old), to_jsonable(new)]
            setattr(record, name, new)
    if changes:
        flush(session, label(record))
        audit(session, actor, "update", record, changes)
    return record


def soft_delete(session: Session, record: ModelT, actor: User | None, expected_version: int | None) -> ModelT:
    if not isinstance(record, SoftDeleteMixin):
        raise ValidationError(f"{record.__tablename__} cannot be deleted")
    check_version(record, expected_version)
    if record.deleted_at is None:
        record.deleted_at = utcnow()
        flush(session, label(record))
        audit(session, actor, "delete", record)
    return record


def restore(session: Session, record: ModelT, actor: User | None) -> ModelT:
    if isinstance(record, SoftDeleteMixin) and record.deleted_at is not None:
        record.deleted_at = None
        flush(session, label(record))
        audit(session, actor, "restore", record)
    return record


def next_number(session: Session, model: type[Base], prefix: str) -> str:
    """The next readable document number (``SO-0000042``) not yet taken in ``model.number``."""
    column = model.__table__.c.number  # type: ignore[attr-defined]
    n = (session.scalar(select(func.max(model.__table__.c.id))) or 0) + 1  # type: ignore[attr-defined]
    while True:
        candidate = f"{prefix}-{n:07d}"
        if session.scalar(select(column).where(column == candidate)) is None:
            return candidate
        n += 1
