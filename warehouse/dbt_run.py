"""Build stage, dbt part: run `dbt build` in-process on a build file and explain every failure clearly."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DBT_PATH_ENV = "CRM_DBT_DUCKDB_PATH"
# The as-of date reaches the models through the environment, not `--vars`: dbt re-parses the whole project
# whenever the command-line vars change, and the date changes every day (dbt_project/macros/as_of.sql).
AS_OF_ENV = "CRM_AS_OF_DATE"
DEFAULT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
_EXAMPLE_ROWS = 5
# dbt keeps global state (flags, adapters, invocation context): one invocation at a time per process.
_dbt_lock = threading.Lock()


@dataclass
class RuleFailure:
    """One failing rule of a `checks` test (dbt_project/tests/generic/checks.sql): rows, example keys."""

    rule: str
    rows: int
    examples: list[str]


@dataclass
class NodeOutcome:
    """One dbt node's result: a model, seed, data test or unit test."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    seconds: float
    message: str | None = None
    failures: int | None = None
    examples: list[str] = field(default_factory=list)
    description: str | None = None
    model: str | None = None  # the model a data test checks
    key_label: str | None = None  # what `checks` tests name failing rows by, e.g. "order_id"
    rules: int = 1  # rules the node checks: a `checks` test checks several
    rule_failures: list[RuleFailure] = field(default_factory=list)

    def explain_lines(self) -> list[str]:
        """One human line per failure: a failing `checks` test gives one per failing rule."""
        if self.rule_failures:
            lines = []
            for failure in self.rule_failures:
                rows = f"{failure.rows} row{'s' if failure.rows != 1 else ''}"
                more = ", ..." if failure.rows > len(failure.examples) else ""
                keys = f"{self.key_label} " if self.key_label else ""
                lines.append(
                    f"{self.model}: {failure.rule} — failed for {rows}: {keys}{', '.join(failure.examples)}{more}"
                )
            return lines
        return [self.explain()]

    def explain(self) -> str:
        """A one-line, human explanation of a failure (what, where, how many, examples)."""
        what = self.description or f"{self.resource_type} {self.name}"
        if self.resource_type == "unit_test":
            detail = (self.message or "").strip().splitlines()
            return f"dbt unit test {self.name} failed: " + " ".join(line.strip() for line in detail[:6] if line.strip())
        if self.resource_type == "test" and self.failures:
            text = f"{what} — failed for {self.failures} row{'s' if self.failures != 1 else ''}"
            if self.examples:
                text += ", e.g. " + "; ".join(self.examples)
            return text
        message = " ".join((self.message or self.status).split())
        if self.description:
            return f"{self.description} — {self.status}: {message}"
        return f"dbt {self.resource_type} {self.name} {self.status}: {message}"


@dataclass
class DbtOutcome:
    success: bool
    seconds: float
    nodes: list[NodeOutcome] = field(default_factory=list)
    error: str | None = None

    @property
    def failed_nodes(self) -> list[NodeOutcome]:
        return [n for n in self.nodes if n.status in ("error", "fail", "runtime error")]

    @property
    def tests_passed(self) -> int:
        """Rules of passing data tests (a `checks` test counts each of its rules) and passing unit tests."""
        return sum(n.rules for n in self.nodes if n.resource_type in ("test", "unit_test") and n.status == "pass")

    @property
    def unit_tests_passed(self) -> int:
        return sum(1 for n in self.nodes if n.resource_type == "unit_test" and n.status == "pass")

    @property
    def tests_failed(self) -> int:
        return sum(1 for n in self.nodes if n.resource_type in ("test", "unit_test") and n.status in ("fail", "error"))

    def status_counts(self) -> dict[str, dict[str, int]]:
        """{resource type: {status: count}}, e.g. {"test": {"pass": 220, "warn": 2}}."""
        counts: dict[str, dict[str, int]] = {}
        for node in self.nodes:
            kind = counts.setdefault(node.resource_type, {})
            kind[node.status] = kind.get(node.status, 0) + 1
        return counts

    def slowest_models(self, n: int = 10) -> list[tuple[str, float]]:
        models = [(x.name, x.seconds) for x in self.nodes if x.resource_type == "model"]
        return sorted(models, key=lambda item: item[1], reverse=True)[:n]

    def problems(self) -> list[str]:
        lines = [self.error] if self.error else []
        lines += [line for n in self.failed_nodes for line in n.explain_lines()]
        if not lines and not self.success:
            lines.append("dbt build failed without a node failure (see the dbt log)")
        return lines


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _describe_test(node: Any) -> str | None:
    """`fct_order_lines: product_id must exist in dim_products (relationships)` for generic tests."""
    meta = getattr(node, "test_metadata", None)
    if meta is None:
        return f"dbt test {node.name}"
    kwargs = dict(meta.kwargs or {})
    model = _model_of(node)
    column = kwargs.pop("column_name", None) or getattr(node, "column_name", None)
    kwargs.pop("model", None)
    rule = meta.name
    if rule == "checks":
        return f"{model}: row checks (dbt test {node.name})"
    if rule == "relationships":
        target = str(kwargs.get("to", "")).replace("ref('", "").replace("')", "").replace('ref("', "").replace('")', "")
        return f"{model}: {column} must exist in {target}.{kwargs.get('field')} (dbt relationships test)"
    if rule == "unique":
        return f"{model}: {column} must be unique (dbt unique test)"
    if rule == "not_null":
        return f"{model}: {column} must not be null (dbt not_null test)"
    if rule == "accepted_values":
        return f"{model}: {column} must be one of {kwargs.get('values')} (dbt accepted_values test)"
    details = ", ".join(f"{k}={v}" for k, v in kwargs.items() if v not in (None, ""))
    on = f"{column} " if column else ""
    return f"{model}: {on}{rule}{f' ({details})' if details else ''} (dbt test {node.name})"


def _model_of(node: Any) -> str:
    return (getattr(node, "file_key_name", "") or "").split(".")[-1] or "?"


def _checks_key_label(kwargs: dict[str, Any]) -> str:
    """The columns a `checks` test names failing rows by (its `key` argument's default, see checks.sql)."""
    key = kwargs.get("key") or kwargs.get("primary_key")
    if key is None and kwargs.get("unique_combinations"):
        key = kwargs["unique_combinations"][0]
    if isinstance(key, list | tuple):
        return " / ".join(str(k) for k in key)
    return str(key) if key else ""


def _checks_rules(kwargs: dict[str, Any]) -> int:
    """How many rules a `checks` test checks (each argument entry is one, as checks.sql reads them)."""
    listed = ("not_null", "unique", "unique_combinations", "accepted_values", "ranges", "expressions", "references")
    return (1 if kwargs.get("primary_key") else 0) + sum(len(kwargs.get(name) or ()) for name in listed)


def _read_failing(build_file: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of ``sql`` on the build file (opened read-only); nothing when it cannot run —
    the examples only illustrate a failure dbt already reported."""
    import duckdb

    try:
        con = duckdb.connect(str(build_file), read_only=True)
    except duckdb.Error:
        return [], []
    try:
        cursor = con.execute(sql)
        return [d[0] for d in cursor.description], cursor.fetchall()
    except duckdb.Error:
        return [], []
    finally:
        con.close()


def _rule_failures(build_file: Path, compiled_sql: str | None) -> list[RuleFailure]:
    """Per failing rule of a `checks` test: its row count and up to five keys (with the offending value)."""
    if not compiled_sql:
        return []
    _, rows = _read_failing(
        build_file,
        f"select rule, count(*) over (partition by rule) as n, failing_key, failing_value "
        f"from ({compiled_sql}) as failing "
        f"qualify row_number() over (partition by rule order by failing_key) <= {_EXAMPLE_ROWS} "
        f"order by rule, failing_key",
    )
    failures: dict[str, RuleFailure] = {}
    for rule, count, key, value in rows:
        failure = failures.setdefault(rule, RuleFailure(rule, int(count), []))
        failure.examples.append(f"{_short(key)}" + (f" ({_short(value)})" if value is not None else ""))
    return list(failures.values())


def _examples(build_file: Path, compiled_sql: str | None) -> list[str]:
    """Up to five failing rows of a data test, by running its compiled SQL on the build file."""
    if not compiled_sql:
        return []
    names, rows = _read_failing(build_file, f"select * from ({compiled_sql}) as failing limit {_EXAMPLE_ROWS}")
    return [", ".join(f"{n}={_short(v)}" for n, v in zip(names, row, strict=True)) for row in rows]


def _short(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def project_fingerprint(project_dir: Path) -> str:
    """A hash of everything a dbt unit test's outcome depends on: the project's files and the versions of
    dbt-core, dbt-duckdb and DuckDB. Data is not part of it: unit tests run on their own fixture rows."""
    import hashlib
    from importlib.metadata import version

    digest = hashlib.sha256()
    for package in ("dbt-core", "dbt-duckdb", "duckdb"):
        digest.update(f"{package}={version(package)}\n".encode())
    skipped = {"target", "logs", "dbt_packages", "__pycache__"}
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if path.is_file() and not skipped.intersection(relative.parts):
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def preload() -> None:
    """Import dbt (seconds of work) ahead of time, e.g. in a thread while ingest runs, and what the python
    models import (warehouse.clv: scipy, pandas), which would otherwise be imported inside the dbt run."""
    import dbt.adapters.duckdb
    import dbt.cli.main  # noqa: F401

    import warehouse.clv  # noqa: F401


def _release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open after a run.

    dbt-duckdb holds its connection in a class attribute for the life of the process. Left open, the build
    file could not be reopened read-only by the gate ("different configuration"), and a later build in the
    same process could be handed the old database object by DuckDB's per-path instance cache.
    """
    import gc

    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if environment is not None:
        environment.close()
    gc.collect()  # cursors still referenced by dbt's result objects keep the database alive until collected


def run_dbt_build(
    build_file: Path,
    *,
    as_of: dt.date,
    horizon_days: int,
    work_dir: Path,
    project_dir: Path = DEFAULT_PROJECT_DIR,
    on_node: Callable[[str, str], None] | None = None,
    threads: int | None = None,
    skip_unit_tests: bool = False,
) -> DbtOutcome:
    """`dbt build` (models, seeds, data tests, unit tests) into ``build_file``; never raises for dbt failures."""
    from dbt.cli.main import dbtRunner

    if not (project_dir / "dbt_project.yml").exists():
        return DbtOutcome(False, 0.0, error=f"no dbt project at {project_dir}")
    callbacks: list[Callable[[Any], None]] = []
    if on_node is not None:

        def relay(event: Any) -> None:
            name = event.info.name
            if name == "NodeFinished":
                node = event.data.node_info
                on_node(node.unique_id, node.node_status)

        callbacks.append(relay)
    args = [
        "build",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target",
        "build",
        "--vars",
        json.dumps({"horizon_days": horizon_days}),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        "--log-level",
        "none",
        "--log-level-file",
        "info",
        "--no-use-colors",
        "--no-send-anonymous-usage-stats",
        "--no-version-check",
        # the pipeline reads the results from dbtRunner's result object: no manifest.json / run_results.json
        "--no-write-json",
    ]
    if threads:
        args += ["--threads", str(threads)]
    if skip_unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    began = time.perf_counter()
    with _dbt_lock, _env({DBT_PATH_ENV: str(build_file), AS_OF_ENV: as_of.isoformat()}):
        try:
            result = dbtRunner(callbacks=callbacks).invoke(args)  # type: ignore[arg-type]
        finally:
            _release_duckdb()
    outcome = DbtOutcome(success=bool(result.success), seconds=time.perf_counter() - began)
    if result.exception is not None:
        outcome.error = "dbt could not run: " + " ".join(str(result.exception).split())
    run = result.result
    for item in getattr(run, "results", None) or []:
        node = item.node
        status = str(getattr(item.status, "value", item.status))
        resource = str(getattr(node.resource_type, "value", node.resource_type))
        outcome_node = NodeOutcome(
            unique_id=node.unique_id,
            name=node.name,
            resource_type=resource,
            status=status,
            seconds=float(item.execution_time or 0.0),
            message=item.message,
            failures=item.failures,
        )
        if resource == "test":
            outcome_node.description = _describe_test(node)
            outcome_node.model = _model_of(node)
            meta = getattr(node, "test_metadata", None)
            checks_kwargs = dict(meta.kwargs or {}) if meta is not None and meta.name == "checks" else None
            is_checks = checks_kwargs is not None
            if checks_kwargs is not None:
                outcome_node.key_label = _checks_key_label(checks_kwargs)
                outcome_node.rules = _checks_rules(checks_kwargs)
            if status in ("fail", "warn", "error"):
                compiled = getattr(node, "compiled_code", None)
                if is_checks:
                    outcome_node.rule_failures = _rule_failures(build_file, compiled)
                if not outcome_node.rule_failures:
                    outcome_node.examples = _examples(build_file, compiled)
        outcome.nodes.append(outcome_node)
    if outcome.failed_nodes or outcome.error:
        outcome.success = False
    return outcome
