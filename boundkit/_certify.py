"""Certified signs of closed numeric sympy expressions (python-flint arb balls; private).

:func:`sign` evaluates an expression with no free symbols in ball arithmetic at
rising precision until the ball excludes zero. A ball that still holds zero at
the highest precision is an exact tie or a value too close to call: an exact
algebraic zero is then confirmed by its minimal polynomial (``x``); anything else
raises :class:`~boundkit.errors.NotCertified`. Rounding can only make a decision
fail, never come out wrong.
"""

from __future__ import annotations

import sympy as sp
from flint import arb, ctx, fmpq

from boundkit.errors import NotCertified

#: Precisions tried, in bits, on top of what the operands' sizes need.
PRECISIONS = (128, 512, 2048, 8192)
#: Exponent denominators up to this are small enough for an exact minimal polynomial.
MAX_ALGEBRAIC_DEGREE = 64


def _arb(expr: sp.Expr, env: dict) -> arb:
    """The expression as an arb ball at the current precision (``env``: symbol values)."""
    if expr in env:
        return env[expr]
    if isinstance(expr, sp.Rational):  # Integer too
        return arb(fmpq(int(expr.p), int(expr.q)))
    if isinstance(expr, sp.Float):
        p, q = sp.Rational(expr).as_numer_denom()
        return arb(fmpq(int(p), int(q)))
    if expr is sp.pi:
        return arb.pi()
    if expr is sp.E:
        return arb(1).exp()
    if isinstance(expr, sp.Add):
        out = arb(0)
        for term in expr.args:
            out += _arb(term, env)
        return out
    if isinstance(expr, sp.Mul):
        out = arb(1)
        for term in expr.args:
            out *= _arb(term, env)
        return out
    if isinstance(expr, sp.Pow):
        base, exp = expr.args
        if isinstance(exp, sp.Integer):
            return _arb(base, env) ** int(exp)
        return _arb(base, env) ** _arb(exp, env)
    if isinstance(expr, sp.exp):
        return _arb(expr.args[0], env).exp()
    if isinstance(expr, sp.log):
        return _arb(expr.args[0], env).log()
    raise NotCertified(f"cannot evaluate {type(expr).__name__} in ball arithmetic: {expr}")


def sign(expr: sp.Expr, values: dict | None = None, extra_bits: int = 0) -> int:
    """The sign (−1, 0 or 1) of an expression, certified.

    ``values`` maps its free symbols to exact integers or Fractions. ``extra_bits``
    raises every precision (use about 2·log2 of the largest operand, so that δ(n) and
    δ(n−1) are told apart for n = 10^300).
    """
    values = values or {}
    missing = expr.free_symbols - set(values)
    if missing:
        raise NotCertified(f"expression has free symbols {sorted(map(str, missing))}")
    old = ctx.prec
    try:
        for bits in PRECISIONS:
            ctx.prec = bits + extra_bits
            env = {s: arb(fmpq(*_ratio(v))) for s, v in values.items()}
            ball = _arb(expr, env)
            if ball > 0:
                return 1
            if ball < 0:
                return -1
    finally:
        ctx.prec = old
    if _is_exact_zero(expr.subs({s: sp.Rational(*_ratio(v)) for s, v in values.items()})):
        return 0
    raise NotCertified(f"the sign of {sp.sstr(expr)[:120]} could not be decided at "
                       f"{PRECISIONS[-1] + extra_bits} bits")


def _ratio(value) -> tuple[int, int]:
    if isinstance(value, int):
        return value, 1
    return int(value.numerator), int(value.denominator)


def _is_exact_zero(expr: sp.Expr) -> bool:
    """True when an algebraic expression with small root degrees is exactly zero."""
    for sub in sp.preorder_traversal(expr):
        if isinstance(sub, sp.exp | sp.log) or sub is sp.pi or sub is sp.E:
            return False
        if isinstance(sub, sp.Pow) and isinstance(sub.exp, sp.Rational) and (
                sub.exp.q > MAX_ALGEBRAIC_DEGREE):
            return False
    x = sp.Dummy("x")
    try:
        return sp.minimal_polynomial(expr, x) == x
    except (RuntimeError, sp.polys.polyerrors.NotAlgebraic):
        # sympy cannot decide (it raises a RuntimeError subclass for unsupported
        # domains): not proven zero, so the caller keeps the strict comparison
        return False
