"""Dashboards stage: data health — can these numbers be trusted: how fresh, how complete, which checks ran,
which refreshes failed, and how well the customer value model fits and predicts?"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from crm_app.models import utcnow
from dashboards import data, ui
from dashboards.session import require

viewer, scope, filters = require()

st.title("Data health")


def failures() -> None:
    st.subheader("Failed refreshes")
    failed = data.failed_refreshes()
    if failed.empty:
        st.success("No failed refresh on record.", icon=":material/check_circle:")
    else:
        st.warning(
            f"{len(failed)} recent refresh{'es' if len(failed) != 1 else ''} failed; each left the previous "
            "warehouse published.",
            icon=":material/warning:",
        )
        ui.table(
            failed,
            key="health-failures",
            file_name="failed_refreshes.csv",
            overrides={"problems": st.column_config.TextColumn("problems", width="large")},
        )


def render() -> None:
    fresh = data.freshness()
    history = data.refresh_history()
    latest = history.iloc[0] if not history.empty else None
    published = ui.as_date(fresh.get("published_at"))
    age_days = (pd.Timestamp(utcnow()) - pd.Timestamp(fresh["published_at"])).days if published else None
    cols = st.columns(3)
    with cols[0]:
        as_of = ui.as_date(fresh.get("as_of_date"))
        ui.kpi("As-of date", f"{as_of:%d %b %Y}" if as_of else "—", help="Every mart is computed as of this day.")
    with cols[1]:
        ui.kpi(
            "Published",
            f"{pd.Timestamp(fresh['published_at']):%d %b %H:%M} UTC" if published else "—",
            f"{age_days} days ago" if age_days else "today",
            delta_color="off",
        )
    with cols[2]:
        latest_order = ui.as_date(fresh.get("latest_order"))
        ui.kpi(
            "Latest order",
            f"{latest_order:%d %b %Y}" if latest_order else "—",
            help="The newest order date in the warehouse: older than the as-of date means orders stopped coming in.",
        )
    if age_days is not None and age_days >= 2:
        st.warning(
            f"The warehouse was last refreshed {age_days} days ago: run `crm refresh`.", icon=":material/schedule:"
        )

    if ui.section("health-section", ["Refreshes & checks", "Customer value model"]) == "Refreshes & checks":
        refreshes_and_checks(history, latest)
    else:
        value_model()


def refreshes_and_checks(history: pd.DataFrame, latest: Any) -> None:
    st.subheader("Refresh log")
    shown = history.drop(columns=["row_counts", "checks"]).assign(
        stage_seconds=history["stage_seconds"].map(
            lambda s: ", ".join(f"{k} {v:.1f}s" for k, v in json.loads(s).items()) if isinstance(s, str) else s
        )
    )
    ui.table(shown, key="health-refreshes", file_name="refresh_log.csv")

    left, right = st.columns(2)
    with left:
        st.subheader("Rows per model")
        ui.table(data.mart_row_counts(), key="health-rows", file_name="row_counts.csv")
    with right:
        st.subheader("Quality checks of the last publish")
        summary, rules = data.quality_checks()
        if latest is not None:
            st.caption(f"{int(latest['checks_passed']):,} checks passed, {int(latest['checks_failed']):,} failed.")
        if summary:
            st.caption(" · ".join(f"{k.replace('_', ' ')}: {v}" for k, v in summary.items()))
        if not rules.empty:
            failed = rules[~rules["passed"].astype(bool)]
            if failed.empty:
                st.success(f"All {len(rules)} gate rules passed.", icon=":material/verified:")
            else:
                st.error(f"{len(failed)} gate rules failed.", icon=":material/error:")
        ui.table(rules, key="health-checks", file_name="quality_checks.csv")


def value_model() -> None:
    st.subheader("Customer value model")
    params = data.clv_params()
    if params.empty:
        ui.empty("The customer value model has not been fitted in this warehouse.")
    else:
        status = ", ".join(sorted(set(params["status"].astype(str))))
        fitted = params.groupby("model")["customers_fitted"].max().to_dict()
        st.caption(
            f"Status: {status} · customers fitted: "
            + ", ".join(f"{m} {int(n):,}" for m, n in fitted.items())
            + f" · horizon {int(params['horizon_days'].iloc[0])} days"
        )
        ui.table(params, key="health-clv-params", file_name="clv_model_params.csv")

    st.subheader("Back-test: predicted vs actual purchases")
    backtest = data.clv_backtest()
    if backtest.empty:
        ui.empty("Too little purchase history for a back-test: nobody had bought before the hold-out period.")
        return
    total = backtest[backtest["breakdown"] == "total"].iloc[0]
    deciles = backtest[backtest["breakdown"] == "decile"]
    months = backtest[backtest["breakdown"] == "month"]
    cols = st.columns(4)
    with cols[0]:
        ui.kpi("Purchases predicted", ui.number(total["predicted_purchases"], 0))
    with cols[1]:
        ui.kpi("Purchases made", ui.count(total["actual_purchases"]))
    with cols[2]:
        ui.kpi_money("Revenue predicted", total["predicted_net_revenue"])
    with cols[3]:
        ui.kpi_money("Revenue made", total["actual_net_revenue"])
    left, right = st.columns(2)
    with left:
        fig = go.Figure()
        fig.add_bar(x=deciles["decile"], y=deciles["actual_purchases"], name="Actual purchases")
        fig.add_scatter(x=deciles["decile"], y=deciles["predicted_purchases"], name="Predicted", mode="lines+markers")
        fig.update_xaxes(title="customers by predicted purchases (decile, 10 = most)", dtick=1)
        ui.chart(fig, key="backtest")
    with right:
        fig = go.Figure()
        fig.add_bar(x=months["month"], y=months["actual_purchases"], name="Actual purchases")
        fig.add_scatter(x=months["month"], y=months["predicted_purchases"], name="Predicted", mode="lines+markers")
        fig.update_xaxes(title="month of the hold-out period (first and last may be partial)")
        ui.chart(fig, key="backtest-months")
    st.caption(
        f"BG/NBD and Gamma-Gamma fitted on purchase occasions up to {ui.as_date(total['calibration_end_date'])} only "
        f"({total['bg_nbd_status']}, {total['gamma_gamma_status']}), asked for the next {int(total['holdout_days'])} "
        f"days: {total['predicted_purchases']:,.0f} purchases predicted for the {int(total['customers']):,} customers "
        f"known then, {int(total['actual_purchases']):,} happened."
    )
    ui.table(
        backtest.drop(columns=["calibration_end_date", "holdout_end_date", "holdout_days"]),
        key="health-backtest",
        file_name="clv_backtest.csv",
    )


failures()
ui.guard(render)
