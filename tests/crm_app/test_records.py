"""Generic record service: audit log, optimistic locking, soft delete, clear errors."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_app.errors import ConflictError, NotFoundError, ValidationError
from crm_app.models import Account, AuditLog
from crm_app.services.records import create_record, get_record, soft_delete, update_record
from tests import factories


def _audit(session: Session, action: str) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_create_writes_an_audit_row_with_the_actor(session: Session) -> None:
    admin = factories.user(session, role="admin")
    account = create_record(session, Account, {"name": "Acme", "kind": "customer"}, admin)
    session.commit()
    [row] = _audit(session, "create")
    assert (row.entity, row.entity_id, row.user_id) == ("accounts", account.id, admin.id)
    assert row.changes["name"] == "Acme"


def test_update_records_old_and_new_values_and_bumps_the_version(session: Session) -> None:
    account = factories.account(session, name="Acme", industry="Retail")
    session.commit()
    update_record(session, account, {"industry": "Energy"}, None, expected_version=account.version)
    session.commit()
    assert account.version == 2
    [row] = _audit(session, "update")
    assert row.changes == {"industry": ["Retail", "Energy"]}


def test_stale_update_is_refused_and_changes_nothing(session: Session, engine) -> None:  # type: ignore[no-untyped-def]
    account = factories.account(session, name="Acme", city="Lyon")
    session.commit()
    seen_version = account.version
    # another user saves first
    with Session(engine) as other:
        theirs = other.get(Account, account.id)
        assert theirs is not None
        update_record(other, theirs, {"city": "Paris"}, None, expected_version=seen_version)
        other.commit()
    session.expire_all()
    mine = session.get(Account, account.id)
    assert mine is not None
    with pytest.raises(ConflictError, match="changed by someone else"):
        update_record(session, mine, {"city": "Nice"}, None, expected_version=seen_version)
    session.rollback()
    session.expire_all()
    assert session.get(Account, account.id).city == "Paris"  # type: ignore[union-attr]
    assert len(_audit(session, "update")) == 1


def test_concurrent_flush_of_an_outdated_row_is_a_conflict_not_an_overwrite(session: Session, engine) -> None:  # type: ignore[no-untyped-def]
    account = factories.account(session, name="Acme", city="Lyon")
    session.commit()
    mine = session.get(Account, account.id)
    with Session(engine) as other:
        theirs = other.get(Account, account.id)
        theirs.city = "Paris"  # type: ignore[union-attr]
        other.commit()
    # no expected version given: the version column still protects the row at flush time
    with pytest.raises(ConflictError):
        update_record(session, mine, {"city": "Nice"}, None, expected_version=None)  # type: ignore[arg-type]
    session.expire_all()
    assert session.get(Account, account.id).city == "Paris"  # type: ignore[union-attr]


def test_unknown_or_protected_fields_are_refused(session: Session) -> None:
    account = factories.account(session)
    with pytest.raises(ValidationError) as info:
        update_record(session, account, {"colour": "red", "version": 9}, None, expected_version=None)
    assert set(info.value.errors) == {"colour", "version"}


def test_soft_delete_hides_the_record_and_keeps_the_row(session: Session) -> None:
    account = factories.account(session)
    session.commit()
    soft_delete(session, account, None, expected_version=account.version)
    session.commit()
    with pytest.raises(NotFoundError):
        get_record(session, Account, account.id)
    assert session.scalar(select(func.count()).select_from(Account)) == 1
    assert get_record(session, Account, account.id, include_deleted=True).deleted_at is not None


def test_duplicate_unique_value_is_a_clear_conflict(session: Session) -> None:
    factories.account(session, external_ref="X-1")
    session.commit()
    with pytest.raises(ConflictError, match="same unique value"):
        create_record(session, Account, {"name": "Other", "kind": "customer", "external_ref": "X-1"}, None)
