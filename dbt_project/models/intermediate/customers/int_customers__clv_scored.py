"""Warehouse modelling stage: customer lifetime value scores and fit parameters from warehouse.clv.

One fit, two consumers: the returned frame holds one row per customer (record_type 'customer') and one
row per model parameter (record_type 'parameter'); `customer_value` and `clv_model_params` select theirs.
"""

import math

import pandas as pd

SUMMARY_COLUMNS = ["account_id", "frequency", "recency", "age", "monetary_value", "margin_rate"]


def model(dbt, session):
    dbt.config(materialized="table")
    # imported here: dbt parses this file without running it
    from warehouse.clv import bg_nbd_fit_from_params, p_alive, score_customers

    horizon_days = int(dbt.config.get("horizon_days"))
    time_unit_days = float(dbt.config.get("time_unit_days"))
    annual_discount_rate = float(dbt.config.get("annual_discount_rate"))

    summary = dbt.ref("int_customers__clv_summary").df()
    customers, params = score_customers(
        summary[SUMMARY_COLUMNS],
        horizon_days=horizon_days,
        annual_discount_rate=annual_discount_rate,
        time_unit_days=time_unit_days,
    )

    # P(alive) of the same customers as their history stood one care period earlier, with the same fit:
    # the care list calls a customer whose P(alive) fell since then value-changing.
    customers["p_alive_earlier"] = math.nan
    fit = bg_nbd_fit_from_params(params)
    seen_earlier = summary["earlier_frequency"].notna().to_numpy()
    if seen_earlier.any() and fit is not None:
        earlier = summary.loc[seen_earlier]
        customers.loc[seen_earlier, "p_alive_earlier"] = p_alive(
            fit,
            earlier["earlier_frequency"].to_numpy(dtype=float),
            earlier["earlier_recency"].to_numpy(dtype=float) / time_unit_days,
            earlier["earlier_age"].to_numpy(dtype=float) / time_unit_days,
        )

    # a whole-number key (nullable, for the parameter rows) joins back to the customers without casts
    customers["account_id"] = customers["account_id"].astype("Int64")
    customers.insert(0, "record_type", "customer")
    params.insert(0, "record_type", "parameter")
    return pd.concat([customers, params], ignore_index=True)
