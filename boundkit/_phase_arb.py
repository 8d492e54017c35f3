"""Certified enclosures of λ'_i with python-flint's arb balls (private; R6).

h_i(x) = (1−r) Σ_{k=0..i} x^k − (i+1) x^i has exactly one positive root x'
(its coefficients change sign once: Descartes), h_i(0) = 1 − r > 0 and
h_i(1) = −r(i+1) < 0. So if g(x) = (1−x) h_i(x) = (1−r)(1 − x^{i+1}) − (i+1) x^i (1−x)
is certifiably > 0 at a point x_a < 1 and < 0 at x_b ∈ (x_a, 1), then x' ∈ (x_a, x_b)
and λ'_i = x'/(1−x') lies between the images of x_a and x_b. The points come
from the float solver; the signs are evaluated in ball arithmetic, so rounding
can only make a check fail, never pass wrongly.
"""

from __future__ import annotations

import math
from fractions import Fraction

from flint import arb, ctx, fmpq

from boundkit._phase_core import Enclosure


def _g(x: arb, i: int, one_minus_r: arb) -> arb:
    """(1−x) h_i(x) = (1−r)(1 − x^{i+1}) − (i+1) x^i (1−x), in ball arithmetic."""
    xi = x**i
    return one_minus_r * (1 - xi * x) - (i + 1) * xi * (1 - x)


def enclose(i: int, r: Fraction, t_float: float, *, rel: float = 2.0**-40) -> Enclosure:
    """Certify λ'_i given the float solver's t = log(1 + 1/λ'_i)."""
    def signs(t_lo: arb, t_hi: arb) -> bool:
        one_minus_r = arb(fmpq(r.denominator - r.numerator, r.denominator))
        x_a, x_b = (-t_hi).exp(), (-t_lo).exp()  # x_a < x' < x_b
        return bool(_g(x_a, i, one_minus_r) > 0 and _g(x_b, i, one_minus_r) < 0)

    return enclose_t(t_float, signs, rel=rel)


def enclose_t(t_float: float, signs, *, rel: float = 2.0**-40) -> Enclosure:
    """Enclose λ = 1/expm1(t) around a float root t of a sign-changing function.

    ``signs(t_lo, t_hi)`` (arb balls) must return True only when it proves a root in
    (t_lo, t_hi). Tries the bracket t(1 ± rel) at 128 bits, then a 2^10 times wider one
    at 256 bits; the bounds are rounded outward.
    """
    if not (math.isfinite(t_float) and t_float > 0):
        return Enclosure(math.nan, math.nan, False, f"float solver gave t={t_float}")
    old = ctx.prec
    try:
        for prec, width in ((128, rel), (256, rel * 1024)):
            ctx.prec = prec
            t_lo, t_hi = arb(t_float * (1 - width)), arb(t_float * (1 + width))  # exact dyadics
            if signs(t_lo, t_hi):
                lo = math.nextafter(float((1 / t_hi.expm1()).lower()), -math.inf)
                hi = math.nextafter(float((1 / t_lo.expm1()).upper()), math.inf)
                return Enclosure(lo, hi, True)
        return Enclosure(math.nan, math.nan, False, "sign change not certified at 256 bits")
    finally:
        ctx.prec = old
