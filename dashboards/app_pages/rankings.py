"""Dashboards stage: rankings — who and what performs best: employees, products and departments, by a metric
the viewer picks."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboards import data, ui
from dashboards.session import require

viewer, scope, filters = require()

st.title("Rankings")

TOP = 15


def _bar(frame, label: str, name_column: str, key: str, ratio: bool) -> None:  # type: ignore[no-untyped-def]
    top = frame.head(TOP).iloc[::-1]
    fig = px.bar(top, x="value", y=name_column, orientation="h", labels={"value": label, name_column: ""})
    if ratio:
        fig.update_xaxes(tickformat=".0%")
    ui.chart(fig, key=key, height=max(260, 26 * len(top) + 80))


def render() -> None:
    as_of = data.as_of_date()
    ui.filters_caption(
        [
            f"Twelve months to {as_of:%d %b %Y} (plan attainment: the year to date)",
            f"scope: {scope.label}",
            "the sidebar's date range and region do not apply to rankings",
        ]
    )
    shown = ui.section("rankings-section", ["Employees", "Products", "Departments"])
    if shown == "Employees":
        metric = st.selectbox("Rank employees by", list(data.EMPLOYEE_METRICS), key="rank-employee-metric")
        frame = data.employee_ranking(scope, filters, metric)
        if frame.empty:
            ui.empty("No employee in your scope has figures for this metric yet.")
        else:
            ratio = "rate" in metric.lower()
            if metric == "Customer satisfaction":
                ratio = False
            _bar(frame, metric, "employee", "rank-employees", ratio)
            ui.table(frame, key="rank-employees-table", file_name="employee_rankings.csv")
    elif shown == "Products":
        metric = st.selectbox("Rank products by", list(data.PRODUCT_METRICS), key="rank-product-metric")
        frame = data.product_ranking(scope, filters, metric)
        if frame.empty:
            ui.empty("No product has been sold in your departments and the chosen categories.")
        else:
            _bar(frame, metric, "product", "rank-products", False)
            st.caption(
                "Sales of the departments in view (the department of the order); a customer counts in the department "
                "of their latest purchase of the product. The top buyer industry is the product's across all "
                "departments."
            )
            ui.table(frame, key="rank-products-table", file_name="product_rankings.csv")
    else:
        metric = st.selectbox("Rank departments by", list(data.DEPARTMENT_METRICS), key="rank-department-metric")
        frame = data.department_ranking(scope, filters, metric)
        if frame.empty:
            ui.empty("No department in your scope has figures for this metric (plan attainment needs a plan).")
        else:
            ratio = "attainment" in metric.lower() or "rate" in metric.lower()
            _bar(frame, metric, "department", "rank-departments", ratio)
            st.caption("Each department's figures include its sub-departments.")
            ui.table(frame, key="rank-departments-table", file_name="department_rankings.csv")


ui.guard(render)
