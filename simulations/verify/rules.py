"""Verdict rules (docs/theory.md §7): every verdict is *holds*, *violated*, *inconclusive* or
*not applicable*.

The rule, fixed before any data are seen and printed in every report:

* level α = 0.05 for each verdict word. A claim that must hold at every point ("e_i ≤ b_i
  for all i") is an intersection-union test: each point's one-sided test at α. A claim
  that fails if it fails somewhere is a union: Holm's step-down method over the points;
* means over replicates: one-sided tests that reject only where both a bootstrap-t test
  (2,000 resamples, fixed seed) and Student's t reject (p = the larger p-value): the
  bootstrap-t keeps α on the right-skewed [0, 1] data of TV errors, where Student's t
  does not; Student's t keeps it on symmetric heavy-tailed differences, where the
  bootstrap-t does not (false *violated* 0.085 at R = 24, now 0.018);
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
  rejection; otherwise *inconclusive*;
* design: every verdict also states the replicates R it needs for 90 % power at its
  stated minimum effect (a bound: a gap of 10 % of the bound either way; an equivalence:
  the truth at the target; a peak or a monotone step: 5 % of the baseline mean), from
  the pilot's standard deviations (at their 80 % upper confidence limit) and the normal
  approximation R = ((z_(1−α/m) + z_power) σ / effect)², m the tests Holm may need.
  ``--scale standard`` and ``--full`` run each experiment once at the pilot R, then again
  at the largest R its verdicts need, capped by the scale's budget (the pilot's
  replicates are the first ones of the final run: an internal pilot that looks only at
  variances); an *inconclusive* verdict whose R is beyond the cap says so.
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
#: Design: power, and the minimum effects the replicate counts are sized for.
POWER = 0.90
BOUND_EFFECT = 0.10
STEP_EFFECT = 0.05
RULE_TEXT = __doc__.split("\n\n", 1)[1].strip()
WORDS = ("holds", "violated", "inconclusive", "not applicable")


class Decision(str):
    """A verdict word that also carries ``needs``: the replicates for 90 % power at the
    rule's stated minimum effect (None where the rule cannot say)."""

    needs: int | None = None

    def __new__(cls, word: str, needs: float | None = None):
        out = super().__new__(cls, word)
        out.needs = (None if needs is None or not np.isfinite(needs)
                     else int(max(2, np.ceil(needs))))
        return out


def replicates_for(sd, effect, tests: int = 1, two_sided_power: bool = False) -> float:
    """R = ((z_(1−α/tests) + z_power) σ / effect)², the largest over the points (inf where an
    effect is 0); ``two_sided_power`` for equivalence (each side at power (1 + P)/2)."""
    sd = np.atleast_1d(np.asarray(sd, float))
    effect = np.broadcast_to(np.asarray(effect, float), sd.shape)
    z = stats.norm.ppf(1 - ALPHA / max(tests, 1)) + stats.norm.ppf(
        (1 + POWER) / 2 if two_sided_power else POWER)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(np.abs(effect) > 0, (z * sd / np.abs(effect)) ** 2, np.inf)
    return float(np.nanmax(r)) if r.size else float("nan")


#: The pilot's standard deviation enters the design at its one-sided upper confidence limit
#: at this level (a low pilot estimate would otherwise leave the final stage short of power).
SD_CONFIDENCE = 0.80


def _sd(v: np.ndarray) -> np.ndarray:
    """Per-column sd's upper confidence limit: s · sqrt((R − 1) / χ²_(1−c)(R − 1))."""
    if v.shape[0] < 2:
        return np.full(v.shape[1], np.inf)
    df = v.shape[0] - 1
    return v.std(0, ddof=1) * np.sqrt(df / stats.chi2.ppf(1 - SD_CONFIDENCE, df))


@dataclass(frozen=True)
class Verdict:
    """One verdict row of ``verdicts.json`` (schema in docs/verify.md)."""

    claim: str
    kind: str
    model: str
    data: str
    verdict: str
    statistic: float | None
    detail: str
    setting: str = ""
    schedule: str | None = None
    convention: str | None = None
    scale: str = ""
    replicates: int | None = None
    replicates_needed: int | None = None

    def as_dict(self) -> dict:
        out = asdict(self)
        if out["statistic"] is not None and not np.isfinite(out["statistic"]):
            out["statistic"] = None
        return out


def holm_rejects(pvalues, alpha: float = ALPHA) -> np.ndarray:
    """Holm's step-down rejections at level ``alpha`` (family-wise); NaN refused."""
    return holm(pvalues, alpha)


def bound_verdict(values, bounds, bound_se=0.0, alpha: float = ALPHA) -> tuple[str, float]:
    """(verdict, largest mean e_i / b_i) for e_i ≤ b_i at every point.

    ``values`` are replicate values (R, k) (or (R,) for one point); ``bound_se`` is the
    bootstrap standard error of fitted bounds (0 when known); ``alpha`` the level of each
    verdict word (verify's 0.05 unless a user's check asks for another).
    """
    v = check_values(values)
    b = np.broadcast_to(np.asarray(bounds, dtype=np.float64), (v.shape[1],))
    hold = p_below(v, b, bound_se) <= alpha  # intersection-union: each point at α
    over = holm_rejects(p_above(v, b * (1 + BOUND_SLACK), bound_se), alpha)
    ratio = float(np.max(v.mean(0) / b))
    # the fitted bound's se shrinks like the loop's (its fit has the same replicates)
    se_b = np.broadcast_to(np.asarray(bound_se, dtype=np.float64), b.shape)
    sd = np.sqrt(_sd(v) ** 2 + v.shape[0] * se_b**2)
    needs = replicates_for(sd, BOUND_EFFECT * b, tests=v.shape[1]) if v.shape[0] > 1 else None
    if over.any():
        return Decision("violated", needs), ratio
    return Decision("holds" if hold.all() else "inconclusive", needs), ratio


def equivalence_verdict(estimates, ses, target, tol, df=None, reps: int | None = None) -> str:
    """θ within target ± tol at every point (TOST, intersection-union), or outside it
    somewhere (the better one-sided test, p doubled, Holm) — for fitted quantities with
    normal (or Student-t with ``df``) standard errors. With ``reps`` (the replicates behind
    the standard errors, which shrink like 1/√R) the result carries the R it needs."""
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
    needs = (None if reps is None else
             replicates_for(se * np.sqrt(reps), tol, two_sided_power=True))
    if holm_rejects(p_out).any():
        return Decision("violated", needs)
    return Decision("holds" if inside.all() else "inconclusive", needs)


def equivalence_values(values, target, tol) -> str:
    """:func:`equivalence_verdict` for replicate values (R, k) by the one-sided tests of
    :mod:`simulations.verify.stat_tests`."""
    v = check_values(values)
    t = np.broadcast_to(np.asarray(target, float), (v.shape[1],))
    d = np.broadcast_to(np.asarray(tol, float), (v.shape[1],))
    inside = np.maximum(p_above(v, t - d), p_below(v, t + d)) <= ALPHA
    p_out = np.minimum(1.0, 2 * np.minimum(p_below(v, t - d), p_above(v, t + d)))
    needs = replicates_for(_sd(v), d, two_sided_power=True)
    if holm_rejects(p_out).any():
        return Decision("violated", needs)
    return Decision("holds" if inside.all() else "inconclusive", needs)


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
    needs = replicates_for(_sd(d), effect * v[:, 0].mean(), tests=d.shape[1])
    if holm_rejects(p_above(d, 0.0)).any():
        return Decision("holds", needs), peak
    if np.all(p_below(d, 0.0) <= ALPHA):
        return Decision("violated", needs), peak
    return Decision("inconclusive", needs), peak


def u_shape_verdict(values, k_star: int) -> str:
    """The U-shape rule on paired replicate values (R, k) over an ordered grid, with the
    minimum's position ``k_star`` named before the data (module docstring)."""
    v = check_values(values)
    last = v.shape[1] - 1
    if not 0 < k_star < last:
        raise ValueError(f"k_star must be an interior index (1..{last - 1}); got {k_star}.")
    below_ends = [p_below(v[:, k_star] - v[:, 0], 0.0)[0],
                  p_below(v[:, k_star] - v[:, last], 0.0)[0]]
    steps = np.diff(v, axis=1)
    ends = np.column_stack([v[:, k_star] - v[:, 0], v[:, k_star] - v[:, last]])
    needs = max(replicates_for(_sd(ends), STEP_EFFECT * v[:, k_star].mean()),
                replicates_for(_sd(steps), STEP_EFFECT * v.mean(0)[:-1]))
    if max(below_ends) <= ALPHA:  # intersection-union
        return Decision("holds", needs)
    falling = np.all(p_below(steps, 0.0) <= ALPHA)
    rising = np.all(p_above(steps, 0.0) <= ALPHA)
    return Decision("violated" if (falling or rising) else "inconclusive", needs)


def monotone_verdict(values, decreasing: bool = True) -> str:
    """Monotone over an ordered grid of paired replicate values (R, k): *holds* if every
    adjacent step is significant in the claimed direction (intersection-union), *violated*
    if some step is significant against it (Holm)."""
    v = check_values(values)
    steps = np.diff(v, axis=1)
    good = p_below(steps, 0.0) if decreasing else p_above(steps, 0.0)
    bad = p_above(steps, 0.0) if decreasing else p_below(steps, 0.0)
    needs = replicates_for(_sd(steps), STEP_EFFECT * v.mean(0)[:-1], tests=steps.shape[1])
    if holm_rejects(bad).any():
        return Decision("violated", needs)
    return Decision("holds" if np.all(good <= ALPHA) else "inconclusive", needs)


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
