"""Benchmark of the data-in stage's file import: `crm import orders` on a generated 100k-row file.

Prints rows per second for a first import (validation + bulk writes + commit, accounts created for
unknown customers) and for a re-import of the same file (everything recognised, nothing written).

    .venv/bin/python benchmarks/bench_import.py [--rows 100000] [--xlsx] [--database-url URL]

Without --database-url it uses a fresh SQLite file in a temporary folder. A PostgreSQL URL must name
an empty database the benchmark may fill (it is migrated first).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from crm_app.db import make_engine
from crm_app.migrations import upgrade
from crm_app.models import Account, Product, utcnow
from ingest.importers import import_file
from ingest.importing.common import table_of

HEADER = ["customer_ref", "order_date", "amount", "order_ref", "sku", "quantity", "unit_price", "channel"]
CHANNELS = ["direct", "web", "partner", "phone", "retail", ""]


def generate(path: Path, rows: int, customers: int, skus: list[tuple[str, Decimal]], seed: int = 7) -> None:
    """An orders file like a legacy export: half the rows carry an order_ref, most name a product."""
    rng = random.Random(seed)
    start = dt.date.today() - dt.timedelta(days=3 * 365)
    records: list[list[str]] = []
    for n in range(rows):
        customer = f"CUST-{rng.randrange(customers):06d}"
        day = (start + dt.timedelta(days=rng.randrange(3 * 365))).isoformat()
        order_ref = f"LEG-{n:07d}" if n % 2 == 0 else ""
        channel = rng.choice(CHANNELS)
        if rng.random() < 0.7:
            sku, price = rng.choice(skus)
            quantity = rng.randint(1, 5)
            total = f"{price * quantity:.2f}"
            records.append([customer, day, total, order_ref, sku, str(quantity), f"{price:.2f}", channel])
        else:
            amount = Decimal(rng.randrange(500, 500_000)) / 100
            records.append([customer, day, f"{amount:.2f}", order_ref, "", "", "", channel])
    if path.suffix == ".xlsx":
        import openpyxl

        workbook = openpyxl.Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(HEADER)
        for ref, day, total, order_ref, sku, count, unit_price, channel in records:
            # typed cells, as a spreadsheet holds them
            sheet.append(
                [
                    ref,
                    dt.date.fromisoformat(day),
                    float(total),
                    order_ref or None,
                    sku or None,
                    int(count) if count else None,
                    float(unit_price) if unit_price else None,
                    channel or None,
                ]
            )
        workbook.save(path)
    else:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(records)


def seed_reference_data(session: Session, customers: int, products: int) -> list[tuple[str, Decimal]]:
    """Products, and a third of the customers as existing accounts (the rest are created by the import)."""
    rng = random.Random(11)
    now = utcnow()
    stamps = {"created_at": now, "updated_at": now, "version": 1, "custom": {}}
    skus = [(f"SKU-{n:04d}", Decimal(rng.randrange(500, 50_000)) / 100) for n in range(products)]
    session.execute(
        insert(table_of(Product)),
        [
            {"sku": sku, "name": f"Product {sku}", "list_price": price, "unit_cost": price * Decimal("0.6"), **stamps}
            for sku, price in skus
        ],
    )
    session.execute(
        insert(table_of(Account)),
        [
            {"kind": "customer", "name": f"Customer {n}", "external_ref": f"CUST-{n:06d}", **stamps}
            for n in range(0, customers, 3)
        ],
    )
    session.commit()
    return [(sku, price.quantize(Decimal("0.01"))) for sku, price in skus]


def timed_import(engine_url: str, path: Path) -> tuple[float, str]:
    engine = make_engine(engine_url)
    try:
        started = time.perf_counter()
        with Session(engine) as session:
            result = import_file(session, "orders", path)
            session.commit()
        return time.perf_counter() - started, result.describe()
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--xlsx", action="store_true", help="import an .xlsx file instead of CSV")
    parser.add_argument("--database-url", help="an empty database to use (default: a temporary SQLite file)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'crm.db'}"
        engine = make_engine(url)
        upgrade(engine)
        with Session(engine) as session:
            skus = seed_reference_data(session, args.customers, args.products)
        engine.dispose()

        path = Path(folder) / ("orders.xlsx" if args.xlsx else "orders.csv")
        started = time.perf_counter()
        generate(path, args.rows, args.customers, skus)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f} s ({path.stat().st_size:,} bytes)")
        print(f"database: {make_engine(url).url.render_as_string(hide_password=True)}")

        first, summary = timed_import(url, path)
        print(f"first import: {first:.1f} s, {args.rows / first:,.0f} rows/s — {summary}")
        again, summary = timed_import(url, path)
        print(f"re-import:    {again:.1f} s, {args.rows / again:,.0f} rows/s — {summary}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:,.0f} MiB (python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
