"""Web layer plumbing: the database session and signed-in user as FastAPI dependencies."""

from __future__ import annotations

import hashlib
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Integer, bindparam, case, or_, select
from sqlalchemy.orm import Session

from crm_app.db import end_request_session, is_sqlite, planned_for_any_value_when
from crm_app.models import User
from crm_app.services.visibility import MANAGER, SCOPED, Viewer, department_tree_of, viewer_for


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


# the signed-in user, by a statement built once (``Session.get`` builds one on every call, for every request), with
# a manager's department tree (no statement of its own); on PostgreSQL the same statement has a rep's or manager's
# statements planned once, for any value, for the rest of the request (crm_app.db.plan_for_any_value)
_SIGNED_IN = select(
    User, case((User.role == MANAGER, department_tree_of(User.department_id)), else_=None).label("tree")
).where(User.id == bindparam("uid", type_=Integer()))
_SIGNED_IN_PLANNED = _SIGNED_IN.add_columns(
    planned_for_any_value_when(or_(*(User.role == role for role in sorted(SCOPED))))
)


def current_viewer(request: Request, session: SessionDep) -> Viewer:
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        raise LoginRequired()
    # (SQLite: no planning to speak of)
    row = session.execute(_SIGNED_IN if is_sqlite(session) else _SIGNED_IN_PLANNED, {"uid": uid}).first()
    user, tree_ids = (row[0], row.tree) if row else (None, None)
    if (
        user is None
        or not user.is_active
        or user.deleted_at is not None
        or request.session.get("pwf") != password_fingerprint(user)
    ):
        request.session.pop("uid", None)
        raise LoginRequired()
    viewer = viewer_for(session, user, tree_ids=tree_ids or "")
    request.state.viewer = viewer
    return viewer


CurrentUser = Annotated[Viewer, Depends(current_viewer)]


def settings_of(request: Request) -> Any:
    return request.app.state.settings


def in_one_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` (a plain function taking the request's session and signed-in user) as one that opens the
    session, signs the user in, runs and ends the session in the one worker thread it runs in.

    Otherwise each of ``get_db``'s start and end, ``current_viewer`` and the endpoint is a trip of its own to a
    worker thread and back (~0.3 ms of CPU each, measured on a bare endpoint), and with a process's few request
    threads (``crm_app.web.lanes``) every trip queues again behind the other requests. The endpoint sees the same
    session and user, in the same order: the user signed in first, the session ended after it returns (or closed
    when it raises). Asynchronous endpoints, and those taking neither, are returned as they are."""
    if inspect.iscoroutinefunction(endpoint):
        return endpoint
    hints = typing.get_type_hints(endpoint, include_extras=True)
    session_name = viewer_name = request_name = None
    kept: list[inspect.Parameter] = []
    for param in inspect.signature(endpoint).parameters.values():
        hint = hints.get(param.name, param.annotation)
        if hint == SessionDep:
            session_name = param.name
            continue
        if hint == CurrentUser:
            viewer_name = param.name
            continue
        if hint is Request:
            request_name = param.name
        kept.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hint))
    if session_name is None and viewer_name is None:
        return endpoint
    own_request = request_name is None
    request_key = request_name or "request"
    if own_request:
        kept.append(inspect.Parameter(request_key, inspect.Parameter.KEYWORD_ONLY, annotation=Request))

    def run(**values: Any) -> Any:
        request: Request = values.pop(request_key) if own_request else values[request_key]
        session: Session = request.app.state.session_factory()
        try:
            if session_name is not None:
                values[session_name] = session
            if viewer_name is not None:
                values[viewer_name] = current_viewer(request, session)
            result = endpoint(**values)
        except BaseException:
            session.close()
            raise
        end_request_session(session)
        return result

    run.__name__, run.__qualname__, run.__doc__ = endpoint.__name__, endpoint.__qualname__, endpoint.__doc__
    run.__module__ = endpoint.__module__
    run.__signature__ = inspect.Signature(kept, return_annotation=hints.get("return", inspect.Signature.empty))  # type: ignore[attr-defined]
    return run
