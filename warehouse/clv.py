"""Warehouse modelling stage: customer lifetime value from BG/NBD (purchase occasions) and Gamma-Gamma (spend).

Pure numpy/scipy/pandas, called by the dbt python model that builds `customer_value` and `clv_model_params`.

Models
------
* BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way"): while alive a customer buys as a
  Poisson process with rate λ ~ Gamma(r, α); after every purchase they drop out with probability p ~ Beta(a, b).
  Fitted by maximum likelihood on (x = repeat occasions, t_x = time of the last occasion, T = age), all counted
  from the first occasion. Gives P(alive) and the conditional expected number of occasions in the next t.
* Gamma-Gamma (Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value"): a customer's spend per occasion
  ~ Gamma(p, ν), ν ~ Gamma(q, γ) across customers; fitted on repeat buyers' mean spend per repeat occasion.
  Gives the expected spend per future occasion, shrinking each customer's observed mean toward the population.

Both are fitted by L-BFGS-B on log-parameters (positivity) with analytic gradients, vectorised log-likelihoods
on identical rows aggregated with weights, and further starting points when the first run does not end in a
clean interior optimum; standard errors come from the inverse of the numerically differentiated Hessian (delta
method back to the natural scale). `bg_nbd_log_likelihood` / `gamma_gamma_log_likelihood` are the plain
reference forms of the likelihoods; the optimiser uses restructured copies with gradients, checked against them
in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import integrate, optimize, special

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

__all__ = [
    "BG_NBD_PARAMETERS",
    "CUSTOMER_COLUMNS",
    "DAYS_PER_YEAR",
    "GAMMA_GAMMA_PARAMETERS",
    "MIN_CUSTOMERS_BG_NBD",
    "MIN_REPEAT_BUYERS_BG_NBD",
    "MIN_REPEAT_BUYERS_GAMMA_GAMMA",
    "PARAMS_COLUMNS",
    "BgNbdFit",
    "GammaGammaFit",
    "InsufficientDataError",
    "bg_nbd_log_likelihood",
    "conditional_expected_value",
    "expected_purchases",
    "expected_purchases_new_customer",
    "fit_bg_nbd",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "p_alive",
    "score_customers",
    "simulate_bg_nbd",
]

BG_NBD_PARAMETERS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMETERS = ("p", "q", "gamma")

# Below these sizes a 4- (3-) parameter mixture is not identified in any useful sense; `score_customers`
# then uses the documented fallbacks instead of the fit.
MIN_CUSTOMERS_BG_NBD = 10
MIN_REPEAT_BUYERS_BG_NBD = 2
MIN_REPEAT_BUYERS_GAMMA_GAMMA = 10

# Log-parameter boxes for the optimiser. Shapes (r, a, b, p, q) stay within e^-9 … e^8 ≈ 1e-4 … 3000: beyond
# 3000 a gamma or beta mixing distribution has a coefficient of variation under 2 %, so the data cannot tell
# it from a point mass and the predictions no longer change, while scipy's hyp2f1 gets unreliable there.
# Scales (α in time units, γ in currency) get wider boxes. A fit that ends on a box edge is a degenerate data
# set (e.g. nobody drops out: a → 0); predictions there are the limiting values and stay finite.
_SHAPE_BOUNDS = (-9.0, 8.0)
_BG_NBD_BOUNDS = (_SHAPE_BOUNDS, (-12.0, 15.0), _SHAPE_BOUNDS, _SHAPE_BOUNDS)
_GAMMA_GAMMA_BOUNDS = (_SHAPE_BOUNDS, _SHAPE_BOUNDS, (-12.0, 25.0))
# eq. 9/10 divide by (a - 1); the limit at a = 1 exists, so evaluate just beside it.
_A_NEAR_ONE = 1e-5
DAYS_PER_YEAR = 365.25
_DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0


class InsufficientDataError(ValueError):
    """The data cannot identify the model (too few customers, no repeat purchases, no spend variation).

    `reason` is a short machine-readable tag: too_few_customers, no_repeat_purchases, too_few_repeat_buyers,
    no_spend_variation, fit_failed.
    """

    def __init__(self, message: str, reason: str = "fit_failed") -> None:
        super().__init__(message)
        self.reason = reason


# --------------------------------------------------------------------------------------------------------------
# Fitted models
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BgNbdFit:
    """A fitted BG/NBD model; times (alpha's scale, t, t_x, T) are in the unit of the data it was fitted on."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers_fitted: int
    converged: bool = True
    iterations: int = 0
    at_bound: bool = False
    std_errors: dict[str, float] = field(default_factory=dict)
    message: str = ""

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


def bg_nbd_fit_from_params(params: pd.DataFrame) -> BgNbdFit | None:
    """The BG/NBD fit described by ``score_customers``' params frame, or None when it holds no finite fit."""
    bg = params[params["model"] == "bg_nbd"].set_index("parameter")["value"]
    r, alpha, a, b = (float(bg.get(name, math.nan)) for name in ("r", "alpha", "a", "b"))
    if not all(math.isfinite(v) for v in (r, alpha, a, b)):
        return None
    return BgNbdFit(r=r, alpha=alpha, a=a, b=b, log_likelihood=math.nan, customers_fitted=0)


@dataclass(frozen=True)
class GammaGammaFit:
    """A fitted Gamma-Gamma spend model (currency units of the monetary values it was fitted on)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    customers_fitted: int
    converged: bool = True
    iterations: int = 0
    at_bound: bool = False
    std_errors: dict[str, float] = field(default_factory=dict)
    frequency_monetary_corr: float = float("nan")
    message: str = ""

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def population_mean(self) -> float:
        """E(M) = pγ/(q − 1): the expected spend per occasion of a customer we know nothing about (∞ if q ≤ 1)."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else math.inf


def _dot(weights: FloatArray, values: FloatArray) -> float:
    """Weighted sum without BLAS: OpenBLAS threads a plain vector dot product, and on a busy machine those threads
    spin-wait for cores, making each likelihood evaluation several times slower than this single-threaded sum."""
    return float(np.sum(weights * values))


# --------------------------------------------------------------------------------------------------------------
# Input checks and aggregation
# --------------------------------------------------------------------------------------------------------------


def _as_float_array(values: ArrayLike, name: str) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    return np.atleast_1d(array).ravel()


def _first_bad(mask: npt.NDArray[np.bool_]) -> str:
    positions = np.flatnonzero(mask)[:5]
    return f"{int(mask.sum())} row(s), e.g. at positions {positions.tolist()}"


def _check_rfm(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    x = _as_float_array(frequency, "frequency")
    t_x = _as_float_array(recency, "recency")
    age = _as_float_array(T, "T")
    if not (x.shape == t_x.shape == age.shape):
        raise ValueError(f"frequency, recency and T differ in length: {x.size}, {t_x.size}, {age.size}")
    for name, values in (("frequency", x), ("recency", t_x), ("T", age)):
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            raise ValueError(f"{name} must be finite and >= 0: {_first_bad(bad)}")
    bad = x != np.round(x)
    if bad.any():
        raise ValueError(f"frequency must be a whole number of repeat occasions: {_first_bad(bad)}")
    # Small tolerance: recency and age are often derived separately from rounded dates.
    bad = t_x > age * (1 + 1e-9) + 1e-9
    if bad.any():
        raise ValueError(f"recency (time of the last occasion) exceeds T (age): {_first_bad(bad)}")
    bad = (x == 0) & (t_x != 0)
    if bad.any():
        raise ValueError(f"recency must be 0 for customers without repeat occasions (frequency 0): {_first_bad(bad)}")
    return x, np.minimum(t_x, age), age


def _check_weights(weights: ArrayLike | None, size: int) -> FloatArray:
    if weights is None:
        return np.ones(size)
    w = _as_float_array(weights, "weights")
    if w.shape != (size,) or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite, >= 0 and one per customer")
    return w


def unique_rows(stacked: FloatArray) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """The distinct rows of a 2-D array in lexicographic order, and each row's index among them: what
    ``np.unique(stacked, axis=0, return_inverse=True)`` returns, from one sort of the columns as numbers
    (``np.unique`` with an axis sorts the rows' raw bytes, ~4x slower at 100k customers)."""
    if stacked.shape[0] == 0:
        return stacked, np.zeros(0, dtype=np.intp)
    order = np.lexsort(stacked.T[::-1])  # the first column sorts first
    ordered = stacked[order]
    starts = np.empty(len(ordered), dtype=bool)
    starts[0] = True
    np.any(ordered[1:] != ordered[:-1], axis=1, out=starts[1:])
    inverse = np.empty(len(stacked), dtype=np.intp)
    inverse[order] = np.cumsum(starts) - 1
    return ordered[starts], inverse


def _aggregate(columns: Sequence[FloatArray], weights: FloatArray) -> tuple[list[FloatArray], FloatArray]:
    """Collapse identical rows into one row with the summed weight: the likelihood only sees the distinct ones."""
    stacked = np.column_stack(columns)
    unique, inverse = unique_rows(stacked)
    summed = np.bincount(inverse, weights=weights, minlength=unique.shape[0]).astype(np.float64)
    keep = summed > 0
    return [unique[keep, i] for i in range(unique.shape[1])], summed[keep]


# --------------------------------------------------------------------------------------------------------------
# Generic maximum-likelihood driver
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _MleResult:
    log_params: FloatArray
    neg_log_likelihood: float
    converged: bool
    iterations: int
    at_bound: bool
    std_errors_log: FloatArray
    message: str


def _numeric_hessian(gradient: Callable[[FloatArray], FloatArray], point: FloatArray) -> FloatArray:
    """Central differences of the analytic gradient; symmetrised."""
    size = point.size
    hessian = np.empty((size, size))
    for i in range(size):
        step = 1e-5 * max(1.0, abs(point[i]))
        up, down = point.copy(), point.copy()
        up[i] += step
        down[i] -= step
        hessian[i] = (gradient(up) - gradient(down)) / (2 * step)
    return (hessian + hessian.T) / 2


def _maximise(
    neg_ll_and_grad: Callable[[FloatArray], tuple[float, FloatArray]],
    starts: Sequence[FloatArray],
    total_weight: float,
    bounds: Sequence[tuple[float, float]],
) -> _MleResult:
    """Minimise a per-unit-weight negative log-likelihood in log-parameters; further starts if the first fails."""
    lower = np.array([low for low, _ in bounds])
    upper = np.array([high for _, high in bounds])

    def on_edge(point: FloatArray) -> bool:
        return bool(((point <= lower + 1e-6) | (point >= upper - 1e-6)).any())

    best: Any = None
    for start in starts:
        # Later starts are insurance: only needed when the first run did not end in a clean interior optimum.
        if best is not None and best.success and not on_edge(best.x):
            break
        clipped = np.clip(start, lower + 1, upper - 1)
        value, _ = neg_ll_and_grad(clipped)
        if not np.isfinite(value):
            continue
        result = optimize.minimize(
            neg_ll_and_grad,
            clipped,
            jac=True,
            method="L-BFGS-B",
            bounds=list(bounds),
            options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-7},
        )
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
    if best is None:
        raise InsufficientDataError("the log-likelihood is not finite at any starting point")
    point = np.asarray(best.x, dtype=np.float64)
    at_bound = on_edge(point)
    std_errors = np.full(point.size, np.nan)
    if not at_bound:
        hessian = _numeric_hessian(lambda v: neg_ll_and_grad(v)[1], point)
        try:
            # The objective is the mean over customers: the information matrix is total_weight × its Hessian.
            covariance = np.linalg.inv(hessian * total_weight)
            diagonal = np.diag(covariance)
            if np.all(np.isfinite(diagonal)) and np.all(diagonal > 0):
                std_errors = np.sqrt(diagonal)
        except np.linalg.LinAlgError:
            pass
    return _MleResult(
        log_params=point,
        neg_log_likelihood=float(best.fun),
        converged=bool(best.success),
        iterations=int(best.nit),
        at_bound=at_bound,
        std_errors_log=std_errors,
        message=str(best.message),
    )


# --------------------------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------------------------


def _bg_nbd_terms(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per-row pieces of FHL 2005 eq. 6 in logs: ll = A1 + A2 + log(e^A3 + δ(x>0) e^A4)."""
    repeat = x > 0
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.full_like(x, -np.inf)
    xr = x[repeat]
    a4[repeat] = math.log(a) - np.log(b + xr - 1) - (r + xr) * np.log(alpha + t_x[repeat])
    return a1, a2, a3, a4


def bg_nbd_log_likelihood(
    params: Sequence[float],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    per_customer: bool = False,
) -> Any:
    """BG/NBD log-likelihood (FHL 2005 eq. 6) of `params` = (r, alpha, a, b) on the given customers.

    Returns the (weighted) sum, or with `per_customer=True` the array of individual log-likelihoods.
    """
    r, alpha, a, b = (float(v) for v in params)
    if min(r, alpha, a, b) <= 0:
        raise ValueError(f"BG/NBD parameters must be > 0, got r={r}, alpha={alpha}, a={a}, b={b}")
    x, t_x, age = _check_rfm(frequency, recency, T)
    a1, a2, a3, a4 = _bg_nbd_terms(r, alpha, a, b, x, t_x, age)
    individual = a1 + a2 + np.logaddexp(a3, a4)
    if per_customer:
        return individual
    return float(_dot(_check_weights(weights, x.size), individual))


def _bg_nbd_objective(
    x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray
) -> Callable[[FloatArray], tuple[float, FloatArray]]:
    """Negative log-likelihood and its gradient in log-parameters, per unit weight (keeps scales moderate).

    Rows without repeat purchases only contribute −r·log(α+T) beyond the x-only terms, so they are kept apart
    from repeat buyers, whose likelihood mixes the "alive at T" and "dropped after t_x" branches.
    """
    total = float(w.sum())
    # x only takes a few distinct values: evaluate the x-only special functions once per distinct value.
    x_values, x_index = np.unique(x, return_inverse=True)
    w_by_x = np.bincount(x_index.ravel(), weights=w, minlength=x_values.size).astype(np.float64)
    single = x == 0
    T0, w0 = T[single], w[single]
    xr, txr, Tr, wr = x[~single], t_x[~single], T[~single], w[~single]

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, a, b = (float(v) for v in np.exp(log_params))
        with np.errstate(all="ignore"):
            psi_ab, psi_abx = special.digamma(a + b), special.digamma(a + b + x_values)
            ll = _dot(
                w_by_x,
                special.gammaln(r + x_values)
                - special.gammaln(r)
                + r * math.log(alpha)
                + special.gammaln(a + b)
                + special.gammaln(b + x_values)
                - special.gammaln(b)
                - special.gammaln(a + b + x_values),
            )
            d_r = _dot(w_by_x, special.digamma(r + x_values) - special.digamma(r) + math.log(alpha))
            d_alpha = total * r / alpha
            d_a = _dot(w_by_x, psi_ab - psi_abx)
            d_b = _dot(w_by_x, psi_ab + special.digamma(b + x_values) - special.digamma(b) - psi_abx)
            # x = 0: alive for sure.
            log_T0 = np.log(alpha + T0)
            ll -= r * _dot(w0, log_T0)
            d_r -= _dot(w0, log_T0)
            d_alpha -= r * _dot(w0, 1.0 / (alpha + T0))
            # x > 0: the two branches, weighted by their posterior shares.
            log_T, log_tx = np.log(alpha + Tr), np.log(alpha + txr)
            log_b_x = np.log(b + xr - 1)
            rx = r + xr
            alive_branch = -rx * log_T
            gone_branch = math.log(a) - log_b_x - rx * log_tx
            mix = np.logaddexp(alive_branch, gone_branch)
            ll += _dot(wr, mix)
            share_gone = np.exp(gone_branch - mix)
            ws_gone = wr * share_gone
            ws_alive = wr - ws_gone
            d_r -= _dot(ws_alive, log_T) + _dot(ws_gone, log_tx)
            d_alpha -= _dot(ws_alive, rx / (alpha + Tr)) + _dot(ws_gone, rx / (alpha + txr))
            d_a += ws_gone.sum() / a
            d_b -= _dot(ws_gone, np.exp(-log_b_x))
        gradient = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
        if not (np.isfinite(ll) and np.all(np.isfinite(gradient))):
            return math.inf, np.zeros(4)
        return -float(ll) / total, -gradient / total

    return objective


def fit_bg_nbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    weights: ArrayLike | None = None,
) -> BgNbdFit:
    """Fit BG/NBD by maximum likelihood. Times may be in any unit (the fit's alpha and predictions use that unit).

    `weights` (optional) counts how many customers each row stands for. Raises `InsufficientDataError`
    (a `ValueError`) with fewer than MIN_CUSTOMERS_BG_NBD customers or MIN_REPEAT_BUYERS_BG_NBD repeat buyers:
    with nobody buying again the likelihood has no maximum (it keeps rising as the purchase rate goes to 0).
    """
    x, t_x, age = _check_rfm(frequency, recency, T)
    w = _check_weights(weights, x.size)
    customers = float(w.sum())
    repeat_buyers = float(w[x > 0].sum())
    if customers < MIN_CUSTOMERS_BG_NBD:
        raise InsufficientDataError(
            f"BG/NBD needs at least {MIN_CUSTOMERS_BG_NBD} customers to fit; got {customers:g}", "too_few_customers"
        )
    if repeat_buyers < MIN_REPEAT_BUYERS_BG_NBD:
        raise InsufficientDataError(
            f"BG/NBD needs at least {MIN_REPEAT_BUYERS_BG_NBD} customers with a repeat purchase; got {repeat_buyers:g}",
            "no_repeat_purchases" if repeat_buyers == 0 else "too_few_repeat_buyers",
        )
    if not (age > 0).any():
        raise InsufficientDataError("BG/NBD needs customers observed for some time (every T is 0)", "too_few_customers")
    (x, t_x, age), w = _aggregate([x, t_x, age], w)
    objective = _bg_nbd_objective(x, t_x, age, w)

    # Starting points: an NBD-like guess (rate = mean x / mean T) with a few dropout shapes.
    mean_rate = max(float(_dot(w, x) / max(_dot(w, age), 1e-12)), 1e-6)
    starts = []
    for r0, a0, b0 in ((1.0, 1.0, 3.0), (0.3, 0.5, 1.0), (3.0, 2.0, 10.0)):
        starts.append(np.log([r0, r0 / mean_rate, a0, b0]))
    mle = _maximise(objective, starts, customers, _BG_NBD_BOUNDS)
    values = np.exp(mle.log_params)
    std_errors = dict(zip(BG_NBD_PARAMETERS, (values * mle.std_errors_log).tolist(), strict=True))
    r, alpha, a, b = (float(v) for v in values)
    return BgNbdFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=-mle.neg_log_likelihood * customers,
        customers_fitted=round(customers),
        converged=mle.converged,
        iterations=mle.iterations,
        at_bound=mle.at_bound,
        std_errors=std_errors,
        message=mle.message,
    )


def _numerator_forms(
    r: float, a: float, b: float, x: FloatArray, t: FloatArray, scale: FloatArray, form: int
) -> FloatArray:
    """One of three equal closed forms of the eq.-10 numerator (a+b+x−1)/(a−1) · [1 − H], scale = α + T.

    H = (scale/(scale+t))^(r+x) 2F1(r+x, b+x; c; z), c = a+b+x−1, z = t/(scale+t), is the paper's form (2).
    Pfaff's transformation turns it into 2F1(r+x, a−1; c; −t/scale) (1); applying it once more on the other
    upper parameter gives (1+t/scale)^(1−a) 2F1(a+b−1−r, a−1; c; z) (3). Form 3 keeps z in [0, 1) with
    c minus its upper parameters = r + x + 1 − a, so it converges well even for frequent buyers; scipy's hyp2f1 can
    lose accuracy in corners, hence the cross-check in `_conditional_numerator`.
    """
    c = a + b + x - 1
    with np.errstate(all="ignore"):
        if form == 1:
            h = special.hyp2f1(r + x, a - 1, c, -t / scale)
        elif form == 2:
            z = t / (scale + t)
            h = np.exp((r + x) * np.log1p(-z)) * special.hyp2f1(r + x, b + x, c, z)
        else:
            z = t / (scale + t)
            h = np.exp((1 - a) * np.log1p(t / scale)) * special.hyp2f1(a + b - 1 - r, a - 1, c, z)
        return np.asarray(c / (a - 1) * (1.0 - h), dtype=np.float64)


def _numerator_by_series(
    r: float, a: float, b: float, x: FloatArray, t: FloatArray, scale: FloatArray, max_terms: int = 20_000
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """The eq.-10 numerator as a direct series, vectorised: Σ_{j≥1} E[(1−p)^(j−1)] · P(M ≥ j).

    Given alive at T, λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x) independently; the customer makes min(M, G)
    purchases in the next t, M ~ NegBin(r+x, 1/(1+u)) the purchases without dropout (u = t/(α+T)) and
    G ~ Geometric(p) the purchases until dropping out, so E[min(M, G)] = Σ_j P(G ≥ j) P(M ≥ j). Terms are
    added until the negative-binomial tail is negligible; returns the sums and which ones converged within
    `max_terms` (the others need the quadrature).
    """
    k = r + x
    u = t / scale
    log_tail_ratio = np.log(u) - np.log1p(u)  # log(1 − q): the pmf's geometric factor
    total = np.zeros_like(u)
    converged = np.zeros(u.shape, dtype=bool)
    active = np.flatnonzero(u > 0)
    converged[u <= 0] = True
    # j = 1: weight E[(1−p)^0] = 1, tail P(M ≥ 1) = 1 − q^k.
    log_pmf = -k[active] * np.log1p(u[active])  # log P(M = 0)
    tail = -np.expm1(log_pmf)
    weight = np.ones(active.size)
    running = tail.copy()
    with np.errstate(all="ignore"):
        for j in range(1, max_terms + 1):
            ka, ua = k[active], u[active]
            log_pmf = log_pmf + np.log(j - 1 + ka) - math.log(j) + log_tail_ratio[active]
            pmf = np.exp(log_pmf)
            tail = tail - pmf  # now P(M ≥ j + 1)
            weight = weight * (b + x[active] + j - 1) / (a + b + x[active] + j - 1)
            running = running + weight * np.maximum(tail, 0.0)
            # Past the mode the pmf shrinks by at most u/(1+u) per term, so the tail is below pmf·u and the
            # remaining tails sum to below tail·(1+u). The pmf bound also holds when rounding (the tail is a
            # running difference) leaves the subtracted tail hovering at 1e-16 instead of reaching 0.
            remaining = np.minimum(np.maximum(tail, 0.0), pmf * ua) * (1 + ua)
            finished = (remaining <= 1e-14 * running) & (j + 1 > ka * ua)
            if finished.any():
                done = active[finished]
                total[done] = running[finished]
                converged[done] = True
                keep = ~finished
                active, log_pmf, tail, weight, running = (
                    active[keep],
                    log_pmf[keep],
                    tail[keep],
                    weight[keep],
                    running[keep],
                )
            if active.size == 0:
                break
    total[active] = running
    return total, converged


def _numerator_by_quadrature(r: float, a: float, b: float, x: float, t: float, scale: float) -> float:
    """The eq.-10 numerator as E[(1 − (1 + p·t/scale)^−(r+x)) / p] over p ~ Beta(a, b+x), the posterior dropout
    probability of a customer still alive; integrated over the Beta quantile v = F(p) so the integrand stays
    bounded however concentrated the Beta is. Slow; the last resort when neither the closed forms nor the series
    settle a value."""
    k, u = r + x, t / scale

    def integrand(v: float) -> float:
        p = float(special.betaincinv(a, b + x, v))
        return -math.expm1(-k * math.log1p(p * u)) / p if p > 0 else k * u

    value, _ = integrate.quad(integrand, 0.0, 1.0, limit=200)
    return float(value)


def _agree(first: FloatArray, second: FloatArray) -> npt.NDArray[np.bool_]:
    with np.errstate(all="ignore"):
        return np.isfinite(first) & np.isfinite(second) & (np.abs(first - second) <= 1e-8 * np.abs(first) + 1e-300)


def _conditional_numerator(fit: BgNbdFit, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
    """(a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x−1; t/(α+T+t))]: FHL 2005 eq. 10 without
    its denominator, i.e. the expected purchases in the next t of a customer known to be alive.

    scipy's hyp2f1 is accurate in most but not all of the parameter space, so two algebraically equal forms are
    evaluated and a value is accepted only where two forms agree to 1e-8; the rare rest is summed as a direct
    series (and, should that not converge, integrated numerically). The result is kept inside its analytic
    bounds 1 − (1+u)^−(r+x) ≤ · ≤ (r+x)·u, u = t/(α+T).
    """
    if abs(fit.a - 1.0) < _A_NEAR_ONE:
        # Removable singularity at a = 1 (both 1 − H and a − 1 vanish): average the two sides.
        below = _numerator_away_from_one(fit, fit.a - 2 * _A_NEAR_ONE, t, x, T)
        above = _numerator_away_from_one(fit, fit.a + 2 * _A_NEAR_ONE, t, x, T)
        return (below + above) / 2
    return _numerator_away_from_one(fit, fit.a, t, x, T)


def _numerator_away_from_one(fit: BgNbdFit, a: float, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
    r, b = fit.r, fit.b
    scale = fit.alpha + T
    value = _numerator_forms(r, a, b, x, t, scale, form=3)
    check = _numerator_forms(r, a, b, x, t, scale, form=1)
    unsettled = ~_agree(value, check)
    if unsettled.any():
        idx = np.flatnonzero(unsettled)
        third = _numerator_forms(r, a, b, x[idx], t[idx], scale[idx], form=2)
        use_third = _agree(value[idx], third) | _agree(check[idx], third)
        value[idx[use_third]] = third[use_third]
        rest = idx[~use_third]
        if rest.size:
            summed, converged = _numerator_by_series(r, a, b, x[rest], t[rest], scale[rest])
            value[rest] = summed
            for i in rest[~converged]:
                value[i] = _numerator_by_quadrature(r, a, b, float(x[i]), float(t[i]), float(scale[i]))
    u = t / scale
    k = r + x
    with np.errstate(all="ignore"):
        lower = -np.expm1(-k * np.log1p(u))
    value = np.clip(value, lower, k * u)
    return np.where(t > 0, value, 0.0)


def _log_odds_dead(fit: BgNbdFit, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """log of δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x); −inf for x = 0."""
    out = np.full_like(x, -np.inf)
    repeat = x > 0
    xr = x[repeat]
    out[repeat] = (
        math.log(fit.a)
        - np.log(fit.b + xr - 1)
        + (fit.r + xr) * (np.log(fit.alpha + T[repeat]) - np.log(fit.alpha + t_x[repeat]))
    )
    return out


def p_alive(fit: BgNbdFit, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(alive | x, t_x, T) = 1 / (1 + δ(x>0) a/(b+x−1) ((α+T)/(α+t_x))^(r+x))  (FHL 2005 eq. 13).

    Equals 1 for x = 0: under BG/NBD a customer can only drop out right after a purchase.
    """
    x, t_x, age = _check_rfm(frequency, recency, T)
    return np.asarray(special.expit(-_log_odds_dead(fit, x, t_x, age)), dtype=np.float64)


def expected_purchases(
    fit: BgNbdFit, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next t time units of a customer with that history.

    FHL 2005 eq. 10 = eq.-10 numerator × P(alive) (the denominator of eq. 10 is 1/P(alive)). `t` is a scalar
    or one value per customer, in the fit's time unit.
    """
    x, t_x, age = _check_rfm(frequency, recency, T)
    horizon = np.broadcast_to(_as_float_array(t, "t"), x.shape).astype(np.float64)
    if (~np.isfinite(horizon) | (horizon < 0)).any():
        raise ValueError("t must be finite and >= 0")
    alive = special.expit(-_log_odds_dead(fit, x, t_x, age))
    return np.asarray(_conditional_numerator(fit, horizon, x, age) * alive, dtype=np.float64)


def expected_purchases_new_customer(fit: BgNbdFit, t: ArrayLike) -> FloatArray:
    """E[X(t)] for a customer just acquired (FHL 2005 eq. 9): eq. 10 with x = t_x = T = 0."""
    horizon = _as_float_array(t, "t")
    if (~np.isfinite(horizon) | (horizon < 0)).any():
        raise ValueError("t must be finite and >= 0")
    zeros = np.zeros_like(horizon)
    return _conditional_numerator(fit, horizon, zeros, zeros)


# --------------------------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------------------------


def _check_spend(frequency: ArrayLike, monetary_value: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = _as_float_array(frequency, "frequency")
    m = _as_float_array(monetary_value, "monetary_value")
    if x.shape != m.shape:
        raise ValueError(f"frequency and monetary_value differ in length: {x.size}, {m.size}")
    bad = ~np.isfinite(x) | (x < 0) | (x != np.round(x))
    if bad.any():
        raise ValueError(f"frequency must be a whole number >= 0: {_first_bad(bad)}")
    bad = ~np.isfinite(m)
    if bad.any():
        raise ValueError(f"monetary_value must be finite: {_first_bad(bad)}")
    return x, m


def gamma_gamma_log_likelihood(
    params: Sequence[float], frequency: ArrayLike, monetary_value: ArrayLike, *, per_customer: bool = False
) -> Any:
    """Gamma-Gamma log-likelihood (Fader & Hardie 2013 eq. 3 density of the mean spend z̄ over x transactions).

    `params` = (p, q, gamma); only rows with x > 0 and z̄ > 0 take part.
    """
    p, q, gamma = (float(v) for v in params)
    if min(p, q, gamma) <= 0:
        raise ValueError(f"Gamma-Gamma parameters must be > 0, got p={p}, q={q}, gamma={gamma}")
    x, m = _check_spend(frequency, monetary_value)
    used = (x > 0) & (m > 0)
    x, m = x[used], m[used]
    individual = (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * math.log(gamma)
        + p * x * np.log(x)
        + (p * x - 1) * np.log(m)
        - (p * x + q) * np.log(gamma + x * m)
    )
    return individual if per_customer else float(individual.sum())


def _gamma_gamma_objective(
    x: FloatArray, m: FloatArray, w: FloatArray
) -> Callable[[FloatArray], tuple[float, FloatArray]]:
    total = float(w.sum())
    log_x, log_m = np.log(x), np.log(m)
    xm = x * m

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        p, q, gamma = np.exp(log_params)
        with np.errstate(all="ignore"):
            px = p * x
            log_g_xm = np.log(gamma + xm)
            ll_rows = (
                special.gammaln(px + q)
                - special.gammaln(px)
                - special.gammaln(q)
                + q * math.log(gamma)
                + px * log_x
                + (px - 1) * log_m
                - (px + q) * log_g_xm
            )
            ll = float(_dot(w, ll_rows))
            psi_pxq = special.digamma(px + q)
            d_p = _dot(w, x * (psi_pxq - special.digamma(px) + log_x + log_m - log_g_xm))
            d_q = _dot(w, psi_pxq - special.digamma(q) + math.log(gamma) - log_g_xm)
            d_gamma = _dot(w, q / gamma - (px + q) / (gamma + xm))
        gradient = np.array([d_p * p, d_q * q, d_gamma * gamma])
        if not (np.isfinite(ll) and np.all(np.isfinite(gradient))):
            return math.inf, np.zeros(3)
        return -ll / total, -gradient / total

    return objective


def fit_gamma_gamma(frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGammaFit:
    """Fit Gamma-Gamma by maximum likelihood on repeat buyers (x > 0) with a positive mean spend.

    Customers with x = 0 (no repeat spend observed) or z̄ <= 0 (repeat purchases netted to nothing by returns)
    are ignored. Raises `InsufficientDataError` (a `ValueError`) with fewer than MIN_REPEAT_BUYERS_GAMMA_GAMMA
    such customers or when every mean spend is identical (no variation to separate p from q).
    The fit records the correlation of x and z̄ among those customers: the model assumes spend per
    occasion is independent of purchase frequency, so a large |correlation| is a warning sign.
    """
    x, m = _check_spend(frequency, monetary_value)
    used = (x > 0) & (m > 0)
    x, m = x[used], m[used]
    if x.size < MIN_REPEAT_BUYERS_GAMMA_GAMMA:
        raise InsufficientDataError(
            f"Gamma-Gamma needs at least {MIN_REPEAT_BUYERS_GAMMA_GAMMA} repeat buyers with a positive mean spend;"
            f" got {x.size}",
            "too_few_repeat_buyers",
        )
    if np.ptp(m) <= 1e-12 * float(np.abs(m).max()):
        raise InsufficientDataError(
            "Gamma-Gamma needs variation in mean spend; every repeat buyer spent the same", "no_spend_variation"
        )
    correlation = float(np.corrcoef(x, m)[0, 1]) if np.ptp(x) > 0 else float("nan")
    (x_u, m_u), w = _aggregate([x, m], np.ones(x.size))
    objective = _gamma_gamma_objective(x_u, m_u, w)
    mean_spend = float(m.mean())
    starts = [np.log([p0, q0, mean_spend * (q0 - 1) / p0]) for p0, q0 in ((1.0, 2.0), (5.0, 4.0), (20.0, 10.0))]
    mle = _maximise(objective, starts, float(w.sum()), _GAMMA_GAMMA_BOUNDS)
    values = np.exp(mle.log_params)
    p, q, gamma = (float(v) for v in values)
    return GammaGammaFit(
        p=p,
        q=q,
        gamma=gamma,
        log_likelihood=-mle.neg_log_likelihood * float(w.sum()),
        customers_fitted=int(x.size),
        converged=mle.converged,
        iterations=mle.iterations,
        at_bound=mle.at_bound,
        std_errors=dict(zip(GAMMA_GAMMA_PARAMETERS, (values * mle.std_errors_log).tolist(), strict=True)),
        frequency_monetary_corr=correlation,
        message=mle.message,
    )


def conditional_expected_value(fit: GammaGammaFit, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
    """E(M | p, q, γ, x, z̄) = p(γ + x z̄)/(px + q − 1)  (Fader & Hardie 2013 eq. 5): expected spend per occasion.

    A weighted average of the population mean pγ/(q−1) and the customer's own z̄, the weight on z̄ growing
    with x. For x = 0 this is the population mean. Negative z̄ (returns exceeding repeat sales) counts as 0.
    When q <= 1 the population mean is infinite: x = 0 customers then get NaN (callers choose a fallback).
    """
    x, m = _check_spend(frequency, monetary_value)
    m = np.maximum(m, 0.0)
    with np.errstate(all="ignore"):
        value = fit.p * (fit.gamma + x * m) / (fit.p * x + fit.q - 1)
    value = np.where(fit.p * x + fit.q - 1 > 0, value, np.nan)
    return np.asarray(value, dtype=np.float64)


# --------------------------------------------------------------------------------------------------------------
# Simulation (for tests, back-tests and what-if checks)
# --------------------------------------------------------------------------------------------------------------


def simulate_bg_nbd(
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: ArrayLike,
    *,
    holdout: float = 0.0,
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """Draw customers from a BG/NBD process: one row per entry of `T` (each customer's age in the calibration).

    Each customer gets λ ~ Gamma(r, rate α) and p ~ Beta(a, b), buys at time 0, then as a Poisson process with
    rate λ, dropping out with probability p after each repeat purchase. Returns columns `frequency`, `recency`,
    `T` (calibration period), `holdout_purchases` (purchases in (T, T + holdout]), `alive_at_T`, `rate`,
    `dropout_probability`. Time is in the unit of `alpha` and `T`.
    """
    generator = rng if rng is not None else np.random.default_rng()
    age = _as_float_array(T, "T")
    n = age.size
    rate = generator.gamma(r, 1.0 / alpha, size=n)
    dropout = generator.beta(a, b, size=n)
    end = age + holdout
    clock = np.zeros(n)
    frequency = np.zeros(n)
    recency = np.zeros(n)
    holdout_purchases = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    active = np.arange(n)
    while active.size:
        clock[active] += generator.exponential(1.0, size=active.size) / np.maximum(rate[active], 1e-300)
        bought = clock[active] <= end[active]
        active = active[bought]
        in_calibration = clock[active] <= age[active]
        calibration, later = active[in_calibration], active[~in_calibration]
        frequency[calibration] += 1
        recency[calibration] = clock[calibration]
        holdout_purchases[later] += 1
        drops = generator.random(active.size) < dropout[active]
        alive[active[drops & in_calibration]] = False
        active = active[~drops]
    return pd.DataFrame(
        {
            "frequency": frequency,
            "recency": recency,
            "T": age,
            "holdout_purchases": holdout_purchases,
            "alive_at_T": alive,
            "rate": rate,
            "dropout_probability": dropout,
        }
    )


# --------------------------------------------------------------------------------------------------------------
# Scoring customers (the entry point used by the warehouse build)
# --------------------------------------------------------------------------------------------------------------

CUSTOMER_COLUMNS = ("account_id", "p_alive", "expected_purchases", "expected_avg_order_value", "predicted_clv")
PARAMS_COLUMNS = (
    "model",
    "parameter",
    "value",
    "std_error",
    "time_unit",
    "log_likelihood",
    "customers_fitted",
    "converged",
    "iterations",
    "status",
    "frequency_monetary_corr",
)
_REQUIRED_COLUMNS = ("account_id", "frequency", "recency", "age", "monetary_value", "margin_rate")


def _time_unit_label(time_unit_days: float) -> str:
    return {1.0: "day", 7.0: "week"}.get(float(time_unit_days), f"{time_unit_days:g} days")


def _monthly_steps(horizon_days: int) -> FloatArray:
    """Ends of the (near-)calendar-month steps the horizon is cut into, in days."""
    months = max(1, round(horizon_days / _DAYS_PER_MONTH))
    return np.linspace(horizon_days / months, float(horizon_days), months)


def _fallback_purchases(
    x: FloatArray, age_units: FloatArray, step_ends_units: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Cumulative expected purchases at each step end when BG/NBD cannot be fitted; P(alive) = 1.

    A Gamma-Poisson without dropout, shape 1 and mean equal to the pooled repeat rate Σx/ΣT: a customer's rate
    estimate is (1 + x)/(1/rate + T), so young customers stay near the pooled rate. No repeat purchases at
    all gives rate 0 and no expected purchases (the BG/NBD likelihood's own limit on such data).
    """
    pooled_rate = float(x.sum() / age_units.sum()) if age_units.sum() > 0 else 0.0
    rate = np.zeros_like(x) if pooled_rate <= 0 else (1.0 + x) / (1.0 / pooled_rate + age_units)
    return rate[:, None] * step_ends_units[None, :], np.ones_like(x)


def score_customers(
    summary: pd.DataFrame,
    *,
    horizon_days: int,
    annual_discount_rate: float = 0.10,
    time_unit_days: float = 7.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit BG/NBD and Gamma-Gamma on `summary` and score every customer.

    Input — `summary`, one row per customer:
        account_id      key, passed through unchanged (any dtype; must be unique)
        frequency       x: repeat purchase occasions (occasions after the first), whole number >= 0
        recency         t_x in days: first occasion to last occasion (0 when x = 0)
        age             T in days: first occasion to the as-of date (>= recency)
        monetary_value  mean net revenue per repeat occasion (0 when x = 0; may be <= 0 after returns)
        margin_rate     gross margin / net revenue of the customer; NaN → the overall rate, i.e. the mean of the
                        known rates weighted by purchase occasions (x + 1); 1.0 if no rate is known at all

    Time is converted to units of `time_unit_days` days (weeks by default) before fitting; that is the unit of
    `alpha` (BG/NBD) in the parameters frame.

    Output 1 — per customer, in input order:
        account_id
        p_alive                    P(alive | x, t_x, T) (FHL 2005 eq. 13)
        expected_purchases         E[Y(horizon) | x, t_x, T], purchase occasions in the next `horizon_days` days
                                   (eq. 10), undiscounted
        expected_avg_order_value   Gamma-Gamma E(M | x, z̄); the population mean pγ/(q−1) for x = 0
        predicted_clv              margin_rate × expected_avg_order_value × discounted expected occasions, where
                                   the horizon is cut into equal steps of about one month (round(horizon/30.44)
                                   steps), the expected occasions in step k are E[Y(t_k)] − E[Y(t_(k−1))] from
                                   eq. 10, and each step's occasions are discounted to the as-of date at
                                   (1 + annual_discount_rate)^(−m_k/365.25), m_k = the step's midpoint in days.

    Output 2 — model parameters, one row per parameter: model ('bg_nbd' | 'gamma_gamma'), parameter
    (r, alpha, a, b | p, q, gamma), value, std_error (inverse Hessian, delta method; NaN if not available),
    time_unit, log_likelihood, customers_fitted, converged, iterations, status, frequency_monetary_corr
    (Gamma-Gamma rows: correlation of x and z̄ among repeat buyers, the independence check).

    `status` says what the scores rest on; the warehouse never fails on small or degenerate data:
        'fitted'                  maximum likelihood converged inside the parameter box
        'fitted_at_bound'         the optimum lies on the box edge (e.g. nobody seems to drop out: a → 0):
                                  scores are the model's limiting values, standard errors NaN
        'fitted_infinite_mean'    (Gamma-Gamma) q <= 1: the population mean is infinite, so x = 0 customers get
                                  the fallback spend below
        'fallback_<reason>'       the model could not be fitted (too few customers / repeat buyers, no repeat
                                  purchases, no spend variation, optimiser failure): parameter values are NaN and
                                  * BG/NBD: p_alive = 1 and the expected rate is (1 + x)/(1/ρ + T) per time unit,
                                    ρ = Σx/ΣT the pooled repeat rate (0 purchases if nobody bought twice);
                                  * Gamma-Gamma: repeat buyers keep their own z̄ (floored at 0); x = 0 customers
                                    get the x-weighted mean of the positive z̄, or 0 if no repeat spend exists.
    An empty `summary` gives an empty customer frame and fallback parameter rows.
    Raises ValueError (naming the column and example rows) for missing columns, duplicate account ids, negative
    or non-finite times, non-integer frequencies, recency > age, or a non-positive horizon / time unit.
    """
    if horizon_days is None or int(horizon_days) != horizon_days or horizon_days <= 0:
        raise ValueError(f"horizon_days must be a whole number of days > 0, got {horizon_days!r}")
    if not (time_unit_days > 0 and math.isfinite(time_unit_days)):
        raise ValueError(f"time_unit_days must be > 0, got {time_unit_days!r}")
    if not (annual_discount_rate > -1 and math.isfinite(annual_discount_rate)):
        raise ValueError(f"annual_discount_rate must be > -1, got {annual_discount_rate!r}")
    missing = [c for c in _REQUIRED_COLUMNS if c not in summary.columns]
    if missing:
        raise ValueError(f"summary is missing column(s) {missing}; it needs {list(_REQUIRED_COLUMNS)}")
    duplicated = summary["account_id"].duplicated()
    if duplicated.any():
        examples = summary.loc[duplicated, "account_id"].head(5).tolist()
        raise ValueError(f"summary has duplicate account_id values, e.g. {examples}")

    x = _as_float_array(summary["frequency"].to_numpy(dtype=float, na_value=np.nan), "frequency")
    t_x_days = _as_float_array(summary["recency"].to_numpy(dtype=float, na_value=np.nan), "recency")
    age_days = _as_float_array(summary["age"].to_numpy(dtype=float, na_value=np.nan), "age")
    x, t_x_days, age_days = _check_rfm(x, t_x_days, age_days)
    monetary = summary["monetary_value"].to_numpy(dtype=float, na_value=np.nan)
    monetary = np.where(x == 0, 0.0, monetary)  # no repeat occasion → no repeat spend, whatever was passed
    _check_spend(x, monetary)
    margin = summary["margin_rate"].to_numpy(dtype=float, na_value=np.nan)

    unit = _time_unit_label(time_unit_days)
    t_x, age = t_x_days / time_unit_days, age_days / time_unit_days
    step_ends_days = _monthly_steps(int(horizon_days))
    step_ends = step_ends_days / time_unit_days
    step_mid_days = step_ends_days - np.diff(np.concatenate([[0.0], step_ends_days])) / 2
    discount = (1.0 + annual_discount_rate) ** (-step_mid_days / DAYS_PER_YEAR)

    # --- purchase occasions (BG/NBD) ---
    bg_fit: BgNbdFit | None = None
    try:
        bg_fit = fit_bg_nbd(x, t_x, age)
        bg_status = "fitted_at_bound" if bg_fit.at_bound else "fitted"
    except InsufficientDataError as exc:
        bg_status = f"fallback_{exc.reason}"
    if bg_fit is not None:
        cumulative, alive = _bg_nbd_cumulative(bg_fit, x, t_x, age, step_ends)
    else:
        cumulative, alive = _fallback_purchases(x, age, step_ends)
    increments = np.diff(np.concatenate([np.zeros((x.size, 1)), cumulative], axis=1), axis=1)
    discounted_purchases = (np.maximum(increments, 0.0) * discount).sum(axis=1)

    # --- spend per occasion (Gamma-Gamma) ---
    gg_fit: GammaGammaFit | None = None
    try:
        gg_fit = fit_gamma_gamma(x, monetary)
        gg_status = "fitted_at_bound" if gg_fit.at_bound else "fitted"
        if not math.isfinite(gg_fit.population_mean):
            gg_status = "fitted_infinite_mean"
    except InsufficientDataError as exc:
        gg_status = f"fallback_{exc.reason}"
    positive_repeat = (x > 0) & (monetary > 0)
    observed_mean = (
        float(np.average(monetary[positive_repeat], weights=x[positive_repeat])) if positive_repeat.any() else 0.0
    )
    if gg_fit is not None:
        order_value = conditional_expected_value(gg_fit, x, monetary)
        order_value = np.where(
            np.isfinite(order_value), order_value, np.where(x > 0, np.maximum(monetary, 0), observed_mean)
        )
    else:
        order_value = np.where(x > 0, np.maximum(monetary, 0.0), observed_mean)

    # --- margin and value ---
    known = np.isfinite(margin)
    overall_margin = float(np.average(margin[known], weights=x[known] + 1)) if known.any() else 1.0
    margin = np.where(known, margin, overall_margin)

    customers = pd.DataFrame(
        {
            "account_id": summary["account_id"].to_numpy(),
            "p_alive": alive,
            "expected_purchases": cumulative[:, -1] if x.size else np.zeros(0),
            "expected_avg_order_value": order_value,
            "predicted_clv": margin * order_value * discounted_purchases,
        },
        columns=list(CUSTOMER_COLUMNS),
    )
    params = _params_frame(bg_fit, bg_status, gg_fit, gg_status, unit)
    return customers, params


def _bg_nbd_cumulative(
    fit: BgNbdFit, x: FloatArray, t_x: FloatArray, age: FloatArray, step_ends: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """E[Y(t_k)] for every step end t_k and P(alive), computed once per distinct (x, t_x, T)."""
    if x.size == 0:
        return np.zeros((0, step_ends.size)), np.zeros(0)
    stacked = np.column_stack([x, t_x, age])
    unique, inverse = unique_rows(stacked)
    ux, utx, uage = unique[:, 0], unique[:, 1], unique[:, 2]
    alive = special.expit(-_log_odds_dead(fit, ux, utx, uage))
    n_unique, n_steps = ux.size, step_ends.size
    # One vectorised hyp2f1 call over (customer, step) pairs.
    numerator = _conditional_numerator(
        fit, np.tile(step_ends, n_unique), np.repeat(ux, n_steps), np.repeat(uage, n_steps)
    ).reshape(n_unique, n_steps)
    cumulative = numerator * alive[:, None]
    # Guard against tiny non-monotonic wiggles from the special function: expectations only grow with t.
    cumulative = np.maximum.accumulate(cumulative, axis=1)
    return cumulative[inverse], alive[inverse]


def _params_frame(
    bg_fit: BgNbdFit | None,
    bg_status: str,
    gg_fit: GammaGammaFit | None,
    gg_status: str,
    unit: str,
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    fits: tuple[tuple[str, tuple[str, ...], BgNbdFit | GammaGammaFit | None, str], ...] = (
        ("bg_nbd", BG_NBD_PARAMETERS, bg_fit, bg_status),
        ("gamma_gamma", GAMMA_GAMMA_PARAMETERS, gg_fit, gg_status),
    )
    for model, names, fit, status in fits:
        for name in names:
            rows.append(
                {
                    "model": model,
                    "parameter": name,
                    "value": fit.params[name] if fit else math.nan,
                    "std_error": fit.std_errors.get(name, math.nan) if fit else math.nan,
                    "time_unit": unit,
                    "log_likelihood": fit.log_likelihood if fit else math.nan,
                    "customers_fitted": fit.customers_fitted if fit else 0,
                    "converged": bool(fit.converged) if fit else False,
                    "iterations": fit.iterations if fit else 0,
                    "status": status,
                    # the Gamma-Gamma assumption's check: frequency and order value uncorrelated
                    "frequency_monetary_corr": fit.frequency_monetary_corr
                    if isinstance(fit, GammaGammaFit)
                    else math.nan,
                }
            )
    frame = pd.DataFrame(rows, columns=list(PARAMS_COLUMNS))
    return frame.astype({"customers_fitted": "int64", "iterations": "int64", "converged": "bool"})
