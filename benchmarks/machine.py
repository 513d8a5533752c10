"""What the benchmarks measure besides wall time: CPU seconds per process, and how fast this machine is.

Wall times on a shared 2-core machine swing 10-30 % between identical runs and differ between machines, so the
benchmarks also print the CPU seconds the work cost (per process: the app's workers, the refresh, its quality-gate
worker, PostgreSQL) and a calibration figure — a fixed pure-Python loop — that puts figures taken on different
machines side by side.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

import psutil

CALIBRATION_LOOP = 5_000_000


def calibration_ms(repeat: int = 3) -> float:
    """Milliseconds of the fastest of ``repeat`` runs of a fixed pure-Python loop (lower is a faster machine)."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        total = 0
        for i in range(CALIBRATION_LOOP):
            total += i
        best = min(best, time.perf_counter() - began)
    return best * 1000


def machine_line() -> str:
    """One line: cores, load average and the calibration loop, for the head of a benchmark's output."""
    return (
        f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; "
        f"calibration loop {calibration_ms():.0f} ms ({CALIBRATION_LOOP:,} additions in pure Python, lower is faster)"
    )


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _tree(root: int) -> list[psutil.Process]:
    """A running process and its live descendants (none once it has ended)."""
    try:
        parent = psutil.Process(root)
        return [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by a running process and its live descendants."""
    total = 0.0
    for process in _tree(root):
        try:
            total += _cpu(process)
        except psutil.Error:
            continue  # ended meanwhile
    return total


def processes_cpu(match: Callable[[psutil.Process], bool]) -> float:
    """CPU seconds used so far by every live process ``match`` accepts (e.g. the PostgreSQL server's)."""
    total = 0.0
    for process in psutil.process_iter():
        try:
            if match(process):
                total += _cpu(process)
        except psutil.Error:
            continue
    return total


def is_postgres(process: psutil.Process) -> bool:
    return process.name() in ("postgres", "postmaster")


class TreeSampler:
    """CPU seconds per process of a process tree, sampled while it runs (each process's last reading counts:
    children that ended before the tree did keep what they used)."""

    def __init__(self, root: int, label: Callable[[psutil.Process], str]) -> None:
        self.root = root
        self.label = label
        self._seen: dict[int, tuple[str, float]] = {}

    def sample(self) -> int:
        """Record every live process of the tree; their resident memory in bytes."""
        rss = 0
        for process in _tree(self.root):
            try:
                with process.oneshot():
                    known = self._seen.get(process.pid)
                    name = known[0] if known else self.label(process)
                    self._seen[process.pid] = (name, _cpu(process))
                    rss += process.memory_info().rss
            except psutil.Error:
                continue
        return rss

    def by_label(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for name, seconds in self._seen.values():
            totals[name] = totals.get(name, 0.0) + seconds
        return dict(sorted(totals.items(), key=lambda item: -item[1]))


def cpu_summary(parts: Iterable[tuple[str, float]]) -> str:
    """``55.0 CPU-s (refresh 44.7, quality-gate worker 8.5, ...)``"""
    items = [(name, seconds) for name, seconds in parts if seconds >= 0.05]
    total = sum(seconds for _, seconds in items)
    inside = ", ".join(f"{name} {seconds:.1f}" for name, seconds in items)
    return f"{total:.1f} CPU-s ({inside})"
