r"""D1's replicate design: where to add replicates so that the rate's 95 % interval reaches
a stated half-width at the least cost (docs/verify.md, "D1's design").

The rate r̂ of δ(n) ≈ C n^{-r} (+ C0) is a weighted least-squares fit of log δ̄(n_k)
(:func:`simulations.verify.fits.fit_rate`). With R_k replicates at size n_k and σ_k the
per-replicate standard deviation of log δ̄(n_k) (delta method: sd(δ)/mean(δ)), its
variance is, to first order,

.. math::
    \operatorname{var}\hat r \approx \left[\Big(\sum_k \frac{R_k}{\sigma_k^2}
    J_k^{\mathsf T} J_k\Big)^{-1}\right]_{rr},
    \qquad J_k = \frac{\partial}{\partial(\log C,\ r,\ C_0)}
    \log\big(C n_k^{-r} + C_0\big),

(the C0 column only when the fit keeps a floor). The pilot's bootstrap half-width h₀
calibrates it: κ = (h₀ / 1.96 sd₀)², sd₀ the formula's at the pilot's replicates. The
design then asks for the cheapest R ≥ the replicates so far, each ≤ the cap, with
1.96 √(κ var r̂ · 1.2) ≤ the target (1.2: margin for a fit refitted on new data), cost
Σ c(n_k) R_k with c the per-replicate cost model :func:`replicate_cost`. When no R
within the caps and the budget reaches the target, it takes the smallest variance the
budget buys and says so. It uses the statistics of the replicates, never the rate's
value, so it is not tuned toward E2 or E3.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize

#: Variance margin of the design (a refitted rate's interval is itself noisy).
SAFETY = 1.2
#: Per-replicate cost of a D1 loop (seconds, one round at n = m): a + b n³. Measured with
#: benchmarks/d1_sizes.py at R = 24 (the m³ eigendecomposition dominates from n ≈ 1,024):
#: 2 CPU cores 0.09 s at n = 64 … 14.3 s at 4,096; one H200 0.16 s … 0.19 s.
COST = {"cpu": (0.1, 2.1e-10), "cuda": (0.15, 6e-13)}


def replicate_cost(n, device: str = "cpu") -> np.ndarray:
    """c(n) = a + b n³ seconds per replicate (:data:`COST`; CUDA devices as ``cuda``)."""
    a, b = COST["cuda" if str(device).startswith("cuda") else "cpu"]
    return a + b * np.asarray(n, float) ** 3


def _jacobian(sizes: np.ndarray, const: float, rate: float, floor: float,
              with_floor: bool) -> np.ndarray:
    power = const * sizes ** (-rate)
    total = power + floor
    cols = [power / total, -np.log(sizes) * power / total]
    if with_floor:
        cols.append(1.0 / total)
    return np.column_stack(cols)


def rate_variance(reps, sizes, sigma_log, const, rate, floor, with_floor) -> float:
    """First-order var r̂ at replicates ``reps`` (the module docstring's formula)."""
    jac = _jacobian(np.asarray(sizes, float), const, rate, floor, with_floor)
    info = (jac * (np.asarray(reps, float) / np.asarray(sigma_log, float) ** 2)[:, None]).T @ jac
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return math.inf
    return float(cov[1, 1]) if cov[1, 1] > 0 else math.inf


def allocate(sizes, values, fit, target: float, cap: int, budget: float,
             device: str = "cpu") -> tuple[list[int], str]:
    """Replicates per size (totals, ≥ those in ``values``) for a 95 % half-width of r̂ at
    most ``target``; ``budget`` bounds the added cost (seconds of :func:`replicate_cost`).

    Returns (totals, note): the note says what the design predicts, or that the target
    is out of reach within the cap and budget (then the totals minimise the variance the
    budget buys)."""
    sizes = np.asarray(sizes, float)
    have = np.array([v.size for v in values], float)
    means = np.array([v.mean() for v in values])
    sigma = np.maximum(np.array([v.std(ddof=1) for v in values]) / means, 1e-12)
    args = (sizes, sigma, fit.const, fit.rate, fit.floor, fit.floor > 0)
    half = (fit.rate_hi - fit.rate_lo) / 2
    sd0 = math.sqrt(rate_variance(have, *args))
    kappa = (half / (1.96 * sd0)) ** 2 if math.isfinite(sd0) and sd0 > 0 else 1.0
    limit = (target / 1.96) ** 2 / (kappa * SAFETY)
    cost = replicate_cost(sizes, device)
    top = np.maximum(have, float(cap))

    def var(u):  # the optimiser works on u = R / top (every coordinate in [0, 1])
        return rate_variance(u * top, *args) / limit

    def spend(u):
        return float(cost @ (u * top - have)) / budget

    bounds = list(zip(have / top, np.ones_like(top), strict=True))
    if var(np.ones_like(top)) <= 1:  # reachable within the caps: the cheapest R
        sol = minimize(spend, np.ones_like(top), method="SLSQP", bounds=bounds,
                       constraints=[{"type": "ineq", "fun": lambda u: 1 - var(u)}])
        reps = np.ceil(np.clip(sol.x, have / top, 1) * top - 1e-6)
        if sol.success and var(reps / top) <= 1.001 and spend(reps / top) <= 1:
            return [int(r) for r in reps], (
                f"predicted half-width {_hw(var(reps / top) * limit, kappa)} at an added "
                f"cost of {spend(reps / top) * budget / 60:.0f} min ({device} cost model)")
    # out of reach: the smallest variance the budget buys
    start = (have + (top - have) * min(1.0, 1 / max(spend(np.ones_like(top)), 1e-12))) / top
    sol = minimize(var, start, method="SLSQP", bounds=bounds,
                   constraints=[{"type": "ineq", "fun": lambda u: 1 - spend(u)}])
    reps = np.floor(np.clip(sol.x if sol.success else start, have / top, 1) * top + 1e-6)
    return [int(r) for r in reps], (
        f"the target ±{target} is out of reach within R <= {cap} per size and an added "
        f"{budget / 60:.0f} min ({device} cost model): predicted half-width "
        f"{_hw(var(reps / top) * limit, kappa)}")


def _hw(variance: float, kappa: float) -> str:
    return f"{1.96 * math.sqrt(kappa * variance):.3g}"
