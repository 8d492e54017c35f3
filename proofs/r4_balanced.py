r"""R4, the balanced (accumulate) schedule (docs/theory.md §4), as checked steps.

.. math::
    \sum_{k\le n} H_k = (n+1)H_n - n, \qquad
    b_{i+1} = \delta + \frac{1}{i+1}\sum_{k\le i} b_k = \delta H_{i+1},

so e_k ≤ δ H_k ≈ δ(ln k + γ): logarithmic, not linear, drift.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from proofs._core import Proof, Step
from proofs.checks_symbolic import Identity, Induction, Instances, Limit, Sign

n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", integer=True, positive=True)
delta, u = sp.symbols("delta u", positive=True)
H = sp.harmonic


def _sum_h(m: int) -> sp.Expr:
    return sum((H(j) for j in range(1, m + 1)), sp.Integer(0))


def _balanced_direct(m: int) -> sp.Expr:
    """b_m from the recursion itself: b_1 = δ, b_{j+1} = δ + (b_1 + … + b_j)/(j+1)."""
    b = [delta]
    for j in range(1, m):
        b.append(delta + sum(b) / (j + 1))
    return sp.simplify(b[m - 1])


def _by_lemma(expr: sp.Expr) -> sp.Expr:
    """Rewrite Σ_{k≤m} H_k by the lemma (step 1) as (m+1)H_m − m."""
    def rule(e):
        (var, lo, hi), = e.limits
        body = sp.factor_terms(e.function)
        coeff, rest = body.as_independent(var)
        if lo == 1 and rest == H(var):
            return coeff * ((hi + 1) * H(hi) - hi)
        return e
    return expr.replace(lambda e: isinstance(e, sp.Sum), rule)


def _balanced_step(closed, m):
    """b_{m+1} = δ + Σ_{k≤m} b_k/(m+1), with the sum taken through the lemma."""
    return delta + _by_lemma(sp.Sum(closed(k), (k, 1, m))) / (m + 1)


def _boundkit_agrees(rounds: int) -> bool | str:
    from boundkit.recursion import bound_exact
    from boundkit.schedules import Balanced

    got = bound_exact(Balanced(), [1] * rounds)
    want = [sum((Fraction(1, j) for j in range(1, m + 1)), Fraction(0))
            for m in range(1, rounds + 1)]
    return got == want or f"bound_exact {got} != harmonic numbers {want}"


PROOF = Proof(
    name="R4",
    title="Balanced schedule: harmonic drift",
    claim=r"e_{i+1} \le \delta H_{i+1} \approx \delta(\ln(i+1) + \gamma)",
    assumptions=(r"\alpha_i = \beta_{i,k} = 1/(i+1)", r"\delta_k = \delta > 0", r"n \ge 1"),
    steps=(
        Step("harmonic sum lemma",
             r"\sum_{k\le n} H_k = (n+1)H_n - n",
             lambda: Induction(n, 1, lambda m: (m + 1) * H(m) - m,
                               lambda cl, m: cl(m) + H(m + 1), direct=_sum_h)),
        Step("balanced recursion solved by delta H_i (strong induction)",
             r"b_{i+1} = \delta + \tfrac{1}{i+1}\sum_{k\le i}\delta H_k"
             r" = \delta\big(1 + H_i - \tfrac{i}{i+1}\big) = \delta H_{i+1}",
             lambda: Induction(n, 1, lambda m: delta * H(m), _balanced_step,
                               direct=_balanced_direct)),
        Step("H_n - ln n tends to Euler's gamma",
             r"\lim_{n\to\infty} H_n - \ln n = \gamma",
             lambda: Limit(H(n) - sp.log(n), n, sp.oo, sp.EulerGamma)),
        Step("u - ln(1+u) increases",
             r"\tfrac{d}{du}\big(u - \ln(1+u)\big) = \tfrac{u}{1+u}",
             lambda: Identity(sp.diff(u - sp.log(1 + u), u), u / (1 + u))),
        Step("so H_i > ln(i+1): the drift exceeds ln i",
             r"\tfrac{u}{1+u} > 0 \Rightarrow \tfrac1k > \ln(1+\tfrac1k)"
             r" \Rightarrow H_i > \ln(i+1)",
             lambda: Sign(u / (1 + u), ">0")),
        Step("boundkit's balanced bound is H_k",
             r"\texttt{bound\_exact}(\text{Balanced}, \delta = 1) = (H_1, \dots, H_N)",
             lambda: Instances("rounds N", (1, 5, 12), _boundkit_agrees)),
    ),
    mutants=(
        Step("MUTANT: the harmonic bound replaced by ln i",
             r"b_i = \delta \ln i",
             lambda: Induction(n, 1, lambda m: delta * sp.log(m), _balanced_step,
                               direct=_balanced_direct)),
        Step("MUTANT: harmonic sum lemma without the +1",
             r"\sum_{k\le n} H_k = n H_n - n",
             lambda: Induction(n, 1, lambda m: m * H(m) - m,
                               lambda cl, m: cl(m) + H(m + 1), direct=_sum_h)),
    ),
    summary="Lemma and main claim by induction; the ln i comparison by monotonicity.",
)
