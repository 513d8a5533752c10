"""Dashboards stage: every query the dashboards run, on the published warehouse's marts, cached per version.

Pages never write SQL: they call the functions here with the viewer's :class:`~dashboards.auth.Scope` and the
sidebar's :class:`Filters`. Results are cached with ``st.cache_data`` keyed on the published warehouse version
(``warehouse.readers.published_version()``), so a ``crm refresh`` shows new numbers on the next rerun
without a restart; the read-only connection lives in ``st.cache_resource``.

Business rules live in the dbt marts; here we only filter, aggregate for display and page. Where a figure
is missing from the marts it is computed in SQL on marts and marked ``MART GAP`` (reported to the dbt side).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from crm_app.errors import CrmError
from dashboards.auth import Scope


class WarehouseError(CrmError):
    """The warehouse could not answer (a mart or column missing, a failed query)."""


class NoWarehouseError(WarehouseError):
    """No warehouse has been published yet."""


# ------------------------------------------------------------------------------------------ connection


@st.cache_resource(show_spinner=False)
def _reader() -> Any:
    """The process-wide read-only reader of the published warehouse (it follows atomic swaps itself)."""
    from warehouse import readers

    return readers


_local = threading.local()


def version() -> str:
    """The published warehouse's version (the cache key); NoWarehouseError when nothing is published."""
    current = _reader().published_version()
    if current is None:
        raise NoWarehouseError("no warehouse has been published yet")
    return str(current)


def _run(sql: str, params: Sequence[Any]) -> pd.DataFrame:
    readers = _reader()
    try:
        with readers.read_connection() as connection:
            return connection.execute(sql, list(params)).df()
    except FileNotFoundError:
        raise NoWarehouseError("no warehouse has been published yet") from None
    except Exception as exc:  # duckdb raises its own hierarchy; the page shows the message
        if type(exc).__module__.startswith("duckdb"):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WarehouseError(first) from None
        raise


@st.cache_data(show_spinner=False, max_entries=2048)
def _cached(warehouse_version: str, sql: str, params: tuple[Any, ...]) -> pd.DataFrame:
    return _run(sql, params)


def query(sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Run ``sql`` on the published warehouse, cached per (version, sql, params)."""
    return _cached(version(), sql, tuple(params))


def scalar_row(sql: str, params: Sequence[Any] = ()) -> dict[str, Any]:
    frame = query(sql, params)
    return {} if frame.empty else frame.iloc[0].to_dict()


# --------------------------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices; every page passes them to every query."""

    start: dt.date
    end: dt.date
    department_ids: tuple[int, ...] = ()  # chosen departments with their sub-departments, expanded
    regions: tuple[str, ...] = ()
    category_ids: tuple[int, ...] = ()  # top-level product categories

    @property
    def prior(self) -> tuple[dt.date, dt.date]:
        """The period of equal length just before this one (for prior-period comparison)."""
        length = (self.end - self.start).days + 1
        return self.start - dt.timedelta(days=length), self.start - dt.timedelta(days=1)


@dataclass(frozen=True)
class Rel:
    """How one mart exposes what the scope and the filters act on (None: the mart has no such column)."""

    date: str | None = None
    department: str | None = "department_id"
    owner: str | None = "owner_id"
    region: str | None = "region"
    category: str | None = None
    account: str | None = None  # customer key: category filters customers by what they bought


@dataclass
class Clause:
    """A WHERE clause under construction: SQL fragments and their parameters."""

    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, sql: str, *params: Any) -> Clause:
        self.parts.append(sql)
        self.params.extend(params)
        return self

    def add_in(self, column: str, values: Sequence[Any]) -> Clause:
        marks = ", ".join("?" for _ in values)
        return self.add(f"{column} in ({marks})", *values)

    @property
    def sql(self) -> str:
        return " and ".join(self.parts) if self.parts else "true"


def where(
    scope: Scope,
    filters: Filters | None,
    rel: Rel,
    *,
    alias: str = "",
    dates: tuple[dt.date, dt.date] | None = None,
    use_dates: bool = True,
) -> Clause:
    """The scope's rows, then the sidebar's filters, for a mart described by ``rel``."""
    p = f"{alias}." if alias else ""
    clause = Clause()
    if not scope.all_rows:
        if scope.owner_id is not None:
            if rel.owner is None:
                clause.add("false")
            else:
                clause.add(f"{p}{rel.owner} = ?", scope.owner_id)
        elif rel.department is None:
            clause.add("false")
        else:
            clause.add_in(f"{p}{rel.department}", scope.department_ids)
    if filters is None:
        return clause
    if use_dates and rel.date:
        start, end = dates or (filters.start, filters.end)
        clause.add(f"{p}{rel.date} between ? and ?", start, end)
    if filters.department_ids and rel.department:
        clause.add_in(f"{p}{rel.department}", filters.department_ids)
    if filters.regions and rel.region:
        clause.add_in(f"{p}{rel.region}", filters.regions)
    if filters.category_ids:
        if rel.category:
            clause.add_in(f"{p}{rel.category}", filters.category_ids)
        elif rel.account:
            marks = ", ".join("?" for _ in filters.category_ids)
            clause.add(
                f"{p}{rel.account} in (select account_id from fct_order_lines where root_category_id in ({marks}))",
                *filters.category_ids,
            )
    return clause


def not_applied(filters: Filters, rel: Rel, *, use_dates: bool = True) -> list[str]:
    """The sidebar filters a mart cannot honour (pages say so under the figure)."""
    missing = []
    if use_dates and rel.date is None:
        missing.append("date range")
    if filters.department_ids and rel.department is None:
        missing.append("department")
    if filters.regions and rel.region is None:
        missing.append("region")
    if filters.category_ids and rel.category is None and rel.account is None:
        missing.append("product category")
    return missing


# ------------------------------------------------------------------------------------- sidebar choices


def as_of_date() -> dt.date:
    """The as-of date of the published build (every mart is "as of" it)."""
    row = scalar_row("select as_of_date from refresh_log where status = 'published' order by finished_at desc limit 1")
    value = row.get("as_of_date")
    if value is None or pd.isna(value):
        return dt.date.today()
    return pd.Timestamp(value).date()


def departments(scope: Scope) -> pd.DataFrame:
    """Departments the viewer may filter on (a manager: their tree), in tree order."""
    clause = Clause()
    if not scope.all_rows:
        if scope.owner_id is not None:
            clause.add("false")
        else:
            clause.add_in("department_id", scope.department_ids)
    return query(
        "select department_id, department_name, parent_department_id, depth, department_path "
        f"from dim_departments where not coalesce(is_deleted, false) and {clause.sql} order by department_path",
        clause.params,
    )


def subtree(department_ids: Sequence[int]) -> tuple[int, ...]:
    """The chosen departments with every sub-department (the warehouse's department paths)."""
    if not department_ids:
        return ()
    likes = " or ".join("department_path like ?" for _ in department_ids)
    frame = query(
        f"select department_id from dim_departments where {likes} order by 1",
        [f"%/{int(d)}/%" for d in department_ids],
    )
    return tuple(int(d) for d in frame["department_id"])


def regions() -> list[str]:
    frame = query("select distinct region from dim_customers where region is not null order by 1")
    return [str(r) for r in frame["region"]]


def categories() -> pd.DataFrame:
    return query(
        "select distinct root_category_id as category_id, root_category_name as category_name "
        "from dim_products where root_category_id is not null order by 2"
    )
