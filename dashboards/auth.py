"""Dashboards stage: sign-in with the CRM's own accounts, and what each role may open.

Sign-in runs the web app's own check (``crm_app.web.auth.authenticate``: ``crm_app.security.verify_password``
on the ``users`` table, the lockout through ``failed_login_count`` / ``locked_until``, throttling per address),
so the dashboards are no side door for guessing passwords.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_app.db import get_engine, session_scope
from crm_app.errors import CrmError
from crm_app.models import User
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
    # Field staff see their own book of business (rows they own: the marts carry owner_id): a sales rep their
    # funnel and plan, a service agent the service figures of their customers and their own cases. Comparisons
    # across colleagues (rankings), segment building, marketing and the warehouse's health are not theirs.
    SALES_REP: ("overview", "customer_value", "care_list", "funnel", "plan"),
    SERVICE_AGENT: ("overview", "customer_value", "care_list", "service"),
}


class LoginError(CrmError):
    """A refused sign-in; the message is safe to show (it never says whether the user exists)."""


def _address_limiter() -> Any:
    from crm_app.web.auth import AddressLimiter

    return AddressLimiter()


# Failed sign-ins per client address, for this server process (the web app keeps its own).
_limiter = _address_limiter()


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


def authenticate(username: str, password: str, *, address: str = "unknown") -> Viewer:
    """The signed-in viewer, or LoginError with a message to show.

    The check is the web app's own (``crm_app.web.auth.authenticate``): same password hashing, same lockout
    after repeated failures (``failed_login_count`` / ``locked_until``), same throttling per client address.
    """
    from crm_app.web.auth import authenticate as app_authenticate

    if not username.strip() or not password:
        raise LoginError("Enter your username and password.")
    with session_scope(get_engine()) as session:
        outcome = app_authenticate(session, _limiter, address, username, password)
        if outcome.user is None:
            raise LoginError(outcome.error or "Sign-in refused.")
        user: User = outcome.user
        if not pages_for_role(user.role):
            raise LoginError("Your role has no dashboards.")
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
