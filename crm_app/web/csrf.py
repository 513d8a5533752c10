"""Web layer: CSRF protection for every state-changing request, pages and API alike (one ASGI middleware).

A token lives in the signed session; forms carry it as ``csrf_token``, scripts and API clients send it
in the ``X-CSRF-Token`` header. Any POST / PUT / PATCH / DELETE without the right token is refused with
403 before it reaches a route, so no form can forget it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FIELD = "csrf_token"
HEADER = b"x-csrf-token"
MAX_FORM_BYTES = 2 * 1024 * 1024


def csrf_token(session: dict[str, Any]) -> str:
    """The session's token, created on first use."""
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


class CsrfMiddleware:
    """Refuses unsafe requests whose token (form field or header) does not match the session's."""

    def __init__(self, app: ASGIApp, refuse: Callable[[Scope, str], Any]) -> None:
        self.app = app
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        expected = (scope.get("session") or {}).get("csrf")
        headers = dict(scope.get("headers") or [])
        sent_header = headers.get(HEADER, b"").decode("latin-1")
        body = b""
        consumed = False
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if not sent_header and content_type == b"application/x-www-form-urlencoded":
            body, too_big = await _read_body(receive)
            consumed = True
            if too_big:
                response = self.refuse(scope, "The form is too large.")
                await response(scope, _replay(b""), send)
                return
            sent = parse_qs(body.decode("utf-8", "replace")).get(FIELD, [""])[0]
        else:
            sent = sent_header
        if not expected or not sent or not secrets.compare_digest(str(expected), sent):
            response = self.refuse(
                scope,
                "This form has expired or did not come from this site (missing or wrong security token). "
                "Go back, reload the page and submit it again.",
            )
            await response(scope, _replay(b""), send)
            return
        await self.app(scope, _replay(body) if consumed else receive, send)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def json_refusal(message: str) -> bytes:
    return json.dumps({"detail": message}).encode()
