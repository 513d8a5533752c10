"""Dashboards stage: sign-in with the CRM's own accounts, and what each role may open.

Passwords are checked with ``crm_app.security.verify_password`` against the ``users`` table; repeated
failures lock the account for a while exactly as the web app does (``failed_login_count`` /
``locked_until``), so the dashboards are no side door for guessing passwords.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_app.db import get_engine, session_scope
from crm_app.errors import CrmError
from crm_app.models import User, utcnow
from crm_app.security import verify_password
from crm_app.services.visibility import (
    ADMIN,
    EXECUTIVE,
    MANAGER,
    MARKETING,
    SALES_REP,
    SERVICE_AGENT,
    Viewer,
    viewer_for,
)

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
GENERIC_FAILURE = "Wrong username or password."

# Roles that see every row of the warehouse; managers see their department tree, field staff their own book.
ALL_DATA_ROLES = frozenset({ADMIN, EXECUTIVE, MARKETING})

# Which pages each role may open (page keys are the file names in dashboards/app_pages/).
ALL_PAGES = (
    "overview",
    "customer_value",
    "segments",
    "care_list",
    "funnel",
    "plan",
    "rankings",
    "service",
    "marketing",
    "data_health",
)
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    ADMIN: ALL_PAGES,
    EXECUTIVE: ALL_PAGES,
    MARKETING: ALL_PAGES,
    MANAGER: ALL_PAGES,
    # Field staff see their own book of business; comparisons across colleagues (rankings), the
    # organisation-wide marketing view, segment building and the pipeline's health are not theirs.
    SALES_REP: ("overview", "customer_value", "care_list", "funnel", "plan"),
    SERVICE_AGENT: ("overview", "customer_value", "care_list", "service"),
}


class LoginError(CrmError):
    """A refused sign-in; the message is safe to show (it never says whether the user exists)."""


@dataclass(frozen=True)
class Scope:
    """Which warehouse rows a viewer may see: everything, a department tree, or their own records."""

    all_rows: bool
    department_ids: tuple[int, ...] = ()
    owner_id: int | None = None

    @property
    def label(self) -> str:
        if self.all_rows:
            return "all departments"
        if self.owner_id is not None:
            return "your own customers and deals"
        return "your department"


def scope_for(viewer: Viewer) -> Scope:
    if viewer.role in ALL_DATA_ROLES:
        return Scope(all_rows=True)
    if viewer.role == MANAGER:
        return Scope(all_rows=False, department_ids=viewer.department_tree or (-1,))
    return Scope(all_rows=False, owner_id=viewer.id)


def pages_for(viewer: Viewer) -> tuple[str, ...]:
    return ROLE_PAGES.get(viewer.role, ())


def _find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


def authenticate(username: str, password: str, *, now: dt.datetime | None = None) -> Viewer:
    """The signed-in viewer, or LoginError with a message to show; failures count towards a lockout."""
    if not username.strip() or not password:
        raise LoginError("Enter your username and password.")
    moment = now or utcnow()
    with session_scope(get_engine()) as session:
        user = _find_user(session, username)
        if user is None or user.deleted_at is not None or not user.password_hash:
            raise LoginError(GENERIC_FAILURE)
        if user.locked_until is not None and user.locked_until > moment:
            minutes = max(1, int((user.locked_until - moment).total_seconds() // 60) + 1)
            raise LoginError(
                f"Too many failed sign-ins: this account is locked for about {minutes} more minute"
                f"{'s' if minutes != 1 else ''}. Try again later or ask an administrator."
            )
        if not verify_password(user.password_hash, password):
            user.failed_login_count = (user.failed_login_count or 0) + 1
            if user.failed_login_count >= MAX_FAILED_LOGINS:
                user.locked_until = moment + LOCKOUT
                user.failed_login_count = 0
                session.commit()
                raise LoginError(
                    f"Too many failed sign-ins: this account is locked for {int(LOCKOUT.total_seconds() // 60)} "
                    "minutes."
                )
            session.commit()
            raise LoginError(GENERIC_FAILURE)
        if not user.is_active:
            raise LoginError("This account is disabled; ask an administrator.")
        if not pages_for_role(user.role):
            raise LoginError("Your role has no dashboards.")
        user.failed_login_count = 0
        user.locked_until = None
        user.last_login_at = moment
        viewer = viewer_for(session, user)
    # The session-state copy carries no ORM object: it outlives the database session.
    return Viewer(
        id=viewer.id,
        role=viewer.role,
        department_id=viewer.department_id,
        department_tree=viewer.department_tree,
        username=viewer.username,
        full_name=viewer.full_name,
    )


def pages_for_role(role: str) -> tuple[str, ...]:
    return ROLE_PAGES.get(role, ())


def refresh_viewer(viewer: Viewer) -> Viewer | None:
    """The viewer re-read from the database (role or department may have changed); None when disabled."""
    with session_scope(get_engine()) as session:
        user = session.get(User, viewer.id)
        if user is None or user.deleted_at is not None or not user.is_active:
            return None
        fresh = viewer_for(session, user)
        return Viewer(
            id=fresh.id,
            role=fresh.role,
            department_id=fresh.department_id,
            department_tree=fresh.department_tree,
            username=fresh.username,
            full_name=fresh.full_name,
        )
