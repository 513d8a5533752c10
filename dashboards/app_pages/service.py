"""Dashboards stage: service quality — are customers satisfied, how often do they complain, how fast do we
resolve cases, by month, product and employee?"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboards import data, ui
from dashboards.session import require

viewer, scope, filters = require()

st.title("Service quality")


def render() -> None:
    as_of = data.as_of_date()
    ui.filters_caption(
        [
            f"Cases opened {filters.start:%b %Y}–{filters.end:%b %Y}",
            f"by product and employee: the twelve months to {as_of:%d %b %Y}",
            f"scope: {scope.label}",
        ]
    )
    summary = data.service_summary(scope, filters)
    cols = st.columns(5)
    with cols[0]:
        ui.kpi("Cases opened", ui.count(summary.get("cases_opened")))
    with cols[1]:
        ui.kpi("Complaints", ui.count(summary.get("complaints_opened")))
    with cols[2]:
        ui.kpi(
            "Complaint rate",
            ui.percent(summary.get("complaint_rate")),
            help="Complaints per booked sale order of the same months and customers.",
        )
    with cols[3]:
        ui.kpi("Average satisfaction", f"{ui.number(summary.get('avg_satisfaction'), 2)} / 5")
    with cols[4]:
        ui.kpi("Average resolution", f"{ui.number(summary.get('avg_resolution_hours'), 1)} h")

    if scope.owner_id is not None:
        st.caption("By month and product: cases of the customers you own. By employee: the cases you handled.")
    shown = ui.section("service-section", ["By month", "By product", "By employee"])
    if shown == "By month":
        by_month()
    elif shown == "By product":
        st.subheader("By product")
        ui.table(
            data.service_by_product(scope, filters),
            key="service-products",
            file_name="service_by_product.csv",
            empty_message="No case about a product in the last twelve months in your scope.",
        )
        st.caption("Complaint rate: complaints per booked sale order containing the product, of the same customers.")
    else:
        st.subheader("By employee (who handled the cases)")
        ui.table(
            data.service_by_employee(scope, filters),
            key="service-employees",
            file_name="service_by_employee.csv",
            empty_message="Nobody in your scope handled a case in the last twelve months.",
        )


def by_month() -> None:
    monthly = data.service_by_month(scope, filters)
    if monthly.empty:
        ui.empty("No case was opened in the chosen months in your scope.")
    else:
        left, right = st.columns(2)
        with left:
            st.subheader("Satisfaction and complaint rate")
            fig = go.Figure()
            fig.add_scatter(x=monthly["month"], y=monthly["avg_satisfaction"], name="Satisfaction (1–5)")
            fig.add_scatter(
                x=monthly["month"], y=monthly["complaint_rate"], name="Complaint rate", yaxis="y2", mode="lines"
            )
            fig.update_layout(yaxis={"range": [1, 5]}, yaxis2={"overlaying": "y", "side": "right", "tickformat": ".0%"})
            ui.chart(fig, key="service-trend")
        with right:
            st.subheader("Cases and resolution time")
            fig = go.Figure()
            fig.add_bar(x=monthly["month"], y=monthly["cases_opened"], name="Cases opened")
            fig.add_bar(x=monthly["month"], y=monthly["complaints"], name="Complaints")
            fig.add_scatter(x=monthly["month"], y=monthly["avg_resolution_hours"], name="Resolution (h)", yaxis="y2")
            fig.update_layout(yaxis2={"overlaying": "y", "side": "right"})
            ui.chart(fig, key="service-cases")
        ui.table(monthly, key="service-months", file_name="service_by_month.csv")


ui.guard(render)
