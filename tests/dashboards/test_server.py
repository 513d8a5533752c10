"""`crm serve dashboards`: refuses the default secret outside demo mode; the secret never shows in `ps`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crm_app.errors import ConfigurationError
from crm_app.settings import get_settings
from dashboards import server
from tests.dashboards.conftest import ROOT


def test_run_refuses_the_default_secret_and_starts_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for key in ("CRM_SECRET_KEY", "CRM_DEMO_MODE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    started: list[object] = []
    monkeypatch.setattr(server.subprocess, "Popen", lambda *a, **k: started.append(a))
    try:
        with pytest.raises(ConfigurationError, match="CRM_SECRET_KEY is not set"):
            server.run("127.0.0.1", 8599)
    finally:
        get_settings.cache_clear()
    assert started == []


def test_the_cli_says_why_it_will_not_serve(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"PATH": "/usr/bin:/bin", "CRM_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "crm_app.cli", "serve", "dashboards", "--port", "8599"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "CRM_SECRET_KEY is not set" in result.stderr


def test_the_secret_goes_by_environment_not_on_the_command_line(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CRM_SECRET_KEY", "a-long-production-secret-0123456789")
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        command = server.streamlit_command("127.0.0.1", 8599)
        env = server.streamlit_environment()
    finally:
        get_settings.cache_clear()
    assert "a-long-production-secret-0123456789" not in " ".join(command)
    assert env["STREAMLIT_SERVER_COOKIE_SECRET"] == "a-long-production-secret-0123456789"
    assert command[command.index("--server.headless") + 1] == "true"
    assert command[command.index("--browser.gatherUsageStats") + 1] == "false"
    assert env["CRM_DATA_DIR"] == str(tmp_path.resolve())
