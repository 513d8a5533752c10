"""Dashboards sign-in: the CRM's accounts and passwords, the same lockout as the app, scopes by role."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from crm_app.models import User, utcnow
from crm_app.security import hash_password
from dashboards.auth import MAX_FAILED_LOGINS, LoginError, authenticate, pages_for, scope_for
from tests import factories

PASSWORD = "correct horse battery"


def _user(session: Session, role: str = "executive", **values: object) -> User:
    user = factories.user(session, role=role, password_hash=hash_password(PASSWORD), **values)
    session.commit()
    return user


def test_sign_in_with_the_crm_password_returns_the_viewer(session: Session, crm_env: dict[str, str]) -> None:
    dept = factories.department(session)
    child = factories.department(session, parent_id=dept.id)
    user = _user(session, role="manager", department_id=dept.id, failed_login_count=2)

    viewer = authenticate(user.username.upper(), PASSWORD)

    assert (viewer.id, viewer.role) == (user.id, "manager")
    assert set(viewer.department_tree) == {dept.id, child.id}
    assert viewer.user is None  # no ORM object survives into the Streamlit session
    session.expire_all()
    refreshed = session.get(User, user.id)
    assert refreshed is not None
    assert refreshed.failed_login_count == 0 and refreshed.last_login_at is not None


def test_wrong_password_and_unknown_user_get_the_same_message(session: Session, crm_env: dict[str, str]) -> None:
    user = _user(session)
    with pytest.raises(LoginError, match="Wrong username or password") as wrong:
        authenticate(user.username, "not the password")
    with pytest.raises(LoginError) as unknown:
        authenticate("nobody-here", "whatever-password")
    assert str(wrong.value) == str(unknown.value)
    session.expire_all()
    assert session.get(User, user.id).failed_login_count == 1  # type: ignore[union-attr]


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    session: Session, crm_env: dict[str, str]
) -> None:
    user = _user(session)
    for _ in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(LoginError, match="Wrong username"):
            authenticate(user.username, "guess-guess")
    with pytest.raises(LoginError, match="locked"):
        authenticate(user.username, "guess-guess")
    with pytest.raises(LoginError, match="locked"):
        authenticate(user.username, PASSWORD)
    session.expire_all()
    locked = session.get(User, user.id)
    assert locked is not None and locked.locked_until is not None and locked.locked_until > utcnow()
    # once the lock has expired the right password works again
    assert authenticate(user.username, PASSWORD, now=locked.locked_until + dt.timedelta(seconds=1)).id == user.id


def test_disabled_deleted_and_passwordless_accounts_cannot_sign_in(session: Session, crm_env: dict[str, str]) -> None:
    disabled = _user(session, is_active=False)
    deleted = _user(session, deleted_at=utcnow())
    no_password = factories.user(session, role="executive")
    session.commit()
    with pytest.raises(LoginError, match="disabled"):
        authenticate(disabled.username, PASSWORD)
    with pytest.raises(LoginError, match="Wrong username"):
        authenticate(deleted.username, PASSWORD)
    with pytest.raises(LoginError, match="Wrong username"):
        authenticate(no_password.username, "any-password")
    with pytest.raises(LoginError, match="Enter your username"):
        authenticate("  ", PASSWORD)


def test_roles_decide_scope_and_pages(session: Session, crm_env: dict[str, str]) -> None:
    dept = factories.department(session)
    manager = authenticate(_user(session, role="manager", department_id=dept.id).username, PASSWORD)
    rep = authenticate(_user(session, role="sales_rep").username, PASSWORD)
    analyst = authenticate(_user(session, role="marketing_analyst").username, PASSWORD)

    assert scope_for(analyst).all_rows and "segments" in pages_for(analyst)
    assert scope_for(manager).department_ids == (dept.id,) and "rankings" in pages_for(manager)
    assert scope_for(rep).owner_id == rep.id
    assert "rankings" not in pages_for(rep) and "segments" not in pages_for(rep)
    # a manager without a department sees no department's figures rather than everyone's
    lonely = authenticate(_user(session, role="manager").username, PASSWORD)
    assert scope_for(lonely).department_ids == (-1,)
