"""Benchmark of the warehouse modelling stage: back-test of the customer value model (warehouse/clv.py).

Reads sale orders straight from the operational database (CRM_DATABASE_URL, default the SQLite file in
CRM_DATA_DIR), builds purchase occasions the way DESIGN.md §4 defines them (a calendar day with at least one
booked sale; same-day orders merge; a return belongs to the occasion of the sale it returns) and prints:

* a calibration back-test: fit on the history up to a cut-off date, predict purchase occasions in the
  hold-out period that follows, compare predicted and actual totals, per decile of the prediction and
  against a naive forecast (each customer repeats their past rate);
* how well 1 − P(alive) ranks customers who really dropped out (ROC AUC), against the naive recency rule
  (days since the last purchase) — with the demo generator's hidden-truth file (`demo_truth.parquet` in
  CRM_DATA_DIR, see ingest/demo_data.py) when it exists, and always against the observable proxy "no purchase
  in the hold-out period";
* when a warehouse is published (`crm refresh`), the same for its `customer_value` mart, and how far the mart's
  P(alive) and expected purchases are from this benchmark's direct computation at the mart's as-of date;
* fitting and scoring times on a synthetic BG/NBD population (default 100k customers).

    crm init && crm demo-data --customers 20000
    CRM_DATA_DIR=/tmp/x/var .venv/bin/python benchmarks/bench_clv_backtest.py [--holdout-days 365]
        [--as-of YYYY-MM-DD] [--truth FILE] [--synthetic 100000] [--skip-database] [--skip-warehouse]

The figures depend on the machine's load: say so when quoting them.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text

from crm_app.db import make_engine
from crm_app.settings import get_settings
from ingest.demo_data import TRUTH_FILE
from warehouse import clv
from warehouse.paths import published_path

REVENUE_STATUSES = ("confirmed", "shipped", "completed")  # dbt var revenue_order_statuses
TIME_UNIT_DAYS = 7.0
ORDERS_SQL = """
with line_cost as (
    select order_id, sum(quantity * coalesce(unit_cost, 0)) as cost
    from order_lines
    group by order_id
)
select
    o.id as order_id,
    o.account_id,
    a.external_ref,
    o.kind,
    o.status,
    o.order_date,
    o.return_of_id,
    o.total_amount,
    coalesce(line_cost.cost, 0) as cost
from orders o
join accounts a on a.id = o.account_id
left join line_cost on line_cost.order_id = o.id
where o.deleted_at is null and a.deleted_at is null
"""


# --------------------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------------------


def read_orders(url: str) -> pd.DataFrame:
    """Booked sales and returns with their occasion date, net revenue and gross margin (returns negative)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            orders = pd.read_sql(text(ORDERS_SQL), connection)
    finally:
        engine.dispose()
    orders["order_date"] = pd.to_datetime(orders["order_date"]).dt.normalize()
    orders["total_amount"] = orders["total_amount"].astype(float)
    orders["cost"] = orders["cost"].astype(float)
    booked = orders["status"].isin(REVENUE_STATUSES)
    sale_date = orders.loc[booked & (orders["kind"] == "sale")].set_index("order_id")["order_date"]
    is_return = orders["kind"] == "return"
    # A return belongs to the occasion of the sale it returns; a return of an unbooked sale is not booked either.
    orders["occasion_date"] = orders["order_date"]
    orders.loc[is_return, "occasion_date"] = orders.loc[is_return, "return_of_id"].map(sale_date)
    orders = orders[booked & orders["occasion_date"].notna()].copy()
    sign = np.where(orders["kind"] == "return", -1.0, 1.0)
    orders["net_revenue"] = sign * orders["total_amount"]
    orders["gross_margin"] = sign * (orders["total_amount"] - orders["cost"])
    orders["is_sale"] = orders["kind"] == "sale"
    return orders[
        [
            "order_id",
            "account_id",
            "external_ref",
            "order_date",
            "occasion_date",
            "is_sale",
            "net_revenue",
            "gross_margin",
        ]
    ]


def occasions_as_of(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Purchase occasions (account, day) known at `as_of`: nothing dated after it counts."""
    known = orders[orders["order_date"] <= as_of]
    grouped = known.groupby(["account_id", "occasion_date"], as_index=False).agg(
        sales=("is_sale", "sum"), net_revenue=("net_revenue", "sum"), gross_margin=("gross_margin", "sum")
    )
    return grouped[grouped["sales"] > 0]


def summarise(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The `score_customers` input as of a date (same rules as dbt's int_customers__clv_summary)."""
    occasions = occasions_as_of(orders, as_of).sort_values(["account_id", "occasion_date"])
    first_date = occasions.groupby("account_id")["occasion_date"].transform("min")
    occasions = occasions.assign(
        repeat_revenue=np.where(occasions["occasion_date"] > first_date, occasions["net_revenue"], 0.0)
    )
    per = occasions.groupby("account_id").agg(
        first=("occasion_date", "min"),
        last=("occasion_date", "max"),
        count=("occasion_date", "size"),
        net_revenue=("net_revenue", "sum"),
        gross_margin=("gross_margin", "sum"),
        repeat_revenue=("repeat_revenue", "sum"),
    )
    frequency = per["count"] - 1
    summary = pd.DataFrame(
        {
            "account_id": per.index.to_numpy(),
            "frequency": frequency.to_numpy(),
            "recency": (per["last"] - per["first"]).dt.days.to_numpy(dtype=float),
            "age": (as_of - per["first"]).dt.days.to_numpy(dtype=float),
            "monetary_value": np.where(frequency > 0, per["repeat_revenue"] / frequency.clip(lower=1), 0.0),
            "margin_rate": np.where(
                per["net_revenue"] > 0, per["gross_margin"] / per["net_revenue"].where(per["net_revenue"] > 0), np.nan
            ),
            "last_purchase": per["last"].to_numpy(),
        }
    )
    return summary.reset_index(drop=True)


def holdout_occasions(orders: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Purchase occasions per account with a date in (start, end]."""
    occasions = occasions_as_of(orders, end)
    window = occasions[occasions["occasion_date"] > start]
    return window.groupby("account_id").size()


# --------------------------------------------------------------------------------------------------------------
# Hidden truth of the demo generator
# --------------------------------------------------------------------------------------------------------------


def find_truth_file(data_dir: Path) -> Path | None:
    path = data_dir / TRUTH_FILE
    return path if path.exists() else None


def read_truth(path: Path) -> pd.DataFrame:
    """Per customer (account_id): the dropout date, NaT when still active at the end of the story.

    The file is `crm demo-data`'s hidden truth (see ingest/demo_data.py): the dropout date is the purchase after
    which the customer left."""
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    missing = {"account_id", "dropout_date"} - set(frame.columns)
    if missing:
        raise SystemExit(f"{path}: the hidden-truth file lacks column(s) {sorted(missing)}")
    return pd.DataFrame(
        {"account_id": frame["account_id"], "dropout_date": pd.to_datetime(frame["dropout_date"]).dt.normalize()}
    )


# --------------------------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------------------------


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks_sorted = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    ranks = np.empty(len(values))
    ranks[order] = ranks_sorted
    return ranks


def roc_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """P(a random positive scores higher than a random negative), ties counting half (Mann-Whitney U)."""
    positive = positive.astype(bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = average_ranks(np.asarray(score, dtype=float))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def describe_params(params: pd.DataFrame) -> list[str]:
    lines = []
    for model, group in params.groupby("model", sort=False):
        values = ", ".join(
            f"{row.parameter}={row.value:.4g} (±{row.std_error:.2g})" for row in group.itertuples(index=False)
        )
        first = group.iloc[0]
        extra = f", corr(x, z̄)={first.frequency_monetary_corr:.3f}" if model == "gamma_gamma" else ""
        lines.append(
            f"  {model:<11} {values}; LL={first.log_likelihood:.1f}, n={first.customers_fitted}, "
            f"status={first.status}{extra}"
        )
    return lines


# --------------------------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------------------------


def backtest(orders: pd.DataFrame, as_of: pd.Timestamp, holdout_days: int) -> pd.DataFrame:
    """Fit at the cut-off, predict the hold-out; returns the cut-off scores joined with what happened."""
    cutoff = as_of - pd.Timedelta(days=holdout_days)
    summary = summarise(orders, cutoff)
    print(
        f"\n== Calibration back-test: fit on history to {cutoff.date()}, predict {holdout_days} days to {as_of.date()}"
    )
    if summary.empty:
        print("  no customer had bought by the cut-off: nothing to back-test")
        return summary
    (customers, params), seconds = timed(
        lambda: clv.score_customers(
            summary.drop(columns="last_purchase"), horizon_days=holdout_days, time_unit_days=TIME_UNIT_DAYS
        )
    )
    print(
        f"  customers at cut-off: {len(summary):,} (repeat buyers {int((summary['frequency'] > 0).sum()):,}); "
        f"fit + score {seconds:.2f} s"
    )
    print("\n".join(describe_params(params)))
    actual = holdout_occasions(orders, cutoff, as_of)
    frame = summary.merge(customers, on="account_id")
    frame["actual"] = frame["account_id"].map(actual).fillna(0).to_numpy(dtype=float)
    # Naive forecast: the customer's own repeat rate so far, carried forward.
    frame["naive"] = np.where(frame["age"] > 0, frame["frequency"] / frame["age"].clip(lower=1) * holdout_days, 0.0)
    predicted, observed = frame["expected_purchases"].sum(), frame["actual"].sum()
    print(
        f"  hold-out purchase occasions: predicted {predicted:,.0f}, actual {observed:,.0f} "
        f"(predicted/actual {predicted / max(observed, 1e-9):.3f}); naive {frame['naive'].sum():,.0f}"
    )
    for name in ("expected_purchases", "naive"):
        error = frame[name] - frame["actual"]
        print(
            f"  per customer {name:<18}: MAE {error.abs().mean():.3f}, RMSE {np.sqrt((error**2).mean()):.3f}, "
            f"correlation with actual {np.corrcoef(frame[name], frame['actual'])[0, 1]:.3f}"
        )
    deciles = pd.qcut(frame["expected_purchases"].rank(method="first"), 10, labels=False) + 1
    table = frame.groupby(deciles).agg(
        customers=("actual", "size"),
        predicted=("expected_purchases", "mean"),
        actual=("actual", "mean"),
        p_alive=("p_alive", "mean"),
    )
    print("  per decile of predicted purchases (means per customer):")
    print("    decile  customers  predicted  actual  P(alive)")
    for decile, row in table.iterrows():
        print(
            f"    {decile:>6}  {int(row.customers):>9,}  {row.predicted:>9.3f}  {row.actual:>6.3f}  {row.p_alive:>8.3f}"
        )
    by_frequency = frame.groupby(
        pd.cut(frame["frequency"], [-1, 0, 1, 3, 7, np.inf], labels=["0", "1", "2-3", "4-7", "8+"]), observed=True
    ).agg(customers=("actual", "size"), predicted=("expected_purchases", "sum"), actual=("actual", "sum"))
    print(
        "  per past repeat frequency (totals):  "
        + "; ".join(f"x={label}: {row.predicted:,.0f} vs {row.actual:,.0f}" for label, row in by_frequency.iterrows())
    )
    frame.attrs["cutoff"] = cutoff
    return frame


def churn_ranking(frame: pd.DataFrame, label: np.ndarray, title: str, negative_name: str = "really alive") -> None:
    """AUC of 1 − P(alive) and of days since the last purchase for `label` (True = dropped out)."""
    days_silent = (frame.attrs["as_of"] - pd.to_datetime(frame["last_purchase"])).dt.days.to_numpy(dtype=float)
    repeat = frame["frequency"].to_numpy() > 0
    print(f"  {title}")
    for name, subset in (("all buyers", np.ones(len(frame), dtype=bool)), ("repeat buyers", repeat)):
        if subset.sum() == 0:
            continue
        auc_model = roc_auc(1 - frame["p_alive"].to_numpy()[subset], label[subset])
        auc_naive = roc_auc(days_silent[subset], label[subset])
        print(
            f"    {name:<13} n={int(subset.sum()):>7,}  churned {label[subset].mean():6.1%}   "
            f"AUC 1−P(alive) {auc_model:.3f}   AUC days since last purchase {auc_naive:.3f}"
        )
    alive_share = 1 - label[repeat].mean() if repeat.any() else float("nan")
    print(
        f"    calibration (repeat buyers): mean P(alive) {frame['p_alive'].to_numpy()[repeat].mean():.3f} "
        f"vs share {negative_name} {alive_share:.3f}"
    )


def synthetic_timing(n: int, seed: int) -> None:
    print(f"\n== Synthetic BG/NBD population: {n:,} customers observed in whole days (r=0.6, α=30 days, a=0.8, b=3)")
    rng = np.random.default_rng(seed)
    age = np.floor(rng.uniform(1, 3 * 365, n))
    sim = clv.simulate_bg_nbd(0.6, 30.0, 0.8, 3.0, age, rng=rng)
    frequency = sim["frequency"].to_numpy()
    summary = pd.DataFrame(
        {
            "account_id": np.arange(n),
            "frequency": frequency,
            "recency": np.floor(sim["recency"].to_numpy()),
            "age": age,
            "monetary_value": np.where(frequency > 0, rng.gamma(4.0, 25.0, n), 0.0),
            "margin_rate": rng.uniform(0.15, 0.45, n),
        }
    )
    weeks = (summary["frequency"], summary["recency"] / TIME_UNIT_DAYS, summary["age"] / TIME_UNIT_DAYS)
    fit_times, fit = [], None
    for _ in range(3):
        fit, seconds = timed(lambda: clv.fit_bg_nbd(*weeks))
        fit_times.append(seconds)
    assert fit is not None
    distinct = len(summary[["frequency", "recency", "age"]].drop_duplicates())
    print(
        f"  fit_bg_nbd: {min(fit_times):.3f} s best of 3 (runs {', '.join(f'{t:.3f}' for t in fit_times)}); "
        f"{distinct:,} distinct (x, t_x, T); r={fit.r:.3f} α={fit.alpha * TIME_UNIT_DAYS:.2f} days "
        f"a={fit.a:.3f} b={fit.b:.3f}; {fit.iterations} iterations"
    )
    _, gg_seconds = timed(lambda: clv.fit_gamma_gamma(summary["frequency"], summary["monetary_value"]))
    print(f"  fit_gamma_gamma on {int((frequency > 0).sum()):,} repeat buyers: {gg_seconds:.3f} s")
    _, score_seconds = timed(lambda: clv.score_customers(summary, horizon_days=365))
    print(f"  score_customers (both fits + 12 monthly steps of eq. 10 + discounting): {score_seconds:.3f} s")


def published_mart(orders: pd.DataFrame, truth: pd.Series | None) -> None:
    """Cross-check the published warehouse's `customer_value` against this benchmark's direct computation."""
    path = published_path()
    print(f"\n== Published warehouse {path}")
    if not path.exists():
        print("  not published yet (`crm refresh`): skipped")
        return
    from warehouse.readers import query_df  # DuckDB reader, read-only; only needed here

    log = query_df("select as_of_date, horizon_days from main.refresh_log order by finished_at desc limit 1")
    mart = query_df(
        "select account_id, frequency, p_alive, expected_purchases, last_occasion_date as last_purchase "
        "from marts.customer_value where p_alive is not null"
    )
    as_of, horizon = pd.Timestamp(log["as_of_date"].iloc[0]), int(log["horizon_days"].iloc[0])
    summary = summarise(orders, as_of)
    direct, _ = clv.score_customers(
        summary.drop(columns="last_purchase"), horizon_days=horizon, time_unit_days=TIME_UNIT_DAYS
    )
    both = mart.merge(direct, on="account_id", suffixes=("", "_direct"))
    print(
        f"  as of {as_of.date()}, horizon {horizon} days: {len(mart):,} scored customers in the mart, "
        f"{len(summary):,} computed here, {len(both):,} in both"
    )
    for column in ("p_alive", "expected_purchases"):
        gap = (both[column] - both[f"{column}_direct"]).abs()
        print(f"  |{column} mart − direct|: max {gap.max():.2e}, mean {gap.mean():.2e}")
    if truth is not None:
        dropout = mart["account_id"].map(truth)
        mart.attrs["as_of"] = as_of
        dropped = (dropout.notna() & (dropout <= as_of)).to_numpy()
        churn_ranking(mart, dropped, f"published p_alive against the truth (dropped out by {as_of.date()})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", help="evaluation date (default: the day of the latest order in the database)")
    parser.add_argument("--holdout-days", type=int, default=365)
    parser.add_argument("--truth", type=Path, help=f"hidden-truth file (default: CRM_DATA_DIR/{TRUTH_FILE})")
    parser.add_argument("--synthetic", type=int, default=100_000, help="customers in the timing run (0: skip)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-database", action="store_true", help="only the synthetic timing run")
    parser.add_argument("--skip-warehouse", action="store_true", help="no cross-check with the published marts")
    args = parser.parse_args(argv)

    if not args.skip_database:
        settings = get_settings()
        url = settings.sqlalchemy_url
        orders, seconds = timed(lambda: read_orders(url))
        print(f"Operational database {url}: {len(orders):,} booked orders and returns read in {seconds:.1f} s")
        if orders.empty:
            print("No booked sale orders: run `crm demo-data --customers N` first.")
            return 1
        latest = orders["order_date"].max()
        as_of = pd.Timestamp(args.as_of) if args.as_of else latest
        print(f"As of {as_of.date()} (latest order {latest.date()}); time unit {TIME_UNIT_DAYS:g} days")

        frame = backtest(orders, as_of, args.holdout_days)

        print(f"\n== Churn ranking at {as_of.date()} (model fitted on all history to that date)")
        summary = summarise(orders, as_of)
        customers, params = clv.score_customers(
            summary.drop(columns="last_purchase"), horizon_days=args.holdout_days, time_unit_days=TIME_UNIT_DAYS
        )
        now = summary.merge(customers, on="account_id")
        now.attrs["as_of"] = as_of
        print("\n".join(describe_params(params)))
        truth_path = args.truth or find_truth_file(settings.resolved_data_dir)
        truth = None if truth_path is None else read_truth(truth_path).set_index("account_id")["dropout_date"]
        if truth is None:
            print(f"  no hidden-truth file under {settings.resolved_data_dir}: truth AUC skipped")
        else:
            dropout = now["account_id"].map(truth)
            missing = int((~now["account_id"].isin(truth.index)).sum())
            dropped = (dropout.notna() & (dropout <= as_of)).to_numpy()
            note = f"; {missing} scored customers not in the truth file" if missing else ""
            churn_ranking(now, dropped, f"truth from {truth_path} (dropped out by {as_of.date()}){note}")
            if not frame.empty:
                cutoff = frame.attrs["cutoff"]
                at_cutoff = frame.copy()
                at_cutoff.attrs["as_of"] = cutoff
                cutoff_dropout = at_cutoff["account_id"].map(truth)
                dropped_at_cutoff = (cutoff_dropout.notna() & (cutoff_dropout <= cutoff)).to_numpy()
                churn_ranking(at_cutoff, dropped_at_cutoff, f"truth at the cut-off {cutoff.date()}")
        if not frame.empty:
            print(f"\n== Observable churn proxy: no purchase in the {args.holdout_days} hold-out days")
            frame.attrs["as_of"] = frame.attrs["cutoff"]
            churn_ranking(frame, (frame["actual"] == 0).to_numpy(), "scores at the cut-off", "buying in the hold-out")
        if not args.skip_warehouse:
            published_mart(orders, truth)

    if args.synthetic > 0:
        synthetic_timing(args.synthetic, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
