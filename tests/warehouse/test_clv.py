"""Tests for the customer value model (warehouse/clv.py): estimators, closed forms, scoring, degenerate data."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, special, stats

from warehouse import clv

DATA = Path(__file__).parent / "data"

# Fader, Hardie & Lee (2005), CDNOW cohort of 2357 customers, 39 weeks of calibration, time unit weeks.
PUBLISHED_BG_NBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BG_NBD_LOG_LIKELIHOOD = -9582.4
# Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value", CDNOW repeat buyers.
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def cdnow_spend() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def cdnow_fit(cdnow: pd.DataFrame) -> clv.BgNbdFit:
    return clv.fit_bg_nbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def published_fit() -> clv.BgNbdFit:
    r, alpha, a, b = PUBLISHED_BG_NBD.values()
    return clv.BgNbdFit(r, alpha, a, b, log_likelihood=PUBLISHED_BG_NBD_LOG_LIKELIHOOD, customers_fitted=2357)


def _integrate_against_beta(a: float, rest: Callable[[float], float]) -> float:
    """∫_0^1 p^(a−1) rest(p) dp, with p = s^(1/a) so the p^(a−1) singularity at 0 becomes ds/a."""
    value, _ = integrate.quad(lambda s: rest(s ** (1 / a)), 0, 1, epsabs=0, epsrel=1e-12, limit=400)
    return value / a


def _bg_nbd_expected_by_integration(fit: clv.BgNbdFit, t: float, x: float, t_x: float, T: float) -> float:
    """E[Y(t) | x, t_x, T] straight from the model's definition, integrating over the dropout probability p.

    Given λ and p, a customer alive at T buys (1 − e^{−λpt})/p in the next t (geometric number of purchases
    left, each with Poisson timing); alive with likelihood (1−p)^x λ^x e^{−λT}, dropped after the last purchase
    with p(1−p)^{x−1} λ^x e^{−λ t_x}. λ ~ Gamma(r, α) integrates in closed form; p ~ Beta(a, b) numerically.
    Constants common to numerator and denominator (the Gamma and Beta normalisers) cancel and are left out.
    """
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    k = r + x

    def alive_and_future(p: float) -> float:
        # (1−p)^(b−1) (1−p)^x ∫ λ^x e^{−λT} (1 − e^{−λpt}) g(λ) dλ / p, the λ integral done by hand.
        if p == 0:
            return k * t * (alpha + T) ** (-k - 1)
        # (α+T)^−k − (α+T+pt)^−k without cancellation when p is tiny (a < 1 puts much mass there).
        difference = (alpha + T) ** -k * -math.expm1(-k * math.log1p(p * t / (alpha + T)))
        return (1 - p) ** (b - 1 + x) * difference / p

    def likelihood(p: float) -> float:
        value = (1 - p) ** x * (alpha + T) ** -k
        if x > 0:
            value += p * (1 - p) ** (x - 1) * (alpha + t_x) ** -k
        return (1 - p) ** (b - 1) * value

    return _integrate_against_beta(a, alive_and_future) / _integrate_against_beta(a, likelihood)


# --------------------------------------------------------------------------------------------------------------
# BG/NBD against the published CDNOW result
# --------------------------------------------------------------------------------------------------------------


def test_fit_bg_nbd_reproduces_published_cdnow_estimates(cdnow_fit: clv.BgNbdFit) -> None:
    assert cdnow_fit.customers_fitted == 2357
    assert cdnow_fit.converged
    assert not cdnow_fit.at_bound
    for name, published in PUBLISHED_BG_NBD.items():
        # Published to three decimals: agree to the last printed digit.
        assert cdnow_fit.params[name] == pytest.approx(published, abs=1e-3), name
    assert cdnow_fit.log_likelihood == pytest.approx(PUBLISHED_BG_NBD_LOG_LIKELIHOOD, abs=0.05)


def test_fit_bg_nbd_standard_errors_are_plausible(cdnow_fit: clv.BgNbdFit) -> None:
    # The inverse Hessian on the CDNOW cohort gives roughly r ± 0.013, α ± 0.38, a ± 0.19, b ± 0.71.
    expected = {"r": 0.0126, "alpha": 0.378, "a": 0.186, "b": 0.705}
    for name, value in expected.items():
        assert cdnow_fit.std_errors[name] == pytest.approx(value, rel=0.05), name


def test_bg_nbd_log_likelihood_at_published_estimates(cdnow: pd.DataFrame) -> None:
    ll = clv.bg_nbd_log_likelihood(tuple(PUBLISHED_BG_NBD.values()), cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert ll == pytest.approx(PUBLISHED_BG_NBD_LOG_LIKELIHOOD, abs=0.05)
    per_customer = clv.bg_nbd_log_likelihood(
        tuple(PUBLISHED_BG_NBD.values()), cdnow["frequency"], cdnow["recency"], cdnow["T"], per_customer=True
    )
    assert per_customer.shape == (2357,)
    assert per_customer.sum() == pytest.approx(ll)
    assert (per_customer < 0).all()


def test_bg_nbd_log_likelihood_matches_the_paper_formula_for_one_customer() -> None:
    r, alpha, a, b = PUBLISHED_BG_NBD.values()
    x, t_x, T = 2, 30.43, 38.86
    # FHL 2005 eq. 6 written out directly with Beta and Gamma functions.
    common = math.gamma(r + x) * alpha**r / math.gamma(r)
    beta = special.beta
    by_hand = beta(a, b + x) / beta(a, b) * common / (alpha + T) ** (r + x) + beta(a + 1, b + x - 1) / beta(
        a, b
    ) * common / (alpha + t_x) ** (r + x)
    assert clv.bg_nbd_log_likelihood((r, alpha, a, b), [x], [t_x], [T]) == pytest.approx(math.log(by_hand), rel=1e-12)


def test_fit_bg_nbd_log_likelihood_agrees_with_the_reference_form(cdnow: pd.DataFrame, cdnow_fit: clv.BgNbdFit) -> None:
    reference = clv.bg_nbd_log_likelihood(
        tuple(cdnow_fit.params.values()), cdnow["frequency"], cdnow["recency"], cdnow["T"]
    )
    assert cdnow_fit.log_likelihood == pytest.approx(reference, rel=1e-12)


@pytest.mark.parametrize("point", [(0.243, 4.414, 0.793, 2.426), (2.0, 0.5, 1.7, 9.0)])
def test_bg_nbd_gradient_matches_finite_differences(cdnow: pd.DataFrame, point: tuple[float, ...]) -> None:
    # The optimiser relies on the analytic gradient; a wrong one would stop it at the wrong place.
    x, t_x, T = (cdnow[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    objective = clv._bg_nbd_objective(x, t_x, T, np.ones(x.size))
    log_point = np.log(point)
    value, gradient = objective(log_point)
    assert value == pytest.approx(-clv.bg_nbd_log_likelihood(point, x, t_x, T) / x.size, rel=1e-12)
    numeric = optimize.approx_fprime(log_point, lambda v: objective(v)[0], 1e-7)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-7)


def test_gamma_gamma_gradient_matches_finite_differences(cdnow_spend: pd.DataFrame) -> None:
    repeat = cdnow_spend[cdnow_spend["x"] > 0]
    x, m = repeat["x"].to_numpy(dtype=float), repeat["zbar"].to_numpy(dtype=float)
    objective = clv._gamma_gamma_objective(x, m, np.ones(x.size))
    log_point = np.log([6.25, 3.74, 15.44])
    _, gradient = objective(log_point)
    numeric = optimize.approx_fprime(log_point, lambda v: objective(v)[0], 1e-7)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-7)


def test_fit_bg_nbd_weights_equal_repeated_rows(cdnow: pd.DataFrame) -> None:
    sample = cdnow.iloc[:400]
    doubled = pd.concat([sample, sample])
    by_rows = clv.fit_bg_nbd(doubled["frequency"], doubled["recency"], doubled["T"])
    by_weights = clv.fit_bg_nbd(sample["frequency"], sample["recency"], sample["T"], weights=np.full(400, 2.0))
    assert by_weights.customers_fitted == by_rows.customers_fitted == 800
    for name in clv.BG_NBD_PARAMETERS:
        assert by_weights.params[name] == pytest.approx(by_rows.params[name], rel=1e-5)


# --------------------------------------------------------------------------------------------------------------
# Closed-form expectations
# --------------------------------------------------------------------------------------------------------------


def test_expected_purchases_matches_the_papers_worked_example(
    cdnow_fit: clv.BgNbdFit, published_fit: clv.BgNbdFit
) -> None:
    # FHL 2005: a customer with x = 2, t_x = 30.43, T = 38.86 weeks is expected to buy 1.226 times in 39 weeks.
    for fit in (published_fit, cdnow_fit):
        assert clv.expected_purchases(fit, 39, 2, 30.43, 38.86)[0] == pytest.approx(1.226, abs=5e-4)


@pytest.mark.parametrize(
    ("x", "t_x", "T", "t"),
    [
        (2, 30.43, 38.86, 39.0),
        (0, 0.0, 38.86, 39.0),
        (1, 1.71, 38.86, 52.0),
        (7, 35.0, 36.0, 10.0),
        (25, 5.0, 60.0, 104.0),
        (3, 12.0, 12.0, 0.5),
    ],
)
def test_expected_purchases_agrees_with_numeric_integration(
    published_fit: clv.BgNbdFit, x: int, t_x: float, T: float, t: float
) -> None:
    closed_form = clv.expected_purchases(published_fit, t, x, t_x, T)[0]
    assert closed_form == pytest.approx(_bg_nbd_expected_by_integration(published_fit, t, x, t_x, T), rel=1e-7)


@pytest.mark.parametrize(
    ("r", "alpha", "a", "b"), [(0.243, 4.414, 0.793, 2.426), (2.0, 10.0, 3.5, 8.0), (0.5, 1.0, 0.05, 40.0)]
)
def test_expected_purchases_agrees_with_integration_across_parameters(
    r: float, alpha: float, a: float, b: float
) -> None:
    fit = clv.BgNbdFit(r=r, alpha=alpha, a=a, b=b, log_likelihood=0.0, customers_fitted=0)
    for x, t_x, T, t in ((0, 0.0, 20.0, 52.0), (4, 18.0, 20.0, 52.0), (60, 90.0, 100.0, 26.0)):
        expected = _bg_nbd_expected_by_integration(fit, t, x, t_x, T)
        assert clv.expected_purchases(fit, t, x, t_x, T)[0] == pytest.approx(expected, rel=1e-6)


def _bg_nbd_expected_by_series(fit: clv.BgNbdFit, t: float, x: int, t_x: float, T: float) -> float:
    """E[Y(t) | x, t_x, T] as P(alive) · Σ_j E[(1−p)^(j−1)] P(M ≥ j): an alive customer makes min(M, G) more
    purchases, M ~ NegBin(r+x, (α+T)/(α+T+t)) without dropout, G ~ Geometric(p) with p ~ Beta(a, b+x)."""
    k, q = fit.r + x, (fit.alpha + T) / (fit.alpha + T + t)
    j = np.arange(1, 5000)
    survival = stats.nbinom.sf(j - 1, k, q)  # P(M ≥ j)
    beta_moment = np.exp(special.betaln(fit.a, fit.b + x + j - 1) - special.betaln(fit.a, fit.b + x))
    alive = clv.p_alive(fit, x, t_x, T)[0]
    return float(alive * np.sum(beta_moment * survival))


@pytest.mark.parametrize(
    ("x", "t_x", "T", "t"),
    [(2, 30.43, 38.86, 39.0), (0, 0.0, 5.0, 52.0), (12, 70.0, 75.0, 26.0), (1, 0.5, 90.0, 104.0)],
)
def test_expected_purchases_agrees_with_a_direct_series(
    published_fit: clv.BgNbdFit, x: int, t_x: float, T: float, t: float
) -> None:
    closed_form = clv.expected_purchases(published_fit, t, x, t_x, T)[0]
    assert closed_form == pytest.approx(_bg_nbd_expected_by_series(published_fit, t, x, t_x, T), rel=1e-8)


def test_expected_purchases_at_the_parameter_box_edges_are_finite() -> None:
    # Degenerate data drive fits to the box edges (shapes e^-9 … e^8); scoring must still give sane numbers.
    rng = np.random.default_rng(3)
    T = rng.uniform(0, 156, 2000)
    x = np.where(rng.random(2000) < 0.4, 0, rng.integers(1, 40, 2000)).astype(float)
    t_x = np.where(x > 0, T * rng.random(2000), 0.0)
    for r, a, b in (
        (math.exp(8), math.exp(8), math.exp(-9)),
        (math.exp(-9), 0.8, math.exp(8)),
        (math.exp(8), 1e-4, 3.0),
    ):
        fit = clv.BgNbdFit(r=r, alpha=r / 0.2, a=a, b=b, log_likelihood=0.0, customers_fitted=0)
        expected = clv.expected_purchases(fit, 52.0, x, t_x, T)
        assert np.isfinite(expected).all()
        assert (expected >= 0).all()
        # Never more than an immortal customer at the highest rate the posterior allows would buy.
        assert (expected <= (r + x) * 52.0 / (fit.alpha + T) + 1e-9).all()


def test_expected_purchases_is_continuous_at_a_equal_to_one(published_fit: clv.BgNbdFit) -> None:
    # eq. 9/10 divide by a − 1; the limit exists and must not blow up.
    values = []
    for a in (1 - 1e-3, 1.0, 1 + 1e-3):
        fit = clv.BgNbdFit(r=0.5, alpha=5.0, a=a, b=2.5, log_likelihood=0.0, customers_fitted=0)
        values.append(clv.expected_purchases(fit, 39, [0, 3], [0, 20.0], [30.0, 30.0]))
    assert np.all(np.isfinite(values[1]))
    assert values[1] == pytest.approx((values[0] + values[2]) / 2, rel=1e-5)
    exact = clv.BgNbdFit(r=0.5, alpha=5.0, a=1.0, b=2.5, log_likelihood=0.0, customers_fitted=0)
    assert clv.expected_purchases(exact, 39, 3, 20.0, 30.0)[0] == pytest.approx(
        _bg_nbd_expected_by_integration(exact, 39, 3, 20.0, 30.0), rel=1e-6
    )


def test_expected_purchases_new_customer_agrees_with_integration(published_fit: clv.BgNbdFit) -> None:
    r, alpha, a, b = (published_fit.params[n] for n in clv.BG_NBD_PARAMETERS)
    for t in (1.0, 39.0, 78.0):
        # E[X(t)] = E_p[(1 − (α/(α + p t))^r) / p] under the Beta(a, b) prior (λ integrated by hand).
        def future(p: float, t: float = t) -> float:
            if p == 0:
                return r * t / alpha
            return (1 - p) ** (b - 1) * -math.expm1(-r * math.log1p(p * t / alpha)) / p

        by_integration = _integrate_against_beta(a, future)
        by_integration /= special.beta(a, b)
        assert clv.expected_purchases_new_customer(published_fit, t)[0] == pytest.approx(by_integration, rel=1e-7)
    # eq. 9 is eq. 10 for a customer with no history.
    assert clv.expected_purchases_new_customer(published_fit, 39.0)[0] == pytest.approx(
        clv.expected_purchases(published_fit, 39.0, 0, 0.0, 0.0)[0]
    )


def test_expected_purchases_new_customer_tracks_cdnow_calibration_totals(
    cdnow: pd.DataFrame, cdnow_fit: clv.BgNbdFit
) -> None:
    # The fitted model should reproduce the cohort's repeat purchases over each customer's own calibration period.
    predicted = clv.expected_purchases_new_customer(cdnow_fit, cdnow["T"]).sum()
    assert predicted == pytest.approx(cdnow["frequency"].sum(), rel=0.03)


def test_expected_purchases_grows_with_horizon_and_is_zero_at_zero(
    cdnow: pd.DataFrame, cdnow_fit: clv.BgNbdFit
) -> None:
    sample = cdnow.iloc[:300]
    previous = np.zeros(len(sample))
    for t in (0.0, 1.0, 13.0, 52.0, 260.0):
        current = clv.expected_purchases(cdnow_fit, t, sample["frequency"], sample["recency"], sample["T"])
        assert np.all(np.isfinite(current))
        assert np.all(current >= previous - 1e-12)
        previous = current
    assert clv.expected_purchases(cdnow_fit, 0.0, 3, 10.0, 20.0)[0] == 0.0


def test_p_alive_is_one_without_repeat_purchases(cdnow_fit: clv.BgNbdFit) -> None:
    # Under BG/NBD a customer can only drop out right after a repeat purchase.
    assert clv.p_alive(cdnow_fit, [0, 0, 0], [0.0, 0.0, 0.0], [0.0, 10.0, 500.0]).tolist() == [1.0, 1.0, 1.0]


def test_p_alive_matches_a_hand_computed_value(published_fit: clv.BgNbdFit) -> None:
    # 1 / (1 + 0.793/(2.426 + 1) · (43.274/34.844)^2.243) computed by hand = 0.72658
    assert clv.p_alive(published_fit, 2, 30.43, 38.86)[0] == pytest.approx(0.72658, abs=1e-5)


def test_p_alive_is_a_probability_over_the_cdnow_cohort(cdnow: pd.DataFrame, cdnow_fit: clv.BgNbdFit) -> None:
    alive = clv.p_alive(cdnow_fit, cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert np.all((alive >= 0) & (alive <= 1))
    assert 0.3 < alive.mean() < 0.9


def test_p_alive_is_higher_for_a_more_recent_last_purchase(cdnow_fit: clv.BgNbdFit) -> None:
    recency = np.linspace(0.5, 40.0, 50)
    for x in (1, 3, 10):
        alive = clv.p_alive(cdnow_fit, np.full(50, x), recency, np.full(50, 40.0))
        assert np.all(np.diff(alive) > 0), x
        assert alive[-1] == pytest.approx(1 / (1 + cdnow_fit.a / (cdnow_fit.b + x - 1)))


def test_p_alive_falls_the_longer_a_customer_has_been_silent(cdnow_fit: clv.BgNbdFit) -> None:
    ages = np.linspace(20.0, 100.0, 30)
    alive = clv.p_alive(cdnow_fit, np.full(30, 4), np.full(30, 20.0), ages)
    assert np.all(np.diff(alive) < 0)
    # A frequent buyer gone quiet is more likely dead than an infrequent one with the same silence.
    frequent, rare = clv.p_alive(cdnow_fit, [12, 2], [20.0, 20.0], [50.0, 50.0])
    assert frequent < rare


def test_expected_purchases_respect_recency(cdnow_fit: clv.BgNbdFit) -> None:
    recent, lapsed = clv.expected_purchases(cdnow_fit, 52, [5, 5], [38.0, 10.0], [39.0, 39.0])
    assert recent > lapsed > 0


def test_expected_purchases_extreme_customers_stay_finite_and_bounded() -> None:
    # Corners where scipy's hyp2f1 loses accuracy: a very frequent customer observed briefly, long horizon.
    fit = clv.BgNbdFit(r=2.8, alpha=0.11, a=9.97, b=2.64, log_likelihood=0.0, customers_fitted=0)
    x, t_x, T, t = 290.0, 0.1418, 0.151, 216.6
    value = clv.expected_purchases(fit, t, x, t_x, T)[0]
    # Alive customers buy ≈ E[1/p] ≈ (a+b+x−1)/(a−1) ≈ 33.6 more times; P(alive) ≈ 1/1150 after the silence.
    alive = clv.p_alive(fit, x, t_x, T)[0]
    assert value == pytest.approx(33.64 * alive, rel=1e-3)


# --------------------------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------------------------


def test_fit_gamma_gamma_reproduces_published_cdnow_estimates(cdnow_spend: pd.DataFrame) -> None:
    fit = clv.fit_gamma_gamma(cdnow_spend["x"], cdnow_spend["zbar"])
    assert fit.customers_fitted == 946  # the repeat buyers
    assert fit.converged
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert fit.params[name] == pytest.approx(published, abs=0.01), name
    # The independence assumption: frequency and mean spend are only weakly correlated in CDNOW.
    assert abs(fit.frequency_monetary_corr) < 0.2


def test_gamma_gamma_mean_spend_check(cdnow_spend: pd.DataFrame) -> None:
    fit = clv.fit_gamma_gamma(cdnow_spend["x"], cdnow_spend["zbar"])
    repeat = cdnow_spend[cdnow_spend["x"] > 0]
    observed_mean = repeat["zbar"].mean()
    assert observed_mean == pytest.approx(35.08, abs=0.005)
    # The implied mean spend per transaction pγ/(q − 1) sits next to the observed average of z̄ …
    assert fit.population_mean == pytest.approx(observed_mean, rel=0.01)
    # … and the conditional expectations average back to it.
    conditional = clv.conditional_expected_value(fit, repeat["x"], repeat["zbar"])
    assert conditional.mean() == pytest.approx(observed_mean, rel=0.01)


def test_conditional_expected_value_shrinks_toward_the_population_mean(cdnow_spend: pd.DataFrame) -> None:
    fit = clv.fit_gamma_gamma(cdnow_spend["x"], cdnow_spend["zbar"])
    p, q, gamma = fit.p, fit.q, fit.gamma
    # Customer 1 of CDNOW: x = 2, z̄ = $22.35 → p(γ + x z̄)/(px + q − 1).
    assert clv.conditional_expected_value(fit, 2, 22.35)[0] == pytest.approx(
        p * (gamma + 2 * 22.35) / (p * 2 + q - 1), rel=1e-12
    )
    assert clv.conditional_expected_value(fit, 2, 22.35)[0] == pytest.approx(24.66, abs=0.01)
    one, many = clv.conditional_expected_value(fit, [1, 40], [100.0, 100.0])
    # Both lie between the population mean (≈ $35) and their own $100; more purchases, more trust in their own.
    assert fit.population_mean < one < many < 100.0
    assert clv.conditional_expected_value(fit, 0, 0.0)[0] == pytest.approx(fit.population_mean)


def test_gamma_gamma_log_likelihood_is_maximal_at_the_fit(cdnow_spend: pd.DataFrame) -> None:
    fit = clv.fit_gamma_gamma(cdnow_spend["x"], cdnow_spend["zbar"])
    at_fit = clv.gamma_gamma_log_likelihood((fit.p, fit.q, fit.gamma), cdnow_spend["x"], cdnow_spend["zbar"])
    assert at_fit == pytest.approx(fit.log_likelihood)
    for nudge in ((1.05, 1, 1), (1, 0.95, 1), (1, 1, 1.05)):
        moved = (fit.p * nudge[0], fit.q * nudge[1], fit.gamma * nudge[2])
        assert clv.gamma_gamma_log_likelihood(moved, cdnow_spend["x"], cdnow_spend["zbar"]) < at_fit


def test_fit_gamma_gamma_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(11)
    n, p, q, gamma = 20_000, 4.0, 5.0, 60.0
    x = rng.integers(1, 12, n).astype(float)
    nu = rng.gamma(q, 1 / gamma, n)
    zbar = rng.gamma(p * x, 1 / (nu * x))  # mean of x Gamma(p, ν) spends
    fit = clv.fit_gamma_gamma(x, zbar)
    for name, truth in {"p": p, "q": q, "gamma": gamma}.items():
        assert abs(fit.params[name] - truth) < 4 * fit.std_errors[name], name
        assert fit.params[name] == pytest.approx(truth, rel=0.15), name


# --------------------------------------------------------------------------------------------------------------
# score_customers: end to end on data from a known BG/NBD process
# --------------------------------------------------------------------------------------------------------------

TRUE_WEEKLY = {"r": 0.6, "alpha": 8.0, "a": 0.8, "b": 3.0}


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, pd.DataFrame]:
    """20k customers acquired over ~3 years, observed in whole days; plus their true next-year purchases."""
    rng = np.random.default_rng(2024)
    n = 20_000
    age_weeks = rng.uniform(4, 156, n)
    sim = clv.simulate_bg_nbd(**TRUE_WEEKLY, T=age_weeks, holdout=365 / 7, rng=rng)
    frequency = sim["frequency"].to_numpy()
    spend = np.where(frequency > 0, rng.gamma(3.0 * np.maximum(frequency, 1), 1 / (rng.gamma(4.0, 1 / 90.0, n))), 0.0)
    summary = pd.DataFrame(
        {
            "account_id": np.arange(1, n + 1),
            "frequency": frequency.astype(int),
            "recency": sim["recency"] * 7,
            "age": sim["T"] * 7,
            "monetary_value": np.where(frequency > 0, spend / np.maximum(frequency, 1), 0.0),
            "margin_rate": rng.uniform(0.2, 0.4, n),
        }
    )
    return summary, sim


def test_score_customers_recovers_the_true_process(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    summary, _ = simulated
    customers, params = clv.score_customers(summary, horizon_days=365)
    bg = params[params["model"] == "bg_nbd"].set_index("parameter")
    assert list(bg.index) == ["r", "alpha", "a", "b"]
    assert (bg["time_unit"] == "week").all()
    assert (bg["status"] == "fitted").all()
    assert (bg["customers_fitted"] == 20_000).all()
    assert bg["converged"].all()
    for name, truth in TRUE_WEEKLY.items():
        value, se = bg.loc[name, "value"], bg.loc[name, "std_error"]
        assert abs(value - truth) < 4 * se, (name, value, se)
        assert value == pytest.approx(truth, rel=0.2), name
    assert customers.columns.tolist() == list(clv.CUSTOMER_COLUMNS)
    assert customers["account_id"].tolist() == summary["account_id"].tolist()


def test_score_customers_predicts_next_year_purchases(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    summary, sim = simulated
    customers, _ = clv.score_customers(summary, horizon_days=365)
    actual = sim["holdout_purchases"].to_numpy()
    predicted = customers["expected_purchases"].to_numpy()
    assert predicted.sum() == pytest.approx(actual.sum(), rel=0.05)
    # Conditional expectations, not just the total: check groups by past frequency.
    for low, high in ((0, 0), (1, 2), (3, 6), (7, 10_000)):
        group = (summary["frequency"] >= low) & (summary["frequency"] <= high)
        assert predicted[group].sum() == pytest.approx(actual[group].sum(), rel=0.12), (low, high)


def test_score_customers_p_alive_separates_alive_from_dropped(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    summary, sim = simulated
    customers, _ = clv.score_customers(summary, horizon_days=365)
    repeat = summary["frequency"].to_numpy() > 0
    alive = sim["alive_at_T"].to_numpy()[repeat]
    score = customers["p_alive"].to_numpy()[repeat]
    # ROC AUC by the rank-sum formula: P(score of a live customer > score of a dropped one).
    ranks = pd.Series(score).rank().to_numpy()
    positives = alive.sum()
    auc = (ranks[alive].sum() - positives * (positives + 1) / 2) / (positives * (~alive).sum())
    assert auc > 0.75
    # Calibrated: the average P(alive) is close to the share really alive.
    assert score.mean() == pytest.approx(alive.mean(), abs=0.03)


def test_score_customers_value_is_margin_times_spend_times_discounted_purchases(
    simulated: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    summary = simulated[0].iloc[:3000]
    undiscounted, _ = clv.score_customers(summary, horizon_days=365, annual_discount_rate=0.0)
    expected = summary["margin_rate"] * undiscounted["expected_avg_order_value"] * undiscounted["expected_purchases"]
    np.testing.assert_allclose(undiscounted["predicted_clv"], expected, rtol=1e-9)
    discounted, _ = clv.score_customers(summary, horizon_days=365, annual_discount_rate=0.10)
    ratio = (discounted["predicted_clv"] / undiscounted["predicted_clv"])[undiscounted["predicted_clv"] > 0]
    # Purchases spread over the year are discounted by 1.1^(−m/365.25), m between 15 and 350 days.
    assert ratio.between(1.1**-1, 1.1 ** -(15 / 365.25)).all()
    assert ratio.mean() == pytest.approx(1.1**-0.5, abs=0.01)


def test_score_customers_uses_the_overall_margin_rate_when_missing(
    simulated: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    summary = simulated[0].iloc[:2000].copy()
    summary["margin_rate"] = 0.25
    summary.loc[summary.index[:10], "margin_rate"] = np.nan
    before = summary.copy()
    customers, _ = clv.score_customers(summary, horizon_days=180)
    pd.testing.assert_frame_equal(summary, before)  # the caller's frame keeps its missing rates
    first = customers.iloc[0]
    assert first["predicted_clv"] > 0
    with_rate = summary.copy()
    with_rate["margin_rate"] = 0.25
    reference, _ = clv.score_customers(with_rate, horizon_days=180)
    np.testing.assert_allclose(customers["predicted_clv"], reference["predicted_clv"], rtol=1e-12)


def test_score_customers_is_invariant_to_the_time_unit(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    summary = simulated[0].iloc[:4000]
    weekly, weekly_params = clv.score_customers(summary, horizon_days=365, time_unit_days=7.0)
    daily, daily_params = clv.score_customers(summary, horizon_days=365, time_unit_days=1.0)
    assert (daily_params["time_unit"] == "day").all()
    alpha_week = weekly_params.set_index("parameter").loc["alpha", "value"]
    alpha_day = daily_params.set_index("parameter").loc["alpha", "value"]
    assert alpha_day == pytest.approx(7 * alpha_week, rel=1e-4)
    for column in ("p_alive", "expected_purchases", "predicted_clv"):
        np.testing.assert_allclose(daily[column], weekly[column], rtol=1e-3, atol=1e-9)


def test_score_customers_expected_order_value_uses_population_mean_for_one_time_buyers(
    simulated: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    summary = simulated[0]
    customers, params = clv.score_customers(summary, horizon_days=365)
    gg = params[params["model"] == "gamma_gamma"].set_index("parameter")["value"]
    population_mean = gg["p"] * gg["gamma"] / (gg["q"] - 1)
    one_timers = customers["expected_avg_order_value"][summary["frequency"] == 0]
    np.testing.assert_allclose(one_timers, population_mean, rtol=1e-12)
    assert (customers["expected_avg_order_value"] > 0).all()


def test_score_customers_accepts_warehouse_dtypes(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    # What a DuckDB query hands over: nullable integers, decimals for money, string keys, NULL margin rates.
    summary = simulated[0].iloc[:1500]
    typed = pd.DataFrame(
        {
            "account_id": summary["account_id"].astype(str),
            "frequency": summary["frequency"].astype("Int64"),
            "recency": summary["recency"].round().astype("Int64"),
            "age": summary["age"].round().astype("Int64"),
            "monetary_value": [Decimal(f"{v:.2f}") for v in summary["monetary_value"]],
            "margin_rate": pd.array([0.3] * 1499 + [None], dtype="Float64"),
        }
    )
    plain = typed.astype({"frequency": float, "recency": float, "age": float, "monetary_value": float})
    plain["margin_rate"] = [0.3] * 1499 + [np.nan]
    from_typed, _ = clv.score_customers(typed, horizon_days=365)
    from_plain, _ = clv.score_customers(plain, horizon_days=365)
    assert from_typed["account_id"].tolist() == typed["account_id"].tolist()
    pd.testing.assert_frame_equal(from_typed, from_plain)


def test_score_customers_params_frame_shape(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, params = clv.score_customers(simulated[0].iloc[:3000], horizon_days=90)
    assert params.columns.tolist() == list(clv.PARAMS_COLUMNS)
    assert params[["model", "parameter"]].values.tolist() == [
        ["bg_nbd", "r"],
        ["bg_nbd", "alpha"],
        ["bg_nbd", "a"],
        ["bg_nbd", "b"],
        ["gamma_gamma", "p"],
        ["gamma_gamma", "q"],
        ["gamma_gamma", "gamma"],
    ]
    assert (params["value"] > 0).all()
    assert (params["std_error"] > 0).all()
    assert (params["log_likelihood"] < 0).all()
    gg = params[params["model"] == "gamma_gamma"]
    assert gg["frequency_monetary_corr"].notna().all()
    assert params[params["model"] == "bg_nbd"]["frequency_monetary_corr"].isna().all()


# --------------------------------------------------------------------------------------------------------------
# Degenerate and bad input
# --------------------------------------------------------------------------------------------------------------


def _summary(rows: list[tuple[int, int, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["account_id", "frequency", "recency", "age", "monetary_value"]).assign(
        margin_rate=0.3
    )


def test_score_customers_without_any_repeat_purchase_falls_back() -> None:
    summary = _summary([(i, 0, 0.0, float(10 * i), 0.0) for i in range(1, 31)])
    customers, params = clv.score_customers(summary, horizon_days=365)
    assert (customers["p_alive"] == 1.0).all()
    assert (customers["expected_purchases"] == 0.0).all()
    assert (customers["predicted_clv"] == 0.0).all()
    assert (params.loc[params["model"] == "bg_nbd", "status"] == "fallback_no_repeat_purchases").all()
    assert (params.loc[params["model"] == "gamma_gamma", "status"] == "fallback_too_few_repeat_buyers").all()
    assert params["value"].isna().all()
    assert (params["customers_fitted"] == 0).all()


def test_fit_bg_nbd_refuses_data_without_repeat_purchases() -> None:
    with pytest.raises(clv.InsufficientDataError, match="repeat purchase") as caught:
        clv.fit_bg_nbd(np.zeros(50), np.zeros(50), np.full(50, 30.0))
    assert isinstance(caught.value, ValueError)
    assert caught.value.reason == "no_repeat_purchases"


def test_score_customers_single_customer() -> None:
    customers, params = clv.score_customers(_summary([(7, 3, 200.0, 300.0, 50.0)]), horizon_days=365)
    assert customers["account_id"].tolist() == [7]
    row = customers.iloc[0]
    assert row["p_alive"] == 1.0
    # Fallback rate (1 + x)/(1/ρ + T) with ρ = x/T = 3/300 per day → 4/400 per day → 3.65 in a year.
    assert row["expected_purchases"] == pytest.approx(365 * 4 / 400)
    assert row["expected_avg_order_value"] == 50.0
    assert 0 < row["predicted_clv"] < 0.3 * 50.0 * row["expected_purchases"]
    assert (params.loc[params["model"] == "bg_nbd", "status"] == "fallback_too_few_customers").all()


def test_score_customers_tiny_sample_gives_finite_scores() -> None:
    rows = [(1, 2, 40.0, 90.0, 30.0), (2, 0, 0.0, 15.0, 0.0), (3, 5, 88.0, 89.0, 12.5), (4, 1, 3.0, 200.0, 99.0)]
    customers, params = clv.score_customers(_summary(rows), horizon_days=365)
    numeric = customers[["p_alive", "expected_purchases", "expected_avg_order_value", "predicted_clv"]]
    assert np.isfinite(numeric.to_numpy()).all()
    assert (numeric >= 0).all().all()
    assert params["status"].str.startswith("fallback_").all()
    # x = 0 customer: the x-weighted mean of observed repeat spend.
    assert customers.iloc[1]["expected_avg_order_value"] == pytest.approx((2 * 30 + 5 * 12.5 + 1 * 99) / 8)


def test_score_customers_small_demo_sized_database_fits() -> None:
    # A few dozen customers: the fit may hit the parameter box, but every score is a finite number.
    rng = np.random.default_rng(5)
    sim = clv.simulate_bg_nbd(0.8, 6.0, 1.2, 4.0, rng.uniform(5, 60, 40), rng=rng)
    summary = pd.DataFrame(
        {
            "account_id": [f"C{i:03d}" for i in range(40)],
            "frequency": sim["frequency"],
            "recency": sim["recency"] * 7,
            "age": sim["T"] * 7,
            "monetary_value": np.where(sim["frequency"] > 0, rng.uniform(20, 200, 40), 0.0),
            "margin_rate": np.nan,
        }
    )
    customers, params = clv.score_customers(summary, horizon_days=365)
    assert np.isfinite(customers.drop(columns="account_id").to_numpy(dtype=float)).all()
    assert params.loc[params["model"] == "bg_nbd", "status"].isin(["fitted", "fitted_at_bound"]).all()
    assert customers["p_alive"].between(0, 1).all()


def test_score_customers_empty_summary() -> None:
    customers, params = clv.score_customers(_summary([]), horizon_days=365)
    assert customers.empty
    assert customers.columns.tolist() == list(clv.CUSTOMER_COLUMNS)
    assert len(params) == 7
    assert params["status"].str.startswith("fallback_").all()


def test_fit_gamma_gamma_refuses_identical_spend() -> None:
    with pytest.raises(clv.InsufficientDataError, match="variation"):
        clv.fit_gamma_gamma(np.arange(1, 21), np.full(20, 25.0))


def test_score_customers_identical_spend_keeps_observed_means(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    summary = simulated[0].iloc[:2000].copy()
    summary["monetary_value"] = np.where(summary["frequency"] > 0, 40.0, 0.0)
    customers, params = clv.score_customers(summary, horizon_days=365)
    assert (params.loc[params["model"] == "gamma_gamma", "status"] == "fallback_no_spend_variation").all()
    assert (params.loc[params["model"] == "bg_nbd", "status"] == "fitted").all()
    assert np.allclose(customers["expected_avg_order_value"], 40.0)


def test_score_customers_handles_negative_net_spend(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    summary = simulated[0].iloc[:2000].copy()
    returned = summary.index[summary["frequency"] > 0][:5]
    summary.loc[returned, "monetary_value"] = -15.0  # returns larger than the repeat sales
    customers, _ = clv.score_customers(summary, horizon_days=365)
    assert (customers.loc[returned, "expected_avg_order_value"] >= 0).all()
    assert (customers["predicted_clv"] >= 0).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"age": -1.0}, "T must be finite and >= 0"),
        ({"recency": 1e6}, "recency .* exceeds T"),
        ({"frequency": 1.5}, "whole number"),
        ({"frequency": np.nan}, "frequency must be finite"),
    ],
)
def test_score_customers_rejects_bad_rows(
    simulated: tuple[pd.DataFrame, pd.DataFrame], change: dict[str, float], message: str
) -> None:
    summary = simulated[0].iloc[:50].copy()
    column, value = next(iter(change.items()))
    summary[column] = summary[column].astype(float)
    summary.loc[summary.index[3], column] = value
    before = summary.copy()
    with pytest.raises(ValueError, match=message):
        clv.score_customers(summary, horizon_days=365)
    pd.testing.assert_frame_equal(summary, before)  # the caller's frame is left as it was


def test_score_customers_rejects_bad_frame_and_options(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    summary = simulated[0].iloc[:50]
    with pytest.raises(ValueError, match=r"missing column\(s\) \['margin_rate'\]"):
        clv.score_customers(summary.drop(columns="margin_rate"), horizon_days=365)
    with pytest.raises(ValueError, match="duplicate account_id"):
        clv.score_customers(pd.concat([summary, summary.iloc[:1]]), horizon_days=365)
    with pytest.raises(ValueError, match="horizon_days"):
        clv.score_customers(summary, horizon_days=0)
    with pytest.raises(ValueError, match="time_unit_days"):
        clv.score_customers(summary, horizon_days=365, time_unit_days=0)
    with pytest.raises(ValueError, match="annual_discount_rate"):
        clv.score_customers(summary, horizon_days=365, annual_discount_rate=-1.5)


def test_building_blocks_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="recency must be 0"):
        clv.p_alive(clv.BgNbdFit(1, 1, 1, 1, 0, 0), [0], [3.0], [5.0])
    with pytest.raises(ValueError, match="differ in length"):
        clv.fit_bg_nbd([1, 2], [1.0], [2.0, 3.0])
    with pytest.raises(ValueError, match="parameters must be > 0"):
        clv.bg_nbd_log_likelihood((0.0, 1, 1, 1), [1], [1.0], [2.0])
    with pytest.raises(ValueError, match="t must be"):
        clv.expected_purchases(clv.BgNbdFit(1, 1, 1.5, 1, 0, 0), -1.0, [1], [1.0], [2.0])


def test_fit_rebuilt_from_the_params_frame_matches_the_fitted_parameters(
    simulated: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    summary, _ = simulated
    _, params = clv.score_customers(summary, horizon_days=365)
    fit = clv.bg_nbd_fit_from_params(params)
    assert fit is not None
    bg = params[params["model"] == "bg_nbd"].set_index("parameter")["value"]
    assert (fit.r, fit.alpha, fit.a, fit.b) == (bg["r"], bg["alpha"], bg["a"], bg["b"])
    assert clv.bg_nbd_fit_from_params(params[params["model"] != "bg_nbd"]) is None


def test_unique_rows_is_numpys_unique_over_rows() -> None:
    """The distinct histories the fits and expectations are computed once for: the same rows, order and mapping
    as ``np.unique(axis=0)``, ties and repeated rows included; nothing for no customers."""
    rng = np.random.default_rng(3)
    histories = np.column_stack(
        [rng.integers(0, 5, 2000), rng.integers(0, 30, 2000) / 2, rng.integers(10, 40, 2000)]
    ).astype(float)
    expected_rows, expected_inverse = np.unique(histories, axis=0, return_inverse=True)
    rows, inverse = clv.unique_rows(histories)
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_array_equal(inverse, expected_inverse.ravel())
    np.testing.assert_array_equal(rows[inverse], histories)
    empty_rows, empty_inverse = clv.unique_rows(np.zeros((0, 3)))
    assert empty_rows.shape == (0, 3) and empty_inverse.size == 0
