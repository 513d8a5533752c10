"""The `crm` command line: set-up, users, configuration errors — clear messages, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from crm_app.models import PipelineStage, User
from crm_app.security import verify_password

CRM = [sys.executable, "-m", "crm_app.cli"]


def run_crm(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*CRM, *args], env=full_env, input=stdin, capture_output=True, text=True, timeout=120)


def test_help_lists_every_command() -> None:
    result = run_crm("--help")
    assert result.returncode == 0
    for command in ("init", "users", "demo-data", "import", "serve", "demo"):
        assert command in result.stdout


def test_init_is_idempotent_and_seeds_the_pipeline_once(tmp_path: Path) -> None:
    env = {"CRM_DATA_DIR": str(tmp_path / "var"), "CRM_DATABASE_URL": ""}
    first = run_crm("init", env=env)
    assert first.returncode == 0, first.stderr
    assert "migrated from empty" in first.stdout
    second = run_crm("init", env=env)
    assert second.returncode == 0 and "up to date" in second.stdout
    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'crm.db'}")
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(PipelineStage)) == 7


def test_users_add_hashes_the_password_from_stdin(crm_env: dict[str, str], engine) -> None:  # type: ignore[no-untyped-def]
    result = run_crm(
        "users", "add", "alice", "--role", "manager", "--password-stdin", env=crm_env, stdin="correct horse battery\n"
    )
    assert result.returncode == 0, result.stderr
    with Session(engine) as session:
        alice = session.scalar(select(User).where(User.username == "alice"))
        assert alice is not None and alice.role == "manager"
        assert alice.password_hash and "correct horse" not in alice.password_hash
        assert verify_password(alice.password_hash, "correct horse battery")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add", "bob", "--role", "wizard"], "unknown role 'wizard'"),
        (["users", "add", "bob", "--role", "sales_rep", "--department", "NOPE"], "unknown department 'NOPE'"),
    ],
)
def test_users_add_refuses_bad_input_and_adds_nobody(
    crm_env: dict[str, str],
    engine,
    args: list[str],
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    result = run_crm(*args, env=crm_env)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_users_add_refuses_a_short_password(crm_env: dict[str, str]) -> None:
    result = run_crm("users", "add", "carol", "--role", "admin", "--password-stdin", env=crm_env, stdin="short\n")
    assert result.returncode != 0 and "at least 8 characters" in result.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/crm", "supported: sqlite"),
        ("not a url at all", "not a database URL"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "cannot connect to the database"),
    ],
)
def test_bad_database_url_gives_one_clear_line(tmp_path: Path, url: str, message: str) -> None:
    result = run_crm("init", env={"CRM_DATABASE_URL": url, "CRM_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_commands_on_an_uninitialised_database_say_to_run_init(tmp_path: Path) -> None:
    result = run_crm("demo-data", "--customers", "5", env={"CRM_DATA_DIR": str(tmp_path), "CRM_DATABASE_URL": ""})
    assert result.returncode != 0 and "crm init" in result.stderr
