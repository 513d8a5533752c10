"""Configuration: the one place that reads the environment (prefix ``CRM_``, optional ``.env``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from crm_app.errors import ConfigurationError

DEFAULT_SECRET = "insecure-development-secret-change-me"
SUPPORTED_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")


class Settings(BaseSettings):
    """Everything configurable about the product; see DESIGN.md §7."""

    model_config = SettingsConfigDict(env_prefix="CRM_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="SQLite file, warehouse files, logs")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the operational DB")
    secret_key: str = DEFAULT_SECRET
    demo_mode: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_sender: str = "crm@example.com"
    app_url: str = "http://127.0.0.1:8000"
    dashboards_url: str = "http://127.0.0.1:8501"
    app_threads: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="requests one app process works on at a time; default by database (crm_app/web/lanes.py)",
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        return validate_database_url(value)

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'crm.db'}"

    @property
    def warehouse_dir(self) -> Path:
        return self.resolved_data_dir / "warehouse"

    @property
    def is_default_secret(self) -> bool:
        return self.secret_key == DEFAULT_SECRET

    def require_production_secret(self) -> None:
        """Refuse to serve with the default secret unless running the demo."""
        if self.is_default_secret and not self.demo_mode:
            raise ConfigurationError(
                "CRM_SECRET_KEY is not set: set it to a long random value, "
                "or set CRM_DEMO_MODE=1 to run the demo with a development secret."
            )


def validate_database_url(value: str) -> str:
    """Return ``value`` when it is a URL the product can use, else raise a clear error."""
    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigurationError(
            f"CRM_DATABASE_URL is not a database URL: {value!r}. Expected e.g. "
            "'sqlite:///var/crm.db' or 'postgresql+psycopg://user@host/db'."
        ) from None
    if url.drivername not in SUPPORTED_DRIVERS:
        raise ConfigurationError(
            f"CRM_DATABASE_URL uses {url.drivername!r}; supported: sqlite:///PATH and "
            "postgresql+psycopg://user@host/db."
        )
    if url.drivername == "postgresql":
        # psycopg 3 is the installed driver; plain postgresql:// would look for psycopg2.
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername.startswith("sqlite") and not url.database:
        raise ConfigurationError("CRM_DATABASE_URL for SQLite needs a file path: sqlite:///PATH")
    return url.render_as_string(hide_password=False)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache after changing the environment)."""
    try:
        return Settings()
    except ConfigurationError:
        raise
    except ValueError as exc:  # pydantic's ValidationError wraps our ConfigurationError
        cause = _configuration_cause(exc)
        raise ConfigurationError(cause or str(exc)) from None


def _configuration_cause(exc: ValueError) -> str | None:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return None
    for err in errors():
        ctx = err.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, ConfigurationError):
            return str(inner)
        return f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}"
    return None
