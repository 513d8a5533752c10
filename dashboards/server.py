"""Dashboards stage: start the Streamlit server (`crm serve dashboards`) on the published warehouse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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


def run(host: str, port: int) -> None:
    """Serve the dashboards until interrupted; refuses the default secret outside demo mode, like the app."""
    get_settings().require_production_secret()
    process = subprocess.Popen(streamlit_command(host, port), env=streamlit_environment())
    try:
        code = process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        raise
    if code != 0:
        raise SystemExit(code)
