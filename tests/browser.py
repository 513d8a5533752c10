"""Real-browser harness shared by the browser tests and the dashboards benchmark: Debian's Chromium, free ports,
`crm serve dashboards` in its own process group, and what "fully rendered" means for a dashboards page."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Debian's chromium package, never a downloaded browser; no network calls of its own during a test.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# dashboards page key (its url path) → the title of its link in the sidebar
DASHBOARD_PAGES = {
    "overview": "Executive overview",
    "customer_value": "Customer value & 7P",
    "segments": "Segment explorer",
    "care_list": "Care list",
    "funnel": "Funnel & forecast",
    "plan": "Plan vs actual",
    "rankings": "Rankings",
    "service": "Service quality",
    "marketing": "Marketing & competitors",
    "data_health": "Data health",
}

# "Fully rendered": the app has marked a run newer than the one before the click as finished, for this page;
# Streamlit's running indicator and skeletons are gone; and every chart placeholder has drawn its plotly figure.
RENDERED = """([page, before]) => {
    const marks = document.querySelectorAll('span.page-rendered');
    if (!marks.length) return false;
    const mark = marks[marks.length - 1];
    if (Number(mark.dataset.run) <= before || mark.dataset.page !== page) return false;
    if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
    if (document.querySelector('[data-testid="stSkeleton"]')) return false;
    for (const chart of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
        if (!chart.querySelector('.main-svg')) return false;
    }
    return true;
}"""
# the number of the newest finished run marked in the page (0 before the first)
LAST_RUN = "() => Math.max(0, ...[...document.querySelectorAll('span.page-rendered')].map(m => Number(m.dataset.run)))"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """An ASGI app behind a real uvicorn server (its lifespan run) in a thread of this process; its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def start_dashboards(env: dict[str, str], port: int, timeout: float = 90.0) -> subprocess.Popen[bytes]:
    """`crm serve dashboards` as a user runs it, in its own process group (stopped by `stop_server`); returns once
    the server answers its health check. Raises RuntimeError with the server's last words if it does not."""
    # its messages go to a file, not a pipe: a pipe nobody reads would stall a chatty server once full
    log = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the server; closed when collected)
    process = subprocess.Popen(
        [sys.executable, "-m", "crm_app.cli", "serve", "dashboards", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the dashboards server exited: {log.read().decode(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.3)
    stop_server(process)
    raise RuntimeError(f"the dashboards server did not answer within {timeout:.0f} s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own process group: SIGINT (a clean shutdown), then SIGKILL after 15 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
