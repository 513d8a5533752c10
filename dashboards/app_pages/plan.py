"""Dashboards stage: plan vs actual — are departments, people and categories on target (revenue, margin,
collections, quantity), drilling from department to employee to category?"""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import data, ui
from dashboards.session import require

viewer, scope, filters = require()

st.title("Plan vs actual")

LEVEL_NAMES = {"department": "Departments", "employee": "Employees", "category": "Product categories"}


def render() -> None:
    as_of = data.as_of_date()
    ui.filters_caption(
        [
            f"Monthly targets {filters.start:%b %Y}–{filters.end:%b %Y} (the as-of month {as_of:%b %Y} is partial)",
            f"scope: {scope.label}",
            "region does not apply to plans",
        ]
    )
    levels = ["employee"] if scope.owner_id is not None else list(data.PLAN_LEVELS)
    level = st.segmented_control(
        "Level", options=levels, format_func=lambda x: LEVEL_NAMES[x], default=levels[0], key="plan-level"
    )
    level = level or levels[0]
    within: tuple[int, ...] = ()
    if level == "employee" and scope.owner_id is None:
        departments = data.plan_rows(scope, filters, "department")
        options = {int(r.id): str(r.name) for r in departments.itertuples() if r.id == r.id}
        picked = st.selectbox(
            "Department",
            options=[0, *options],
            format_func=lambda d: "All departments in view" if d == 0 else options[d],
            key="plan-drill",
            help="Drill from a department's target to the targets of its people.",
        )
        within = data.subtree([picked]) if picked else ()

    rows = data.plan_rows(scope, filters, level, within)
    if rows.empty:
        if level == "category" and not scope.all_rows:
            ui.empty("Category targets are company-wide: they are not split by department, so they are not shown here.")
        else:
            ui.empty("No sales plan covers these months in your scope; plans are entered by managers in the CRM app.")
        return
    target, actual = rows["target_revenue"].sum(), rows["actual_revenue"].sum()
    margin_target, margin_actual = rows["target_margin"].sum(), rows["actual_margin"].sum()
    cols = st.columns(4)
    with cols[0]:
        ui.kpi_money("Target revenue", target)
    with cols[1]:
        ui.kpi_money("Actual revenue", actual)
    with cols[2]:
        ui.kpi("Revenue attainment", ui.percent(actual / target if target else None))
    with cols[3]:
        ui.kpi("Margin attainment", ui.percent(margin_actual / margin_target if margin_target else None))

    left, right = st.columns(2)
    with left:
        st.subheader(f"Attainment by {level}")
        fig = px.bar(
            rows.sort_values("revenue_attainment"),
            x="revenue_attainment",
            y="name",
            orientation="h",
            labels={"revenue_attainment": "revenue attainment", "name": ""},
        )
        fig.add_vline(x=1.0, line_dash="dash")
        fig.update_xaxes(tickformat=".0%")
        ui.chart(fig, key="plan-attainment")
    with right:
        st.subheader("Target and actual by month")
        trend = data.plan_trend(scope, filters, level, within)
        fig = go.Figure()
        fig.add_bar(x=trend["month"], y=trend["actual_revenue"], name="Actual revenue")
        fig.add_scatter(x=trend["month"], y=trend["target_revenue"], name="Target revenue", mode="lines+markers")
        ui.chart(fig, key="plan-trend")
    ui.table(
        rows.drop(columns=["id"]),
        key="plan-rows",
        title=f"{LEVEL_NAMES[level]}: targets against actuals",
        file_name=f"plan_vs_actual_{level}.csv",
    )
    if level == "category":
        st.caption("Payments are not split by product, so category targets have no collections actual.")


ui.guard(render)
