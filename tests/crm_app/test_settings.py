"""Settings: environment, defaults and refusal of an unsafe secret outside demo mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_app.errors import ConfigurationError
from crm_app.settings import Settings, validate_database_url


def test_default_database_is_sqlite_in_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path.resolve() / 'crm.db'}"
    assert settings.warehouse_dir == tmp_path.resolve() / "warehouse"


def test_plain_postgresql_urls_use_the_installed_psycopg_driver() -> None:
    assert validate_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


def test_serving_with_the_default_secret_is_refused_outside_demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_SECRET_KEY", raising=False)
    monkeypatch.delenv("CRM_DEMO_MODE", raising=False)
    with pytest.raises(ConfigurationError, match="CRM_SECRET_KEY"):
        Settings().require_production_secret()
    monkeypatch.setenv("CRM_DEMO_MODE", "1")
    Settings().require_production_secret()
    monkeypatch.delenv("CRM_DEMO_MODE")
    monkeypatch.setenv("CRM_SECRET_KEY", "x" * 40)
    Settings().require_production_secret()
