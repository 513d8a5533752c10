"""Dashboards stage: start the Streamlit server (`crm serve dashboards`) on the published warehouse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from crm_app.settings import get_settings

APP_FILE = Path(__file__).resolve().parent / "app.py"


def streamlit_command(host: str, port: int) -> list[str]:
    """The command line that serves the dashboards (also used by the tests and the benchmark)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_FILE),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.runOnSave",
        "false",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
        # users see what went wrong, not our source code
        "--client.showErrorDetails",
        "type",
        "--global.developmentMode",
        "false",
        # lets run() execute the app once at start-up, which starts the warm-up (dashboards/warmup.py)
        "--server.scriptHealthCheckEnabled",
        "true",
    ]


def streamlit_environment() -> dict[str, str]:
    """The server's environment: the CRM settings pass through, and the CRM secret signs Streamlit's cookies.

    The secret goes by environment variable, not on the command line, so `ps` does not show it.
    """
    settings = get_settings()
    env = dict(os.environ)
    env["STREAMLIT_SERVER_COOKIE_SECRET"] = settings.secret_key
    env["CRM_DATA_DIR"] = str(settings.resolved_data_dir)
    if settings.database_url:
        env["CRM_DATABASE_URL"] = settings.database_url
    # the app imports `dashboards` and `crm_app` from this checkout wherever the server is started
    root = str(APP_FILE.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _warm_up(host: str, port: int, process: subprocess.Popen[bytes]) -> None:
    """Once the server answers, run the app once (Streamlit's script health check) to start its warm-up."""
    address = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    base = f"http://{address}:{port}/_stcore"
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):
                pass
            with urllib.request.urlopen(f"{base}/script-health-check", timeout=60):
                return
        except OSError:
            time.sleep(0.5)


def run(host: str, port: int) -> None:
    """Serve the dashboards until interrupted; refuses the default secret outside demo mode, like the app.

    Ctrl-C (SIGINT) and SIGTERM stop the Streamlit server too, so no orphan keeps the port.
    """
    get_settings().require_production_secret()
    process = subprocess.Popen(streamlit_command(host, port), env=streamlit_environment())

    def forward(signum: int, _frame: object) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    # signal handlers can only be set from the main thread (an embedding caller may use another)
    in_main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
    threading.Thread(target=_warm_up, args=(host, port, process), daemon=True).start()
    try:
        try:
            code = process.wait()
        except BaseException:
            process.terminate()
            raise
        finally:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code not in (0, -signal.SIGINT, -signal.SIGTERM):
        raise SystemExit(code)
