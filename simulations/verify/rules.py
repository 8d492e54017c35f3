"""Verdict rules (docs/theory.md §7): every verdict is *holds*, *violated* or *inconclusive*.

The rule, fixed before any data are seen and printed in every report:

* level α = 0.05; the points of one verdict (rounds, grid points) are corrected together
  by Holm's step-down method, separately for "holds" and for "violated";
* means over replicates use one-sided Student-t tests (df = R − 1); fitted quantities
  (rates, exponents) use normal tests with bootstrap standard errors;
* ``bound`` (e_i ≤ b_i): *holds* if every H0 "mean e_i ≥ b_i" is rejected; *violated* if
  some H0 "mean e_i ≤ (1 + 2 %) b_i" is rejected (excesses under 2 % of the bound are not
  called);
* ``shape`` / ``prediction`` against a value v with tolerance Δ (the minimum effect size,
  stated per claim): *holds* if every "|θ − v| ≥ Δ" is rejected (two one-sided tests);
  *violated* if some "|θ − v| ≤ Δ" is rejected;
* ``shape`` U (D1, KL against τ): *holds* if the smallest mean is interior and
  significantly below both ends; *violated* if it is an end and significantly below the
  middle point (the curve is monotone, no U);
* ``consistency`` (C1): *violated* when a margin's certified interval lies below 0 in some
  replicate-round, *holds* otherwise (a failure is a metric bug, not a finding);
* otherwise *inconclusive*.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
BOUND_SLACK = 0.02
RULE_TEXT = __doc__.split("\n\n", 1)[1].strip()


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
    """Holm's step-down rejections at level ALPHA (family-wise)."""
    p = np.asarray(pvalues, dtype=np.float64)
    order = np.argsort(p)
    reject = np.zeros(p.size, dtype=bool)
    for rank, k in enumerate(order):
        if p[k] > ALPHA / (p.size - rank):
            break
        reject[k] = True
    return reject


def _t_p_below(mean, se, df, threshold):
    """p-value of H0: μ ≥ threshold against μ < threshold."""
    se = np.maximum(se, 1e-300)
    return stats.t.cdf((mean - threshold) / se, df)


def bound_verdict(means, ses, reps: int, bounds) -> tuple[str, float]:
    """(verdict, largest mean e_i / b_i) for e_i ≤ b_i at every point (Holm)."""
    means, ses, bounds = (np.asarray(v, dtype=np.float64) for v in (means, ses, bounds))
    df = max(reps - 1, 1)
    hold = holm_rejects(_t_p_below(means, ses, df, bounds))
    over = holm_rejects(1 - _t_p_below(means, ses, df, bounds * (1 + BOUND_SLACK)))
    ratio = float(np.max(means / bounds))
    if over.any():
        return "violated", ratio
    return ("holds" if hold.all() else "inconclusive"), ratio


def equivalence_verdict(estimates, ses, target, tol, df=None) -> str:
    """θ within target ± tol at every point (TOST, Holm), or outside it somewhere."""
    th, se = np.atleast_1d(np.asarray(estimates, float)), np.atleast_1d(np.asarray(ses, float))
    v = np.broadcast_to(np.asarray(target, float), th.shape)
    tol = np.broadcast_to(np.asarray(tol, float), th.shape)
    se = np.maximum(se, 1e-300)
    cdf = (lambda z: stats.t.cdf(z, df)) if df else stats.norm.cdf
    p_low = 1 - cdf((th - (v - tol)) / se)   # H0: θ ≤ v − tol
    p_high = cdf((th - (v + tol)) / se)      # H0: θ ≥ v + tol
    inside = holm_rejects(np.maximum(p_low, p_high))
    outside = holm_rejects(np.minimum(cdf((th - (v - tol)) / se),      # H0: θ ≥ v − tol
                                      1 - cdf((th - (v + tol)) / se)))  # H0: θ ≤ v + tol
    if outside.any():
        return "violated"
    return "holds" if inside.all() else "inconclusive"


def u_shape_verdict(means, ses, df: int) -> str:
    """A U-shape over an ordered grid (module docstring): one-sided t tests, Holm."""
    means, ses = np.asarray(means, float), np.asarray(ses, float)
    k, last = int(np.argmin(means)), means.size - 1

    def p_below(a: int, b: int) -> float:  # H0: mean_a ≥ mean_b
        return float(_t_p_below(means[a] - means[b], np.hypot(ses[a], ses[b]), df, 0.0))

    if 0 < k < last:
        return "holds" if holm_rejects([p_below(k, 0), p_below(k, last)]).all() \
            else "inconclusive"
    return "violated" if p_below(k, last // 2) <= ALPHA else "inconclusive"


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
