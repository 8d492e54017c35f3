"""Vectorised float64 solvers for R6 (private; the public API is :mod:`boundkit.phase`).

Work in t = log(1 + 1/λ) = −log x, N = i + 1, so nothing large is ever raised
to a power. With L(s) = log(expm1(s)/s):

* critical point: h_i(e^{-t}) = 0  ⇔  (1−r) expm1(Nt) = N expm1(t)
  ⇔  Q(u) = log(1−r) + L(u) − L(u/N) = 0 with u = N t. Q is strictly increasing
  (L' ∈ [1/2, 1)), and L(s) ∈ [s/2, s] brackets the root:
  −log(1−r)/(1 − 1/(2N)) ≤ u ≤ −log(1−r)/(1/2 − 1/N) (N ≥ 3).
* break-even: P(t) = log B_i(λ)/B_i(0) = (1−r)(t − log expm1 t) + log(−expm1(−Nt)),
  increasing on (0, t*), with B_i(λ) ≤ B_i(0) once λ ≥ N^{1/r} − 1.

Safeguarded Newton in log u (log t) with a bisection fallback, on all i at once.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from scipy.special import lambertw

_SERIES_S = 0.1  # below this L is summed from its series


def logphi(s: np.ndarray) -> np.ndarray:
    """L(s) = log(expm1(s)/s) for s ≥ 0 (L(0) = 0), to full *relative* precision.

    Small s matters: for small rates r every term of the R6 equations is O(r) and
    they cancel at the root, so an absolute error of 1e-16 would not do. Below
    s = 0.1 the even series s/2 + log(sinh(s/2)/(s/2)) is used (next term < 1e-17
    relative); above 30 the form s − log s + log1p(−e^{−s}) avoids overflow.
    """
    s = np.asarray(s, dtype=np.float64)
    if s.size and s.min() >= _SERIES_S and s.max() <= 30.0:
        return np.log(np.expm1(s) / s)
    out = np.empty_like(s)
    big = s > 30.0
    small = s < _SERIES_S
    mid = ~(big | small)
    sb = s[big]
    out[big] = sb - np.log(sb) + np.log1p(-np.exp(-sb))
    ss = s[small]
    s2 = ss * ss
    out[small] = ss / 2 + s2 * (1 / 24 + s2 * (-1 / 2880 + s2 * (1 / 181440 - s2 / 9676800)))
    out[mid] = np.log(np.expm1(s[mid]) / s[mid])
    return out


def dlogphi(s: np.ndarray) -> np.ndarray:
    """L'(s) = 1/(1 − e^{−s}) − 1/s, in [1/2, 1)."""
    s = np.asarray(s, dtype=np.float64)
    if s.size and s.min() >= 1e-3:
        return 1.0 / (-np.expm1(-s)) - 1.0 / s
    out = np.empty_like(s)
    small = s < 1e-3
    ss = s[small]
    out[small] = 0.5 + ss / 12 - ss**3 / 720
    sl = s[~small]
    out[~small] = 1.0 / (-np.expm1(-sl)) - 1.0 / sl
    return out


def split_rate(r) -> tuple[float, float]:
    """(r, 1 − r) in float64, with 1 − r formed exactly when r is a Fraction.

    float(r) alone would lose 1 − r for rates near 1 (r = 1 − 1e-9 keeps only ~7
    digits of 1 − r), and every R6 equation depends on log(1 − r).
    """
    if isinstance(r, Fraction):
        return float(r), float(1 - r)
    return float(r), 1.0 - float(r)


def log_one_minus(r) -> float:
    """log(1 − r) to full relative precision for every r in (0, 1).

    log1p(−r) for r < 1/2 (log(float(1 − r)) would keep only ~7 digits at r = 1e-9),
    log(1 − r) with 1 − r formed exactly (Fraction) or in float above.
    """
    rf, omr = split_rate(r)
    return math.log1p(-rf) if rf < 0.5 else math.log(omr)


def asymptotic_u(r) -> float:
    """u*(r) > 0 solving (1−r)(e^u − 1) = u, i.e. L(u*) = −log(1 − r).

    Equal to −(1−r) − W_{−1}(−(1−r) e^{−(1−r)}) (Lambert W, lower branch), which is
    the starting point; W loses half its digits near the branch point −1/e (small r),
    so the root is polished by safeguarded Newton on L, to full relative precision
    (L(s) ∈ [s/2, s] brackets it in [c, 2c], c = −log(1 − r)).
    """
    _, a = split_rate(r)
    c = -log_one_minus(r)
    w = lambertw(-a * np.exp(-a), k=-1)
    guess = float(-a - w.real)
    if not (math.isfinite(guess) and c <= guess <= 2 * c):
        guess = 1.5 * c

    def f(v, idx):
        u = np.exp(v)
        return logphi(u) - c, u * dlogphi(u)

    lo, hi = np.array([math.log(c)]), np.array([math.log(2 * c)])
    return float(np.exp(_newton(f, lo, hi, np.log(np.array([guess])))[0]))


def _newton(f, lo, hi, guess, *, max_iter=200, strict=True):
    """Vectorised safeguarded Newton on an increasing f(v) -> (value, slope) in [lo, hi].

    With ``strict=False`` the entries that did not converge come back as NaN
    (callers report them as unresolved); otherwise they raise.
    """
    v = np.clip(guess, lo, hi)
    lo, hi = lo.copy(), hi.copy()
    active = np.arange(v.size)
    for _ in range(max_iter):
        if active.size == 0:
            break
        va = v[active]
        val, slope = f(va, active)
        neg = val < 0
        lo[active] = np.where(neg, va, lo[active])
        hi[active] = np.where(neg, hi[active], va)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = val / slope
        newton = va - step
        # Converged before safeguarding: at the root a sub-ulp step can land on the
        # bracket's edge and must not be mistaken for one that leaves the bracket.
        # A Newton step below 1e-15 leaves an error ~1e-30: the iterate is at float precision.
        scale = np.maximum(1.0, np.abs(va))
        done = (np.abs(step) <= 1e-15 * scale) | (val == 0)
        done |= (hi[active] - lo[active]) <= 4e-16 * scale
        bad = ~done & (~np.isfinite(newton) | (newton <= lo[active]) | (newton >= hi[active]))
        new = np.where(bad, 0.5 * (lo[active] + hi[active]), newton)
        v[active] = np.where(val == 0, va, new)
        active = active[~done]
    if active.size and strict:
        raise RuntimeError(f"R6 float solver did not converge for {active.size} generations.")
    v[active] = np.nan
    return v


def critical_u(gens: np.ndarray, r) -> np.ndarray:
    """u = (i+1) t at the critical point λ'_i, for every generation i ≥ 1 at once."""
    big_n = np.asarray(gens, dtype=np.float64) + 1.0
    a = log_one_minus(r)  # log(1 − r) < 0
    r, _ = split_rate(r)
    lo = -a / (1.0 - 0.5 / big_n)
    with np.errstate(divide="ignore"):
        hi = np.where(big_n >= 3, -a / (0.5 - 1.0 / np.maximum(big_n, 3)), np.inf)
    exact_1 = 2.0 * (np.log1p(r) - a)  # i = 1: λ'_1 = (1−r)/(2r), u = 2 log((1+r)/(1−r))
    hi = np.where(big_n < 3, 2 * exact_1, hi)
    lo = np.where(big_n < 3, 0.5 * exact_1, lo)
    # First-order guess: L(u/N) ≈ u/(2N), so u ≈ u* + u*/(2N L'(u*)).
    u_star = asymptotic_u(r)
    slope = float(dlogphi(np.array([u_star]))[0])
    guess = np.log(u_star * (1.0 + 1.0 / (2.0 * big_n * slope)))

    def f(v, idx):
        u = np.exp(v)
        nn = big_n[idx]
        q = a + logphi(u) - logphi(u / nn)
        dq = dlogphi(u) - dlogphi(u / nn) / nn
        return q, u * dq

    return np.exp(_newton(f, np.log(lo), np.log(hi), guess))


def break_even_logt(gens: np.ndarray, r, t_star: np.ndarray) -> np.ndarray:
    """log t at the break-even ratio λ⁼_i (B_i(λ⁼) = B_i(0), λ⁼ > λ'_i); NaN if unresolved.

    Unresolved happens only for rates so close to 1 that B_i is flat to ~1e-9.
    """
    r, omr = split_rate(r)
    big_n = np.asarray(gens, dtype=np.float64) + 1.0
    big_a = np.log(big_n) / r  # λ⁼ ≤ N^{1/r} − 1  ⇔  t ≥ −log1p(−e^{−A})
    with np.errstate(divide="ignore"):
        w_lo = np.where(big_a > 30, -big_a, np.log(-np.log1p(-np.exp(-np.minimum(big_a, 30)))))
    w_hi = np.log(t_star)

    def f(w, idx):
        nn = big_n[idx]
        # Where N t < e^{-40}, P = r w + log N up to O(N t): t itself may underflow
        # (λ⁼ ~ N^{1/r} exceeds float64 for small r), so use that form there.
        tiny = w < -(np.log(nn) + 40.0)
        t = np.exp(np.where(tiny, 0.0, w))
        nt = nn * t
        p = omr * (t - w - logphi(t)) + np.log(-np.expm1(-nt))
        with np.errstate(over="ignore"):
            tail = np.where(nt > 700, 0.0, nt / np.expm1(np.minimum(nt, 700)))
        dp = omr * (t - t / (-np.expm1(-t))) + tail
        return np.where(tiny, r * w + np.log(nn), p), np.where(tiny, r, dp)

    # Start at the lower bound: it is nearly tight for large i (λ⁼ ~ N^{1/r}), and from the
    # left Newton on this concave P climbs monotonically instead of overshooting.
    w_lo = np.minimum(w_lo, w_hi)
    return _newton(f, w_lo, w_hi, w_lo, max_iter=100, strict=False)


def log_ratio(gens: np.ndarray, r, t: np.ndarray) -> np.ndarray:
    """log B_i(λ)/B_i(0) at t = log(1 + 1/λ)."""
    _, omr = split_rate(r)
    big_n = np.asarray(gens, dtype=np.float64) + 1.0
    w = np.log(t)
    return omr * (t - w - logphi(t)) + np.log(-np.expm1(-big_n * t))
