"""One-sided tests of means over replicates that keep their level on TV data (docs/theory.md §7).

TV errors are bounded in [0, 1] and skewed to the right, so a Student-t test of
"mean < b" rejects too often at small R (false *holds* 0.06–0.12 at R = 24 in the audit).
The bootstrap-t test keeps the level to second order: the studentized statistic
t = (x̄ − b)/se is referred to the bootstrap distribution of t* = (x̄* − x̄)/se*, which
carries the skewness of the data. Points of one verdict are tested together, replicate by
replicate: where the points come from loops that share seeds (common random numbers on
purpose), a comparison between points is a test on per-replicate *differences* (paired),
never on two independent standard errors.

**Both tests must reject.** The bootstrap-t in its turn rejects too often on symmetric
heavy-tailed data (a resample that repeats an outlier inflates its own se*, so the t*
distribution is too narrow): on paired differences δ·ε, a scale mixture, it said false
*violated* 0.08–0.095 at R = 24 where Student's t said 0.028. So a one-sided p-value here is
max(p_bootstrap-t, p_Student): the test rejects only where both do, and since
P(both reject) ≤ min(P(each rejects)), it keeps α wherever either test does — the
bootstrap-t on skewed data, Student's t on symmetric heavy-tailed data (where it is
conservative). The price is power where Student's t is conservative (the upper tail of
right-skewed data); the calibration suite (tests/test_verify_calibration.py) measures both.

Every function refuses NaN and inf (a NaN mean is not evidence of anything) and draws its
resamples from a fixed seed, so a verdict is a function of the data alone.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats

from boundkit.errors import InvalidArgument

#: Bootstrap resamples of every test (fixed before any data are seen).
BOOT = 2000
SEED = 20240611


def check_values(values, name: str = "values") -> np.ndarray:
    """Replicate values as a float64 array (R, k), R ≥ 2, all finite; else InvalidArgument."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[0] < 2:
        raise InvalidArgument(f"{name} must hold at least 2 replicates per point (shape (R, "
                              f"k)); got shape {np.shape(values)}.", argument=name)
    if not np.all(np.isfinite(v)):
        bad = int((~np.isfinite(v)).sum())
        raise InvalidArgument(f"{name} has {bad} NaN or infinite value(s): a verdict needs "
                              f"every replicate measured. Rerun the failed loops or drop the "
                              f"point.", argument=name)
    return v


def _se(x: np.ndarray, axis: int) -> np.ndarray:
    n = x.shape[axis]
    return np.maximum(x.std(axis=axis, ddof=1) / np.sqrt(n), 1e-300)


@functools.lru_cache(maxsize=16)
def _resample_counts(reps: int) -> np.ndarray:
    """How often each replicate appears in each of the BOOT resamples, (BOOT, R): fixed by
    the seed, so a resample's mean and second moment are two matrix products."""
    idx = np.random.default_rng(SEED).integers(0, reps, (BOOT, reps))
    counts = np.zeros((BOOT, reps))
    np.add.at(counts, (np.arange(BOOT)[:, None], idx), 1.0)
    counts.setflags(write=False)
    return counts


def p_below(values, threshold, threshold_se=0.0) -> np.ndarray:
    """p-values of H0 "mean ≥ threshold" against "mean < threshold", per point: the larger
    of the bootstrap-t's and Student's t's (module docstring).

    Parameters
    ----------
    values : array_like, shape (R, k) or (R,)
        Replicate values of k points (the same replicate index in every column).
    threshold : array_like, shape (k,) or scalar
        The thresholds b_k.
    threshold_se : array_like, shape (k,) or scalar
        The standard error of a fitted threshold (0 for a known one); it enters the
        statistic's denominator and the bootstrap as an independent normal error.

    Returns
    -------
    numpy.ndarray
        Shape (k,).
    """
    v = check_values(values)
    reps, k = v.shape
    b = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (k,))
    sb = np.broadcast_to(np.asarray(threshold_se, dtype=np.float64), (k,))
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(sb))):
        raise InvalidArgument("threshold must be finite (a bound of NaN or inf decides "
                              "nothing).", argument="threshold")
    # shifted by the first replicate: a column of equal values is exactly 0, so its
    # spread is exactly 0 (not rounding noise) and the test decides by the mean alone
    shift = v - v[:1]
    mean, se = v[0] + shift.mean(0), _se(shift, 0)
    t_obs = (mean - b) / np.maximum(np.hypot(se, sb), 1e-300)
    w = _resample_counts(reps)
    c = shift - shift.mean(0)  # centred: no cancellation in the second moment
    m_star = w @ c / reps
    var_star = np.maximum(w @ (c * c) / reps - m_star**2, 0.0) * reps / (reps - 1)
    se_star = np.sqrt(var_star / reps)
    m_star = m_star + mean
    noise = np.random.default_rng(SEED + 1).standard_normal(m_star.shape) * sb
    t_star = (m_star - mean - noise) / np.maximum(np.hypot(se_star, sb), 1e-300)
    p_boot = (1 + (t_star <= t_obs).sum(0)) / (BOOT + 1)
    return np.maximum(p_boot, stats.t.cdf(t_obs, reps - 1))  # both must reject (docstring)


def p_above(values, threshold, threshold_se=0.0) -> np.ndarray:
    """p-values of H0 "mean ≤ threshold" against "mean > threshold" (as :func:`p_below`)."""
    v = check_values(values)
    b = np.asarray(threshold, dtype=np.float64)
    return p_below(-v, -b, threshold_se)


def holm(pvalues, alpha: float) -> np.ndarray:
    """Holm's step-down rejections at family-wise level ``alpha``."""
    p = np.asarray(pvalues, dtype=np.float64)
    if not np.all(np.isfinite(p)):
        raise InvalidArgument("a p-value is NaN: refused (a NaN is not a rejection).",
                              argument="pvalues")
    order = np.argsort(p, kind="stable")
    reject = np.zeros(p.size, dtype=bool)
    for rank, k in enumerate(order):
        if p[k] > alpha / (p.size - rank):
            break
        reject[k] = True
    return reject
