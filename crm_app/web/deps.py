"""Web layer plumbing: the database session and signed-in user as FastAPI dependencies."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import Session

from crm_app.db import end_request_session, plan_for_any_value
from crm_app.models import User
from crm_app.services.visibility import SCOPED, Viewer, viewer_for


class LoginRequired(Exception):
    """No valid signed-in user: pages redirect to the login page, the API answers 401."""


def get_db(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.session_factory()
    try:
        yield session
    except BaseException:
        session.close()
        raise
    end_request_session(session)


SessionDep = Annotated[Session, Depends(get_db)]


def password_fingerprint(user: User) -> str:
    """Changes whenever the password does, so a password change ends every other session of that user."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


# the signed-in user, by a statement built once (``Session.get`` builds one on every call, for every request)
_SIGNED_IN = select(User).where(User.id == bindparam("uid", type_=Integer()))


def current_viewer(request: Request, session: SessionDep) -> Viewer:
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        raise LoginRequired()
    user = session.scalar(_SIGNED_IN, {"uid": uid})
    if (
        user is None
        or not user.is_active
        or user.deleted_at is not None
        or request.session.get("pwf") != password_fingerprint(user)
    ):
        request.session.pop("uid", None)
        raise LoginRequired()
    viewer = viewer_for(session, user)
    if viewer.role in SCOPED:  # their statements are planned once, for any value
        plan_for_any_value(session)
    request.state.viewer = viewer
    return viewer


CurrentUser = Annotated[Viewer, Depends(current_viewer)]


def settings_of(request: Request) -> Any:
    return request.app.state.settings
