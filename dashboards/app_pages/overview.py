"""Dashboards stage: executive overview — how is the business doing, against plan and the prior period?"""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import streamlit as st

from dashboards import data, ui
from dashboards.session import require

viewer, scope, filters = require()

st.title("Executive overview")


def render() -> None:
    as_of = data.as_of_date()
    prior = filters.prior
    notes = data.not_applied(filters, data.DEALS, use_dates=False)
    ui.filters_caption(
        [
            f"Sales from {filters.start:%d %b %Y} to {filters.end:%d %b %Y}",
            f"compared with {prior[0]:%d %b %Y}–{prior[1]:%d %b %Y}",
            f"pipeline and risks as of {as_of:%d %b %Y}",
            f"scope: {scope.label}",
        ]
    )

    now = data.sales_summary(scope, filters)
    before = data.sales_summary(scope, filters, dates=prior)
    pipe = data.pipeline_summary(scope, filters)
    margin_rate = now["gross_margin"] / now["net_revenue"] if now["net_revenue"] else None
    prior_rate = before["gross_margin"] / before["net_revenue"] if before["net_revenue"] else None

    cols = st.columns(6)
    with cols[0]:
        ui.kpi_money("Net revenue", now["net_revenue"], ui.change(now["net_revenue"], before["net_revenue"]))
    with cols[1]:
        ui.kpi_money("Gross margin", now["gross_margin"], ui.change(now["gross_margin"], before["gross_margin"]))
    with cols[2]:
        delta = None
        if margin_rate is not None and prior_rate is not None:
            delta = f"{(margin_rate - prior_rate) * 100:+.1f} pts vs prior"
        ui.kpi("Margin rate", ui.percent(margin_rate), delta)
    with cols[3]:
        ui.kpi(
            "Active customers",
            ui.count(now["active_customers"]),
            ui.change(now["active_customers"], before["active_customers"]),
            help="Customers with at least one booked sale in the period.",
        )
    with cols[4]:
        ui.kpi_money(
            "Open pipeline",
            pipe["open_amount"],
            f"{int(pipe['open_count']):,} open deals",
            help="Open opportunities as of the as-of date (the category filter does not apply to deals).",
        )
    with cols[5]:
        ui.kpi_money(
            "Weighted pipeline",
            pipe["weighted_amount"],
            help="Open amount × stage probability.",
        )

    shown = ui.section("overview-section", ["Trend & plan", "Forecast", "Prior periods", "Top risks"])
    if shown == "Trend & plan":
        trend_and_plan()
    elif shown == "Forecast":
        forecast(as_of)
    elif shown == "Prior periods":
        prior_periods()
    else:
        top_risks(notes)


def trend_and_plan() -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Revenue and margin by month")
        trend = data.monthly_sales(scope, filters)
        if trend.empty:
            ui.empty("No sales in the chosen period and filters.")
        else:
            fig = go.Figure()
            fig.add_bar(x=trend["month"], y=trend["net_revenue"], name="Net revenue")
            fig.add_scatter(x=trend["month"], y=trend["gross_margin"], name="Gross margin", mode="lines+markers")
            ui.chart(fig, key="trend")
            ui.table(trend, key="overview-trend", file_name="revenue_by_month.csv")
    with right:
        st.subheader("Plan vs actual by month")
        plan = data.plan_by_month(scope, filters)
        if plan.empty:
            ui.empty("No sales plan covers the chosen months and departments.")
        else:
            fig = go.Figure()
            fig.add_bar(x=plan["month"], y=plan["actual_revenue"], name="Actual revenue")
            fig.add_scatter(x=plan["month"], y=plan["target_revenue"], name="Target revenue", mode="lines+markers")
            ui.chart(fig, key="plan")
            total_target, total_actual = plan["target_revenue"].sum(), plan["actual_revenue"].sum()
            st.caption(
                f"Attainment over these months: {ui.percent(total_actual / total_target if total_target else None)}"
                f" ({ui.money(total_actual)} of {ui.money(total_target)});"
                " the as-of month is still running."
            )


def forecast(as_of: dt.date) -> None:
    st.subheader("Forecast from the as-of month")
    frame = data.forecast_by_month(scope, filters)
    if frame.empty:
        ui.empty("Nothing is expected: no open deals with an expected close date and no planned collections.")
        return
    targets = data.plan_targets_ahead(scope, filters)
    fig = go.Figure()
    fig.add_bar(x=frame["month"], y=frame["weighted_pipeline"], name="Weighted pipeline")
    fig.add_bar(x=frame["month"], y=frame["planned_collections"], name="Planned collections")
    fig.add_bar(x=frame["month"], y=frame["overdue_collections"], name="Overdue collections")
    if not targets.empty:
        fig.add_scatter(x=targets["month"], y=targets["target_revenue"], name="Revenue target", mode="lines+markers")
    fig.update_layout(barmode="stack")
    ui.chart(fig, key="forecast")
    st.caption(
        "Forecast = open amount × stage probability by expected close month (deals past their date count "
        f"in the as-of month) + unpaid instalments of booked sales, against the revenue targets of the plans made "
        f"by {as_of:%d %b %Y} for this and the coming months."
    )
    shown = frame.merge(targets, on="month", how="outer").sort_values("month") if not targets.empty else frame
    ui.table(shown, key="overview-forecast", file_name="forecast_by_month.csv")


def prior_periods() -> None:
    st.subheader("Prior-period comparison")
    periods = data.period_comparison(scope, filters)
    if periods.empty:
        ui.empty("No activity to compare in the chosen departments and regions.")
        return
    shown = periods.assign(period=periods["period"].map(lambda p: data.PERIOD_LABELS.get(p, p)))
    shown["revenue_change"] = (shown["net_revenue"] - shown["prior_net_revenue"]) / shown["prior_net_revenue"].where(
        shown["prior_net_revenue"] != 0
    )
    st.caption("Fixed periods ending on the as-of date against the same span before; department and region apply.")
    ui.table(shown.drop(columns=["period_sort"]), key="overview-periods", file_name="period_comparison.csv")


def top_risks(notes: list[str]) -> None:
    st.subheader("Top risks")
    counts = data.care_counts(scope, filters)
    c1, c2, c3 = st.columns(3)
    with c1:
        ui.kpi(
            "Problem customers",
            ui.count(counts.get("problem", 0)),
            help="Open complaints, low satisfaction or overdue collections.",
        )
    with c2:
        ui.kpi("Value changing", ui.count(counts.get("value_changing", 0)), help="Spend or P(alive) moving sharply.")
    with c3:
        ui.kpi("Value customers to thank", ui.count(counts.get("value", 0)))
    ui.table(
        data.top_risks(scope, filters),
        key="overview-risks",
        file_name="top_risks.csv",
        empty_message="No customer with a problem or a changing value: nothing to worry about here.",
    )
    if notes:
        st.caption(f"Not applied to deals and risks: {', '.join(notes)}.")


ui.guard(render)
