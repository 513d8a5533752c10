"""Build stage, quality gate: great_expectations suites on the raw layer and the marts of a build file.

Each suite is one DataFrame read from the build file with DuckDB (joins that find a row's parent are done
there, so every rule is a plain column expectation) and a list of rules, each a great_expectations
expectation plus the sentence a user reads when it fails:
``order_lines: product_id must exist in products — failed for order_line ids 17, 42``.

great_expectations' SQL datasource does not work on DuckDB, so the suites use its pandas datasource
(DESIGN.md §5); it is imported lazily because the import alone takes seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_app.errors import CrmError
from warehouse.paths import attach_read_only

EXAMPLES = 5

Expect = Callable[[Any], Any]
"""Builds an expectation from the ``great_expectations.expectations`` module."""


def _not_null(column: str) -> Expect:
    return lambda ex: ex.ExpectColumnValuesToNotBeNull(column=column)


def _unique(column: str) -> Expect:
    return lambda ex: ex.ExpectColumnValuesToBeUnique(column=column)


def _between(column: str, low: float | None = None, high: float | None = None, *, strict_low: bool = False) -> Expect:
    return lambda ex: ex.ExpectColumnValuesToBeBetween(
        column=column, min_value=low, max_value=high, strict_min=strict_low
    )


def _in_set(column: str, values: Sequence[Any]) -> Expect:
    return lambda ex: ex.ExpectColumnValuesToBeInSet(column=column, value_set=list(values))


def _pair_equal(a: str, b: str) -> Expect:
    return lambda ex: ex.ExpectColumnPairValuesToBeEqual(column_A=a, column_B=b)


@dataclass(frozen=True)
class Suite:
    """One DataFrame and the rules checked on it."""

    layer: str  # "raw" or "marts"
    table: str  # the table a user recognises in messages
    sql: str
    key_column: str
    key_label: str  # plural noun for example keys: "order_line ids"
    rules: tuple[tuple[str, Expect], ...]
    requires: dict[str, tuple[str, ...]] = field(default_factory=dict)  # mart → columns the SQL reads


@dataclass
class CheckResult:
    layer: str
    table: str
    rule: str
    passed: bool
    failed_count: int = 0
    examples: list[str] = field(default_factory=list)
    key_label: str = "rows"

    def explain(self) -> str:
        if self.passed:
            return f"{self.table}: {self.rule} — passed"
        if not self.examples:
            return f"{self.table}: {self.rule} — failed for {self.failed_count} rows"
        more = f" (and {self.failed_count - len(self.examples)} more)" if self.failed_count > len(self.examples) else ""
        keys = f"{self.key_label} " if self.key_label else ""
        return f"{self.table}: {self.rule} — failed for {keys}{', '.join(self.examples)}{more}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "table": self.table,
            "rule": self.rule,
            "passed": self.passed,
            "failed_count": self.failed_count,
            "examples": self.examples,
        }


# ------------------------------------------------------------------------------------- raw suites
# The raw layer holds soft-deleted rows too; facts may keep pointing at a soft-deleted parent, so parents
# are looked up among all rows, and only live children are checked where a deleted child is irrelevant.

RAW_SUITES: tuple[Suite, ...] = (
    Suite(
        "raw",
        "order_lines",
        """
        select l.id, l.quantity, l.unit_price, l.line_total, l.discount_pct,
               o.id as order_found,
               case when l.product_id is null then 0 else p.id end as product_found,
               case when o.kind = 'sale' then l.quantity end as sale_quantity
        from raw.order_lines as l
        left join raw.orders as o on o.id = l.order_id
        left join raw.products as p on p.id = l.product_id
        """,
        "id",
        "order_line ids",
        (
            ("id must be unique", _unique("id")),
            ("id must not be null", _not_null("id")),
            ("order_id must exist in orders", _not_null("order_found")),
            ("product_id must exist in products", _not_null("product_found")),
            ("quantity must be positive on a sale", _between("sale_quantity", 0, strict_low=True)),
            ("unit_price must not be negative", _between("unit_price", 0)),
            ("line_total must not be negative", _between("line_total", 0)),
            ("discount_pct must be between 0 and 100", _between("discount_pct", 0, 100)),
        ),
    ),
    Suite(
        "raw",
        "orders",
        """
        select o.id, o.kind, a.id as account_found,
               case when o.kind = 'return' then coalesce(s.kind, 'missing') end as returned_kind
        from raw.orders as o
        left join raw.accounts as a on a.id = o.account_id
        left join raw.orders as s on s.id = o.return_of_id
        where o.deleted_at is null
        """,
        "id",
        "order ids",
        (
            ("id must be unique", _unique("id")),
            ("account_id must exist in accounts", _not_null("account_found")),
            ("kind must be sale or return", _in_set("kind", ["sale", "return"])),
            ("a return must point at a sale", _in_set("returned_kind", ["sale"])),
        ),
    ),
    Suite(
        "raw",
        "opportunities",
        """
        select o.id, o.probability, o.amount, s.id as stage_found, a.id as account_found
        from raw.opportunities as o
        left join raw.pipeline_stages as s on s.id = o.stage_id
        left join raw.accounts as a on a.id = o.account_id
        where o.deleted_at is null
        """,
        "id",
        "opportunity ids",
        (
            ("id must be unique", _unique("id")),
            ("stage_id must exist in pipeline_stages", _not_null("stage_found")),
            ("account_id must exist in accounts", _not_null("account_found")),
            ("probability must be between 0 and 1", _between("probability", 0, 1)),
            ("amount must not be negative", _between("amount", 0)),
        ),
    ),
    Suite(
        "raw",
        "opportunity_stage_history",
        """
        select h.id, s.id as stage_found, o.id as opportunity_found,
               case when h.from_stage_id is null then 0 else f.id end as from_stage_found
        from raw.opportunity_stage_history as h
        left join raw.pipeline_stages as s on s.id = h.to_stage_id
        left join raw.pipeline_stages as f on f.id = h.from_stage_id
        left join raw.opportunities as o on o.id = h.opportunity_id
        """,
        "id",
        "stage change ids",
        (
            ("id must be unique", _unique("id")),
            ("to_stage_id must exist in pipeline_stages", _not_null("stage_found")),
            ("from_stage_id must exist in pipeline_stages", _not_null("from_stage_found")),
            ("opportunity_id must exist in opportunities", _not_null("opportunity_found")),
        ),
    ),
    Suite(
        "raw",
        "payments",
        """
        select p.id, p.amount, o.id as order_found
        from raw.payments as p left join raw.orders as o on o.id = p.order_id
        where p.deleted_at is null
        """,
        "id",
        "payment ids",
        (
            ("id must be unique", _unique("id")),
            ("order_id must exist in orders", _not_null("order_found")),
            ("amount must be positive", _between("amount", 0, strict_low=True)),
        ),
    ),
    Suite(
        "raw",
        "cases",
        """
        select c.id, c.satisfaction, a.id as account_found
        from raw.cases as c left join raw.accounts as a on a.id = c.account_id
        where c.deleted_at is null
        """,
        "id",
        "case ids",
        (
            ("id must be unique", _unique("id")),
            ("account_id must exist in accounts", _not_null("account_found")),
            ("satisfaction must be between 1 and 5", _between("satisfaction", 1, 5)),
        ),
    ),
    Suite(
        "raw",
        "accounts",
        "select id, kind, name from raw.accounts",
        "id",
        "account ids",
        (
            ("id must be unique", _unique("id")),
            ("id must not be null", _not_null("id")),
            ("kind must be customer, partner or supplier", _in_set("kind", ["customer", "partner", "supplier"])),
            ("name must not be null", _not_null("name")),
        ),
    ),
    Suite(
        "raw",
        "products",
        "select id, list_price, unit_cost from raw.products",
        "id",
        "product ids",
        (
            ("id must be unique", _unique("id")),
            ("list_price must not be negative", _between("list_price", 0)),
            ("unit_cost must not be negative", _between("unit_cost", 0)),
        ),
    ),
    Suite(
        "raw",
        "pipeline_stages",
        "select id, name, probability from raw.pipeline_stages",
        "id",
        "stage ids",
        (
            ("id must be unique", _unique("id")),
            ("name must not be null", _not_null("name")),
            ("probability must be between 0 and 1", _between("probability", 0, 1)),
        ),
    ),
)


# ----------------------------------------------------------------------------------- mart suites
# The marts and columns these suites read (the gate's side of the contract with dbt_project/).
MART_CONTRACT: dict[str, tuple[str, ...]] = {
    "fct_orders": ("order_id", "account_id", "net_revenue", "is_revenue"),
    "fct_opportunities": ("opportunity_id", "stage_id"),
    "dim_customers": ("account_id",),
    "customer_value": ("account_id", "lifetime_net_revenue", "p_alive", "expected_purchases"),
    "customer_rfm": ("account_id", "r_score", "f_score", "m_score"),
    "sales_funnel": ("stage_id", "current_count"),
}

MART_SUITES: tuple[Suite, ...] = (
    Suite(
        "marts",
        "fct_orders",
        "select order_id, account_id from marts.fct_orders",
        "order_id",
        "order ids",
        (
            ("order_id must be unique", _unique("order_id")),
            ("order_id must not be null", _not_null("order_id")),
            ("account_id must not be null", _not_null("account_id")),
        ),
        {"fct_orders": ("order_id", "account_id")},
    ),
    Suite(
        "marts",
        "dim_customers",
        "select account_id from marts.dim_customers",
        "account_id",
        "account ids",
        (
            ("account_id must be unique", _unique("account_id")),
            ("account_id must not be null", _not_null("account_id")),
        ),
        {"dim_customers": ("account_id",)},
    ),
    Suite(
        "marts",
        "customer_value",
        "select account_id, p_alive, expected_purchases from marts.customer_value",
        "account_id",
        "account ids",
        (
            ("account_id must be unique", _unique("account_id")),
            ("account_id must not be null", _not_null("account_id")),
            ("p_alive must be between 0 and 1", _between("p_alive", 0, 1)),
            ("expected_purchases must not be negative", _between("expected_purchases", 0)),
        ),
        {"customer_value": ("account_id", "p_alive", "expected_purchases")},
    ),
    Suite(
        "marts",
        "customer_rfm",
        "select account_id, r_score, f_score, m_score from marts.customer_rfm",
        "account_id",
        "account ids",
        (
            ("account_id must be unique", _unique("account_id")),
            ("r_score must be between 1 and 5", _between("r_score", 1, 5)),
            ("f_score must be between 1 and 5", _between("f_score", 1, 5)),
            ("m_score must be between 1 and 5", _between("m_score", 1, 5)),
        ),
        {"customer_rfm": ("account_id", "r_score", "f_score", "m_score")},
    ),
    Suite(
        "marts",
        "customer_value",
        # Per customer, so a mismatch names the customers; together the rows reconcile the totals.
        """
        with mart as (
            select account_id, lifetime_net_revenue from marts.customer_value
        ),
        booked as (
            select o.account_id, sum(o.net_revenue) as net_revenue
            from marts.fct_orders as o
            join raw.accounts as a on a.id = o.account_id and a.kind = 'customer'
            where o.is_revenue
            group by o.account_id
        )
        select coalesce(mart.account_id, booked.account_id) as account_id,
               cast(abs(coalesce(mart.lifetime_net_revenue, 0) - coalesce(booked.net_revenue, 0)) as double)
                   as difference
        from mart full outer join booked on mart.account_id = booked.account_id
        """,
        "account_id",
        "account ids",
        (
            (
                "lifetime_net_revenue must equal the customer's net revenue in fct_orders",
                _between("difference", 0, 0.005),
            ),
        ),
        {"customer_value": ("account_id", "lifetime_net_revenue"), "fct_orders": ("account_id", "net_revenue")},
    ),
    Suite(
        "marts",
        "customer_value",
        """
        select 'all customers' as scope,
               cast(abs(coalesce((select sum(lifetime_net_revenue) from marts.customer_value), 0)
                   - coalesce((select sum(o.net_revenue) from marts.fct_orders as o
                               join raw.accounts as a on a.id = o.account_id and a.kind = 'customer'
                               where o.is_revenue), 0)) as double) as difference
        """,
        "scope",
        "",
        (("Σ lifetime_net_revenue must equal total net revenue in fct_orders", _between("difference", 0, 0.01)),),
        {"customer_value": ("lifetime_net_revenue",), "fct_orders": ("net_revenue", "is_revenue")},
    ),
    Suite(
        "marts",
        "sales_funnel",
        """
        with funnel as (
            select stage_id, sum(current_count) as n from marts.sales_funnel group by stage_id
        ),
        opportunities as (
            select stage_id, count(*) as n from marts.fct_opportunities group by stage_id
        )
        select coalesce(funnel.stage_id, opportunities.stage_id) as stage_id,
               coalesce(funnel.n, 0) as funnel_count,
               coalesce(opportunities.n, 0) as opportunity_count
        from funnel full outer join opportunities on funnel.stage_id = opportunities.stage_id
        """,
        "stage_id",
        "stage ids",
        (
            (
                "opportunities counted per stage must equal the opportunities in fct_opportunities",
                _pair_equal("funnel_count", "opportunity_count"),
            ),
        ),
        {"sales_funnel": ("stage_id", "current_count"), "fct_opportunities": ("stage_id",)},
    ),
)


@dataclass
class GateOutcome:
    results: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    @property
    def ok(self) -> bool:
        return not self.failed


def _columns(con: Any) -> dict[str, set[str]]:
    rows = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_catalog = ? and table_schema = 'marts'",
        [_CHECKED],
    ).fetchall()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


def _plain(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    return round(value, 4) if isinstance(value, float) else value


def _example(row: dict[str, Any], key_column: str) -> str:
    """``17`` or ``17 (sale_quantity=-2.0)``: the key, plus the offending values when there are any."""
    key = _plain(row.get(key_column))
    extras = [f"{name}={_plain(value)}" for name, value in row.items() if name != key_column and value is not None]
    extras = [e for e in extras if e.split("=", 1)[1] not in ("nan", "None", "NaT", "<NA>")]
    return f"{key} ({', '.join(extras)})" if extras else str(key)


# The checked file is attached under this name, so `raw.orders` means schema raw in it even when the file is the
# raw layer itself (whose own catalog name, `raw`, would make `raw.orders` ambiguous).
_CHECKED = "checked"


def _open_read_only(path: Path) -> Any:
    import duckdb

    con = duckdb.connect(":memory:")
    attach_read_only(con, path, _CHECKED)
    con.execute(f"USE {_CHECKED}")
    return con


def run_gate(build_file: Path, suites: Sequence[Suite] | None = None) -> GateOutcome:
    """Run every suite on ``build_file`` (opened read-only; the raw suites may also run on the raw layer file);
    never raises for a failed rule."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    began = time.perf_counter()
    outcome = GateOutcome()
    chosen = list(suites) if suites is not None else [*RAW_SUITES, *MART_SUITES]
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
    )
    datasource = context.data_sources.add_pandas("warehouse")
    con = _open_read_only(build_file)
    try:
        marts = _columns(con)
        for n, suite in enumerate(chosen):
            missing = [
                f"{mart}.{column}"
                for mart, columns in suite.requires.items()
                for column in columns
                if column not in marts.get(mart, set())
            ]
            if missing:
                outcome.results.append(
                    CheckResult(
                        suite.layer,
                        suite.table,
                        f"the gate needs {', '.join(missing)} (warehouse/gate.py MART_CONTRACT), "
                        "which the dbt build did not produce",
                        passed=False,
                    )
                )
                continue
            frame = con.execute(suite.sql).df()
            asset = datasource.add_dataframe_asset(f"{suite.layer}_{suite.table}_{n}")
            batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
            expectations = gx.ExpectationSuite(name=f"{suite.layer}.{suite.table}.{n}")
            for rule, build in suite.rules:
                expectation = build(gx.expectations)
                expectation.meta = {"rule": rule}
                expectations.add_expectation(expectation)
            validation = batch.validate(
                expectations,
                result_format={
                    "result_format": "SUMMARY",
                    "unexpected_index_column_names": [suite.key_column],
                    "partial_unexpected_count": EXAMPLES,
                },
            )
            for result in validation.results:
                config = result.expectation_config
                rule = str((config.meta or {}).get("rule", config.type)) if config else "expectation"
                details = result.result or {}
                failed = int(details.get("unexpected_count") or 0)
                if not result.success and failed == 0:
                    failed = 1  # an expectation that raised instead of counting rows
                examples = [
                    _example(row, suite.key_column)
                    for row in (details.get("partial_unexpected_index_list") or [])[:EXAMPLES]
                ]
                outcome.results.append(
                    CheckResult(
                        suite.layer,
                        suite.table,
                        rule,
                        passed=bool(result.success),
                        failed_count=0 if result.success else failed,
                        examples=[] if result.success else examples,
                        key_label=suite.key_label,
                    )
                )
    finally:
        con.close()
    outcome.seconds = time.perf_counter() - began
    return outcome


# ------------------------------------------------------------------------------------ gate worker
# `import great_expectations` costs seconds of single-threaded Python. Run in a thread of the pipeline's
# process it only competes with ingest for the GIL; in a process of its own it runs on the other core.
# `crm refresh` starts the worker before ingest, so the import is done by the time the raw checks start.


class GateWorker:
    """A child process (``python -m warehouse.gate``) that imports great_expectations once and runs suites."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "warehouse.gate"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, build_file: Path, layer: str) -> GateOutcome:
        """Run the ``raw`` or ``marts`` suites on ``build_file`` in the worker."""
        self.submit(build_file, layer)
        return self.collect()

    def submit(self, build_file: Path, layer: str) -> None:
        """Start the ``raw`` or ``marts`` suites on ``build_file`` in the worker and return at once; `collect()`
        waits for the outcome. The worker answers requests in order, one at a time."""
        process = self.process
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps({"build_file": str(build_file), "layer": layer}) + "\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the worker has stopped: collect() says so

    def collect(self) -> GateOutcome:
        """The outcome of the oldest request not collected yet."""
        process = self.process
        assert process.stdout is not None
        try:
            line = process.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            error = process.stderr.read() if process.stderr and process.poll() is not None else ""
            last = error.strip().splitlines()[-1] if error.strip() else "no message"
            raise CrmError(f"the quality gate process stopped unexpectedly: {last}")
        answer = json.loads(line)
        if "error" in answer:
            raise CrmError(f"the quality gate could not run: {answer['error']}")
        return GateOutcome([CheckResult(**r) for r in answer["results"]], float(answer["seconds"]))

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            try:
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def _serve() -> int:
    import great_expectations  # noqa: F401  (the point of the worker: import before the first request)

    for line in sys.stdin:
        request = json.loads(line)
        suites = RAW_SUITES if request["layer"] == "raw" else MART_SUITES
        try:
            outcome = run_gate(Path(request["build_file"]), suites)
            answer: dict[str, Any] = {
                "results": [dict(r.as_dict(), key_label=r.key_label) for r in outcome.results],
                "seconds": outcome.seconds,
            }
        except Exception as exc:  # reported to the parent, which fails the build with it
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer, default=str) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    code = _serve()
    # Every answer is written and flushed, and the worker holds no file open for writing: skip the
    # interpreter's teardown of great_expectations, pandas and friends (~0.7 s the refresh would wait for).
    sys.stderr.flush()
    os._exit(code)
