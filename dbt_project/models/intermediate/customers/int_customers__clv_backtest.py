"""Warehouse modelling stage: back-test of the customer value model, fitted on the calibration period only.

warehouse.clv.score_customers fits BG/NBD and Gamma-Gamma on the customers' histories as they stood at the
calibration end (int_customers__clv_backtest_summary) and predicts each customer's purchase occasions over the
hold-out days that follow; the prediction is also split by calendar month of the hold-out with the same fit
(E[Y(t)] at each month end, eq. 10). Returned in one frame: one row per customer (record_type 'customer'), per
hold-out month ('month') and per fitted parameter ('parameter'). Nothing after the calibration end reaches the
fit: the summary's actual_* columns are only passed through to the marts, never to warehouse.clv.
"""

import datetime as dt

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = ["account_id", "frequency", "recency", "age", "monetary_value", "margin_rate"]


def holdout_months(calibration_end, holdout_end):
    """(month, first day, last day, days before its first day, days to its last day) of each calendar month of
    the hold-out, days counted from the calibration end."""
    first_day = calibration_end + dt.timedelta(days=1)
    month = first_day.replace(day=1)
    months = []
    while month <= holdout_end:
        following = (month + dt.timedelta(days=32)).replace(day=1)
        span_start = max(month, first_day)
        span_end = min(following - dt.timedelta(days=1), holdout_end)
        months.append(
            (month, span_start, span_end, (span_start - calibration_end).days - 1, (span_end - calibration_end).days)
        )
        month = following
    return months


def cumulative_shares(fit, boundaries_days, time_unit_days, summary):
    """Per customer, the share of the whole hold-out's expected purchases expected by each boundary (days from
    the calibration end; the last boundary is the whole hold-out). Without a fit the fallback rate is constant,
    so the shares are the elapsed share of the days."""
    from warehouse.clv import expected_purchases, unique_rows

    boundaries = np.asarray(boundaries_days, dtype=float)
    linear = np.broadcast_to(boundaries / boundaries[-1], (len(summary), boundaries.size))
    if fit is None or summary.empty:
        return linear
    history = summary[["frequency", "recency", "age"]].to_numpy(dtype=float) / [1.0, time_unit_days, time_unit_days]
    # customers with the same history get the same expectations: compute each distinct history once
    distinct, inverse = unique_rows(history)
    cumulative = np.column_stack(
        [
            expected_purchases(fit, t / time_unit_days, distinct[:, 0], distinct[:, 1], distinct[:, 2])
            for t in boundaries
        ]
    )
    # expectations only grow with t (guards tiny wiggles of the special function)
    cumulative = np.maximum.accumulate(cumulative, axis=1)
    total = cumulative[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(total > 0, cumulative / total, boundaries / boundaries[-1])
    return shares[inverse]


def model(dbt, session):
    dbt.config(materialized="table")
    # imported here: dbt parses this file without running it
    from warehouse.clv import bg_nbd_fit_from_params, score_customers

    holdout_days = int(dbt.config.get("holdout_days"))
    time_unit_days = float(dbt.config.get("time_unit_days"))

    # in key order: the month totals sum over customers, and the same data must give the same last digits
    summary = dbt.ref("int_customers__clv_backtest_summary").df().sort_values("account_id").reset_index(drop=True)
    # the horizon is the hold-out; no discounting: the prediction is compared with undiscounted actuals
    customers, params = score_customers(
        summary[SUMMARY_COLUMNS], horizon_days=holdout_days, annual_discount_rate=0.0, time_unit_days=time_unit_days
    )
    customers["predicted_net_revenue"] = customers["expected_purchases"] * customers["expected_avg_order_value"]

    # typed even when empty, so the table's columns keep their types on data too small for a back-test
    months = pd.DataFrame(
        {
            "period_month": pd.Series([], dtype="datetime64[ns]"),
            "period_start": pd.Series([], dtype="datetime64[ns]"),
            "period_end": pd.Series([], dtype="datetime64[ns]"),
            "predicted_purchases": pd.Series([], dtype="float64"),
            "predicted_net_revenue": pd.Series([], dtype="float64"),
        }
    )
    if not summary.empty:
        calibration_end = pd.Timestamp(summary["calibration_end_date"].iloc[0]).date()
        holdout_end = pd.Timestamp(summary["holdout_end_date"].iloc[0]).date()
        spans = holdout_months(calibration_end, holdout_end)
        fit = bg_nbd_fit_from_params(params)
        ends = [span[4] for span in spans]
        shares = cumulative_shares(fit, ends, time_unit_days, summary)
        month_shares = np.diff(np.concatenate([np.zeros((len(summary), 1)), shares], axis=1), axis=1)
        purchases = customers["expected_purchases"].to_numpy(dtype=float)[:, None] * month_shares
        revenue = purchases * customers["expected_avg_order_value"].to_numpy(dtype=float)[:, None]
        months = pd.DataFrame(
            {
                "period_month": [pd.Timestamp(span[0]) for span in spans],
                "period_start": [pd.Timestamp(span[1]) for span in spans],
                "period_end": [pd.Timestamp(span[2]) for span in spans],
                "predicted_purchases": purchases.sum(axis=0),
                "predicted_net_revenue": revenue.sum(axis=0),
            }
        )

    customers = customers.rename(columns={"expected_purchases": "predicted_purchases"})
    customers["account_id"] = customers["account_id"].astype("Int64")
    customers = customers[
        ["account_id", "p_alive", "predicted_purchases", "expected_avg_order_value", "predicted_net_revenue"]
    ]
    customers.insert(0, "record_type", "customer")
    months.insert(0, "record_type", "month")
    params.insert(0, "record_type", "parameter")
    return pd.concat([customers, months, params], ignore_index=True)
