"""Dashboards stage: funnel & forecast — where are deals stuck, what do we win and lose, what comes in when?"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import data, ui
from dashboards.session import require

viewer, scope, filters = require()

st.title("Funnel & forecast")


def render() -> None:
    as_of = data.as_of_date()
    notes = data.not_applied(filters, data.DEALS, use_dates=False)
    ui.filters_caption(
        [
            f"Pipeline as of {as_of:%d %b %Y}",
            f"won and lost deals closed {filters.start:%b %Y}–{filters.end:%b %Y}",
            f"scope: {scope.label}",
        ]
        + ([f"not applied to deals: {', '.join(notes)}"] if notes else [])
    )
    stages = data.funnel(scope, filters)
    summary = data.win_loss_summary(scope, filters)
    open_stages = stages[~stages["is_closed"]] if not stages.empty else stages
    cols = st.columns(5)
    with cols[0]:
        ui.kpi("Open deals", ui.count(open_stages["open_count"].sum() if not stages.empty else 0))
    with cols[1]:
        ui.kpi_money("Open amount", open_stages["open_amount"].sum() if not stages.empty else 0)
    with cols[2]:
        ui.kpi_money("Weighted pipeline", open_stages["weighted_amount"].sum() if not stages.empty else 0)
    with cols[3]:
        ui.kpi(
            "Win rate",
            ui.percent(summary.get("win_rate")),
            f"{ui.percent(summary.get('win_rate_amount'))} by amount",
            delta_color="off",
            help="Won / (won + lost) among deals closed in the period.",
        )
    with cols[4]:
        ui.kpi("Sales cycle", ui.days(summary.get("avg_sales_cycle_days")), help="Close − created, won deals.")

    if stages.empty:
        ui.empty("No opportunities in your scope and filters yet.")
        return

    shown = ui.section("funnel-section", ["Funnel", "Time in stage", "Won & lost", "Forecast"])
    if shown == "Funnel":
        funnel_and_conversion(stages)
    elif shown == "Time in stage":
        time_in_stage()
    elif shown == "Won & lost":
        won_and_lost(summary)
    else:
        forecast()


def funnel_and_conversion(stages: pd.DataFrame) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Funnel")
        path = stages[~stages["is_closed"] | stages["is_won"]]
        fig = go.Figure(
            go.Funnel(
                y=path["stage_name"],
                x=path["reached_count"],
                textinfo="value+percent initial",
                hovertemplate="%{y}: %{x} deals reached this stage<extra></extra>",
            )
        )
        ui.chart(fig, key="funnel")
        st.caption("Deals that reached each stage (or a later one) as of the as-of date.")
    with right:
        st.subheader("Stage conversion")
        conversion = data.stage_conversion(scope, filters)
        if conversion.empty:
            ui.empty("No stage changes recorded yet.")
        else:
            fig = px.bar(
                conversion.dropna(subset=["next_stage_name"]),
                x="stage_name",
                y=["conversion_rate", "decided_conversion_rate"],
                barmode="group",
                labels={"value": "conversion", "stage_name": "stage", "variable": ""},
            )
            fig.update_yaxes(tickformat=".0%")
            ui.chart(
                fig,
                key="conversion",
                names={"conversion_rate": "All deals", "decided_conversion_rate": "Decided deals"},
            )
    ui.table(stages, key="funnel-stages", title="Deals by stage", file_name="funnel.csv")
    ui.table(data.stage_conversion(scope, filters), key="funnel-conversion", file_name="stage_conversion.csv")


def time_in_stage() -> None:
    st.subheader("Time in stage")
    times = data.stage_times(scope, filters)
    if times.empty:
        ui.empty("No completed stays in a stage yet.")
    else:
        fig = px.bar(
            times,
            x="stage_name",
            y=["avg_days_in_stage", "avg_days_so_far"],
            barmode="group",
            labels={"value": "days", "stage_name": "stage", "variable": ""},
        )
        ui.chart(fig, key="times", names={"avg_days_in_stage": "Completed stays", "avg_days_so_far": "Deals there now"})
        ui.table(times, key="funnel-times", file_name="time_in_stage.csv")


def won_and_lost(summary: dict[str, float]) -> None:
    st.subheader("Won and lost by month")
    monthly = data.win_loss_by_month(scope, filters)
    if monthly.empty:
        ui.empty("No deal was won or lost in the chosen months.")
    else:
        fig = go.Figure()
        fig.add_bar(x=monthly["month"], y=monthly["won"], name="Won")
        fig.add_bar(x=monthly["month"], y=monthly["lost"], name="Lost")
        fig.add_scatter(x=monthly["month"], y=monthly["win_rate"], name="Win rate", yaxis="y2", mode="lines")
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "tickformat": ".0%", "range": [0, 1]})
        ui.chart(fig, key="winloss")
        ui.table(monthly, key="funnel-winloss", file_name="win_loss_by_month.csv")

    st.subheader("Lost reasons")
    reasons = pd.DataFrame(
        [{"reason": label, "lost_deals": summary.get(column, 0) or 0} for label, column in data.LOST_REASON_COLUMNS]
    )
    reasons = reasons[reasons["lost_deals"] > 0]
    if reasons.empty:
        ui.empty("No deal was lost in the chosen months.")
    else:
        left, right = st.columns([2, 1])
        with left:
            fig = px.bar(reasons.sort_values("lost_deals"), x="lost_deals", y="reason", orientation="h")
            ui.chart(fig, key="reasons", height=300)
        with right:
            ui.kpi("Lost with a competitor named", ui.count(summary.get("lost_with_competitor")))
            ui.table(reasons, key="funnel-reasons", file_name="lost_reasons.csv")


def forecast() -> None:
    st.subheader("Weighted forecast by month")
    frame = data.forecast_by_month(scope, filters)
    if frame.empty:
        ui.empty("Nothing is expected: no open deals with an expected close date and no planned collections.")
    else:
        fig = go.Figure()
        fig.add_bar(x=frame["month"], y=frame["weighted_pipeline"], name="Weighted pipeline")
        fig.add_bar(x=frame["month"], y=frame["planned_collections"], name="Planned collections")
        fig.add_bar(x=frame["month"], y=frame["overdue_collections"], name="Overdue collections")
        fig.update_layout(barmode="stack")
        ui.chart(fig, key="forecast")
        ui.table(frame, key="funnel-forecast", file_name="forecast.csv")


ui.guard(render)
