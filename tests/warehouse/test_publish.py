"""Atomic publish: a reader holding the published file keeps consistent old data; a new read sees the new."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from crm_app.settings import get_settings
from ingest.extract import ingest
from tests.warehouse.sample import populate
from tests.warehouse.tiny_dbt import write_tiny_project
from warehouse.build import build
from warehouse.paths import raw_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_reader_keeps_reading_the_old_file_while_a_new_one_is_published(
    crm_env: dict[str, str], session: Session, tmp_path: Path
) -> None:
    settings = get_settings()
    project = write_tiny_project(tmp_path / "tiny_dbt")
    populate(session)
    ingest(settings.sqlalchemy_url, raw_path(settings))
    build(settings, project_dir=project)

    reader = subprocess.Popen(
        [sys.executable, "-m", "tests.warehouse.reader_child"],
        cwd=ROOT,
        env={**os.environ, **crm_env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None and reader.stdin is not None
    try:
        ready = json.loads(reader.stdout.readline())
        before = ready["ready"]

        populate(session, customers=3, tag="new")
        ingest(settings.sqlalchemy_url, raw_path(settings))
        build(settings, project_dir=project)  # publishes while the reader is reading

        reader.stdin.write("stop\n")
        reader.stdin.flush()
        report = json.loads(reader.stdout.readline())
    finally:
        reader.kill() if reader.poll() is None else None
        reader.wait()

    assert report["reads"] > 0
    assert report["old"] == [before], "the old connection saw something other than the old, consistent data"
    assert report["new"][0] == before[0] + 3
    assert report["new"][1] > before[1]
    assert report["version"] != ready["version"]
