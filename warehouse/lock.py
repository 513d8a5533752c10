"""Warehouse pipeline lock: one ingest/build/refresh at a time per data directory."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crm_app.errors import CrmError
from warehouse.paths import LOCK_FILE


class PipelineBusyError(CrmError):
    """Another process is ingesting or building into the same warehouse directory."""


_held: dict[Path, int] = {}
_guard = threading.Lock()


@contextmanager
def pipeline_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``directory``; re-entrant within a process.

    The kernel drops the lock when the process dies (even by SIGKILL), so a killed run never
    blocks the next one.
    """
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    with _guard:
        if directory in _held:
            _held[directory] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[directory] -= 1
        return

    path = directory / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise PipelineBusyError(
                f"another ingest/build is running on {directory} (pid {holder}); wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        with _guard:
            _held[directory] = 1
        try:
            yield
        finally:
            with _guard:
                del _held[directory]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
