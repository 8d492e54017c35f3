"""Symbolic checkers: identities, induction, signs under assumptions, limits.

Each returns an :class:`~proofs._core.Outcome` and can fail: a residual that
does not simplify to zero is re-checked at random exact rationals, and any
non-zero value refutes the claim; a sign sympy cannot decide is a failure,
never a pass.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp

from boundkit.errors import InvalidArgument
from proofs._core import Outcome

#: |residual| above this, at 60 significant digits, refutes an identity.
REFUTE_ABOVE = sp.Float("1e-40", 60)


def _factor_exponents(expr: sp.Expr) -> sp.Expr:
    """Bring every symbolic exponent to a canonical factored form, then merge powers."""
    expr = expr.replace(lambda e: e.is_Pow and not e.exp.is_Number,
                        lambda e: sp.Pow(e.base, sp.factor(e.exp)))
    return sp.powsimp(sp.expand_power_base(sp.expand(expr), force=True), force=True)


def _simplify_to_zero(expr: sp.Expr) -> bool:
    """True when one of a few increasingly expensive simplifications gives 0."""
    for f in (sp.expand, sp.cancel, lambda e: sp.powsimp(sp.expand_power_base(e), force=True),
              _factor_exponents, sp.simplify):
        e = f(expr)
        if e == 0:
            return True
        expr = e
    return bool(sp.simplify(sp.expand_func(expr)) == 0)


def _random_value(sym: sp.Symbol, rng: random.Random) -> sp.Rational:
    """A random exact rational respecting the symbol's integer/positive assumptions."""
    if sym.is_integer:
        return sp.Integer(rng.randint(1, 30))
    value = Fraction(rng.randint(1, 999), rng.randint(1, 97))
    if sym.is_positive or sym.is_nonnegative:
        return sp.Rational(value.numerator, value.denominator)
    return sp.Rational(value.numerator, value.denominator) * rng.choice((-1, 1))


@dataclass(frozen=True)
class Identity:
    """lhs = rhs: sympy simplification to zero, else refutation at random exact rationals.

    ``domain`` maps a symbol to a sampler ``rng -> value`` (default: from its
    assumptions). When simplification fails but no sample refutes the identity,
    the step passes with scope ``sampled``: the report then says it was not proven.
    """

    lhs: sp.Expr
    rhs: sp.Expr
    domain: Mapping[sp.Symbol, Callable[[random.Random], sp.Expr]] = field(default_factory=dict)
    samples: int = 24
    seed: int = 0
    method: str = "identity (sympy)"

    def run(self) -> Outcome:
        diff = sp.sympify(self.lhs) - sp.sympify(self.rhs)
        if isinstance(diff, sp.MatrixBase):  # entry by entry
            outcomes = [Identity(e, 0, self.domain, self.samples, self.seed).run() for e in diff]
            failed = [o for o in outcomes if not o.passed]
            sampled = [o for o in outcomes if o.scope != "symbolic"]
            if failed or sampled:
                return (failed or sampled)[0]
            return Outcome(True, "symbolic", f"all {len(outcomes)} entries simplify to 0")
        if _simplify_to_zero(diff):
            return Outcome(True, "symbolic", "lhs - rhs simplifies to 0")
        syms = sorted(diff.free_symbols, key=str)
        if not syms:  # a constant: its value decides
            value = sp.N(diff, 60)
            if value.is_number and abs(value) > REFUTE_ABOVE:
                return Outcome(False, "exact instances", f"lhs - rhs = {sp.N(value, 8)}, not 0")
        rng = random.Random(self.seed)
        for _ in range(self.samples):
            point = {s: self.domain[s](rng) if s in self.domain else _random_value(s, rng)
                     for s in syms}
            value = sp.N(diff.xreplace(point), 60)
            if not value.is_number:
                return Outcome(False, "sampled", f"residual is not a number at {point}")
            if abs(value) > REFUTE_ABOVE:
                return Outcome(False, "sampled",
                               f"refuted at {point}: lhs - rhs = {sp.N(value, 8)}")
        return Outcome(True, "sampled",
                       f"simplify did not reach 0; not refuted at {self.samples} exact rational "
                       "points (sampling can refute, never prove)")


@dataclass(frozen=True)
class Induction:
    """closed(n) solves a recurrence: base case exactly, then a symbolic step.

    ``step(closed, n)`` returns the recurrence's value at n+1 written through
    ``closed`` at indices ≤ n (strong induction is allowed). The step identity
    closed(n+1) = step(closed, n) is checked by :class:`Identity`; ``direct(k)``,
    when given, is the quantity computed from its definition, compared exactly
    at the base and at the next few instances.
    """

    n: sp.Symbol
    base: int
    closed: Callable[[sp.Expr], sp.Expr]
    step: Callable[[Callable[[sp.Expr], sp.Expr], sp.Expr], sp.Expr]
    direct: Callable[[int], sp.Expr] | None = None
    instances: int = 6
    method: str = "induction"

    def run(self) -> Outcome:
        if self.direct is not None:
            for k in range(self.base, self.base + 1 + self.instances):
                got, want = sp.expand_func(self.closed(sp.Integer(k))), self.direct(k)
                if sp.simplify(got - want) != 0:
                    which = "base case" if k == self.base else "instance"
                    return Outcome(False, "exact instances",
                                   f"{which} n={k}: closed form {got} != {want}")
        lhs = sp.expand_func(self.closed(self.n + 1))
        rhs = sp.expand_func(self.step(self.closed, self.n))
        out = Identity(lhs, rhs).run()
        if not out.passed:
            return Outcome(False, out.scope, f"inductive step fails: {out.detail}")
        base = f"base n={self.base}"
        if self.direct is not None:
            base += f" and n={self.base + 1}..{self.base + self.instances} exact"
        return Outcome(True, out.scope, f"{base}; step: {out.detail}")


RELATIONS = {
    ">0": lambda e: e.is_positive,
    ">=0": lambda e: e.is_nonnegative,
    "<0": lambda e: e.is_negative,
    "<=0": lambda e: e.is_nonpositive,
}
_OPPOSITE = {">0": "<=0", ">=0": "<0", "<0": ">=0", "<=0": ">0"}


@dataclass(frozen=True)
class Sign:
    """expr REL 0 for every value the symbols' sympy assumptions allow.

    Domains such as 0 < r < 1 are written through positive symbols
    (r = 1/(1+s), s > 0) so that sympy's assumptions carry them. A sign sympy
    cannot decide is reported as a failure.
    """

    expr: sp.Expr
    relation: str
    method: str = "sign (assumptions)"

    def run(self) -> Outcome:
        if self.relation not in RELATIONS:
            raise InvalidArgument(f"relation must be one of {sorted(RELATIONS)}; got "
                                  f"{self.relation!r}.")
        rel, opp = self.relation[:-1], _OPPOSITE[self.relation][:-1]
        for form in (self.expr, sp.factor(self.expr), sp.simplify(self.expr)):
            verdict = RELATIONS[self.relation](form)
            if verdict:
                return Outcome(True, "symbolic", f"{form} {rel} 0 by its assumptions")
            if RELATIONS[_OPPOSITE[self.relation]](form):
                return Outcome(False, "symbolic", f"refuted: {form} {opp} 0")
        return Outcome(False, "symbolic", f"sympy could not decide the sign of {self.expr}")


@dataclass(frozen=True)
class Limit:
    """lim_{var → point} expr = expected, by ``sympy.limit`` (``dir`` '+' or '-')."""

    expr: sp.Expr
    var: sp.Symbol
    point: sp.Expr
    expected: sp.Expr
    dir: str = "+"
    method: str = "limit (sympy)"

    def run(self) -> Outcome:
        got = sp.limit(self.expr, self.var, self.point, self.dir)
        if got.has(sp.Limit) or got is sp.nan:
            return Outcome(False, "symbolic", f"sympy could not evaluate the limit ({got})")
        expected = sp.sympify(self.expected)
        same = got == expected if expected.has(sp.oo, -sp.oo) else sp.simplify(got - expected) == 0
        arrow = f"{self.var} -> {self.point}"
        if same:
            return Outcome(True, "symbolic", f"limit as {arrow} is {got}")
        return Outcome(False, "symbolic", f"limit as {arrow} is {got}, not {expected}")


@dataclass(frozen=True)
class Instances:
    """A predicate checked exactly at each listed instance (scope ``exact instances``).

    ``check(case)`` returns True, or False / a string explaining the failure.
    """

    description: str
    cases: tuple
    check: Callable[[object], bool | str]
    method: str = "exact instances"

    def run(self) -> Outcome:
        for case in self.cases:
            verdict = self.check(case)
            if verdict is not True:
                why = verdict if isinstance(verdict, str) else "predicate is false"
                return Outcome(False, "exact instances", f"fails at {case!r}: {why}")
        return Outcome(True, "exact instances", f"{self.description}: all {len(self.cases)} hold")
