"""Dashboards sign-in: the CRM's accounts and passwords, the app's own lockout, scopes and pages by role."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from crm_app.models import User, utcnow
from crm_app.security import hash_password
from crm_app.web.auth import MAX_FAILURES
from dashboards.auth import LoginError, authenticate, pages_for, scope_for
from tests import factories

PASSWORD = "correct horse battery"


def _user(session: Session, role: str = "executive", **values: object) -> User:
    user = factories.user(session, role=role, password_hash=hash_password(PASSWORD), **values)
    session.commit()
    return user


def _reload(session: Session, user: User) -> User:
    session.expire_all()
    found = session.get(User, user.id)
    assert found is not None
    return found


def test_sign_in_with_the_crm_password_returns_the_viewer(session: Session, crm_env: dict[str, str]) -> None:
    dept = factories.department(session)
    child = factories.department(session, parent_id=dept.id)
    user = _user(session, role="manager", department_id=dept.id, failed_login_count=2)

    viewer = authenticate(user.username, PASSWORD)

    assert (viewer.id, viewer.role) == (user.id, "manager")
    assert set(viewer.department_tree) == {dept.id, child.id}
    assert viewer.user is None  # no ORM object survives into the Streamlit session
    refreshed = _reload(session, user)
    assert refreshed.failed_login_count == 0 and refreshed.last_login_at is not None


def test_wrong_password_and_unknown_user_get_the_same_message(session: Session, crm_env: dict[str, str]) -> None:
    user = _user(session)
    with pytest.raises(LoginError, match="Wrong user name or password") as wrong:
        authenticate(user.username, "not the password")
    with pytest.raises(LoginError) as unknown:
        authenticate("nobody-here", "whatever-password")
    assert str(wrong.value) == str(unknown.value)
    assert _reload(session, user).failed_login_count == 1


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    session: Session, crm_env: dict[str, str]
) -> None:
    user = _user(session)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(LoginError, match="Wrong user name"):
            authenticate(user.username, "guess-guess")
    with pytest.raises(LoginError, match="locked"):
        authenticate(user.username, "guess-guess")
    with pytest.raises(LoginError, match="locked"):
        authenticate(user.username, PASSWORD)
    locked = _reload(session, user)
    assert locked.locked_until is not None and locked.locked_until > utcnow()
    # once the lock has run out the right password works again
    locked.locked_until = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    assert authenticate(user.username, PASSWORD).id == user.id


def test_disabled_deleted_and_passwordless_accounts_cannot_sign_in(session: Session, crm_env: dict[str, str]) -> None:
    disabled = _user(session, is_active=False)
    deleted = _user(session, deleted_at=utcnow())
    no_password = factories.user(session, role="executive")
    session.commit()
    for name in (disabled.username, deleted.username, no_password.username):
        with pytest.raises(LoginError, match="Wrong user name"):
            authenticate(name, PASSWORD)
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
    # the funnel marts carry the deal's owner: a rep gets their own funnel
    assert "funnel" in pages_for(rep)
    # a manager without a department sees no department's figures rather than everyone's
    lonely = authenticate(_user(session, role="manager").username, PASSWORD)
    assert scope_for(lonely).department_ids == (-1,)
