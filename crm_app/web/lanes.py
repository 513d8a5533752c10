"""How many requests an app process works on at once, and the lane that keeps slow actions out of the way.

Page and API handlers are plain functions: Starlette runs each in a worker thread, by default up to 40 at a time
per process. The work is CPU-bound Python (SQLAlchemy, Jinja), so with several requests in one process they take
turns on the GIL: each waits for all the others, a switch costs CPU, and under load every request is as slow as
the slowest moment. With few threads per process (one process per core) requests are answered nearly first come
first served — measured with benchmarks/bench_web.py: fewer CPU milliseconds per request and a much shorter tail
than with 40 threads. ``CRM_APP_THREADS`` sets the number; by default it is 1 on SQLite (in-process: a request never
waits on anything but the CPU) and 2 on PostgreSQL (a request waits on the server's round trips, during which a
second one keeps the core busy).

An action that can take seconds, such as a batch send through SMTP, would then hold its process's only thread while
the other requests of that process wait. Such actions run in the *slow lane* instead (:func:`run_slow`): threads of
their own, so a page next to them still answers.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import FastAPI, Request
from sqlalchemy import Engine

from crm_app.db import is_sqlite
from crm_app.settings import Settings

T = TypeVar("T")
SLOW_LANE_THREADS = 4


def request_threads(settings: Settings, engine: Engine) -> int:
    """Requests one app process works on at a time: ``CRM_APP_THREADS``, else 1 when ``engine`` (the database
    the app serves) is SQLite and 2 otherwise."""
    if settings.app_threads:
        return settings.app_threads
    return 1 if is_sqlite(engine) else 2


@asynccontextmanager
async def request_lanes(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan of the app: sets this process's request threads and opens the slow lane."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    limiter.total_tokens = request_threads(app.state.settings, app.state.engine)
    app.state.slow_lane = CapacityLimiter(SLOW_LANE_THREADS)
    yield


async def run_slow(request: Request, func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in a thread of the slow lane (the default threads when the app runs without its lifespan,
    as in tests that do not start it)."""
    limiter: CapacityLimiter | None = getattr(request.app.state, "slow_lane", None)
    return await anyio.to_thread.run_sync(functools.partial(func, *args), limiter=limiter)
