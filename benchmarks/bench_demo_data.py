"""Benchmark of the demo data generator (data in): `crm demo-data` into a fresh SQLite file.

For each --customers size, a temporary data directory gets `crm init`, then `crm demo-data` runs in a
child process of its own; the benchmark prints the wall time, the rows written per table, rows per
second, the child's CPU time and peak resident memory (from wait4), and the database's size on disk.
Targets (issue 2): 100,000 customers (about 1M order lines) in at most 60 s on SQLite; 1,000,000
customers without running out of memory (memory bounded: customers are generated in chunks).

    .venv/bin/python benchmarks/bench_demo_data.py --customers 100000
    .venv/bin/python benchmarks/bench_demo_data.py --customers 1000000        # takes a while
    .venv/bin/python benchmarks/bench_demo_data.py --customers 2000 --customers 20000 --keep /tmp/demo-bench
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TARGET_SECONDS_100K = 60.0
CRM = Path(sys.executable).with_name("crm")


@dataclass
class Run:
    customers: int
    wall: float
    generator_seconds: float
    cpu_user: float
    cpu_system: float
    peak_rss_mb: float
    db_mb: float
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def run_once(customers: int, seed: int, months: int, folder: Path, progress: bool) -> Run:
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CRM_DATA_DIR": str(folder), "CRM_DATABASE_URL": f"sqlite:///{folder / 'crm.db'}"}
    subprocess.run([str(CRM), "init"], env=env, check=True, capture_output=True, text=True)
    args = [str(CRM), "demo-data", "--customers", str(customers), "--seed", str(seed), "--months", str(months)]
    args.append("--progress" if progress else "--no-progress")
    started = time.perf_counter()
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=None, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"crm demo-data failed with exit code {child.returncode}:\n{output}")
    reported = re.search(r"in ([\d.]+) s:", output)
    with sqlite3.connect(folder / "crm.db") as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type = 'table'")]
        counts = {t: db.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}
    counts = {t: n for t, n in counts.items() if n and t != "alembic_version"}
    return Run(
        customers=customers,
        wall=wall,
        generator_seconds=float(reported.group(1)) if reported else float("nan"),
        cpu_user=usage.ru_utime,
        cpu_system=usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports kilobytes
        db_mb=sum(p.stat().st_size for p in folder.glob("crm.db*")) / 2**20,
        counts=counts,
    )


def report(run: Run) -> str:
    lines = [
        f"== {run.customers:,} customers into SQLite",
        f"  wall time (process)      {run.wall:10.1f} s   (generator's own figure {run.generator_seconds:.1f} s)",
        f"  CPU user + system        {run.cpu_user:10.1f} s + {run.cpu_system:.1f} s",
        f"  rows in the database     {run.rows:10,}   ({run.rows / run.wall:,.0f} rows/s)",
        f"  order lines              {run.counts.get('order_lines', 0):10,}",
        f"  peak RSS                 {run.peak_rss_mb:10.0f} MB",
        f"  database on disk         {run.db_mb:10.0f} MB",
    ]
    if run.customers == 100_000:
        verdict = "meets" if run.wall <= TARGET_SECONDS_100K else "MISSES"
        lines.append(f"  target ≤ {TARGET_SECONDS_100K:.0f} s for 100,000 customers: {verdict}")
    lines.append("  rows per table:")
    lines += [f"    {table:<28}{count:>12,}" for table, count in sorted(run.counts.items())]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, action="append", help="size to run (repeatable); default 100000")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--progress", action="store_true", help="show the generator's progress bar")
    parser.add_argument("--keep", type=Path, help="keep the databases in this folder (default: temporary)")
    args = parser.parse_args()
    sizes = args.customers or [100_000]
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for customers in sizes:
        if args.keep:
            folder = args.keep / f"customers-{customers}"
            shutil.rmtree(folder, ignore_errors=True)
            print(report(run_once(customers, args.seed, args.months, folder, args.progress)), flush=True)
        else:
            with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
                print(report(run_once(customers, args.seed, args.months, Path(tmp), args.progress)), flush=True)
        print(f"  load average afterwards  {os.getloadavg()[0]:10.1f}", flush=True)


if __name__ == "__main__":
    main()
