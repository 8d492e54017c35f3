r"""R6 phase transition: fixed real data n, λn synthetic data from the latest model.

docs/theory.md §4, R6. With E1 (δ = C n^{-r}) and x = λ/(1+λ):

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
    """R6's critical polynomial h_i(x) with rational coefficients.

    Parameters
    ----------
    i : int
        The generation, 1 ≤ i ≤ 100,000.
    r : rate
        A rational TV rate in (0, 1).

    Returns
    -------
    sympy.Poly
        h_i(x) = (1−r) Σ_{k≤i} x^k − (i+1) x^i, built from its coefficient list.

    Notes
    -----
    One sign change in the coefficients, so exactly one positive root x' (Descartes),
    and λ'_i = x'/(1 − x').

    References
    ----------
    docs/theory.md §4, R6.

    Examples
    --------
    >>> critical_poly(1, "1/4")
    Poly(-5/4*x + 3/4, x, domain='QQ')
    """
    i = _phase_generation(i, POLY_LIMIT, "polynomial")
    rq = _rq(check_rate(r))
    coeffs = [1 - rq] * (i + 1)  # constant term first
    coeffs[i] -= i + 1
    return sp.Poly.from_list(coeffs[::-1], x)


def critical_x_exact(i: int, r) -> sp.Expr:
    """The exact root x' ∈ (0, 1) of h_i: radicals for i ≤ 2, else a ``CRootOf``.

    Parameters
    ----------
    i : int
        The generation, 1 ≤ i ≤ 200 (root isolation of degree i + 1).
    r : rate
        A rational TV rate in (0, 1).

    Returns
    -------
    sympy.Expr
        x' (the largest real root: the only positive one).

    References
    ----------
    docs/theory.md §4, R6.

    Examples
    --------
    >>> critical_x_exact(1, "1/4")
    3/5
    """
    _phase_generation(i, EXACT_LIMIT, "exact")
    poly = critical_poly(i, r)
    if poly.degree() <= 2:
        roots = [z for z in sp.roots(poly, x) if z.is_positive]
        (root,) = roots
        return sp.radsimp(root)
    return sp.CRootOf(poly, poly.count_roots() - 1)


def lambda_critical_exact(i: int, r, *, convention: str = "scaled") -> sp.Expr:
    r"""λ'_i as an exact algebraic number (sympy).

    Parameters
    ----------
    i : int
        The generation, 1 ≤ i ≤ 200.
    r : rate
        A rational rate p/q in (0, 1).
    convention : {"scaled", "fixed-real"}
        R6's round-0 convention.

    Returns
    -------
    sympy.Expr
        Radicals where they exist (λ'_1 = (1−r)/(2r) and λ'_2 at r = 1/4 = (3+√13)/2
        scaled; λ'_1 = r^{-1/(1-r)} − 1 fixed-real), else an expression in a ``CRootOf``
        of h_i (scaled, degree i+1) or of a polynomial of degree about q·i ≤ 400
        (fixed-real, [boundkit.phase_fixed][]).

    References
    ----------
    docs/theory.md §4, R6 ("Exact values").

    Examples
    --------
    >>> lambda_critical_exact(2, "1/4")
    3/2 + sqrt(13)/2
    >>> lambda_critical_exact(1, "1/4", convention="fixed-real")
    -1 + 4*2**(2/3)
    """
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
    r"""The slope of λ'_i in i: lim λ'_i / i = 1/u*(r) (R6, beyond the paper).

    Parameters
    ----------
    r : rate
        The TV rate r in (0, 1).

    Returns
    -------
    float
        1/u*, where u* > 0 solves (1 − r)(e^u − 1) = u.

    Notes
    -----
    .. math::
        u^* = -(1-r) - W_{-1}\left(-(1-r)e^{-(1-r)}\right)

    References
    ----------
    docs/theory.md §4, R6.

    Examples
    --------
    >>> round(asymptotic_slope("1/4"), 6)
    1.817518
    """
    return 1.0 / _phase_float.asymptotic_u(check_rate(r))


def asymptotic_slope_expr(r) -> sp.Expr:
    """The slope 1/u*(r) of λ'_i as a sympy expression with the lower Lambert W branch.

    Parameters
    ----------
    r : rate
        The TV rate r in (0, 1).

    Returns
    -------
    sympy.Expr
        1 / (−(1−r) − W_{−1}(−(1−r) e^{−(1−r)})).

    References
    ----------
    docs/theory.md §4, R6.

    Examples
    --------
    >>> asymptotic_slope_expr("1/4")
    1/(-3/4 - LambertW(-3*exp(-3/4)/4, -1))
    """
    a = 1 - _rq(check_rate(r))
    return 1 / (-a - sp.LambertW(-a * sp.exp(-a), -1))


def lambda_critical(generations, r, *, convention: str = "scaled") -> np.ndarray | float:
    r"""The critical synthetic-to-real ratio λ'_i in float64, vectorised over generations.

    Parameters
    ----------
    generations : int or sequence of int
        Generations i ≥ 1 (generation i is the model p_{i+1} of round i), up to 10^6
        of them at once.
    r : rate
        The per-round TV rate r in (0, 1) of E1 (δ = C n^{-r}): ``"1/4"``, ``0.25`` or a
        ``Fraction``.
    convention : {"scaled", "fixed-real"}
        R6's round-0 convention: round 0 on (1+λ)n real points, or on the n real points
        alone (see [boundkit.phase_fixed][]).

    Returns
    -------
    float or numpy.ndarray
        A float for a scalar generation, an array (one λ'_i per generation, in order)
        for a sequence: numpy's rule, scalar in, scalar out.

    Raises
    ------
    InvalidArgument
        For generation 0 (round 0 has no phase transition), a rate outside (0, 1), or
        more than 10^6 generations.

    Notes
    -----
    Under ``"scaled"``, x' = λ'/(1+λ') is the unique root in (0, 1) of

    .. math::
        h_i(x) = (1-r)\sum_{k=0}^{i} x^k - (i+1)x^i,\qquad \lambda'_i = \frac{x'}{1-x'},

    solved in log space as t = log(1 + 1/λ') by a bracketed Newton iteration, so i up to
    10^6 and r from 10^-12 to 1 − 10^-10 stay accurate. λ' depends on neither n nor C
    (no floor; with a floor use [phase_transition][boundkit.phase.phase_transition]).
    [lambda_critical_certified][boundkit.phase.lambda_critical_certified] proves an
    enclosure; [lambda_critical_exact][boundkit.phase.lambda_critical_exact] gives the
    algebraic number.

    References
    ----------
    docs/theory.md §4, R6 (docs: Theory, "R6 phase transition"). Fu et al., ICML 2024.

    Examples
    --------
    >>> round(lambda_critical(1, "1/4"), 12)  # (1 - r) / (2r)
    1.5
    >>> lambda_critical([1, 2], "1/4").round(6)
    array([1.5     , 3.302776])
    >>> round(lambda_critical(1, "1/4", convention="fixed-real"), 4)  # r^(-1/(1-r)) - 1
    5.3496
    """
    conv = _convention(convention)
    scalar = isinstance(generations, int | np.integer) and not isinstance(generations, bool)
    gens = np.asarray(_phase_generations(generations), dtype=np.float64)
    if conv == "fixed-real":
        out = phase_fixed.lambda_from_t(phase_fixed.critical_t(gens, check_rate(r)))
    else:
        u = _phase_float.critical_u(gens, check_rate(r))
        out = 1.0 / np.expm1(u / (gens + 1))
    return float(out[0]) if scalar else out


def lambda_critical_certified(i: int, r, *, convention: str = "scaled") -> Enclosure:
    r"""A certified interval that provably contains λ'_i (python-flint arb balls).

    Parameters
    ----------
    i : int
        The generation, i ≥ 1.
    r : rate
        The per-round TV rate r in (0, 1).
    convention : {"scaled", "fixed-real"}
        R6's round-0 convention.

    Returns
    -------
    Enclosure
        ``lo``, ``hi`` (rounded outward) and ``certified``; when the proof fails,
        ``certified`` is False and ``reason`` says why (never a wrong interval).

    Notes
    -----
    The float solver gives t ≈ log(1 + 1/λ'). With g(x) = (1−x) h_i(x), ball arithmetic
    checks g(e^{-t_hi}) > 0 > g(e^{-t_lo}) on a bracket around t (128 bits, then a wider
    bracket at 256 bits). Since h_i has exactly one positive root (Descartes: one sign
    change), a sign change proves λ'_i ∈ [1/expm1(t_hi), 1/expm1(t_lo)]; rounding can make
    a check fail, never pass wrongly.

    References
    ----------
    docs/theory.md §4, R6.

    Examples
    --------
    >>> e = lambda_critical_certified(2, "1/4")
    >>> e.certified and e.lo <= (3 + 13 ** 0.5) / 2 <= e.hi
    True
    """
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
    r"""R6 for each generation: λ'_i, the break-even ratio λ⁼_i and the peak ratio.

    Parameters
    ----------
    r : rate
        The per-round TV rate r in (0, 1) of E1.
    generations : int or sequence of int
        Generations i ≥ 1.
    const, n : number
        E1's constant C and the real sample size n (they matter only with a floor).
    floor : number
        A floor C0 ≥ 0: δ = C n^{-r} + C0. With a floor the ascent-then-decline may
        vanish; the solver then says so (``lambda_critical`` None and a ``note``).
    certify : bool or None
        Prove each λ'_i with arb; None certifies when there are at most 10,000
        generations.
    lam_max : float
        The largest λ searched with a floor.
    convention : {"scaled", "fixed-real"}
        R6's round-0 convention (fixed-real has no break-even ratio).

    Returns
    -------
    list of PhasePoint
        One per generation, in order: ``x_critical``, ``lambda_critical``,
        ``lambda_break_even`` (None where none exists), ``ratio_at_peak`` =
        B_i(λ')/B_i(0), ``certified``, ``enclosure`` and a ``note``.

    Notes
    -----
    .. math::
        B_i(\lambda) = C n^{-r}(1+\lambda)^{1-r}\,(1 - x^{i+1}),\qquad
        x = \frac{\lambda}{1+\lambda}

    rises from B_i(0) = C n^{-r}, peaks at λ'_i and falls back through B_i(0) at λ⁼_i,
    past which adding synthetic data beats adding none; λ⁼_i/(i+1)^{1/r} → 1.

    References
    ----------
    docs/theory.md §4, R6 (the scaled and fixed-real conventions, the floor).

    Examples
    --------
    >>> p = phase_transition("1/4", [1])[0]
    >>> round(p.lambda_critical, 6), round(p.lambda_break_even, 4), p.certified
    (1.5, 12.8049, True)
    >>> phase_transition("1/4", [1], convention="fixed-real")[0].lambda_break_even is None
    True
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
