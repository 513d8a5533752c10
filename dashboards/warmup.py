"""Dashboards stage: warm the server process — heavy imports and the shared query caches — before viewers come.

Started once per server process by the entry point (``crm serve dashboards`` runs the app once at start-up
through Streamlit's script health check, so this happens before the first sign-in). A daemon thread imports
what the pages need and, for every newly published warehouse version, fills the caches every viewer of all
rows shares: the sidebar's choices and the executive overview's figures for the default filters.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("crm.dashboards")

CHECK_SECONDS = 30.0
_started = False
_lock = threading.Lock()


def start() -> None:
    """Start the warm-up thread (once per process; later calls do nothing)."""
    global _started
    with _lock:
        if _started:
            return
        _started = True
    threading.Thread(target=_loop, name="dashboards-warmup", daemon=True).start()


def _loop() -> None:
    last = None
    while True:
        try:
            import duckdb  # noqa: F401  - imported here so the first page does not pay for it
            import pandas  # noqa: F401
            import plotly.express
            import plotly.graph_objects  # noqa: F401

            from dashboards import data

            current = data.version_or_none()
            if current is not None and current != last:
                started = time.perf_counter()
                prime()
                last = current
                log.info("dashboards caches primed for %s in %.1f s", current, time.perf_counter() - started)
        except Exception:  # a warm-up must never take the server down; the pages report real errors
            log.exception("dashboards warm-up failed")
        time.sleep(CHECK_SECONDS)


def prime() -> None:
    """Run the queries every all-rows viewer starts with, so they are cached for this version."""
    from dashboards import data
    from dashboards.auth import Scope

    everyone = Scope(all_rows=True)
    filters = data.default_filters()
    data.departments(everyone)
    data.regions()
    data.categories()
    data.segment_base()
    data.sales_summary(everyone, filters)
    data.sales_summary(everyone, filters, dates=filters.prior)
    data.pipeline_summary(everyone, filters)
    data.monthly_sales(everyone, filters)
    data.plan_by_month(everyone, filters)
    data.care_counts(everyone, filters)
    data.value_summary(everyone, filters)
