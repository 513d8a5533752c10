"""Request threads per app process (crm_app/web/lanes.py): few at a time, slow actions on a lane of
their own — a page still answers while a batch send waits on a slow mail server. Runs a real uvicorn server."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crm_app.db import make_engine
from crm_app.errors import ConfigurationError
from crm_app.models import Contact
from crm_app.settings import Settings, get_settings
from crm_app.web.lanes import request_threads
from crm_app.web.server import create_app
from tests.browser import free_port, serve_in_thread
from tests.web.world import PASSWORD, World

SMTP_DELAY = 1.0  # seconds the mail server takes per message


@pytest.fixture
def slow_smtp() -> Iterator[tuple[int, list[str], threading.Event]]:
    """A mail server that takes SMTP_DELAY per message; the event is set when the first message arrives."""
    from aiosmtpd.controller import Controller

    received: list[str] = []
    first = threading.Event()

    class Slow:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            first.set()
            await asyncio.sleep(SMTP_DELAY)
            received.append(",".join(envelope.rcpt_tos))  # type: ignore[attr-defined]
            return "250 OK"

    port = free_port()
    controller = Controller(Slow(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received, first
    controller.stop()


@pytest.fixture
def served(settings: Settings, engine: Engine, slow_smtp: tuple[int, list[str], threading.Event]) -> Iterator[str]:
    """The app behind a real uvicorn server (lifespan on), one request thread, mail to the slow server."""
    app = create_app(settings.model_copy(update={"app_threads": 1, "smtp_port": slow_smtp[0]}), engine)
    with serve_in_thread(app) as base:
        yield base


def _signed_in(base: str, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
    assert response.status_code == 303, response.text[:300]
    again = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert again
    return client, again.group(1)


def test_a_page_answers_while_a_batch_send_waits_on_a_slow_mail_server(
    world: World, engine: Engine, served: str, slow_smtp: tuple[int, list[str], threading.Event]
) -> None:
    _, received, first_message = slow_smtp
    with Session(engine) as session:
        for contact in session.scalars(select(Contact)):
            contact.email = f"{contact.last_name.lower()}@customer.example.com"
        session.commit()
    sender, token = _signed_in(served, "analyst")
    reader, _ = _signed_in(served, "analyst")
    outcome: dict[str, httpx.Response] = {}
    form = {
        "csrf_token": token,
        "template_id": str(world.records["templates"][0].id),
        "campaign_id": str(world.records["campaigns"][0].id),
        "only_status": "targeted",
    }
    batch = threading.Thread(target=lambda: outcome.update(sent=sender.post("/contact-centre/batch", data=form)))
    batch.start()
    try:
        assert first_message.wait(10), "the batch send never reached the mail server"
        began = time.perf_counter()
        page = reader.get("/accounts")
        waited = time.perf_counter() - began
        still_sending = batch.is_alive()
    finally:
        batch.join(timeout=30)
        sender.close()
        reader.close()
    assert page.status_code == 200 and "Alpha" in page.text
    assert still_sending, "the batch send was over before the page was asked for: the test proves nothing"
    assert waited < SMTP_DELAY, f"the page waited {waited:.2f} s for the batch send"
    assert outcome["sent"].status_code == 303
    assert len(received) == 3  # the batch went out in full


def test_request_threads_follow_the_database_unless_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sqlite = make_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    postgresql = make_engine("postgresql://crm@127.0.0.1/crm")  # never connected: only its dialect is asked

    def threads(engine: Engine, **env: str) -> int:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        return request_threads(get_settings(), engine)

    monkeypatch.delenv("CRM_APP_THREADS", raising=False)
    assert threads(sqlite) == 1
    assert threads(postgresql) == 2
    assert threads(sqlite, CRM_APP_THREADS="3") == 3
    with pytest.raises(ConfigurationError, match="app_threads"):
        threads(sqlite, CRM_APP_THREADS="0")
    get_settings.cache_clear()
    sqlite.dispose()
    postgresql.dispose()
