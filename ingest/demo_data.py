"""Data in: `crm demo-data` — a realistic, deterministic story of a company and its customers.

The generator fills an empty, migrated database with months of consistent history ending now (a
department tree and staff, a catalogue, partners, suppliers, campaigns, customers whose purchases follow
a heterogeneous purchase-and-dropout process, deals through the pipeline, quotes, orders, returns,
payments, service cases, surveys, activities, messages, plans and purchasing). It streams customers in
chunks, so memory stays bounded at any size, and loads them with bulk inserts in one transaction: a run
that fails leaves the database as it was.

The generator's hidden truth — each customer's latent purchase rate and dropout — goes to
``<data dir>/demo_truth.parquet`` (never into CRM tables), one row per customer, so benchmarks can score
the warehouse's churn and customer-value models against it. Columns:

- ``account_id``, ``external_ref`` (``CUST-0000001``): the customer in the CRM
- ``purchase_rate_per_year``: latent purchase rate λ while active (gamma-distributed across customers)
- ``dropout_probability``: latent p of leaving after each repeat purchase (beta-distributed)
- ``first_purchase_date``, ``last_purchase_date``, ``purchases``: the purchases generated
- ``alive_at_end``: still active at the end (NULL for prospects who never bought)
- ``dropout_date``: the purchase after which the customer left (NULL when still active)
- ``complaints_raised_dropout``: a badly handled complaint had raised p when the customer left
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from sqlalchemy import Engine

from crm_app.errors import CrmError
from crm_app.models import Base, utcnow
from crm_app.security import hash_password
from ingest.demo.clock import Clock
from ingest.demo.closing import Closing
from ingest.demo.customers import Chunk, Context, Totals
from ingest.demo.deals import Pipeline
from ingest.demo.sink import DATETIME_FORMAT, Sink, open_sink
from ingest.demo.world import DEMO_USERS, Ids, WorldBuilder

DEMO_PASSWORD = "crm-demo-2024"
TRUTH_FILE = "demo_truth.parquet"
CHUNK_SIZE = 10_000  # customers generated and written at a time: bounds memory at any size
MAX_MONTHS = 240

# Every table the generator writes, in no particular order (the load follows the schema's dependencies).
LOADED_TABLES = (
    "departments", "users", "audit_log", "custom_field_definitions", "product_categories", "products",
    "price_policies", "price_policy_items", "accounts", "account_shares", "contacts", "favorites", "campaigns",
    "campaign_members", "templates", "communications", "surveys", "survey_questions", "survey_responses",
    "survey_answers", "competitors", "competitor_products", "competitor_orders", "opportunities",
    "opportunity_stage_history", "quotes", "quote_lines", "orders", "order_lines", "payment_plans", "payments",
    "activities", "cases", "sales_plans", "document_templates", "document_template_lines", "purchase_orders",
    "purchase_order_lines", "purchase_plans",
)  # fmt: skip
# Tables that may already hold rows: users added with `crm users add`, and the audit of that.
MAY_HOLD_ROWS = ("users", "audit_log")


class DemoLogin(NamedTuple):
    username: str
    role: str
    description: str


DEMO_LOGINS: tuple[DemoLogin, ...] = tuple(DemoLogin(u[0], u[1], u[4]) for u in DEMO_USERS)


class DemoDataError(CrmError):
    """Demo data cannot go into this database (it is not empty, or not set up)."""


@dataclass(frozen=True)
class DemoConfig:
    customers: int
    seed: int = 42
    months: int = 24
    as_of: dt.datetime | None = None  # the story ends here (naive UTC); default: now

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise DemoDataError(f"--customers must be at least 1 (got {self.customers})")
        if not 1 <= self.months <= MAX_MONTHS:
            raise DemoDataError(f"--months must be between 1 and {MAX_MONTHS} (got {self.months})")


@dataclass
class DemoSummary:
    config: DemoConfig
    as_of: dt.datetime
    seconds: float
    truth_path: Path
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        width = max(len(t) for t in self.counts) if self.counts else 10
        lines = [
            f"Generated demo data for {self.config.customers:,} customers (seed {self.config.seed}, "
            f"{self.config.months} months up to {self.as_of:%Y-%m-%d}) in {self.seconds:.1f} s: "
            f"{self.total_rows:,} rows ({self.total_rows / max(self.seconds, 1e-9):,.0f} rows/s).",
        ]
        lines += [f"  {table:<{width}}  {count:>12,}" for table, count in sorted(self.counts.items())]
        lines.append(f"Hidden truth (latent purchase rates and dropout per customer): {self.truth_path}")
        lines.append(f"Demo logins (password {DEMO_PASSWORD!r}):")
        lines += [f"  {login.username:<8} {login.description}" for login in DEMO_LOGINS]
        return "\n".join(lines)


def _rng(seed: int, *key: int) -> np.random.Generator:
    """An independent, reproducible stream per part of the story (same seed → same data)."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))


def _check_empty(sink: Sink) -> Pipeline:
    accounts = sink.count("accounts")
    if accounts:
        raise DemoDataError(
            f"the database already holds {accounts:,} accounts; demo data goes into an empty database "
            "(point CRM_DATABASE_URL or CRM_DATA_DIR at a new one and run `crm init` first)"
        )
    busy = [(t, sink.count(t)) for t in LOADED_TABLES if t not in MAY_HOLD_ROWS]
    busy = [(t, n) for t, n in busy if n]
    if busy:
        listed = ", ".join(f"{t} ({n:,})" for t, n in busy)
        raise DemoDataError(f"demo data goes into an empty database, but it already holds rows in {listed}")
    taken = sorted(set(sink.values("select username from users")) & {u[0] for u in DEMO_USERS})
    if taken:
        raise DemoDataError(f"the demo users {', '.join(taken)} already exist; use an empty database")
    stages = sink.rows("select id, position, probability, is_closed, is_won from pipeline_stages where is_active")
    try:
        return Pipeline.from_stages([(int(i), int(p), float(pr), bool(c), bool(w)) for i, p, pr, c, w in stages])
    except ValueError as exc:
        raise DemoDataError(f"the sales pipeline is not set up ({exc}): run `crm init` first") from None


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    progress = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )
    with progress:
        yield progress


def generate(
    engine: Engine,
    config: DemoConfig,
    truth_dir: Path,
    progress: bool = True,
    *,
    chunk_size: int = CHUNK_SIZE,
    prefer_executemany: bool = False,
) -> DemoSummary:
    """Fill the empty database behind ``engine`` with demo data; write the hidden truth to ``truth_dir``.

    Raises DemoDataError (changing nothing) when the database already holds business data.
    """
    started = time.perf_counter()
    as_of = (config.as_of or utcnow()).replace(microsecond=0)
    clock = Clock(now=as_of, months=config.months)
    now = utcnow().strftime(DATETIME_FORMAT)  # updated_at: when the rows were really written
    truth_dir = Path(truth_dir)
    truth_dir.mkdir(parents=True, exist_ok=True)
    truth_path = truth_dir / TRUTH_FILE
    partial = truth_dir / f".{TRUTH_FILE}.{os.getpid()}.part"
    sink = open_sink(engine, prefer_executemany=prefer_executemany)
    writer: pq.ParquetWriter | None = None
    try:
        pipeline = _check_empty(sink)
        with _progress(progress) as bar:
            setup = bar.add_task("Company and catalogue", total=1)
            rebuild = sink.drop_indexes(LOADED_TABLES)
            ids = Ids(sink)
            builder = WorldBuilder(sink, ids, clock, _rng(config.seed, 0), config.customers, now)
            world = builder.build(pipeline, hash_password(DEMO_PASSWORD))
            bar.advance(setup)
            totals = Totals.empty(
                len(clock.month_starts), len(world.reps.ids), len(world.root_category_ids), world.catalogue.size
            )
            totals.counts.update(world.counts)
            order = [t.name for t in Base.metadata.sorted_tables if t.name in LOADED_TABLES]
            ctx = Context(world=world, clock=clock, ids=ids, sink=sink, totals=totals, table_order=order)
            task = bar.add_task("Customers and their history", total=config.customers)
            for index, first in enumerate(range(0, config.customers, chunk_size)):
                n = min(chunk_size, config.customers - first)
                truth = Chunk(ctx, _rng(config.seed, 1, index), first + 1, n, now).run()
                if writer is None:
                    writer = pq.ParquetWriter(partial, truth.schema)
                writer.write_table(truth)
                bar.advance(task, n)
            closing_task = bar.add_task("Plans, purchasing, indexes", total=3)
            settings = {**asdict(config), "as_of": as_of.isoformat()}
            for table, data in Closing(world, clock, ids, totals, _rng(config.seed, 2), now).build(settings).items():
                sink.write(table, data)
                totals.counts[table] = totals.counts.get(table, 0) + data.num_rows
            bar.advance(closing_task)
            for statement in rebuild:
                sink.execute(statement)
            bar.advance(closing_task)
            # quotes and their orders point at each other: the quote side is filled in last
            sink.execute(
                "update quotes set order_id = (select o.id from orders o where o.quote_id = quotes.id) "
                "where status = 'converted'"
            )
            sink.finish(LOADED_TABLES)
            sink.commit()
            bar.advance(closing_task)
        assert writer is not None
        writer.close()
        writer = None
        partial.replace(truth_path)
    except BaseException:
        sink.rollback()
        raise
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
        sink.close()
    counts = {t: n for t, n in totals.counts.items() if n}
    return DemoSummary(config, as_of, time.perf_counter() - started, truth_path, counts)
