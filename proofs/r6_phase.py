r"""R6, the phase transition (docs/theory.md §4): derivation, critical point, root counting.

With n real and λn synthetic samples per round and x = λ/(1+λ),

.. math::
    B_i(\lambda) = C n^{-r} (1+\lambda)^{1-r} (1 - x^{i+1}), \qquad
    B_i'(\lambda) = C n^{-r} (1+\lambda)^{-r} (1-x)\, h_i(x),

    h_i(x) = (1-r)\sum_{k=0}^{i} x^k - (i+1) x^i,

whose coefficients change sign once (Descartes: exactly one positive root x'),
with h_i(0) = 1 − r > 0 and h_i(1) = −r(i+1) < 0, so x' ∈ (0, 1) and
λ'_i = x'/(1−x') is the unique maximiser. The exact values, the Lambert-W slope,
the break-even ratio and the re-check of boundkit's enclosures are in
:mod:`proofs.r6_values`.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from proofs._core import Outcome, Step
from proofs.checks_interval import SignOnBox
from proofs.checks_roots import Descartes, RootCount
from proofs.checks_symbolic import Identity, Induction, Limit, Sign

i = sp.Symbol("i", integer=True, positive=True)
m = sp.Symbol("m", integer=True, positive=True)
lam, K, r, n, C, y, s = sp.symbols("lambda K r n C y s", positive=True)
X = sp.Symbol("x", positive=True)
R_UNIT = 1 / (1 + s)  # 0 < r < 1 written through s > 0, so sympy's assumptions carry it

x_of_lam = lam / (1 + lam)
B = K * (1 + lam) ** (1 - r) * (1 - x_of_lam ** (i + 1))  # K = C n^{-r}
BRACKET = (1 - r) * (1 - X ** (i + 1)) - (i + 1) * X**i * (1 - X)  # (1−x) h_i(x)

#: Rates and generations at which the root count is also checked exactly.
RATES = (Fraction(1, 4), Fraction(1, 2), Fraction(1, 10), Fraction(9, 10))
GENERATIONS = tuple(range(1, 13))


def h_poly(gen: int, rate: Fraction) -> sp.Poly:
    """h_i as an exact Poly in x (built here, not by boundkit)."""
    rq = sp.Rational(rate.numerator, rate.denominator)
    return sp.Poly((1 - rq) * sum(X**k for k in range(gen + 1)) - (gen + 1) * X**gen, X)


EPS = sp.Rational(1, 10**9)


def isolating_interval(gen: int, rate: Fraction, eps=EPS) -> tuple:
    """A rational interval (a, b) ⊂ (0, 1) containing x'_i, from sympy's exact isolation."""
    ((a, b), _), = h_poly(gen, rate).intervals(inf=0, sup=1, eps=eps)
    return (a - eps, b + eps) if a == b else (a, b)  # a rational root: widen to an interval


def _sides(gen: int, rate: Fraction):
    """h_i > 0 on [0, a] and h_i < 0 on [b, 1], where (a, b) isolates x'."""
    a, b = isolating_interval(gen, rate, eps=sp.Rational(1, 10**4))
    h = h_poly(gen, rate).as_expr()
    return SignOnBox(h, {X: (0, a)}, ">0"), SignOnBox(h, {X: (b, 1)}, "<0")


class _RiseThenFall:
    """Both sides of the critical point, certified on boxes, for a few (i, r)."""

    method = "arb branch & bound"

    def __init__(self, cases):
        self.cases = cases

    def run(self) -> Outcome:
        depth = 0
        for gen, rate in self.cases:
            for side in _sides(gen, rate):
                out = side.run()
                if not out.passed:
                    return Outcome(False, "certified box", f"i={gen}, r={rate}: {out.detail}")
                depth = max(depth, out.depth)
        return Outcome(True, "certified box",
                       f"h_i > 0 on [0, a], < 0 on [b, 1] around the isolating interval (a, b) "
                       f"for {len(self.cases)} (i, r) cases; deepest box depth {depth}", depth)


STEPS = (
    Step("the fixed-ratio recursion is R5's geometric sum with alpha = 1 - x",
         r"b_{m} = \delta\,\tfrac{1 - x^{m}}{1 - x},\ \delta = C((1+\lambda)n)^{-r},"
         r"\ x = \tfrac{\lambda}{1+\lambda}",
         lambda: Induction(m, 1, lambda k: (1 - X**k) / (1 - X),
                           lambda cl, k: 1 + X * cl(k),
                           direct=lambda k: sum((X**j for j in range(k)), sp.Integer(0)))),
    Step("so B_i has the closed form of docs/theory.md",
         r"C((1+\lambda)n)^{-r}\tfrac{1-x^{i+1}}{1-x} = Cn^{-r}(1+\lambda)^{1-r}(1-x^{i+1})",
         lambda: Identity(C * ((1 + lam) * n) ** (-r) * (1 - x_of_lam ** (i + 1))
                          / (1 - x_of_lam),
                          C * n ** (-r) * (1 + lam) ** (1 - r) * (1 - x_of_lam ** (i + 1)))),
    Step("no synthetic data: B_i(0) = C n^{-r}",
         r"\lim_{\lambda\to0^+} B_i(\lambda) = K = Cn^{-r}",
         lambda: Limit(B, lam, 0, K)),
    Step("initial ascent: B_i'(0) = K(1 - r)",
         r"\lim_{\lambda\to0^+} B_i'(\lambda) = K(1-r)\quad(i\ge1)",
         lambda: Limit(sp.diff(B, lam), lam, 0, K * (1 - r))),
    Step("which is positive for 0 < r < 1",
         r"K(1-r) > 0,\ r = 1/(1+s),\ s > 0",
         lambda: Sign(K * (1 - R_UNIT), ">0")),
    Step("derivative factorises through h_i",
         r"B_i'(\lambda) = K(1+\lambda)^{-r}\big[(1-r)(1-x^{i+1}) - (i+1)x^i(1-x)\big]",
         lambda: Identity(sp.diff(B, lam),
                          K * (1 + lam) ** (-r) * BRACKET.subs(X, x_of_lam))),
    Step("the bracket is (1 - x) h_i(x) (geometric sum)",
         r"(1-x)\sum_{k=0}^{m-1} x^k = 1 - x^{m}",
         lambda: Induction(m, 1, lambda k: 1 - X**k, lambda cl, k: cl(k) + (1 - X) * X**k,
                           direct=lambda k: sp.expand((1 - X) * sum(X**j for j in range(k))))),
    Step("lambda' depends on neither n nor C",
         r"B_i' = 0 \iff h_i(x) = 0,\ \text{and } h_i \text{ is free of } n, C",
         lambda: Identity(sp.diff(BRACKET, n) + sp.diff(BRACKET, C), 0)),
    Step("one sign change in h_i's coefficients for every i >= 1",
         r"h_i:\ \underbrace{1-r,\dots,1-r}_{x^0..x^{i-1}},\ (1-r)-(i+1)",
         lambda: Descartes(((1 - R_UNIT, "x^0..x^(i-1)"), (1 - R_UNIT - (i + 1), "x^i")), 1)),
    Step("h_i(0) > 0",
         r"h_i(0) = 1 - r > 0",
         lambda: Sign(1 - R_UNIT, ">0")),
    Step("h_i(1) < 0",
         r"h_i(1) = (1-r)(i+1) - (i+1) = -r(i+1) < 0",
         lambda: Sign((1 - R_UNIT) * (i + 1) - (i + 1), "<0")),
    Step("exactly one root in (0, 1): exact count for i = 1..12",
         r"\#\{x \in (0,1) : h_i(x) = 0\} = 1,\ r \in \{1/4, 1/2, 1/10, 9/10\}",
         lambda: RootCount(tuple((f"h_{g}, r={q}", h_poly(g, q)) for q in RATES
                                 for g in GENERATIONS), 0, 1, 1)),
    Step("B_i rises before x' and falls after (certified)",
         r"h_i > 0 \text{ on } [0, a],\ h_i < 0 \text{ on } [b, 1],\ x' \in (a, b)",
         lambda: _RiseThenFall(tuple((g, q) for q in (Fraction(1, 4), Fraction(3, 5))
                                     for g in (1, 2, 3, 5, 8)))),
    Step("decline: B_i ~ (i+1) K (1+lambda)^{-r}",
         r"\tfrac{B_i(\lambda)(1+\lambda)^r}{(i+1)K} = \tfrac{1-(1-y)^{i+1}}{(i+1)y},"
         r"\ y = \tfrac{1}{1+\lambda}",
         lambda: Identity(B * (1 + lam) ** r / ((i + 1) * K),
                          ((1 - (1 - y) ** (i + 1)) / ((i + 1) * y)).subs(y, 1 / (1 + lam)))),
    Step("... whose limit is 1",
         r"\lim_{y\to0^+} \tfrac{1-(1-y)^{i+1}}{(i+1)y} = 1",
         lambda: Limit((1 - (1 - y) ** (i + 1)) / ((i + 1) * y), y, 0, 1)),
    Step("so B_i -> 0 as lambda -> infinity",
         r"\lim_{\lambda\to\infty} B_i(\lambda) = 0,\ 0 < r < 1",
         lambda: Limit(B.subs(r, R_UNIT), lam, sp.oo, 0)),
)

MUTANTS = (
    Step("MUTANT: two sign changes in h_i",
         r"h_i \text{ has two coefficient sign changes (two positive roots)}",
         lambda: Descartes(((1 - R_UNIT, "x^0..x^(i-1)"), (1 - R_UNIT - (i + 1), "x^i")), 2)),
    Step("MUTANT: h_i has two roots in (0, 1)",
         r"\#\{x \in (0,1) : h_i(x) = 0\} = 2",
         lambda: RootCount(tuple((f"h_{g}, r=1/4", h_poly(g, Fraction(1, 4)))
                                 for g in GENERATIONS), 0, 1, 2)),
    Step("MUTANT: B_i decays like (1+lambda)^{-1}",
         r"\lim_{\lambda\to\infty} B_i(\lambda)(1+\lambda) / ((i+1)K) = 1",
         lambda: Limit((B * (1 + lam) / ((i + 1) * K)).subs({r: sp.Rational(1, 4), i: 2}),
                       lam, sp.oo, 1)),
)
