"""Dashboards stage: customer value & 7P — who are our valuable customers, what is each worth, what next?"""

from __future__ import annotations

from typing import Any

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import data, ui
from dashboards.session import require

viewer, scope, filters = require()

st.title("Customer value & 7P")

# The manual's 7P, each a column group of customer_7p (prefix → heading, question it answers).
SEVEN_P = (
    ("profiling", "Profiling", "Tier, risk, preferences and habits"),
    ("persistence", "Persistence", "How long, how steadily, how it changes"),
    ("profitability", "Profitability", "Margin, profit and net profit"),
    ("performance", "Performance", "Sales split by category, channel, location"),
    ("prospecting", "Prospecting", "Acquisition, pipeline and expected value"),
    ("product", "Product", "Product mix and cross-sell"),
    ("promotion", "Promotion", "Campaign reach, response and return"),
)


def _value(name: str, value: Any) -> str:
    if ui.is_missing(value):
        return "—"
    lowered = name.lower()
    if hasattr(value, "strftime"):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) or type(value).__name__ in {"Decimal", "float64", "int64", "int32"}:
        if lowered.endswith("_id"):
            return str(int(value))
        if ui.names_any(lowered, ui.RATIO_WORDS) or lowered.endswith(("_share", "_risk", "_change_12m")):
            return ui.percent(value)
        if ui.names_any(lowered, ui.MONEY_WORDS):
            return ui.money(value)
        if float(value).is_integer():
            return f"{int(value):,}"
        return f"{float(value):,.2f}"
    return str(value)


def profile(row: dict[str, Any]) -> None:
    st.markdown(f"### {row.get('account_name')} · {row.get('external_ref') or 'no legacy id'}")
    st.caption(
        f"Owner {row.get('owner_name') or '—'} · region {row.get('region') or '—'} · "
        f"value tier {row.get('profiling_value_tier') or '—'} · RFM segment {row.get('profiling_rfm_segment') or '—'}"
    )
    columns = st.columns(4)
    for position, (prefix, heading, question) in enumerate(SEVEN_P):
        fields = {k: v for k, v in row.items() if k.startswith(prefix + "_")}
        with columns[position % 4].container(border=True):
            st.markdown(f"**{heading}** — {question}")
            if not fields:
                st.caption("The warehouse has no figures for this P.")
                continue
            lines = [f"- {k[len(prefix) + 1 :].replace('_', ' ')}: **{_value(k, v)}**" for k, v in fields.items()]
            st.markdown("\n".join(lines))


def render() -> None:
    as_of = data.as_of_date()
    notes = data.not_applied(filters, data.CUSTOMERS)
    ui.filters_caption(
        [f"Customer values as of {as_of:%d %b %Y}", f"scope: {scope.label}"]
        + ([f"not applied here: {', '.join(notes)}"] if notes else [])
    )
    summary = data.value_summary(scope, filters)
    if not summary.get("customers"):
        ui.empty("No customers match the current filters.")
        return
    cols = st.columns(5)
    with cols[0]:
        ui.kpi(
            "Customers", ui.count(summary["customers"]), f"{int(summary['buyers']):,} have bought", delta_color="off"
        )
    with cols[1]:
        ui.kpi_money("Realised value (12 months)", summary["t12m_net_revenue"], help="Net revenue, last 12 months.")
    with cols[2]:
        ui.kpi_money("Gross margin (12 months)", summary["t12m_gross_margin"])
    with cols[3]:
        ui.kpi_money(
            "Model value (CLV)",
            summary["predicted_clv"],
            help="BG/NBD + Gamma-Gamma: margin expected from future purchases over the horizon, discounted.",
        )
    with cols[4]:
        ui.kpi_money(
            "Potential value",
            summary["potential_value"],
            help="Open pipeline weighted by stage probability + model value.",
        )

    shown = ui.section("value-section", ["Value tiers", "RFM", "Retention", "One customer's 7P"])
    if shown == "Value tiers":
        value_tiers()
    elif shown == "RFM":
        rfm()
    elif shown == "Retention":
        retention()
    else:
        one_customer()


def value_tiers() -> None:
    tiers = data.value_tiers(scope, filters)
    left, right = st.columns(2)
    with left:
        st.subheader("Value tiers")
        fig = px.bar(
            tiers,
            x="value_tier",
            y=["t12m_gross_margin", "predicted_clv"],
            barmode="group",
            labels={"value": "amount", "value_tier": "value tier", "variable": ""},
        )
        ui.chart(
            fig, key="tiers", names={"t12m_gross_margin": "Gross margin, 12 months", "predicted_clv": "Predicted CLV"}
        )
        ui.table(tiers, key="value-tiers", file_name="value_tiers.csv")
    with right:
        st.subheader("Realised vs model value")
        scatter = data.value_scatter(scope, filters)
        if scatter.empty:
            ui.empty("No customer has bought yet: model value starts with the first purchase.")
            return
        fig = px.scatter(
            scatter,
            x="t12m_gross_margin",
            y="predicted_clv",
            color="value_tier",
            color_discrete_map=ui.TIER_COLOURS,
            hover_name="account_name",
            labels={"t12m_gross_margin": "gross margin, last 12 months", "predicted_clv": "predicted CLV"},
        )
        ui.chart(fig, key="scatter")
        st.caption(f"{len(scatter):,} buyers shown (a fixed sample when there are more).")


def rfm() -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("RFM grid")
        grid = data.rfm_grid(scope, filters)
        if grid.empty:
            ui.empty("No customer has a purchase occasion yet.")
        else:
            pivot = grid.pivot_table(index="f_score", columns="r_score", values="customers", aggfunc="sum").fillna(0)
            labels = grid.pivot_table(index="f_score", columns="r_score", values="segment", aggfunc="first")
            fig = go.Figure(
                go.Heatmap(
                    z=pivot.values,
                    x=[f"R{c}" for c in pivot.columns],
                    y=[f"F{i}" for i in pivot.index],
                    text=labels.reindex(index=pivot.index, columns=pivot.columns).fillna("").values,
                    texttemplate="%{text}<br>%{z}",
                    colorscale="Greens",
                    showscale=False,
                )
            )
            ui.chart(fig, key="rfm")
    with right:
        st.subheader("RFM segments")
        ui.table(data.rfm_segments(scope, filters), key="rfm-segments", file_name="rfm_segments.csv")


def retention() -> None:
    st.subheader("Retention by first-purchase cohort")
    cohorts = data.cohort_retention(scope, filters)
    if cohorts.empty:
        ui.empty("No customer made a first purchase in the chosen period.")
        return
    pivot = cohorts.pivot_table(index="cohort_month", columns="months_since_first_purchase", values="retention_rate")
    fig = go.Figure(
        go.Heatmap(
            z=pivot.values,
            x=[str(c) for c in pivot.columns],
            y=[f"{m:%Y-%m}" for m in pivot.index],
            colorscale="Blues",
            zmin=0,
            zmax=1,
            hovertemplate="cohort %{y}, month %{x}: %{z:.0%}<extra></extra>",
        )
    )
    fig.update_xaxes(title="months since first purchase")
    ui.chart(fig, key="cohorts")
    st.caption("Cohorts whose first purchase falls in the sidebar's date range; department and region apply.")
    ui.table(cohorts, key="cohort-retention", file_name="cohort_retention.csv")


def one_customer() -> None:
    st.subheader("One customer's 7P profile")
    search = st.text_input("Find a customer by name or legacy id", key="profile-search", placeholder="e.g. Acme")
    matches = data.find_customers(scope, filters, search or "")
    if matches.empty:
        ui.empty("No customer in your scope matches that search.")
        return
    options = {
        int(r.account_id): f"{r.account_name} ({r.external_ref or 'no id'}, {r.value_tier})"
        for r in matches.itertuples()
    }
    chosen = st.selectbox("Customer", options=list(options), format_func=lambda a: options[a], key="profile-account")
    row = data.customer_profile(scope, int(chosen)) if chosen is not None else {}
    if not row:
        ui.empty("That customer is not in your scope.")
        return
    profile(row)


ui.guard(render)
