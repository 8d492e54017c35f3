"""Verdict rules (docs/theory.md §7): every verdict is *holds*, *violated*, *inconclusive* or
*not applicable*.

The rule, fixed before any data are seen and printed in every report:

* level α = 0.05 for each verdict word. A claim that must hold at every point ("e_i ≤ b_i
  for all i") is an intersection-union test: each point's one-sided test at α. A claim
  that fails if it fails somewhere is a union: Holm's step-down method over the points;
* means over replicates: one-sided bootstrap-t tests (2,000 resamples, fixed seed), which
  keep α on the right-skewed [0, 1] data of TV errors where Student's t does not;
  comparisons between points of loops that share seeds use per-replicate differences
  (paired); a bound fitted from data enters with its bootstrap standard error;
  fitted quantities (rates, exponents) use normal tests with bootstrap standard errors;
* ``bound`` (e_i ≤ b_i): *holds* if every H0 "mean e_i ≥ b_i" is rejected; *violated* if
  some H0 "mean e_i ≤ (1 + 2 %) b_i" is rejected (excesses under 2 % of the bound are not
  called);
* ``shape`` / ``prediction`` against a value v with tolerance Δ (the minimum effect size,
  stated per claim): *holds* if, at every point, both "θ ≤ v − Δ" and "θ ≥ v + Δ" are
  rejected (two one-sided tests); *violated* if some "|θ − v| ≤ Δ" is rejected by the
  better of its two one-sided tests at α/2 each (Bonferroni: the p-value is doubled);
* ``peak`` (P2): *holds* if some point in the window [λ'/2, 2λ'] lies significantly above
  (1 + 5 %) e_T(0) (Holm); *violated* if every point in the window lies significantly
  below it (no peak of that size there);
* ``U`` (D1, KL against τ): the minimum τ* is named in advance; *holds* if KL(τ*) is
  significantly below both ends; *violated* if the curve is significantly monotone (every
  adjacent difference significant with one sign);
* ``consistency`` (C1) is a check of the metrics, not a verdict on the paper: a margin
  certified below 0 is a bug, reported beside the verdicts;
* *not applicable* where a claim's premise fails (a misspecified model whose error has a
  floor, for a rate claim), with the reason; NaN is refused, never counted as a
  rejection; otherwise *inconclusive*.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from boundkit.errors import InvalidArgument
from simulations.verify.stat_tests import check_values, holm, p_above, p_below

ALPHA = 0.05
BOUND_SLACK = 0.02
PEAK_EFFECT = 0.05
RULE_TEXT = __doc__.split("\n\n", 1)[1].strip()
WORDS = ("holds", "violated", "inconclusive", "not applicable")


@dataclass(frozen=True)
class Verdict:
    """One verdict row of ``verdicts.json``."""

    claim: str
    kind: str
    model: str
    data: str
    verdict: str
    statistic: float | None
    detail: str

    def as_dict(self) -> dict:
        out = asdict(self)
        if out["statistic"] is not None and not np.isfinite(out["statistic"]):
            out["statistic"] = None
        return out


def holm_rejects(pvalues) -> np.ndarray:
    """Holm's step-down rejections at level ALPHA (family-wise); NaN refused."""
    return holm(pvalues, ALPHA)


def bound_verdict(values, bounds, bound_se=0.0) -> tuple[str, float]:
    """(verdict, largest mean e_i / b_i) for e_i ≤ b_i at every point.

    ``values`` are replicate values (R, k) (or (R,) for one point); ``bound_se`` is the
    bootstrap standard error of fitted bounds (0 when known).
    """
    v = check_values(values)
    b = np.broadcast_to(np.asarray(bounds, dtype=np.float64), (v.shape[1],))
    hold = p_below(v, b, bound_se) <= ALPHA  # intersection-union: each point at α
    over = holm_rejects(p_above(v, b * (1 + BOUND_SLACK), bound_se))
    ratio = float(np.max(v.mean(0) / b))
    if over.any():
        return "violated", ratio
    return ("holds" if hold.all() else "inconclusive"), ratio


def equivalence_verdict(estimates, ses, target, tol, df=None) -> str:
    """θ within target ± tol at every point (TOST, intersection-union), or outside it
    somewhere (the better one-sided test, p doubled, Holm) — for fitted quantities with
    normal (or Student-t with ``df``) standard errors."""
    th, se = np.atleast_1d(np.asarray(estimates, float)), np.atleast_1d(np.asarray(ses, float))
    if not (np.all(np.isfinite(th)) and np.all(np.isfinite(se))):
        raise InvalidArgument(f"estimates and ses must be finite; got {th.tolist()} and "
                              f"{se.tolist()}. A NaN fit decides nothing: rerun the failed "
                              f"loops.", argument="estimates")
    v = np.broadcast_to(np.asarray(target, float), th.shape)
    tol = np.broadcast_to(np.asarray(tol, float), th.shape)
    se = np.maximum(se, 1e-300)
    cdf = (lambda z: stats.t.cdf(z, df)) if df else stats.norm.cdf
    p_low = 1 - cdf((th - (v - tol)) / se)   # H0: θ ≤ v − tol
    p_high = cdf((th - (v + tol)) / se)      # H0: θ ≥ v + tol
    inside = np.maximum(p_low, p_high) <= ALPHA
    p_out = np.minimum(1.0, 2 * np.minimum(cdf((th - (v - tol)) / se),      # θ < v − tol
                                           1 - cdf((th - (v + tol)) / se)))  # θ > v + tol
    if holm_rejects(p_out).any():
        return "violated"
    return "holds" if inside.all() else "inconclusive"


def equivalence_values(values, target, tol) -> str:
    """:func:`equivalence_verdict` for replicate values (R, k) by bootstrap-t tests."""
    v = check_values(values)
    t = np.broadcast_to(np.asarray(target, float), (v.shape[1],))
    d = np.broadcast_to(np.asarray(tol, float), (v.shape[1],))
    inside = np.maximum(p_above(v, t - d), p_below(v, t + d)) <= ALPHA
    p_out = np.minimum(1.0, 2 * np.minimum(p_below(v, t - d), p_above(v, t + d)))
    if holm_rejects(p_out).any():
        return "violated"
    return "holds" if inside.all() else "inconclusive"


def peak_verdict(values, window, effect: float = PEAK_EFFECT) -> tuple[str, int]:
    """P2's peak rule on paired replicate values (R, k), column 0 at λ = 0.

    ``window`` marks the columns inside [λ'/2, 2λ']. Per replicate the differences
    x_k − (1 + effect) x_0 are tested: *holds* if some window point is significantly
    above 0 (Holm), *violated* if every window point is significantly below 0.
    Returns (verdict, index of the largest mean).
    """
    v = check_values(values)
    window = np.asarray(window, dtype=bool)
    diff = v[:, 1:] - (1 + effect) * v[:, :1]
    inside = window[1:]
    if not inside.any():
        raise ValueError("the window [λ'/2, 2λ'] holds no grid point: the design is wrong.")
    d = diff[:, inside]
    peak = int(np.argmax(v.mean(0)))
    if holm_rejects(p_above(d, 0.0)).any():
        return "holds", peak
    if np.all(p_below(d, 0.0) <= ALPHA):
        return "violated", peak
    return "inconclusive", peak


def u_shape_verdict(values, k_star: int) -> str:
    """The U-shape rule on paired replicate values (R, k) over an ordered grid, with the
    minimum's position ``k_star`` named before the data (module docstring)."""
    v = check_values(values)
    last = v.shape[1] - 1
    if not 0 < k_star < last:
        raise ValueError(f"k_star must be an interior index (1..{last - 1}); got {k_star}.")
    below_ends = [p_below(v[:, k_star] - v[:, 0], 0.0)[0],
                  p_below(v[:, k_star] - v[:, last], 0.0)[0]]
    if max(below_ends) <= ALPHA:  # intersection-union
        return "holds"
    steps = np.diff(v, axis=1)
    falling = np.all(p_below(steps, 0.0) <= ALPHA)
    rising = np.all(p_above(steps, 0.0) <= ALPHA)
    return "violated" if (falling or rising) else "inconclusive"


def monotone_verdict(values, decreasing: bool = True) -> str:
    """Monotone over an ordered grid of paired replicate values (R, k): *holds* if every
    adjacent step is significant in the claimed direction (intersection-union), *violated*
    if some step is significant against it (Holm)."""
    v = check_values(values)
    steps = np.diff(v, axis=1)
    good = p_below(steps, 0.0) if decreasing else p_above(steps, 0.0)
    bad = p_above(steps, 0.0) if decreasing else p_below(steps, 0.0)
    if holm_rejects(bad).any():
        return "violated"
    return "holds" if np.all(good <= ALPHA) else "inconclusive"


def mean_se(values: np.ndarray) -> tuple[float, float]:
    """(mean, standard error) over replicates."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else np.inf


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi): the two-sided Student-t interval of the mean."""
    m, se = mean_se(values)
    if not np.isfinite(se):
        return m, m, m
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * se
    return m, m - half, m + half
