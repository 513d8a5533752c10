"""How many requests an app process works on at once, and the lane that keeps slow actions out of the way.

Page and API handlers are plain functions: Starlette runs each in a worker thread, by default up to 40 at a time
per process. The work is CPU-bound Python (SQLAlchemy, Jinja), so with several requests in one process they take
turns on the GIL: each waits for all the others, a switch costs CPU, and under load every request is as slow as
the slowest moment. With one thread per process (``CRM_APP_THREADS``, default 1; one process per core) requests are
answered one after the other, first come first served — measured with benchmarks/bench_web.py: fewer CPU
milliseconds per request and a much shorter tail than with 40 threads.

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

T = TypeVar("T")
SLOW_LANE_THREADS = 4


@asynccontextmanager
async def request_lanes(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan of the app: sets this process's request threads and opens the slow lane."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = app.state.settings.app_threads
    app.state.slow_lane = CapacityLimiter(SLOW_LANE_THREADS)
    yield


async def run_slow(request: Request, func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in a thread of the slow lane (the default threads when the app runs without its lifespan,
    as in tests that do not start it)."""
    limiter: CapacityLimiter | None = getattr(request.app.state, "slow_lane", None)
    return await anyio.to_thread.run_sync(functools.partial(func, *args), limiter=limiter)
