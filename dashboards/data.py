"""Dashboards stage: every query the dashboards run, on the published warehouse's marts, cached per version.

Pages never write SQL: they call the functions here with the viewer's :class:`~dashboards.auth.Scope` and the
sidebar's :class:`Filters`. Results are cached with ``st.cache_data`` keyed on the published warehouse version
(``warehouse.readers.published_version()``), so a ``crm refresh`` shows new numbers on the next rerun
without a restart; the read-only connection lives in ``st.cache_resource``.

Business rules live in the dbt marts; here we only filter, sum rows, re-divide rates from the counts the marts
carry beside them, order and page. Every mart a role is scoped by carries the scoping columns (``department_id``,
``owner_id``) on its rows, so no figure is hidden for lack of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from crm_app.errors import CrmError
from crm_app.settings import get_settings
from dashboards.auth import Scope


class WarehouseError(CrmError):
    """The warehouse could not answer (a mart or column missing, a failed query)."""


class NoWarehouseError(WarehouseError):
    """No warehouse has been published yet."""


# ------------------------------------------------------------------------------------------ connection


@st.cache_resource(show_spinner=False)
def _reader(data_dir: str) -> Any:
    """The process-wide read-only reader of the published warehouse (it follows atomic swaps itself)."""
    from warehouse.readers import reader

    return reader(get_settings())


def _current_reader() -> Any:
    # keyed on the data directory so tests (and a changed CRM_DATA_DIR) never read another warehouse
    return _reader(str(get_settings().resolved_data_dir))


def version() -> str:
    """The published warehouse's version (the cache key); NoWarehouseError when nothing is published."""
    current = _current_reader().version()
    if current == "none":
        raise NoWarehouseError("no warehouse has been published yet")
    return f"{get_settings().resolved_data_dir}:{current}"


def version_or_none() -> str | None:
    """The published version, or None before the first publish (for callers that must not raise)."""
    try:
        return version()
    except NoWarehouseError:
        return None


def _run(sql: str, params: Sequence[Any]) -> pd.DataFrame:
    import duckdb

    from warehouse.readers import WarehouseNotPublishedError

    try:
        cursor = _current_reader().connect()
    except WarehouseNotPublishedError:
        raise NoWarehouseError("no warehouse has been published yet") from None
    try:
        return cursor.execute(sql, list(params)).df()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WarehouseError(first) from None
    finally:
        cursor.close()


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
            bought = f"select account_id from marts.fct_order_lines where root_category_id in ({marks})"
            clause.add(f"{p}{rel.account} in ({bought})", *filters.category_ids)
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
    row = scalar_row("select as_of_date from main.refresh_log order by finished_at desc limit 1")
    value = row.get("as_of_date")
    if value is None or pd.isna(value):
        return dt.date.today()
    return pd.Timestamp(value).date()


DEFAULT_MONTHS = 12


def default_start(as_of: dt.date) -> dt.date:
    """The first day of the month eleven months before the as-of month: a year of whole months."""
    year, month = as_of.year, as_of.month - (DEFAULT_MONTHS - 1)
    while month <= 0:
        month += 12
        year -= 1
    return dt.date(year, month, 1)


def default_filters() -> Filters:
    """The sidebar's filters before anyone touches them."""
    as_of = as_of_date()
    return Filters(start=default_start(as_of), end=as_of)


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
        f"from marts.dim_departments where not coalesce(is_deleted, false) and {clause.sql} order by department_path",
        clause.params,
    )


def subtree(department_ids: Sequence[int]) -> tuple[int, ...]:
    """The chosen departments with every sub-department (the warehouse's department paths)."""
    if not department_ids:
        return ()
    likes = " or ".join("department_path like ?" for _ in department_ids)
    frame = query(
        f"select department_id from marts.dim_departments where {likes} order by 1",
        [f"%/{int(d)}/%" for d in department_ids],
    )
    return tuple(int(d) for d in frame["department_id"])


def regions() -> list[str]:
    frame = query("select distinct region from marts.dim_customers where region is not null order by 1")
    return [str(r) for r in frame["region"]]


def categories() -> pd.DataFrame:
    return query(
        "select distinct root_category_id as category_id, root_category_name as category_name "
        "from marts.dim_products where root_category_id is not null order by 2"
    )


# ------------------------------------------------------------------------------------- how marts filter

# fct_order_lines carries every dimension the sidebar filters on.
LINES = Rel(date="order_date", category="root_category_id", account="account_id")
# Customer-grain marts: a snapshot as of the as-of date (no date range); category = customers who bought it.
CUSTOMERS = Rel(account="account_id")
# Opportunities have no product: the category filter cannot apply.
DEALS = Rel()
# Department x region x owner marts without a product (funnel, forecast, period comparison): no category filter.
SEGMENTS = Rel()


def as_of_month() -> dt.date:
    return as_of_date().replace(day=1)


# ------------------------------------------------------------------------------------ executive overview


def sales_summary(scope: Scope, filters: Filters, dates: tuple[dt.date, dt.date] | None = None) -> dict[str, float]:
    """Net revenue, gross margin, active customers and sale orders in a date range (default: the sidebar's)."""
    c = where(scope, filters, LINES, dates=dates)
    row = scalar_row(
        f"""
        select
            cast(coalesce(sum(net_revenue), 0) as double) as net_revenue,
            cast(coalesce(sum(gross_margin), 0) as double) as gross_margin,
            count(distinct case when order_kind = 'sale' and is_revenue then account_id end) as active_customers,
            count(distinct case when order_kind = 'sale' and is_revenue then order_id end) as sale_orders
        from marts.fct_order_lines
        where {c.sql}
        """,
        c.params,
    )
    return {k: float(v or 0) for k, v in row.items()}


def monthly_sales(scope: Scope, filters: Filters) -> pd.DataFrame:
    c = where(scope, filters, LINES)
    return query(
        f"""
        select
            order_month as month,
            cast(sum(net_revenue) as double) as net_revenue,
            cast(sum(gross_margin) as double) as gross_margin
        from marts.fct_order_lines
        where {c.sql}
        group by 1
        order by 1
        """,
        c.params,
    )


def pipeline_summary(scope: Scope, filters: Filters) -> dict[str, float]:
    """Open deals as of the as-of date: count, amount, amount weighted by stage probability."""
    c = where(scope, filters, DEALS)
    row = scalar_row(
        f"""
        select
            count(*) as open_count,
            cast(coalesce(sum(amount), 0) as double) as open_amount,
            cast(coalesce(sum(weighted_amount), 0) as double) as weighted_amount
        from marts.fct_opportunities
        where opportunity_status = 'open' and {c.sql}
        """,
        c.params,
    )
    return {k: float(v or 0) for k, v in row.items()}


def _headline_plans(scope: Scope, filters: Filters) -> Clause:
    """The plans the overview reads: department plans (employee plans for field staff), in the viewer's scope."""
    if scope.owner_id is not None:
        c = where(scope, None, Rel(owner="user_id")).add("plan_level = 'employee'")
    else:
        c = where(scope, None, Rel(department="scope_department_id", owner=None)).add("plan_level = 'department'")
    if filters.department_ids:
        c.add_in("scope_department_id", filters.department_ids)
    return c


def plan_by_month(scope: Scope, filters: Filters) -> pd.DataFrame:
    """Revenue target and actual per month of the sidebar's range (months that have begun)."""
    c = _headline_plans(scope, filters)
    c.add("not is_future_month")
    c.add("period_month between ? and ?", filters.start.replace(day=1), filters.end)
    return query(
        f"""
        select
            period_month as month,
            cast(sum(target_revenue) as double) as target_revenue,
            cast(sum(actual_revenue) as double) as actual_revenue,
            bool_or(is_partial_month) as is_partial_month
        from marts.plan_vs_actual
        where {c.sql}
        group by 1
        order by 1
        """,
        c.params,
    )


def plan_targets_ahead(scope: Scope, filters: Filters) -> pd.DataFrame:
    """Revenue targets from the as-of month on (coming months' plans carry targets only), to set the forecast
    against."""
    c = _headline_plans(scope, filters)
    c.add("period_month >= ?", as_of_month())
    return query(
        f"""
        select period_month as month, cast(sum(target_revenue) as double) as target_revenue
        from marts.plan_vs_actual
        where {c.sql}
        group by 1
        order by 1
        """,
        c.params,
    )


def forecast_by_month(scope: Scope, filters: Filters) -> pd.DataFrame:
    """The forecast from the as-of month on: weighted pipeline + planned (and overdue) collections."""
    c = where(scope, filters, SEGMENTS)
    return query(
        f"""
        select
            forecast_month as month,
            cast(sum(weighted_pipeline_amount) as double) as weighted_pipeline,
            cast(sum(planned_collections) as double) as planned_collections,
            cast(sum(overdue_collections) as double) as overdue_collections,
            cast(sum(forecast_amount) as double) as forecast_amount,
            cast(sum(open_amount) as double) as open_amount,
            sum(open_opportunity_count) as open_deals,
            sum(slipped_opportunity_count) as slipped_deals
        from marts.sales_forecast
        where {c.sql}
        group by 1
        order by 1
        """,
        c.params,
    )


PERIOD_LABELS = {
    "month_to_date": "Month to date",
    "quarter_to_date": "Quarter to date",
    "year_to_date": "Year to date",
    "last_30_days": "Last 30 days",
    "last_90_days": "Last 90 days",
    "last_365_days": "Last 365 days",
}


def period_comparison(scope: Scope, filters: Filters) -> pd.DataFrame:
    """Fixed periods ending on the as-of date against the period before (the period_comparison mart)."""
    c = where(scope, filters, SEGMENTS)
    return query(
        f"""
        select
            period,
            min(period_sort) as period_sort,
            min(current_start) as current_start,
            min(current_end) as current_end,
            cast(sum(net_revenue) as double) as net_revenue,
            cast(sum(prior_net_revenue) as double) as prior_net_revenue,
            cast(sum(gross_margin) as double) as gross_margin,
            cast(sum(prior_gross_margin) as double) as prior_gross_margin,
            sum(won_deals) as won_deals,
            sum(prior_won_deals) as prior_won_deals,
            sum(new_customers) as new_customers,
            sum(prior_new_customers) as prior_new_customers,
            sum(complaints_opened) as complaints_opened,
            sum(prior_complaints_opened) as prior_complaints_opened
        from marts.period_comparison
        where {c.sql}
        group by 1
        order by 2
        """,
        c.params,
    )


def care_summary(scope: Scope, filters: Filters) -> pd.DataFrame:
    c = where(scope, filters, CUSTOMERS)
    return query(
        f"""
        select reason_kind, count(*) as customers, cast(sum(value_score) as double) as value_score
        from marts.care_list
        where {c.sql}
        group by 1
        """,
        c.params,
    )


def top_risks(scope: Scope, filters: Filters, limit: int = 10) -> pd.DataFrame:
    """The most valuable customers with a problem or a changing value (care list), most valuable first."""
    c = where(scope, filters, CUSTOMERS)
    return query(
        f"""
        select account_name, external_ref, reason_kind, reason, owner_name, value_tier, value_score
        from marts.care_list
        where reason_kind in ('problem', 'value_changing') and {c.sql}
        order by value_score desc nulls last, account_id
        limit {int(limit)}
        """,
        c.params,
    )


# ----------------------------------------------------------------------------------- customer value & 7P

TIER_ORDER = ("top", "high", "medium", "low", "none")


def value_summary(scope: Scope, filters: Filters) -> dict[str, float]:
    c = where(scope, filters, CUSTOMERS)
    row = scalar_row(
        f"""
        select
            count(*) as customers,
            count(first_occasion_date) as buyers,
            cast(coalesce(sum(lifetime_net_revenue), 0) as double) as lifetime_net_revenue,
            cast(coalesce(sum(t12m_net_revenue), 0) as double) as t12m_net_revenue,
            cast(coalesce(sum(t12m_gross_margin), 0) as double) as t12m_gross_margin,
            cast(coalesce(sum(predicted_clv), 0) as double) as predicted_clv,
            cast(coalesce(sum(potential_value), 0) as double) as potential_value,
            cast(avg(p_alive) as double) as avg_p_alive
        from marts.customer_value
        where {c.sql}
        """,
        c.params,
    )
    return {k: float(v) if v is not None and not pd.isna(v) else 0.0 for k, v in row.items()}


def value_tiers(scope: Scope, filters: Filters) -> pd.DataFrame:
    c = where(scope, filters, CUSTOMERS)
    frame = query(
        f"""
        select
            value_tier,
            count(*) as customers,
            cast(sum(t12m_net_revenue) as double) as t12m_net_revenue,
            cast(sum(t12m_gross_margin) as double) as t12m_gross_margin,
            cast(sum(predicted_clv) as double) as predicted_clv,
            cast(sum(potential_value) as double) as potential_value,
            cast(avg(p_alive) as double) as avg_p_alive
        from marts.customer_value
        where {c.sql}
        group by 1
        """,
        c.params,
    )
    order = {tier: i for i, tier in enumerate(TIER_ORDER)}
    return frame.sort_values("value_tier", key=lambda s: s.map(lambda t: order.get(t, 99))).reset_index(drop=True)


def value_scatter(scope: Scope, filters: Filters, limit: int = 2000) -> pd.DataFrame:
    """Realised (12-month margin) against model value (predicted CLV) for a fixed sample of buyers."""
    c = where(scope, filters, CUSTOMERS)
    return query(
        f"""
        select account_name, value_tier,
            cast(t12m_gross_margin as double) as t12m_gross_margin,
            cast(predicted_clv as double) as predicted_clv,
            cast(p_alive as double) as p_alive
        from marts.customer_value
        where first_occasion_date is not null and {c.sql}
        order by hash(account_id)
        limit {int(limit)}
        """,
        c.params,
    )


def rfm_grid(scope: Scope, filters: Filters) -> pd.DataFrame:
    c = where(scope, filters, CUSTOMERS)
    return query(
        f"""
        select r_score, f_score, any_value(segment) as segment, count(*) as customers,
            cast(sum(monetary) as double) as monetary
        from marts.customer_rfm
        where {c.sql}
        group by 1, 2
        order by 1, 2
        """,
        c.params,
    )


def rfm_segments(scope: Scope, filters: Filters) -> pd.DataFrame:
    c = where(scope, filters, CUSTOMERS)
    return query(
        f"""
        select segment, count(*) as customers,
            cast(avg(recency_days) as double) as avg_recency_days,
            cast(avg(frequency) as double) as avg_purchase_occasions,
            cast(sum(monetary) as double) as lifetime_net_revenue
        from marts.customer_rfm
        where {c.sql}
        group by 1
        order by lifetime_net_revenue desc
        """,
        c.params,
    )


def cohort_retention(scope: Scope, filters: Filters) -> pd.DataFrame:
    """Retention by first-purchase cohort and months since (summed sizes re-divided, as the mart says)."""
    c = where(scope, filters, Rel(date="cohort_month"), dates=(filters.start.replace(day=1), filters.end))
    return query(
        f"""
        select cohort_month, months_since_first_purchase,
            sum(cohort_size) as cohort_size, sum(active_customers) as active_customers,
            cast(sum(active_customers) as double) / nullif(sum(cohort_size), 0) as retention_rate
        from marts.cohort_retention
        where {c.sql}
        group by 1, 2
        order by 1, 2
        """,
        c.params,
    )


def find_customers(scope: Scope, filters: Filters, text: str, limit: int = 25) -> pd.DataFrame:
    """Customers whose name or legacy id contains ``text`` (most valuable first)."""
    c = where(scope, filters, CUSTOMERS, alias="c")
    needle = text.strip().lower()
    if needle:
        c.add(
            "(contains(lower(c.account_name), ?) or contains(lower(coalesce(c.external_ref, '')), ?))", needle, needle
        )
    return query(
        f"""
        select c.account_id, c.account_name, c.external_ref, v.value_tier
        from marts.customer_7p c
        left join marts.customer_value v on v.account_id = c.account_id
        where {c.sql}
        order by v.value_score desc nulls last, c.account_id
        limit {int(limit)}
        """,
        c.params,
    )


def customer_profile(scope: Scope, account_id: int) -> dict[str, Any]:
    """One customer's 7P row (empty when the viewer may not see the customer)."""
    c = where(scope, None, CUSTOMERS).add("account_id = ?", int(account_id))
    return scalar_row(f"select * from marts.customer_7p where {c.sql}", c.params)


# -------------------------------------------------------------------------------------- segment explorer


def _kind(duckdb_type: str) -> str:
    t = duckdb_type.upper()
    if t.startswith(("DECIMAL", "DOUBLE", "FLOAT", "INTEGER", "BIGINT", "HUGEINT", "SMALLINT", "TINYINT", "UBIGINT")):
        return "number"
    if t.startswith(("DATE", "TIMESTAMP")):
        return "date"
    if t == "BOOLEAN":
        return "bool"
    return "text"


SEGMENT_KEYS = ("account_id",)
SEGMENT_HIDDEN = ("owner_id", "department_id", "department_path")


def _mart_columns(mart: str) -> list[tuple[str, str]]:
    frame = query(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = 'wh' and table_schema = 'marts' and table_name = ? order by ordinal_position",
        [mart],
    )
    return [(str(r.column_name), str(r.data_type)) for r in frame.itertuples()]


def segment_base() -> tuple[str, dict[str, str]]:
    """The segment explorer's relation — customer_7p plus what customer_value and customer_rfm add — and its
    columns with their kind. Built from the marts' own column lists, so renamed columns follow automatically."""
    seen: dict[str, str] = {}
    selects: list[str] = []
    for alias, mart in (("p", "customer_7p"), ("v", "customer_value"), ("r", "customer_rfm")):
        columns = _mart_columns(mart)
        if not columns:
            raise WarehouseError(f"the warehouse has no mart {mart}")
        for name, dtype in columns:
            if name in seen:
                continue
            seen[name] = _kind(dtype)
            selects.append(f"{alias}.{name}")
    relation = (
        f"(select {', '.join(selects)} from marts.customer_7p p "
        "left join marts.customer_value v on v.account_id = p.account_id "
        "left join marts.customer_rfm r on r.account_id = p.account_id)"
    )
    return relation, seen


def segment_choices(column: str, limit: int = 200) -> list[Any]:
    relation, columns = segment_base()
    if column not in columns:
        raise WarehouseError(f"no column {column} in the customer marts")
    frame = query(
        f'select "{column}" as v, count(*) as n from {relation} where "{column}" is not null '
        f"group by 1 order by n desc, 1 limit {int(limit)}"
    )
    return list(frame["v"])


def segment_range(column: str) -> tuple[Any, Any]:
    relation, columns = segment_base()
    if column not in columns:
        raise WarehouseError(f"no column {column} in the customer marts")
    row = scalar_row(f'select min("{column}") as lo, max("{column}") as hi from {relation}')
    return row.get("lo"), row.get("hi")


def _segment_where(scope: Scope, filters: Filters, definition: Any) -> tuple[str, Clause]:
    from crm_app.services.segments import compile_filters

    relation, columns = segment_base()
    condition, params = compile_filters(definition, columns)
    c = where(scope, filters, CUSTOMERS, alias="s")
    c.add(condition, *params)
    return relation, c


def segment_count(scope: Scope, filters: Filters, definition: Any) -> dict[str, float]:
    relation, c = _segment_where(scope, filters, definition)
    row = scalar_row(
        f"""
        select count(*) as customers,
            cast(coalesce(sum(s.t12m_net_revenue), 0) as double) as t12m_net_revenue,
            cast(coalesce(sum(s.predicted_clv), 0) as double) as predicted_clv,
            cast(avg(s.p_alive) as double) as avg_p_alive
        from {relation} s
        where {c.sql}
        """,
        c.params,
    )
    return {k: float(v) if v is not None and not pd.isna(v) else 0.0 for k, v in row.items()}


def segment_members(
    scope: Scope, filters: Filters, definition: Any, columns: Sequence[str], *, limit: int | None = 200
) -> pd.DataFrame:
    relation, c = _segment_where(scope, filters, definition)
    _, known = segment_base()
    picked = [col for col in ("account_id", *columns) if col in known]
    picked = list(dict.fromkeys(picked))
    select_list = ", ".join(f's."{col}"' for col in picked)
    tail = f" limit {int(limit)}" if limit else ""
    return query(
        f"select {select_list} from {relation} s where {c.sql} "
        f"order by s.value_score desc nulls last, s.account_id{tail}",
        c.params,
    )


def segment_member_ids(scope: Scope, filters: Filters, definition: Any) -> list[int]:
    relation, c = _segment_where(scope, filters, definition)
    frame = query(f"select s.account_id from {relation} s where {c.sql} order by 1", c.params)
    return [int(a) for a in frame["account_id"]]


def segment_tiers(scope: Scope, filters: Filters, definition: Any) -> pd.DataFrame:
    relation, c = _segment_where(scope, filters, definition)
    return query(
        f"select s.value_tier, count(*) as customers from {relation} s where {c.sql} group by 1 order by 2 desc",
        c.params,
    )


# ---------------------------------------------------------------------------------------------- care list


def care_rows(
    scope: Scope, filters: Filters, kinds: Sequence[str], *, limit: int | None = None, offset: int = 0
) -> pd.DataFrame:
    c = where(scope, filters, CUSTOMERS)
    if kinds:
        c.add_in("reason_kind", list(kinds))
    tail = f" limit {int(limit)} offset {int(offset)}" if limit else ""
    return query(
        f"""
        select as_of_date, account_id, account_name, external_ref, reason_kind, action, reason, owner_id, owner_name,
            region, value_tier, cast(value_score as double) as value_score, cast(p_alive as double) as p_alive,
            priority_rank, dedupe_key
        from marts.care_list
        where {c.sql}
        order by case reason_kind when 'problem' then 1 when 'value_changing' then 2 else 3 end, priority_rank
        {tail}
        """,
        c.params,
    )


def care_keys(scope: Scope, filters: Filters, kinds: Sequence[str]) -> list[str]:
    """The dedupe keys of every care row in scope (to tell how many rows still lack a task)."""
    c = where(scope, filters, CUSTOMERS)
    if kinds:
        c.add_in("reason_kind", list(kinds))
    return [str(k) for k in query(f"select dedupe_key from marts.care_list where {c.sql}", c.params)["dedupe_key"]]


def care_counts(scope: Scope, filters: Filters) -> dict[str, int]:
    frame = care_summary(scope, filters)
    return {str(r.reason_kind): int(r.customers) for r in frame.itertuples()}


# ------------------------------------------------------------------------------------------ funnel & more


def funnel(scope: Scope, filters: Filters) -> pd.DataFrame:
    c = where(scope, filters, SEGMENTS)
    return query(
        f"""
        select stage_name, min(stage_position) as stage_position, bool_or(is_closed) as is_closed,
            bool_or(is_won) as is_won,
            sum(current_count) as current_count, cast(sum(current_amount) as double) as current_amount,
            sum(open_count) as open_count, cast(sum(open_amount) as double) as open_amount,
            cast(sum(weighted_amount) as double) as weighted_amount,
            sum(reached_count) as reached_count, cast(sum(reached_amount) as double) as reached_amount
        from marts.sales_funnel
        where {c.sql}
        group by 1
        order by 2
        """,
        c.params,
    )


def stage_conversion(scope: Scope, filters: Filters) -> pd.DataFrame:
    c = where(scope, filters, SEGMENTS)
    return query(
        f"""
        select stage_name, min(stage_position) as stage_position, any_value(next_stage_name) as next_stage_name,
            sum(entered_count) as entered, sum(advanced_count) as advanced, sum(lost_count) as lost,
            sum(still_open_count) as still_open,
            cast(sum(advanced_count) as double) / nullif(sum(entered_count), 0) as conversion_rate,
            cast(sum(advanced_count) as double) / nullif(sum(entered_count) - sum(still_open_count), 0)
                as decided_conversion_rate
        from marts.funnel_conversion
        where {c.sql}
        group by 1
        order by 2
        """,
        c.params,
    )


def stage_times(scope: Scope, filters: Filters) -> pd.DataFrame:
    c = where(scope, filters, SEGMENTS)
    return query(
        f"""
        select stage_name, min(stage_position) as stage_position,
            sum(completed_stay_count) as completed_stays,
            sum(completed_stay_days) / nullif(sum(completed_stay_count), 0) as avg_days_in_stage,
            sum(current_stay_count) as deals_in_stage_now,
            sum(current_stay_days) / nullif(sum(current_stay_count), 0) as avg_days_so_far
        from marts.stage_durations
        where {c.sql}
        group by 1
        order by 2
        """,
        c.params,
    )


LOST_REASON_COLUMNS = (
    ("price", "lost_price_count"),
    ("competitor", "lost_competitor_count"),
    ("product fit", "lost_product_fit_count"),
    ("timing", "lost_timing_count"),
    ("no budget", "lost_no_budget_count"),
    ("no decision", "lost_no_decision_count"),
    ("relationship", "lost_relationship_count"),
    ("other", "lost_other_count"),
    ("not given", "lost_reason_unknown_count"),
)


def _month_range(filters: Filters) -> tuple[dt.date, dt.date]:
    return filters.start.replace(day=1), filters.end


def win_loss_by_month(scope: Scope, filters: Filters) -> pd.DataFrame:
    c = where(scope, filters, Rel(date="closed_month"), dates=_month_range(filters))
    return query(
        f"""
        select closed_month as month, sum(won_count) as won, sum(lost_count) as lost,
            cast(sum(won_amount) as double) as won_amount, cast(sum(lost_amount) as double) as lost_amount,
            cast(sum(won_count) as double) / nullif(sum(won_count) + sum(lost_count), 0) as win_rate
        from marts.win_loss
        where {c.sql}
        group by 1
        order by 1
        """,
        c.params,
    )


def win_loss_summary(scope: Scope, filters: Filters) -> dict[str, float]:
    c = where(scope, filters, Rel(date="closed_month"), dates=_month_range(filters))
    reasons = ", ".join(f"sum({col}) as {col}" for _, col in LOST_REASON_COLUMNS)
    row = scalar_row(
        f"""
        select sum(won_count) as won, sum(lost_count) as lost,
            cast(sum(won_amount) as double) as won_amount, cast(sum(lost_amount) as double) as lost_amount,
            cast(sum(won_count) as double) / nullif(sum(won_count) + sum(lost_count), 0) as win_rate,
            cast(sum(won_amount) as double) / nullif(sum(won_amount) + sum(lost_amount), 0) as win_rate_amount,
            cast(sum(won_cycle_days_sum) as double) / nullif(sum(won_count), 0) as avg_sales_cycle_days,
            sum(lost_with_competitor_count) as lost_with_competitor,
            {reasons}
        from marts.win_loss
        where {c.sql}
        """,
        c.params,
    )
    return {k: float(v) if v is not None and not pd.isna(v) else float("nan") for k, v in row.items()}


# --------------------------------------------------------------------------------------- plan vs actual

PLAN_LEVELS = ("department", "employee", "category")


def plan_rows(scope: Scope, filters: Filters, level: str, within: Sequence[int] = ()) -> pd.DataFrame:
    """Targets against actuals per department, employee or category over the sidebar's months."""
    if level not in PLAN_LEVELS:
        raise WarehouseError(f"unknown plan level {level!r}")
    rel = Rel(department="scope_department_id", owner="user_id", region=None)
    c = where(scope, filters, rel, use_dates=False).add("p.plan_level = ?", level)
    c.parts = [
        part.replace("scope_department_id", "p.scope_department_id").replace("user_id =", "p.user_id =")
        for part in c.parts
    ]
    c.add("not p.is_future_month")
    c.add("p.period_month between ? and ?", filters.start.replace(day=1), filters.end)
    if within:
        c.add_in("p.scope_department_id", list(within))
    if filters.category_ids and level == "category":
        marks = ", ".join("?" for _ in filters.category_ids)
        c.add(f"cat.root_category_id in ({marks})", *filters.category_ids)
    names = {
        "department": ("p.department_id", "d.department_name"),
        "employee": ("p.user_id", "coalesce(p.employee_name, e.full_name)"),
        "category": ("p.category_id", "cat.category_name"),
    }[level]
    return query(
        f"""
        select {names[0]} as id, any_value({names[1]}) as name,
            any_value(d.department_name) as department,
            cast(sum(p.target_revenue) as double) as target_revenue,
            cast(sum(p.actual_revenue) as double) as actual_revenue,
            cast(sum(p.actual_revenue) as double) / nullif(sum(p.target_revenue), 0) as revenue_attainment,
            cast(sum(p.target_margin) as double) as target_margin,
            cast(sum(p.actual_margin) as double) as actual_margin,
            cast(sum(p.actual_margin) as double) / nullif(sum(p.target_margin), 0) as margin_attainment,
            cast(sum(p.target_collections) as double) as target_collections,
            cast(sum(p.actual_collections) as double) as actual_collections,
            cast(sum(p.actual_collections) as double) / nullif(sum(p.target_collections), 0)
                as collections_attainment,
            cast(sum(p.target_quantity) as double) as target_quantity,
            cast(sum(p.actual_quantity) as double) as actual_quantity,
            cast(sum(p.actual_quantity) as double) / nullif(sum(p.target_quantity), 0) as quantity_attainment,
            bool_or(p.is_partial_month) as includes_partial_month
        from marts.plan_vs_actual p
        left join marts.dim_departments d on d.department_id = p.scope_department_id
        left join marts.dim_employees e on e.user_id = p.user_id
        left join (
            select category_id, any_value(category_name) as category_name,
                any_value(root_category_id) as root_category_id
            from (
                select category_id, category_name, root_category_id from marts.dim_products
                union all
                select root_category_id, root_category_name, root_category_id from marts.dim_products
            )
            group by 1
        ) cat on cat.category_id = p.category_id
        where {c.sql}
        group by 1
        order by revenue_attainment desc nulls last
        """,
        c.params,
    )


def plan_trend(scope: Scope, filters: Filters, level: str, within: Sequence[int] = ()) -> pd.DataFrame:
    if level not in PLAN_LEVELS:
        raise WarehouseError(f"unknown plan level {level!r}")
    rel = Rel(department="scope_department_id", owner="user_id", region=None)
    c = where(scope, filters, rel, use_dates=False).add("plan_level = ?", level)
    c.add("not is_future_month")
    c.add("period_month between ? and ?", filters.start.replace(day=1), filters.end)
    if within:
        c.add_in("scope_department_id", list(within))
    return query(
        f"""
        select period_month as month,
            cast(sum(target_revenue) as double) as target_revenue,
            cast(sum(actual_revenue) as double) as actual_revenue,
            cast(sum(actual_revenue) as double) / nullif(sum(target_revenue), 0) as revenue_attainment
        from marts.plan_vs_actual
        where {c.sql}
        group by 1
        order by 1
        """,
        c.params,
    )


# ------------------------------------------------------------------------------------------------ rankings

EMPLOYEE_METRICS = {
    "Revenue (12 months)": ("t12m_net_revenue", "revenue_rank"),
    "Gross margin (12 months)": ("t12m_gross_margin", "profit_rank"),
    "Win rate": ("t12m_win_rate", "win_rate_rank"),
    "Customer satisfaction": ("t12m_customer_satisfaction", "satisfaction_rank"),
    "Complaint rate (lowest first)": ("t12m_complaint_rate", "complaint_rate_rank"),
}
# products are ranked on their figures summed over the departments in view (the mart's rows add up)
PRODUCT_METRICS = {
    "Revenue (12 months)": "t12m_net_revenue",
    "Gross margin (12 months)": "t12m_gross_margin",
    "Customers (12 months)": "t12m_customers",
}
DEPARTMENT_METRICS = {
    "Plan attainment (year to date)": ("ytd_revenue_attainment", "attainment_rank"),
    "Revenue (12 months)": ("t12m_net_revenue", "revenue_rank"),
    "Gross margin (12 months)": ("t12m_gross_margin", None),
    "Win rate (12 months)": ("t12m_win_rate", None),
}


def employee_ranking(scope: Scope, filters: Filters, metric: str) -> pd.DataFrame:
    value, rank = EMPLOYEE_METRICS[metric]
    c = where(scope, filters, Rel(owner="user_id", region=None), use_dates=False)
    return query(
        f"""
        select {rank} as rank, full_name as employee, department_name as department, role,
            cast({value} as double) as value,
            cast(t12m_net_revenue as double) as t12m_net_revenue,
            cast(t12m_gross_margin as double) as t12m_gross_margin,
            t12m_win_rate, t12m_customer_satisfaction, t12m_complaint_rate
        from marts.employee_rankings
        where {rank} is not null and {c.sql}
        order by {rank}, full_name
        """,
        c.params,
    )


# product_rankings: product x the orders' department; the top-level category is on the row
PRODUCTS = Rel(owner=None, region=None, category="root_category_id")


def product_ranking(scope: Scope, filters: Filters, metric: str) -> pd.DataFrame:
    """Products of the departments in view, ranked on the chosen figure summed over those departments (1 = best,
    ties share a rank, as in the mart)."""
    value = PRODUCT_METRICS[metric]
    c = where(scope, filters, PRODUCTS, use_dates=False)
    return query(
        f"""
        with in_view as (
            select product_id, any_value(product_name) as product_name, any_value(sku) as sku,
                any_value(root_category_name) as category,
                sum(t12m_net_revenue) as t12m_net_revenue, sum(t12m_gross_margin) as t12m_gross_margin,
                sum(t12m_customers) as t12m_customers, any_value(top_buyer_industry) as top_buyer_industry
            from marts.product_rankings
            where {c.sql}
            group by product_id
        )
        select rank() over (order by {value} desc) as rank, product_name as product, sku, category,
            cast({value} as double) as value,
            cast(t12m_net_revenue as double) as t12m_net_revenue,
            cast(t12m_gross_margin as double) as t12m_gross_margin,
            t12m_customers,
            case when t12m_net_revenue > 0 then cast(t12m_gross_margin / t12m_net_revenue as double) end
                as t12m_margin_rate,
            top_buyer_industry
        from in_view
        order by rank, product_name
        """,
        c.params,
    )


def department_ranking(scope: Scope, filters: Filters, metric: str) -> pd.DataFrame:
    value, rank = DEPARTMENT_METRICS[metric]
    c = where(scope, filters, Rel(owner=None, region=None), use_dates=False)
    order = f"{rank}, department_name" if rank else f"{value} desc nulls last, department_name"
    return query(
        f"""
        select department_name as department, depth, manager_name as manager,
            cast({value} as double) as value,
            ytd_revenue_attainment, ytd_margin_attainment, ytd_collections_attainment,
            cast(ytd_target_revenue as double) as ytd_target_revenue,
            cast(ytd_actual_revenue as double) as ytd_actual_revenue,
            cast(t12m_net_revenue as double) as t12m_net_revenue, t12m_win_rate
        from marts.department_rankings
        where {value} is not null and {c.sql}
        order by {order}
        """,
        c.params,
    )


# ------------------------------------------------------------------------------------------ service quality


def service_summary(scope: Scope, filters: Filters) -> dict[str, float]:
    c = where(scope, filters, Rel(date="period_month"), dates=_month_range(filters))
    row = scalar_row(
        f"""
        select coalesce(sum(cases_opened), 0) as cases_opened, coalesce(sum(complaints_opened), 0) as complaints_opened,
            coalesce(sum(open_cases), 0) as open_cases, coalesce(sum(resolved_cases), 0) as resolved_cases,
            sum(resolution_hours_sum) / nullif(sum(resolved_cases), 0) as avg_resolution_hours,
            cast(sum(satisfaction_sum) as double) / nullif(sum(rated_cases), 0) as avg_satisfaction,
            sum(low_satisfaction_cases) as low_satisfaction_cases,
            cast(sum(complaints_for_rate) as double) / nullif(sum(sale_orders), 0) as complaint_rate
        from marts.service_quality
        where breakdown = 'month' and {c.sql}
        """,
        c.params,
    )
    return {k: float(v) if v is not None and not pd.isna(v) else float("nan") for k, v in row.items()}


def service_by_month(scope: Scope, filters: Filters) -> pd.DataFrame:
    c = where(scope, filters, Rel(date="period_month"), dates=_month_range(filters))
    return query(
        f"""
        select period_month as month, sum(cases_opened) as cases_opened, sum(complaints_opened) as complaints,
            sum(resolution_hours_sum) / nullif(sum(resolved_cases), 0) as avg_resolution_hours,
            cast(sum(satisfaction_sum) as double) / nullif(sum(rated_cases), 0) as avg_satisfaction,
            cast(sum(complaints_for_rate) as double) / nullif(sum(sale_orders), 0) as complaint_rate
        from marts.service_quality
        where breakdown = 'month' and {c.sql}
        group by 1
        order by 1
        """,
        c.params,
    )


def service_by_product(scope: Scope, filters: Filters, limit: int = 25) -> pd.DataFrame:
    """Products with cases in the twelve months to the as-of date, rows of the customers in view summed and their
    rates re-divided (the mart's product rows are per customer department, region and owner)."""
    c = where(scope, filters, Rel(), alias="s", use_dates=False).add("s.breakdown = 'product'")
    if filters.category_ids:
        c.add_in("p.root_category_id", filters.category_ids)
    return query(
        f"""
        select any_value(p.product_name) as product, any_value(p.root_category_name) as category,
            sum(s.cases_opened) as cases_opened, sum(s.complaints_opened) as complaints,
            cast(sum(s.complaints_for_rate) as double) / nullif(sum(s.sale_orders), 0) as complaint_rate,
            cast(sum(s.satisfaction_sum) as double) / nullif(sum(s.rated_cases), 0) as avg_satisfaction,
            sum(s.resolution_hours_sum) / nullif(sum(s.resolved_cases), 0) as avg_resolution_hours
        from marts.service_quality s
        left join marts.dim_products p on p.product_id = s.product_id
        where {c.sql}
        group by s.product_id
        having sum(s.cases_opened) > 0
        order by complaints desc, cases_opened desc, product
        limit {int(limit)}
        """,
        c.params,
    )


def service_by_employee(scope: Scope, filters: Filters) -> pd.DataFrame:
    c = where(scope, filters, Rel(department="e.department_id", owner="s.user_id", region=None), use_dates=False)
    c.add("s.breakdown = 'employee'")
    return query(
        f"""
        select e.full_name as employee, e.department_name as department, s.cases_opened, s.resolved_cases,
            s.avg_resolution_hours, s.avg_satisfaction, s.complaints_opened as complaints, s.complaint_rate
        from marts.service_quality s
        left join marts.dim_employees e on e.user_id = s.user_id
        where {c.sql}
        order by s.cases_opened desc, e.full_name
        """,
        c.params,
    )


# ------------------------------------------------------------------------------------ marketing & competitors


def campaigns(scope: Scope, filters: Filters) -> pd.DataFrame:
    c = where(scope, filters, Rel(date="start_date", region=None))
    return query(
        f"""
        select campaign_name as campaign, campaign_kind as kind, campaign_status as status, start_date,
            cast(budget as double) as budget, cast(actual_cost as double) as actual_cost,
            targeted_count as targeted, sent_count as sent, responded_count as responded,
            converted_count as converted, response_rate, conversion_rate,
            won_customer_count as won_customers, cast(attributed_won_revenue as double) as attributed_won_revenue,
            cost_per_won_customer, roi
        from marts.campaign_performance
        where {c.sql}
        order by start_date desc, campaign_name
        """,
        c.params,
    )


def campaign_totals(scope: Scope, filters: Filters) -> dict[str, float]:
    c = where(scope, filters, Rel(date="start_date", region=None))
    row = scalar_row(
        f"""
        select count(*) as campaigns, cast(sum(actual_cost) as double) as actual_cost,
            cast(sum(attributed_won_revenue) as double) as attributed_won_revenue,
            sum(won_customer_count) as won_customers,
            cast(sum(responded_count) as double) / nullif(sum(sent_count), 0) as response_rate,
            cast(sum(actual_cost) as double) / nullif(sum(won_customer_count), 0) as cost_per_won_customer,
            (cast(sum(attributed_won_revenue) as double) - cast(sum(actual_cost) as double))
                / nullif(cast(sum(actual_cost) as double), 0) as roi
        from marts.campaign_performance
        where {c.sql}
        """,
        c.params,
    )
    return {k: float(v) if v is not None and not pd.isna(v) else float("nan") for k, v in row.items()}


def competitors(scope: Scope, filters: Filters) -> pd.DataFrame:
    """Competitors met in the departments in view: their rows summed, our win rate against them re-divided."""
    c = where(scope, filters, Rel(owner=None, region=None), use_dates=False)
    return query(
        f"""
        select any_value(competitor_name) as competitor, sum(opportunity_count) as deals, sum(won_count) as won,
            sum(lost_count) as lost, sum(open_count) as open,
            cast(sum(won_count) as double) / nullif(sum(won_count) + sum(lost_count), 0) as win_rate_against,
            cast(sum(won_amount) as double) as won_amount, cast(sum(lost_amount) as double) as lost_amount,
            sum(lost_to_competitor_reason_count) as lost_citing_competitor,
            sum(accounts_present) as accounts_present, sum(competitor_order_count) as their_orders,
            cast(sum(competitor_order_amount) as double) as their_order_amount
        from marts.competitor_analysis
        where not coalesce(is_deleted, false) and {c.sql}
        group by competitor_id
        order by deals desc, competitor
        """,
        c.params,
    )


# -------------------------------------------------------------------------------------------- data health


def refresh_history() -> pd.DataFrame:
    return query(
        """
        select finished_at, as_of_date, horizon_days, status, checks_passed, checks_failed,
            epoch(finished_at - started_at) as seconds, row_counts, checks, stage_seconds
        from main.refresh_log
        order by finished_at desc
        """
    )


def freshness() -> dict[str, Any]:
    return scalar_row(
        """
        select
            (select max(finished_at) from main.refresh_log) as published_at,
            (select as_of_date from main.refresh_log order by finished_at desc limit 1) as as_of_date,
            (select max(order_date) from marts.fct_orders) as latest_order,
            (select max(opened_at) from marts.fct_cases) as latest_case,
            (select max(changed_at) from marts.fct_opportunity_stage_changes) as latest_stage_change
        """
    )


def mart_row_counts() -> pd.DataFrame:
    """Rows per model as the last publish counted them (refresh_log.row_counts)."""
    return query(
        """
        with latest as (select row_counts from main.refresh_log order by finished_at desc limit 1)
        select key as model, cast(value as bigint) as rows
        from latest, json_each(latest.row_counts)
        order by 1
        """
    )


def clv_params() -> pd.DataFrame:
    return query(
        """
        select model, parameter, value, std_error, time_unit, log_likelihood, customers_fitted, converged,
            iterations, status, as_of_date, horizon_days
        from marts.clv_model_params
        order by model, parameter
        """
    )


def clv_backtest() -> pd.DataFrame:
    """The customer value back-test (mart clv_backtest): the model fitted on the history up to the calibration end,
    its predictions for the hold-out against what happened, per decile of predicted purchases, per month and in
    total."""
    return query(
        """
        select breakdown, bucket as decile, period_month as month, period_start, period_end, customers,
            actual_buyers, predicted_purchases, actual_purchases,
            predicted_net_revenue, cast(actual_net_revenue as double) as actual_net_revenue,
            calibration_end_date, holdout_end_date, holdout_days, bg_nbd_status, gamma_gamma_status
        from marts.clv_backtest
        order by case breakdown when 'total' then 0 when 'decile' then 1 else 2 end, bucket, period_month
        """
    )


def quality_checks() -> tuple[dict[str, Any], pd.DataFrame]:
    """The last publish's checks: dbt summary figures and one row per great_expectations gate rule."""
    import json

    row = scalar_row("select checks from main.refresh_log order by finished_at desc limit 1")
    raw = row.get("checks")
    checks = json.loads(raw) if isinstance(raw, str) else (raw or {})
    rules = pd.DataFrame(checks.get("gate") or [], columns=["layer", "table", "rule", "passed", "failed_count"])
    summary = {k: v for k, v in checks.items() if k != "gate"}
    return summary, rules


def failed_refreshes(limit: int = 20) -> pd.DataFrame:
    """Recent failed builds and refreshes (they published nothing, so they live beside the warehouse file).

    Read on every call, not cached per version: a failure does not change the published version.
    """
    from warehouse.readers import recent_failures

    entries = recent_failures(get_settings(), limit)
    rows = [
        {
            "failed_at": e.get("failed_at"),
            "command": e.get("command"),
            "stage": e.get("stage"),
            "as_of_date": e.get("as_of_date"),
            "problems": "; ".join(str(p) for p in (e.get("problems") or []))[:2000],
        }
        for e in entries
    ]
    return pd.DataFrame(rows, columns=["failed_at", "command", "stage", "as_of_date", "problems"])
