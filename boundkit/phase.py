r"""R6 phase transition: fixed real data n, λn synthetic data from the latest model.

THEORY.md §4, R6. With E1 (δ = C n^{-r}) and x = λ/(1+λ):

.. math::
    B_i(\lambda) = C n^{-r} (1+\lambda)^{1-r} (1 - x^{i+1}),\qquad
    h_i(x) = (1-r)\sum_{k=0}^{i} x^k - (i+1) x^i,\qquad
    \lambda'_i = \frac{x'}{1-x'}

x' is the unique root of h_i in (0, 1). λ' comes three ways that must agree:
exact (sympy ``CRootOf``, radicals for i ≤ 2), certified (python-flint arb
enclosures) and a vectorised float64 solver for all i ≤ 10^6 at once. Also the
break-even ratio λ⁼_i (B_i(λ⁼) = B_i(0), λ⁼ > λ'_i) and the Lambert-W slope
λ'_i / i → 1/u*(r) **(beyond)**. With a floor C0 > 0 see :mod:`boundkit.phase_floor`.

Every function taking λ takes ``convention``: ``"scaled"`` (the formula above: round
0 trains on (1+λ)n real points) or ``"fixed-real"`` (round 0 on the n real points
alone; :mod:`boundkit.phase_fixed`, where B_i ≥ B_i(0) and no break-even exists).

Convention: generation i ≥ 1 is the model p_{i+1} of round i.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import sympy as sp

from boundkit import _phase_arb, _phase_float, phase_fixed
from boundkit._checks import check_nonnegative, check_positive, check_rate, to_float
from boundkit._phase_core import (
    CERTIFY_AUTO_LIMIT,
    CONVENTIONS,
    EXACT_LIMIT,
    NO_BREAK_EVEN,
    POLY_LIMIT,
    Enclosure,
    PhasePoint,
    _convention,
    _phase_generation,
    _phase_generations,
    _rq,
    lam,
    risk,
    risk_expr,
    x,
)
from boundkit.errors import InvalidArgument
from boundkit.phase_floor import phase_transition_floor

__all__ = [
    "CERTIFY_AUTO_LIMIT",
    "CONVENTIONS",
    "EXACT_LIMIT",
    "NO_BREAK_EVEN",
    "POLY_LIMIT",
    "Enclosure",
    "PhasePoint",
    "asymptotic_slope",
    "asymptotic_slope_expr",
    "critical_poly",
    "critical_x_exact",
    "lam",
    "lambda_critical",
    "lambda_critical_certified",
    "lambda_critical_exact",
    "phase_transition",
    "risk",
    "risk_expr",
    "x",
]


def critical_poly(i: int, r) -> sp.Poly:
    """h_i(x) = (1−r) Σ_{k≤i} x^k − (i+1) x^i as a sympy Poly with rational coefficients.

    Built from its coefficient list (degree up to 100,000 in well under a second).
    """
    i = _phase_generation(i, POLY_LIMIT, "polynomial")
    rq = _rq(check_rate(r))
    coeffs = [1 - rq] * (i + 1)  # constant term first
    coeffs[i] -= i + 1
    return sp.Poly.from_list(coeffs[::-1], x)


def critical_x_exact(i: int, r) -> sp.Expr:
    """The exact root x' ∈ (0, 1) of h_i: radicals for i ≤ 2, else a ``CRootOf``.

    Exactly one positive root (one sign change), so it is the largest real root.
    Limited to i ≤ 200 (root isolation of degree i + 1 takes ~0.6 s there).
    """
    _phase_generation(i, EXACT_LIMIT, "exact")
    poly = critical_poly(i, r)
    if poly.degree() <= 2:
        roots = [z for z in sp.roots(poly, x) if z.is_positive]
        (root,) = roots
        return sp.radsimp(root)
    return sp.CRootOf(poly, poly.count_roots() - 1)


def lambda_critical_exact(i: int, r, *, convention: str = "scaled") -> sp.Expr:
    """λ'_i exactly; closed forms λ'_1 = (1−r)/(2r), λ'_2 at r = 1/4 = (3+√13)/2 ("scaled"),
    λ'_1 = r^{-1/(1-r)} − 1 ("fixed-real"; a ``CRootOf`` of degree ≈ q·i ≤ 400 beyond,
    r = p/q: :func:`boundkit.phase_fixed.lambda_exact`)."""
    if _convention(convention) == "fixed-real":
        g = _phase_generation(i, EXACT_LIMIT, "exact")
        rq = check_rate(r)
        deg = phase_fixed.degree(g, rq)
        if deg > phase_fixed.EXACT_DEGREE_LIMIT:
            raise InvalidArgument(
                f"the exact fixed-real route needs a polynomial of degree {deg:,} here (rate "
                f"denominator x generation); the limit is {phase_fixed.EXACT_DEGREE_LIMIT}. Use "
                f"lambda_critical_certified or a smaller generation.", argument="generation")
        return phase_fixed.lambda_exact(g, rq)
    xr = critical_x_exact(i, r)
    i = int(i)
    out = xr / (1 - xr)
    return sp.radsimp(sp.simplify(out)) if i <= 2 else out


def asymptotic_slope(r) -> float:
    """lim λ'_i / i = 1/u*(r), u* = −(1−r) − W_{−1}(−(1−r) e^{−(1−r)}) (R6, beyond)."""
    return 1.0 / _phase_float.asymptotic_u(check_rate(r))


def asymptotic_slope_expr(r) -> sp.Expr:
    """The slope 1/u*(r) as a sympy expression with ``LambertW(·, -1)``."""
    a = 1 - _rq(check_rate(r))
    return 1 / (-a - sp.LambertW(-a * sp.exp(-a), -1))


def lambda_critical(generations, r, *, convention: str = "scaled") -> np.ndarray:
    """λ'_i in float64 for every requested generation at once (vectorised; no floor).

    ``convention="fixed-real"`` solves :mod:`boundkit.phase_fixed`'s critical equation.
    """
    conv = _convention(convention)
    gens = np.asarray(_phase_generations(generations), dtype=np.float64)
    if conv == "fixed-real":
        return phase_fixed.lambda_from_t(phase_fixed.critical_t(gens, check_rate(r)))
    u = _phase_float.critical_u(gens, check_rate(r))
    return 1.0 / np.expm1(u / (gens + 1))


def lambda_critical_certified(i: int, r, *, convention: str = "scaled") -> Enclosure:
    """A certified enclosure of λ'_i (python-flint arb; see :mod:`boundkit._phase_arb`)."""
    conv = _convention(convention)
    i = _phase_generation(i)
    rq = check_rate(r)
    if conv == "fixed-real":
        t = phase_fixed.critical_t(np.array([float(i)]), rq)[0]
        return phase_fixed.enclose(i, rq, float(t))
    u = _phase_float.critical_u(np.array([float(i)]), rq)[0]
    return _phase_arb.enclose(i, rq, u / (i + 1))


def phase_transition(
    r, generations, *, const=1, n=1, floor=0, certify: bool | None = None, lam_max=1e12,
    convention: str = "scaled",
) -> list[PhasePoint]:
    """λ'_i, λ⁼_i and the peak ratio B_i(λ')/B_i(0) for each generation (R6).

    Without a floor λ' depends on neither n nor C. ``certify=None`` certifies
    when there are at most 10,000 generations. Under ``convention="fixed-real"``
    ``lambda_break_even`` is None (there is none; see ``note``).
    """
    conv = _convention(convention)
    rq = check_rate(r)
    gens = _phase_generations(generations)
    check_positive(const, "const")
    check_positive(n, "n")
    c0 = check_nonnegative(floor, "floor")
    if certify is not None and not isinstance(certify, bool):
        raise TypeError(f"certify must be True, False or None; got {certify!r}.")
    lam_max = to_float(lam_max, "lam_max")
    if not lam_max > 1e-9:
        raise InvalidArgument(f"lam_max must be > 1e-9; got {lam_max}. Pass e.g. lam_max=1e12.",
                              argument="lam_max")
    if c0 > 0 and conv == "fixed-real":
        return phase_fixed.floor_points(rq, gens, const=const, n=n, floor=c0, lam_max=lam_max)
    if c0 > 0:
        return phase_transition_floor(rq, gens, const=const, n=n, floor=c0, lam_max=lam_max)
    do_cert = len(gens) <= CERTIFY_AUTO_LIMIT if certify is None else certify
    if conv == "fixed-real":
        return _fixed_real_points(rq, gens, do_cert)
    g = np.asarray(gens, dtype=np.float64)
    u = _phase_float.critical_u(g, rq)
    t = u / (g + 1)
    lam_c = 1.0 / np.expm1(t)
    log_t_even = _phase_float.break_even_logt(g, rq, t)
    ratio = np.exp(_phase_float.log_ratio(g, rq, t))
    out = []
    for k, gen in enumerate(gens):
        lam_even, note = None, ""
        if not math.isfinite(log_t_even[k]):
            note = "break-even ratio not resolved in float64 (B_i is nearly flat)"
        elif log_t_even[k] > -690:  # else λ⁼ > 1e300: reported as None
            lam_even = 1.0 / math.expm1(math.exp(log_t_even[k]))
        enc, ok = None, False
        if do_cert:
            e = _phase_arb.enclose(gen, rq, float(t[k]))
            ok = bool(e.certified and e.lo <= lam_c[k] <= e.hi)
            enc = (e.lo, e.hi) if e.certified else None
        out.append(
            PhasePoint(gen, rq, float(math.exp(-t[k])), float(lam_c[k]), lam_even,
                       float(ratio[k]), ok, enc, note)
        )
    return out


def _fixed_real_points(rq: Fraction, gens: list[int], do_cert: bool) -> list[PhasePoint]:
    """R6 under the fixed-real convention, no floor (:mod:`boundkit.phase_fixed`)."""
    g = np.asarray(gens, dtype=np.float64)
    t = phase_fixed.critical_t(g, rq)
    lam_c = phase_fixed.lambda_from_t(t)
    ratio = np.exp(phase_fixed.log_peak_ratio(g, rq, t))
    out = []
    for k, gen in enumerate(gens):
        enc, ok = None, False
        if do_cert:
            e = phase_fixed.enclose(gen, rq, float(t[k]))
            ok = bool(e.certified and e.lo <= lam_c[k] <= e.hi)
            enc = (e.lo, e.hi) if e.certified else None
        out.append(PhasePoint(gen, rq, float(math.exp(-t[k])), float(lam_c[k]), None,
                              float(ratio[k]), ok, enc, NO_BREAK_EVEN, "fixed-real"))
    return out
