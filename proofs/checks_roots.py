"""Root counting: Descartes' rule of signs and sympy's exact real-root isolation.

Descartes: a polynomial with real coefficients has as many positive roots as
its coefficient sequence has sign changes, or fewer by an even number; one
sign change therefore means exactly one positive root. ``count_roots`` uses
Sturm sequences in exact arithmetic, and ``intervals`` gives rational
isolating intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import sympy as sp

from proofs._core import Outcome


def _sign(coef: sp.Expr) -> int | None:
    if coef.is_zero:
        return 0
    if coef.is_positive:
        return 1
    if coef.is_negative:
        return -1
    return None


@dataclass(frozen=True)
class Descartes:
    """The coefficient sequence, in blocks of equal coefficients, has ``expected`` sign changes.

    ``blocks`` is a tuple of (coefficient, label) in increasing degree, where a
    label such as ``"x^0..x^(i-1)"`` says which powers share that coefficient; the
    coefficients may be symbolic (their signs come from sympy assumptions).
    """

    blocks: tuple
    expected: int
    method: str = "Descartes' rule"

    def run(self) -> Outcome:
        signs = []
        for coef, label in self.blocks:
            s = _sign(sp.simplify(coef))
            if s is None:
                return Outcome(False, "symbolic",
                               f"sign of the {label} coefficient {coef} undecided")
            if s:
                signs.append(s)
        changes = sum(a != b for a, b in pairwise(signs))
        pattern = " ".join("+" if s > 0 else "-" for s in signs)
        if changes != self.expected:
            return Outcome(False, "symbolic",
                           f"sign pattern {pattern}: {changes} sign change(s), not {self.expected}")
        tail = "exactly one positive root" if changes == 1 else f"{changes} sign change(s)"
        return Outcome(True, "symbolic", f"sign pattern {pattern}: {tail}")


@dataclass(frozen=True)
class RootCount:
    """Each polynomial has exactly ``expected`` real roots in the open interval (lo, hi).

    Exact: Sturm-sequence counting on [lo, hi] with the endpoints checked to be
    non-roots, and rational isolating intervals reported for the first case.
    """

    polys: tuple  # (label, sp.Poly with rational coefficients)
    lo: sp.Rational
    hi: sp.Rational
    expected: int
    method: str = "Sturm count (exact)"

    def run(self) -> Outcome:
        lo, hi = sp.Rational(self.lo), sp.Rational(self.hi)
        first = ""
        for label, poly in self.polys:
            if poly.eval(lo) == 0 or poly.eval(hi) == 0:
                return Outcome(False, "exact instances", f"{label}: an endpoint is a root")
            count = poly.count_roots(lo, hi)
            if count != self.expected:
                return Outcome(False, "exact instances",
                               f"{label}: {count} root(s) in ({lo}, {hi}), not {self.expected}")
            if not first and count:
                (a, b), _ = poly.intervals(inf=lo, sup=hi, eps=sp.Rational(1, 10**6))[0]
                first = f"; {label}: root in [{a}, {b}]"
        return Outcome(True, "exact instances",
                       f"{len(self.polys)} polynomial(s), {self.expected} root(s) each in "
                       f"({lo}, {hi}){first}")
