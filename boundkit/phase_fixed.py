r"""R6 under the "fixed-real" round-0 convention (docs/theory.md §4, last bullet of R6).

Round 0 trains on the n real points alone; every later round on those n plus λn
synthetic points from the latest model. With E1 (δ = C n^{-r}), x = λ/(1+λ) and
s = 1 + λ, R1 gives

.. math::
    B_i(\lambda) = C n^{-r}\,\big[x^i + s^{1-r}(1 - x^i)\big] \;\ge\; B_i(0) = C n^{-r},

so B_i rises and then declines back towards B_i(0): there is a critical point but
**no break-even ratio** (``lambda_break_even`` is None).

**Uniqueness.** dB_i/dλ > 0 iff R(λ) > 1 with

.. math::
    R = \frac{1-r}{1 - s^{r-1}} \cdot \frac{\operatorname{expm1}(i t)}{i\,\operatorname{expm1}(t)},
    \qquad t = \log(1 + 1/\lambda) = -\log x .

Both factors are positive and strictly decreasing in λ (the second is
(1/i) Σ_{j<i} x^{-j}), R → ∞ as λ → 0 and R → 1 − r < 1 as λ → ∞: exactly one
critical point λ'_i, a maximum. At i = 1 it has the closed form
λ'_1 = r^{-1/(1-r)} − 1 (5.3496… at r = 1/4).

Solved three ways, like the scaled convention: float64 bisection on log R = 0 in
log t for all generations at once; certified (python-flint arb signs of log R at a
bracket: by monotonicity the root lies inside); exact (for r = p/q the substitution
x = 1 − y^q turns the critical equation into a polynomial in y; its unique root in
(0, 1) is a ``CRootOf``).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import sympy as sp
from flint import arb, ctx, fmpq

from boundkit._phase_arb import enclose_t
from boundkit._phase_core import Enclosure, PhasePoint, risk
from boundkit._phase_float import log_one_minus, logphi, split_rate

#: Largest degree q·i of the exact route's polynomial (r = p/q).
EXACT_DEGREE_LIMIT = 400
_T_LO, _T_HI = 1e-300, 700.0  # λ from ~1/expm1(700) ≈ 1e-304 up to ~1e300
_BISECT = 80


def log_s(t: np.ndarray) -> np.ndarray:
    """log(1 + λ) = −log(1 − e^{−t}) to full relative precision."""
    t = np.asarray(t, dtype=np.float64)
    big = t > 0.7
    return np.where(big, -np.log1p(-np.exp(-np.where(big, t, 1.0))),
                    -np.log(-np.expm1(-np.where(big, 1.0, t))))


def _log_r(t: np.ndarray, gens: np.ndarray, r) -> np.ndarray:
    """log R(t) = log(1−r) + L(i t) − L(t) − log(1 − s^{r−1}); increasing in t."""
    _, omr = split_rate(r)
    return log_one_minus(r) + logphi(gens * t) - logphi(t) - _log1mexp(omr * log_s(t))


def _log1mexp(a: np.ndarray) -> np.ndarray:
    """log(1 − e^{−a}) for a > 0, accurate at both ends (here log(1 − s^{r−1}))."""
    small = a < math.log(2)
    return np.where(small, np.log(-np.expm1(-np.where(small, a, 1.0))),
                    np.log1p(-np.exp(-np.where(small, 1.0, a))))


def critical_t(gens: np.ndarray, r) -> np.ndarray:
    """t'_i = log(1 + 1/λ'_i) for every generation i ≥ 1 at once (vectorised bisection)."""
    lo = np.full(gens.shape, math.log(_T_LO))
    hi = np.full(gens.shape, math.log(_T_HI))
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        up = _log_r(np.exp(mid), gens, r) > 0  # R > 1: still rising, root at smaller t
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    return np.exp(0.5 * (lo + hi))


def log_peak_ratio(gens: np.ndarray, r, t: np.ndarray) -> np.ndarray:
    """log B_i(λ)/B_i(0) = log[x^i + s^{1−r}(1 − x^i)] at t = −log x."""
    _, omr = split_rate(r)
    return np.logaddexp(-gens * t, omr * log_s(t) + np.log(-np.expm1(-gens * t)))


def lambda_from_t(t: np.ndarray) -> np.ndarray:
    """λ = 1/expm1(t)."""
    return 1.0 / np.expm1(t)


def _log_r_arb(t: arb, i: int, r: Fraction) -> arb:
    omr = arb(fmpq(r.denominator - r.numerator, r.denominator))
    ls = -(-(-t).expm1()).log()
    return (omr.log() + (i * t).expm1().log() - arb(i).log() - t.expm1().log()
            - (-(-omr * ls).expm1()).log())


def enclose(i: int, r: Fraction, t_float: float, *, rel: float = 2.0**-40) -> Enclosure:
    """Certified enclosure of λ'_i: arb proves log R > 0 at the larger t and < 0 at the smaller
    (log R increases in t, so the root lies between)."""
    return enclose_t(t_float, lambda t_lo, t_hi: bool(_log_r_arb(t_hi, i, r) > 0
                                                      and _log_r_arb(t_lo, i, r) < 0), rel=rel)


def lambda_exact(i: int, r: Fraction) -> sp.Expr:
    """λ'_i exactly: r^{-1/(1-r)} − 1 at i = 1, else from the unique root y ∈ (0, 1) of

    P(y) = h_{i−1}(1 − y^q) + i (1 − y^q)^{i−1} y^{q−p},  r = p/q,  x = 1 − y^q,

    with h_{i−1}(x) = (1−r) Σ_{k<i} x^k − i x^{i−1} (the critical equation times
    (1−x)^{1−r}). λ' = x/(1−x) = y^{−q} − 1.
    """
    rq = sp.Rational(r.numerator, r.denominator)
    if i == 1:
        return rq ** (-1 / (1 - rq)) - 1
    p, q = r.numerator, r.denominator
    y = sp.Symbol("y", positive=True)
    xx = 1 - y**q
    h = (1 - rq) * sum(xx**k for k in range(i)) - i * xx ** (i - 1)
    poly = sp.Poly(sp.expand(h + i * xx ** (i - 1) * y ** (q - p)), y)
    inside = poly.count_roots(0, 1)
    if inside != 1:  # impossible by the uniqueness argument; refuse rather than guess
        raise ArithmeticError(f"expected one root in (0, 1), found {inside}")
    below = poly.count_roots(None, 0)
    root = sp.CRootOf(poly, below)
    return root ** (-q) - 1


def degree(i: int, r: Fraction) -> int:
    """Degree of the exact route's polynomial (≈ q·i)."""
    return r.denominator * max(i - 1, 1) + r.denominator - r.numerator


def _risk_arb(lam: float, i: int, r: Fraction, a: float, c0: float) -> arb:
    """B_i(λ) = (A + C0) x^i + (A s^{-r} + C0) s (1 − x^i) in ball arithmetic."""
    s = 1 + arb(lam)
    xi = (arb(lam) / s) ** i
    rr = arb(fmpq(r.numerator, r.denominator))
    return (arb(a) + arb(c0)) * xi + (arb(a) * (-rr * s.log()).exp() + arb(c0)) * s * (1 - xi)


def floor_points(r: Fraction, gens: list[int], *, const, n, floor, lam_max=1e12) -> list:
    """Fixed-real R6 with a floor C0 > 0: the first interior maximum of B_i on a log grid.

    A grid scan of B_i over λ ∈ [1e-9, λ_max] finds the first cell where B_i stops
    rising; a bounded Brent search refines it; arb proves B_i(λ') exceeds B_i at both
    ends of the bracket, so a maximum lies inside (that it is the first rests on the
    scan). Where B_i rises over the whole range the result says so instead of a root.
    """
    from scipy.optimize import minimize_scalar

    a = float(const) * float(n) ** (-float(r))
    grid = np.geomspace(1e-9, float(lam_max), 4000)
    out = []
    for gen in gens:
        vals = np.log(np.asarray(risk(gen, grid, r, const, n, floor, convention="fixed-real")))
        peaks = np.nonzero((vals[1:-1] >= vals[:-2]) & (vals[1:-1] > vals[2:]))[0] + 1
        point = None
        for k in peaks:
            lo, hi = math.log(grid[k - 1]), math.log(grid[k + 1])

            def neg(w, _g=gen):
                return -math.log(float(risk(_g, math.exp(w), r, const, n, floor,
                                            convention="fixed-real")))

            lam_c = math.exp(minimize_scalar(neg, bounds=(lo, hi), method="bounded",
                                             options={"xatol": 1e-12}).x)
            old = ctx.prec
            ctx.prec = 256
            try:
                mid = _risk_arb(lam_c, gen, r, a, float(floor))
                ok = bool(mid > _risk_arb(grid[k - 1], gen, r, a, float(floor))
                          and mid > _risk_arb(grid[k + 1], gen, r, a, float(floor)))
            finally:
                ctx.prec = old
            if ok:
                b0 = float(risk(gen, 0.0, r, const, n, floor, convention="fixed-real"))
                peak = float(risk(gen, lam_c, r, const, n, floor, convention="fixed-real"))
                point = PhasePoint(gen, r, lam_c / (1 + lam_c), lam_c, None, peak / b0, True,
                                   (float(grid[k - 1]), float(grid[k + 1])),
                                   "first certified maximum of a grid scan (fixed-real, floor);"
                                   " no break-even ratio under fixed-real", "fixed-real")
                break
        out.append(point or PhasePoint(gen, r, None, None, None, None, False, None,
                                       f"no phase transition: B_i has no certified interior "
                                       f"maximum for lambda <= {float(lam_max):g}",
                                       "fixed-real"))
    return out
