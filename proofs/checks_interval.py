"""Certified signs on a box: python-flint arb ball arithmetic with branch and bound.

A sympy expression is evaluated on a box (one interval per variable) in ball
arithmetic, so the result encloses every value the expression takes there;
rounding can only widen it. If the enclosure has the claimed sign the box is
done; if not, the box is split along its relatively widest side, down to
``max_depth``. A sub-box whose midpoint certifiably violates the claim is a
counterexample; a box still undecided at the depth limit is a failure too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp
from flint import arb, ctx, fmpq

from boundkit.errors import InvalidArgument
from proofs._core import Outcome

_FUNCS = {
    sp.exp: arb.exp,
    sp.log: arb.log,
    sp.erf: arb.erf,
    sp.sqrt: arb.sqrt,
}


def _arb_const(value: sp.Expr) -> arb:
    if value.is_Rational:
        return arb(fmpq(int(value.p), int(value.q)))
    if value is sp.pi:
        return arb.pi()
    if value is sp.E:
        return arb(1).exp()
    raise InvalidArgument(f"cannot enclose the constant {value}; use rationals, pi or E.")


def to_arb(expr: sp.Expr, env: Mapping[sp.Symbol, arb]) -> arb:
    """Enclose ``expr`` with each free symbol replaced by the ball ``env[symbol]``."""
    if expr.is_Symbol:
        return env[expr]
    if expr.is_Number or expr in (sp.pi, sp.E):
        return _arb_const(expr)
    args = [to_arb(a, env) for a in expr.args]
    if expr.is_Add:
        return sum(args[1:], args[0])
    if expr.is_Mul:
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if expr.is_Pow:
        e = expr.args[1]
        if e.is_Integer:
            return args[0] ** int(e)
        if e == sp.Rational(1, 2):
            return args[0].sqrt()
        return (args[1] * args[0].log()).exp()  # real powers need a positive base
    for f, g in _FUNCS.items():
        if expr.func is f:
            return g(*args)
    if expr.func is sp.Abs:
        return abs(args[0])
    raise InvalidArgument(f"cannot enclose {expr.func.__name__}; extend "
                          f"proofs.checks_interval._FUNCS.")


def _ball(lo: Fraction, hi: Fraction) -> arb:
    return arb(fmpq(lo.numerator, lo.denominator)).union(arb(fmpq(hi.numerator, hi.denominator)))


_CERTAIN = {">0": lambda v: v > 0, ">=0": lambda v: v >= 0,
            "<0": lambda v: v < 0, "<=0": lambda v: v <= 0}
_VIOLATED = {">0": lambda v: v <= 0, ">=0": lambda v: v < 0,
             "<0": lambda v: v >= 0, "<=0": lambda v: v > 0}


def _fmt_box(box: Mapping[sp.Symbol, tuple[Fraction, Fraction]]) -> str:
    return ", ".join(f"{s} in [{lo}, {hi}]" for s, (lo, hi) in box.items())


@dataclass(frozen=True)
class SignOnBox:
    """expr REL 0 on every point of a box, certified by arb branch and bound.

    ``box`` maps each free symbol to exact bounds (lo, hi); the outcome records
    the box, the depth reached and the number of sub-boxes evaluated.
    """

    expr: sp.Expr
    box: Mapping[sp.Symbol, tuple]
    relation: str = ">0"
    max_depth: int = 24
    max_boxes: int = 20_000
    prec: int = 128
    method: str = "arb branch & bound"

    def run(self) -> Outcome:
        if self.relation not in _CERTAIN:
            raise InvalidArgument(f"relation must be one of {sorted(_CERTAIN)}; got "
                                  f"{self.relation!r}.")
        box = {s: (Fraction(lo), Fraction(hi)) for s, (lo, hi) in self.box.items()}
        missing = set(self.expr.free_symbols) - set(box)
        if missing:
            raise InvalidArgument(f"box has no interval for {sorted(map(str, missing))}; add one.")
        where = _fmt_box(box)
        old = ctx.prec
        ctx.prec = self.prec
        try:
            return self._search(box, where)
        finally:
            ctx.prec = old

    def _search(self, box, where: str) -> Outcome:
        widths = {s: hi - lo for s, (lo, hi) in box.items()}
        stack, count, deepest = [(box, 0)], 0, 0
        while stack:
            b, depth = stack.pop()
            count += 1
            deepest = max(deepest, depth)
            value = to_arb(self.expr, {s: _ball(lo, hi) for s, (lo, hi) in b.items()})
            if _CERTAIN[self.relation](value):
                continue
            mid = {s: (lo + hi) / 2 for s, (lo, hi) in b.items()}
            at_mid = to_arb(self.expr, {s: _ball(m, m) for s, m in mid.items()})
            if _VIOLATED[self.relation](at_mid):
                point = ", ".join(f"{s}={m}" for s, m in mid.items())
                return Outcome(False, "certified box",
                               f"counterexample at {point}: value {at_mid.str(5)}; box {where}")
            if depth >= self.max_depth or count >= self.max_boxes:
                return Outcome(False, "certified box",
                               f"undecided on {_fmt_box(b)} at depth {depth} "
                               f"({count} boxes); box {where}")
            s = max(b, key=lambda k: (b[k][1] - b[k][0]) / widths[k] if widths[k] else -1)
            lo, hi = b[s]
            m = (lo + hi) / 2
            stack.append(({**b, s: (lo, m)}, depth + 1))
            stack.append(({**b, s: (m, hi)}, depth + 1))
        return Outcome(True, "certified box",
                       f"{self.expr} {self.relation[:-1]} 0 on {where}; depth {deepest}, "
                       f"{count} boxes, {self.prec}-bit balls", depth=deepest)
