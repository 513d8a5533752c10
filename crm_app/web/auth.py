"""Web layer: login (argon2id, throttled), logout, and the session that carries the signed-in user."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from crm_app.models import User, utcnow
from crm_app.schemas.base import storable
from crm_app.security import hash_password, needs_rehash, verify_password
from crm_app.web.csrf import csrf_token
from crm_app.web.deps import CurrentUser, SessionDep, password_fingerprint
from crm_app.web.rendering import flash, redirect, render

MAX_FAILURES = 5  # consecutive failures on one user before it is locked
LOCK_MINUTES = 15
IP_WINDOW_SECONDS = 15 * 60
IP_MAX_FAILURES = 30  # failures from one address (any user names) within the window
_DUMMY_HASH = hash_password("timing-equaliser-not-a-password")

router = APIRouter()


class AddressLimiter:
    """Failed logins per client address in a sliding window (guards against guessing user names)."""

    def __init__(self, limit: int = IP_MAX_FAILURES, window: float = IP_WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        entries = self._failures.setdefault(address, deque())
        while entries and entries[0] < now - self.window:
            entries.popleft()
        return entries

    def blocked(self, address: str) -> bool:
        with self._lock:
            return len(self._recent(address, time.monotonic())) >= self.limit

    def fail(self, address: str) -> None:
        with self._lock:
            self._recent(address, time.monotonic()).append(time.monotonic())

    def reset(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)


class LoginOutcome(BaseModel):
    user: Any = None
    error: str | None = None
    status: int = 200


def authenticate(session: Session, limiter: AddressLimiter, address: str, username: str, password: str) -> LoginOutcome:
    """Check a login; failures count towards locking the user (and the address) for a while."""
    generic = "Wrong user name or password."
    if limiter.blocked(address):
        return LoginOutcome(error="Too many failed logins from your address; wait a few minutes.", status=429)
    name = username.strip()
    # a name no database can store (a NUL character: PostgreSQL refuses it) is no one's
    user = (
        session.scalar(select(User).where(User.username == name, User.deleted_at.is_(None))) if storable(name) else None
    )
    now = utcnow()
    if user is None or not user.is_active:
        verify_password(_DUMMY_HASH, password)  # same work as a real check: no timing hint about names
        limiter.fail(address)
        return LoginOutcome(error=generic, status=401)
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        limiter.fail(address)
        return LoginOutcome(
            error=f"Too many failed logins: this account is locked for {minutes} more minute(s).", status=429
        )
    if not verify_password(user.password_hash, password):
        user.failed_login_count = (user.failed_login_count or 0) + 1
        if user.failed_login_count >= MAX_FAILURES:
            user.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
            user.failed_login_count = 0
        session.commit()
        limiter.fail(address)
        if user.locked_until is not None and user.locked_until > now:
            return LoginOutcome(
                error=f"Too many failed logins: this account is locked for {LOCK_MINUTES} minutes.", status=429
            )
        return LoginOutcome(error=generic, status=401)
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.commit()
    limiter.reset(address)
    return LoginOutcome(user=user)


def start_session(request: Request, user: User) -> None:
    # a fresh session on login: nothing from before (e.g. a planted token) survives
    request.session.clear()
    request.session["uid"] = user.id
    request.session["pwf"] = password_fingerprint(user)
    csrf_token(request.session)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


async def read_form(request: Request) -> FormData:
    return await request.form()


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", {"next": _safe_next(request.query_params.get("next")), "username": ""})


@router.post("/login", response_model=None)
def login_submit(request: Request, session: SessionDep, form: FormData = Depends(read_form)) -> Response:
    username = str(form.get("username") or "")[:80]
    password = str(form.get("password") or "")[:200]
    target = _safe_next(str(form.get("next") or "/"))
    if not username or not password:
        return render(
            request,
            "login.html",
            {"error": "Enter your user name and password.", "username": username, "next": target},
            status_code=422,
        )
    outcome = authenticate(session, request.app.state.login_limiter, _address(request), username, password)
    if outcome.user is None:
        return render(
            request,
            "login.html",
            {"error": outcome.error, "username": username, "next": target},
            status_code=outcome.status,
        )
    start_session(request, outcome.user)
    flash(request, f"Welcome, {outcome.user.full_name}.")
    return redirect(target)


@router.post("/logout")
def logout(request: Request) -> Response:
    request.session.clear()
    flash(request, "You are signed out.")
    return redirect("/login")


# ------------------------------------------------------------------------------------------------ API


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    user_id: int
    username: str
    full_name: str
    role: str
    csrf_token: str


class CsrfOut(BaseModel):
    csrf_token: str


api_router = APIRouter(prefix="/auth", tags=["auth"])


@api_router.get("/csrf", response_model=CsrfOut)
def api_csrf(request: Request) -> CsrfOut:
    """The token to send as X-CSRF-Token with every POST / PATCH / DELETE (and with the login itself)."""
    return CsrfOut(csrf_token=csrf_token(request.session))


@api_router.post("/login", response_model=SessionOut, responses={401: {}, 429: {}})
def api_login(request: Request, body: LoginIn, session: SessionDep) -> Any:
    outcome = authenticate(session, request.app.state.login_limiter, _address(request), body.username, body.password)
    if outcome.user is None:
        return JSONResponse({"detail": outcome.error}, status_code=outcome.status)
    start_session(request, outcome.user)
    user = outcome.user
    return SessionOut(
        user_id=user.id,
        username=user.username,
        full_name=user.full_name,
        role=user.role,
        csrf_token=request.session["csrf"],
    )


@api_router.post("/logout", status_code=204, response_class=Response)
def api_logout(request: Request) -> Response:
    request.session.clear()
    return Response(status_code=204)


@api_router.get("/me", response_model=SessionOut)
def api_me(request: Request, viewer: CurrentUser) -> SessionOut:
    return SessionOut(
        user_id=viewer.id,
        username=viewer.username,
        full_name=viewer.full_name,
        role=viewer.role,
        csrf_token=csrf_token(request.session),
    )
