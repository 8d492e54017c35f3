r"""R6 with a floor C0 > 0: the ascent-then-decline may vanish; never a spurious root.

docs/theory.md §4, R6 (last bullet). With δ(n) = C n^{-r} + C0 and n_i = (1+λ)n,

.. math::
    B_i(\lambda) = \big(A (1+\lambda)^{-r} + C_0\big)\,(1+\lambda)(1 - x^{i+1}),
    \qquad A = C n^{-r},

and, with q = (i+1) x^i / Σ_{k≤i} x^k = exp(L(t) − L((i+1)t)), t = log(1 + 1/λ),

.. math::
    \operatorname{sign} \frac{dB_i}{d\lambda}
      = \operatorname{sign}\Big( (1+\lambda)^{-r} (1 - r - q) + \rho\,(1 - q) \Big),
    \qquad \rho = C_0 / A.

B_i rises at λ = 0. The solver scans that sign on a log grid of λ ∈ (0, λ_max],
takes the first change from rising to falling and refines it with Brent's method;
if B_i rises on the whole range it reports "no phase transition" instead of a
root. Where it finds one, an arb evaluation of the sign at the refined bracket
certifies that a maximum lies inside (that it is the *first* one rests on the
grid scan; see ``note``).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from flint import arb, ctx
from scipy.optimize import brentq

from boundkit._phase_core import PhasePoint, risk
from boundkit._phase_float import logphi, split_rate
from boundkit.errors import InvalidArgument

GRID = 4000
LAM_MIN = 1e-9


def _slope_sign(t: np.ndarray, big_n: float, r: Fraction, rho: float) -> np.ndarray:
    """The sign-carrying factor of dB/dλ at t = log(1 + 1/λ) (float64)."""
    r, omr = split_rate(r)
    w = np.log(t)
    q = np.exp(logphi(t) - logphi(big_n * t))
    pow_r = np.exp(-r * (t - w - logphi(t)))  # (1+λ)^{-r}
    return pow_r * (omr - q) + rho * (1 - q)


def _slope_sign_arb(t: float, big_n: int, r: Fraction, rho: float) -> arb:
    tb = arb(t)
    q = big_n * tb.expm1() / (big_n * tb).expm1()
    pow_r = (-arb(r.numerator) / r.denominator * (tb - tb.expm1().log())).exp()
    return pow_r * (1 - arb(r.numerator) / r.denominator - q) + arb(rho) * (1 - q)


def phase_transition_floor(
    r: Fraction, gens: list[int], *, const, n, floor, lam_max=1e12
) -> list[PhasePoint]:
    """R6 with a floor, one generation at a time (see the module docstring)."""
    rr = float(r)
    lam_max = float(lam_max)
    if not (math.isfinite(lam_max) and lam_max > LAM_MIN):
        raise InvalidArgument(f"lam_max must be finite and > {LAM_MIN}; got {lam_max}. Pass e.g. "
                              f"1e12.", argument="lam_max")
    log_rho = math.log(float(floor)) - (math.log(float(const)) - rr * math.log(float(n)))
    if log_rho > 690:  # C0 / (C n^{-r}) > 1e299: B_i is C0 (1+λ)(1 − x^{i+1}), rising in λ
        return [PhasePoint(gen, r, None, None, None, None, False, None,
                           f"no phase transition: the floor C0 exceeds C n^(-r) by a factor "
                           f"e^{log_rho:.4g}, so B_i rises with lambda") for gen in gens]
    rho = math.exp(log_rho)
    # t descending  <=>  λ ascending.
    t_grid = np.geomspace(math.log1p(1 / LAM_MIN), math.log1p(1 / lam_max), GRID)
    out = []
    for gen in gens:
        found = _first_certified_maximum(t_grid, gen + 1, r, rho)
        if found is None:
            out.append(PhasePoint(gen, r, None, None, None, None, False, None,
                                  f"no phase transition: B_i rises for all lambda <= {lam_max:g} "
                                  f"(no sign change of dB/dlambda certified)"))
            continue
        t_c, enc = found
        lam_c = 1 / math.expm1(t_c)
        b0 = float(risk(gen, 0.0, r, const, n, floor))
        b_peak = float(risk(gen, lam_c, r, const, n, floor))
        out.append(PhasePoint(gen, r, math.exp(-t_c), lam_c,
                              _break_even(gen, r, const, n, floor, lam_c, lam_max, b0),
                              b_peak / b0, True, enc,
                              "first certified maximum of a grid scan; the enclosure is certified"))
    return out


def _first_certified_maximum(t_grid, big_n, r, rho):
    """(t', enclosure of λ') for the first grid cell where dB/dλ provably turns negative.

    Float sign changes are only candidates: where B_i is flat to rounding they can be
    noise, so each is kept only if arb proves the change across the cell.
    """
    s = _slope_sign(t_grid, big_n, r, rho)
    candidates = np.nonzero((s[:-1] > 0) & (s[1:] <= 0))[0] + 1  # t descending = λ ascending
    for k in candidates:
        t_rise, t_fall = float(t_grid[k - 1]), float(t_grid[k])
        if not _sign_change(t_rise, t_fall, big_n, r, rho):
            continue

        def f(log_t, _n=big_n):
            return float(_slope_sign(np.array([math.exp(log_t)]), _n, r, rho)[0])

        f_rise, f_fall = f(math.log(t_rise)), f(math.log(t_fall))
        if f_rise > 0 > f_fall:
            t_c = math.exp(brentq(f, math.log(t_fall), math.log(t_rise), xtol=1e-15,
                                  rtol=1e-15))
            tight = _certify(t_c, big_n, r, rho)
            if tight is not None:
                return t_c, tight
        # the float root is not trustworthy here: report the certified grid cell
        t_c = math.sqrt(t_rise * t_fall)
        return t_c, _lambda_interval(t_rise, t_fall)
    return None


def _sign_change(t_rise: float, t_fall: float, big_n: int, r: Fraction, rho: float) -> bool:
    """Proven: dB/dλ > 0 at t_rise and < 0 at t_fall (ball arithmetic, 128 then 256 bits)."""
    old = ctx.prec
    try:
        for prec in (128, 256):
            ctx.prec = prec
            if (_slope_sign_arb(t_rise, big_n, r, rho) > 0
                    and _slope_sign_arb(t_fall, big_n, r, rho) < 0):
                return True
        return False
    finally:
        ctx.prec = old


def _lambda_interval(t_rise: float, t_fall: float) -> tuple[float, float]:
    """Outward-rounded [λ(t_rise), λ(t_fall)] with λ = 1/expm1(t)."""
    old = ctx.prec
    ctx.prec = 128
    try:
        lo = math.nextafter(float((1 / arb(t_rise).expm1()).lower()), -math.inf)
        hi = math.nextafter(float((1 / arb(t_fall).expm1()).upper()), math.inf)
        return lo, hi
    finally:
        ctx.prec = old


def _certify(t_c: float, big_n: int, r: Fraction, rho: float):
    """A tight enclosure around the float root t_c, or None if it cannot be proven."""
    t_lo, t_hi = t_c * (1 - 2.0**-36), t_c * (1 + 2.0**-36)
    if _sign_change(t_hi, t_lo, big_n, r, rho):  # rising at larger t (smaller λ)
        return _lambda_interval(t_hi, t_lo)
    return None


def _break_even(gen, r, const, n, floor, lam_c, lam_max, b0) -> float | None:
    """First λ > λ' with B_i(λ) = B_i(0), or None within λ ≤ λ_max.

    A crossing counts only where B_i falls clearly below B_i(0) (by 1e-12 relative):
    with a floor B_i can approach B_i(0) from above as λ → ∞. At i = 1, C = n = C0 = 1:
    B_1(λ) = ((1+λ)^{-r} + 1)(1 + x) with x = λ/(1+λ), so B_1 − B_1(0) = B_1 − 2 ≈
    2ε^r − ε > 0 (ε = 1/(1+λ)): never a crossing, though float64 rounds it to a tie.
    """
    tol = 1e-12 * b0
    grid = np.geomspace(lam_c, lam_max, GRID)
    vals = np.asarray(risk(gen, grid, r, const, n, floor)) - b0
    below = np.nonzero(vals <= -tol)[0]
    if below.size == 0 or below[0] == 0:  # B_i(λ') > B_i(0), so index 0 cannot qualify
        return None
    k = below[0]

    def f(log_l):
        return float(risk(gen, math.exp(log_l), r, const, n, floor)) - b0

    logs = np.log(grid)
    if f(logs[k - 1]) > 0 >= f(logs[k]):
        return math.exp(brentq(f, logs[k - 1], logs[k], xtol=1e-14, rtol=1e-15))
    # The vectorised and scalar evaluations disagree at a near-tie (B_i within rounding of
    # B_i(0)): scan with the scalar one, so that the bracket brentq gets changes sign.
    values = np.array([f(w) for w in logs])
    change = np.nonzero((values[:-1] > 0) & (values[1:] <= -tol))[0]
    if change.size == 0:
        return None
    j = int(change[0])
    return math.exp(brentq(f, logs[j], logs[j + 1], xtol=1e-14, rtol=1e-15))
