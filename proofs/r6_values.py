r"""R6 continued: exact thresholds, the Lambert-W slope, break-even, and boundkit's enclosures.

.. math::
    \lambda'_1 = \frac{1-r}{2r}, \qquad \lambda'_2\big|_{r=1/4} = \frac{3+\sqrt{13}}{2},
    \qquad \frac{\lambda'_i}{i} \to \frac{1}{u^*},\
    u^* = -(1-r) - W_{-1}\big(-(1-r)e^{-(1-r)}\big).

boundkit certifies λ'_i by float Newton steps and arb sign checks of (1−x)h_i;
here each enclosure is re-checked by another route: exact integer arithmetic
for the sign of h_i at both ends (no floats, no arb), with uniqueness from
Descartes (proved in :mod:`proofs.r6_phase`).
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp
from flint import arb, ctx, fmpq

from proofs._core import Outcome, Proof, Step
from proofs.checks_roots import Descartes, RootCount
from proofs.checks_symbolic import Identity, Instances, Limit, Sign
from proofs.r6_phase import MUTANTS, STEPS, X, isolating_interval, r

i = sp.Symbol("i", integer=True, positive=True)
u, a, c, lam = sp.symbols("u a c lambda", positive=True)


def h_expr(gen: int, rate) -> sp.Expr:
    """h_i(x) as an expression in x, for a concrete generation."""
    return (1 - rate) * sum(X**k for k in range(gen + 1)) - (gen + 1) * X**gen


def h_sign(gen: int, rate: Fraction, xq: Fraction) -> int:
    """sign of h_i(p/q) in exact integers: q^i · den(r) · h_i(p/q), Horner in p and q."""
    p, q = xq.numerator, xq.denominator
    low = rate.denominator - rate.numerator  # den(r)·(1 − r)
    acc, qpow = low - (gen + 1) * rate.denominator, 1  # coefficient of x^i
    for _ in range(gen):
        qpow *= q
        acc = acc * p + low * qpow
    return (acc > 0) - (acc < 0)


def _enclosure_holds(case) -> bool | str:
    """boundkit's certified [lo, hi] ∋ λ'_i, re-checked with exact integers."""
    from boundkit.phase import lambda_critical_certified

    gen, rate = case
    enc = lambda_critical_certified(gen, rate)
    if not enc.certified:
        return f"boundkit did not certify: {enc.reason}"
    lo, hi = Fraction(enc.lo), Fraction(enc.hi)
    s_lo, s_hi = h_sign(gen, rate, lo / (1 + lo)), h_sign(gen, rate, hi / (1 + hi))
    return (s_lo > 0 and s_hi < 0) or f"h_i signs {s_lo}, {s_hi} at [{enc.lo}, {enc.hi}]"


ENCLOSURE_CASES = tuple((g, q) for q in (Fraction(1, 4), Fraction(1, 2), Fraction(1, 10),
                                          Fraction(9, 10), Fraction(1, 3))
                        for g in (*range(1, 11), 50, 200, 1000, 5000))


def _lambda2_residual(rate: sp.Rational) -> Identity:
    """h_2 at x(λ), λ = (3 + √13)/2: zero exactly when r = 1/4."""
    x_at = (lam / (1 + lam)).subs(lam, (3 + sp.sqrt(13)) / 2)
    return Identity(h_expr(2, rate).subs(X, x_at), 0)


def _exact_values_agree(rate: str) -> bool | str:
    from boundkit.phase import lambda_critical_exact

    q = sp.Rational(rate)
    got = sp.simplify(lambda_critical_exact(1, Fraction(rate)) - (1 - q) / (2 * q))
    return got == 0 or f"lambda_critical_exact(1, {rate}) differs by {got}"


def _increasing(rate: Fraction) -> bool | str:
    """Isolating intervals of x'_1, …, x'_30 are disjoint and increasing."""
    prev = None
    for g in range(1, 31):
        lo, hi = isolating_interval(g, rate, eps=sp.Rational(1, 10**12))
        if prev is not None and not prev < lo:
            return f"x'_{g - 1} and x'_{g} are not ordered ({prev} vs {lo})"
        prev = hi
    return True


class _SlopeValue:
    """u*(1/4) by arb's Lambert W (lower branch); boundkit's float slope inside ±1e-12."""

    method = "arb value"

    def __init__(self, branch: int = -1):
        self.branch = branch

    def run(self) -> Outcome:
        from boundkit.phase import asymptotic_slope

        old = ctx.prec
        ctx.prec = 128
        try:
            one_minus_r = arb(fmpq(3, 4))
            w = (-one_minus_r * (-one_minus_r).exp()).lambertw(branch=self.branch)
            u_star = -one_minus_r - w
            residual = one_minus_r * u_star.expm1() - u_star  # must contain 0
            slope = 1 / u_star
            bk = asymptotic_slope(Fraction(1, 4))
            ok = (residual.contains(0) and u_star.overlaps(arb("0.550200") + arb(0, 1e-6))
                  and slope.overlaps(arb(bk) + arb(0, 1e-12)))
            detail = f"u* = {u_star.str(12)}, slope = {slope.str(12)}, boundkit {bk!r}"
        finally:
            ctx.prec = old
        return Outcome(bool(ok), "certified box", detail)


W = sp.LambertW(-a * sp.exp(-a), -1)
Z = -a * sp.exp(-a)
U_STAR = -a - W
#: W e^W = z, so e^{−W} = W/z: the one rewrite the Lambert-W identity needs.
LAMBERT_RESIDUAL = sp.expand(a * (sp.exp(U_STAR) - 1) - U_STAR, power_exp=True).subs(
    sp.exp(-W), W / Z)
BREAK_EVEN_POLY = sp.Poly(sp.cancel(((1 + lam) ** 5 - (1 + 2 * lam) ** 4) / lam), lam)


def _break_even_agrees() -> bool | str:
    from boundkit.phase import phase_transition

    (pt,) = phase_transition(Fraction(1, 4), [1])
    (lo, hi), _ = BREAK_EVEN_POLY.intervals(inf=12, sup=13, eps=sp.Rational(1, 10**9))[0]
    v = sp.Rational(Fraction(pt.lambda_break_even))
    return bool(lo - sp.Rational(1, 10**8) <= v <= hi + sp.Rational(1, 10**8)) or (
        f"boundkit's break-even {pt.lambda_break_even} outside [{lo}, {hi}]")


VALUE_STEPS = (
    Step("lambda'_1 = (1 - r)/(2r)",
         r"h_1\big(x(\lambda)\big) = 0 \text{ at } \lambda = \tfrac{1-r}{2r}",
         lambda: Identity(h_expr(1, r).subs(X, lam / (1 + lam)).subs(lam, (1 - r) / (2 * r)), 0)),
    Step("lambda'_2 = (3 + sqrt 13)/2 at r = 1/4",
         r"h_2\big(x(\lambda)\big) = 0 \text{ at } \lambda = \tfrac{3+\sqrt{13}}{2},\ r = 1/4",
         lambda: _lambda2_residual(sp.Rational(1, 4))),
    Step("boundkit's exact lambda'_1 matches",
         r"\texttt{lambda\_critical\_exact}(1, r) = (1-r)/(2r)",
         lambda: Instances("rates", ("1/4", "1/2", "1/10", "9/10", "2/3"), _exact_values_agree)),
    Step("boundkit's certified enclosures, re-checked in exact integers",
         r"h_i\big(\tfrac{lo}{1+lo}\big) > 0 > h_i\big(\tfrac{hi}{1+hi}\big)"
         r" \Rightarrow \lambda'_i \in [lo, hi]",
         lambda: Instances("(i, r) enclosures", ENCLOSURE_CASES, _enclosure_holds)),
    Step("(beyond) lambda'_i increases in i",
         r"x'_1 < x'_2 < \dots < x'_{30} \text{ (disjoint exact isolating intervals)}",
         lambda: Instances("rates", (Fraction(1, 4), Fraction(3, 5)), _increasing)),
    Step("(beyond) limit equation in u = (i+1) log(1 + 1/lambda)",
         r"\lim_{i\to\infty}(i+1)\,x^i(1-x) = u e^{-u},\ x = e^{-u/(i+1)}",
         lambda: Limit((i + 1) * sp.exp(-u * i / (i + 1)) * (1 - sp.exp(-u / (i + 1))),
                       i, sp.oo, u * sp.exp(-u))),
    Step("(beyond) u* solves (1 - r)(e^u - 1) = u",
         r"a(e^{u^*} - 1) - u^* = 0,\ a = 1-r,\ \text{using } e^{-W(z)} = W(z)/z",
         lambda: Identity(LAMBERT_RESIDUAL, 0)),
    Step("(beyond) ... uniquely: f(0) = 0, f'(0) = -r < 0, f'' > 0",
         r"f(u) = a(e^u - 1) - u:\ f''(u) = a e^u > 0",
         lambda: Sign(sp.diff(a * (sp.exp(u) - 1) - u, u, 2), ">0")),
    Step("(beyond) lambda'_i / i -> 1/u*",
         r"\lambda' = 1/(e^{u/(i+1)} - 1) \Rightarrow \lim_{i\to\infty}\lambda'/i = 1/u",
         lambda: Limit(1 / ((sp.exp(u / (i + 1)) - 1) * i), i, sp.oo, 1 / u)),
    Step("(beyond) slope value at r = 1/4",
         r"u^* = 0.550200\ldots,\ 1/u^* = 1.817518\ldots",
         _SlopeValue),
    Step("(beyond) break-even at i = 1, r = 1/4 is a polynomial root",
         r"B_1(\lambda) = B_1(0) \iff (1+2\lambda)^4 = (1+\lambda)^5;"
         r"\ \text{quotient by } \lambda \text{ has one sign change}",
         lambda: Descartes(tuple((cf, f"x^{k}") for k, cf in
                                 enumerate(reversed(BREAK_EVEN_POLY.all_coeffs()))), 1)),
    Step("(beyond) lambda=_1 in (12, 13), matching boundkit",
         r"\lambda^=_1 = 12.80\ldots \in (12, 13)",
         lambda: RootCount((("(1+l)^5-(1+2l)^4 over l", BREAK_EVEN_POLY),), 12, 13, 1)),
    Step("(beyond) boundkit's break-even lies in the isolating interval",
         r"\texttt{phase\_transition}(1/4, [1]).\lambda^= \in [a, b]",
         lambda: Instances("r = 1/4, i = 1", ((),), lambda _: _break_even_agrees())),
    Step("(beyond) lambda=_i / (i+1)^4 -> 1 at r = 1/4",
         r"\lambda = c(i+1)^4:\ \lim_{i\to\infty}(1+\lambda)^{3/4}(1 - x^{i+1}) = c^{-1/4}",
         lambda: Limit((1 + c * (i + 1) ** 4) ** sp.Rational(3, 4)
                       * (1 - (c * (i + 1) ** 4 / (1 + c * (i + 1) ** 4)) ** (i + 1)),
                       i, sp.oo, c ** sp.Rational(-1, 4))),
)

VALUE_MUTANTS = (
    Step("MUTANT: lambda'_1 = 1 at r = 1/4",
         r"h_1\big(x(1)\big) = h_1(1/2) = 0,\ r = 1/4",
         lambda: Identity(h_expr(1, sp.Rational(1, 4)).subs(X, sp.Rational(1, 2)), 0)),
    Step("MUTANT: lambda'_2 = (3 + sqrt 13)/2 at r = 1/2",
         r"h_2\big(x(\tfrac{3+\sqrt{13}}{2})\big) = 0,\ r = 1/2",
         lambda: _lambda2_residual(sp.Rational(1, 2))),
    Step("MUTANT: a shifted enclosure",
         r"\lambda'_i \in [hi, 2\,hi]",
         lambda: Instances("shifted", ((3, Fraction(1, 4)),), _shifted_enclosure)),
    Step("MUTANT: slope 1/u* with the principal branch W_0",
         r"u^* = -a - W_0(-a e^{-a}) = 0.550200\ldots \text{ at } r = 1/4",
         lambda: _SlopeValue(branch=0)),
)


def _shifted_enclosure(case) -> bool | str:
    from boundkit.phase import lambda_critical_certified

    gen, rate = case
    hi = Fraction(lambda_critical_certified(gen, rate).hi)
    lo, up = hi * Fraction(1000001, 1000000), 2 * hi
    s_lo, s_hi = h_sign(gen, rate, lo / (1 + lo)), h_sign(gen, rate, up / (1 + up))
    where = f"[{float(lo)}, {float(up)}]"
    return (s_lo > 0 and s_hi < 0) or f"no sign change of h_i on {where}: not an enclosure"


PROOF = Proof(
    name="R6",
    title="Phase transition in the synthetic-to-real ratio",
    claim=(r"B_i \text{ rises, then falls past } \lambda'_i = \tfrac{x'}{1-x'},\ "
           r"x' \text{ the unique root in } (0,1) \text{ of } "
           r"h_i(x) = (1-r)\sum_{k\le i} x^k - (i+1)x^i"),
    assumptions=(r"\delta = C n_i^{-r},\ n_i = (1+\lambda)n,\ C, n > 0", r"0 < r < 1,\ i \ge 1",
                 r"x = \lambda/(1+\lambda) \in [0, 1),\ K = Cn^{-r}"),
    steps=STEPS + VALUE_STEPS,
    mutants=MUTANTS + VALUE_MUTANTS,
    summary="Derivation and uniqueness for all i and r; exact values; boundkit's "
    "enclosures re-checked in exact integer arithmetic.",
)
