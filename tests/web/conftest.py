"""Fixtures for the web app and API: the app on the test database, signed-in clients, a small world."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from crm_app.settings import Settings
from crm_app.web.server import create_app
from tests.web.world import PASSWORD, World, build_world


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        data_dir=tmp_path / "var",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        smtp_host="127.0.0.1",
        smtp_port=1,  # nothing listens: tests that send start their own SMTP server
    )


@pytest.fixture
def app(settings: Settings, engine: Engine):  # type: ignore[no-untyped-def]
    return create_app(settings, engine)


@pytest.fixture
def world(engine: Engine) -> World:
    return build_world(engine)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


class Browser(TestClient):
    """A TestClient that signed in through the login form and knows its CSRF token."""

    csrf: str = ""

    def form_post(self, url: str, data: dict[str, object] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        payload = {"csrf_token": self.csrf, **{k: "" if v is None else str(v) for k, v in (data or {}).items()}}
        return self.post(url, data=payload, **kwargs)  # type: ignore[arg-type]

    def api(self, method: str, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = {"X-CSRF-Token": self.csrf, **dict(kwargs.pop("headers", {}) or {})}  # type: ignore[call-overload]
        return self.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def sign_in(app) -> Iterator[Callable[[str], Browser]]:  # type: ignore[no-untyped-def]
    clients: list[Browser] = []

    def _sign_in(username: str, password: str = PASSWORD) -> Browser:
        client = Browser(app, base_url="http://testserver", follow_redirects=False)
        clients.append(client)
        page = client.get("/login")
        response = client.post(
            "/login", data={"username": username, "password": password, "csrf_token": csrf_of(page.text), "next": "/"}
        )
        assert response.status_code == 303, response.text[:500]
        client.csrf = csrf_of(client.get("/").text)
        return client

    yield _sign_in
    for client in clients:
        client.close()
