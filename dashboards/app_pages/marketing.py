"""Dashboards stage: marketing & competitors — which campaigns pay back, how customers respond, what a won
customer costs, and how we fare against each competitor."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboards import data, ui
from dashboards.session import require

viewer, scope, filters = require()

st.title("Marketing & competitors")


def render() -> None:
    as_of = data.as_of_date()
    notes = data.not_applied(filters, data.Rel(date="start_date", region=None))
    ui.filters_caption(
        [
            f"Campaigns started {filters.start:%d %b %Y}–{filters.end:%d %b %Y}",
            f"results as of {as_of:%d %b %Y}",
            f"scope: {scope.label}",
        ]
        + ([f"not applied: {', '.join(notes)}"] if notes else [])
    )
    totals = data.campaign_totals(scope, filters)
    cols = st.columns(5)
    with cols[0]:
        ui.kpi("Campaigns", ui.count(totals.get("campaigns")))
    with cols[1]:
        ui.kpi_money("Actual cost", totals.get("actual_cost"))
    with cols[2]:
        ui.kpi("Response rate", ui.percent(totals.get("response_rate")), help="Responded / sent.")
    with cols[3]:
        ui.kpi_money("Cost per won customer", totals.get("cost_per_won_customer"))
    with cols[4]:
        ui.kpi(
            "ROI",
            ui.percent(totals.get("roi")),
            help="(Attributed won revenue − actual cost) / actual cost.",
        )

    if ui.section("marketing-section", ["Campaigns", "Competitors"]) == "Campaigns":
        campaigns()
    else:
        competitors()


def campaigns() -> None:
    frame = data.campaigns(scope, filters)
    if frame.empty:
        ui.empty(
            "No campaign started in the chosen period in your scope (campaigns belong to their owner's department)."
        )
    else:
        left, right = st.columns(2)
        with left:
            st.subheader("Return on each campaign")
            ranked = frame.dropna(subset=["roi"]).sort_values("roi").tail(15)
            fig = px.bar(ranked, x="roi", y="campaign", orientation="h", labels={"roi": "ROI", "campaign": ""})
            fig.update_xaxes(tickformat=".0%")
            ui.chart(fig, key="campaign-roi")
        with right:
            st.subheader("Response and conversion")
            fig = px.scatter(
                frame,
                x="response_rate",
                y="conversion_rate",
                size="targeted",
                color="kind",
                hover_name="campaign",
                labels={"response_rate": "response rate", "conversion_rate": "conversion rate"},
            )
            fig.update_xaxes(tickformat=".0%")
            fig.update_yaxes(tickformat=".0%")
            ui.chart(fig, key="campaign-response")
        ui.table(frame, key="campaigns", title="Campaigns", file_name="campaign_performance.csv")


def competitors() -> None:
    st.subheader("Competitors")
    rivals = data.competitors(scope, filters)
    if rivals.empty:
        ui.empty("No competitor has been recorded in your departments yet.")
        return
    left, right = st.columns([1, 1])
    with left:
        shown = rivals.dropna(subset=["win_rate_against"]).sort_values("win_rate_against")
        fig = px.bar(
            shown,
            x="win_rate_against",
            y="competitor",
            orientation="h",
            text="deals",
            labels={"win_rate_against": "our win rate against them", "competitor": ""},
        )
        fig.update_xaxes(tickformat=".0%", range=[0, 1])
        ui.chart(fig, key="competitor-winrate")
    with right:
        ui.table(rivals, key="competitors", file_name="competitor_analysis.csv")
    st.caption(
        "Deals by the deal's department; accounts where we met them and their orders by the account's department. "
        "The sidebar's date range and region do not apply."
    )


ui.guard(render)
