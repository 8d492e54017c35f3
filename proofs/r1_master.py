r"""R1, the master inequality (docs/theory.md §2), as checked steps.

.. math::
    e_{i+1} \le \delta_i + \sum_k \beta_{i,k} e_k, \qquad
    \delta_i \le \sqrt{\mathrm{KL}(\pi_i \| p_{i+1}) / 2}, \qquad b = (I - B)^{-1}\delta.

Proof: triangle inequality through π_i; π_i − p_0 = Σ_k β_{i,k}(p_k − p_0), so
TV(π_i, p_0) ≤ Σ_k β_{i,k} e_k (convexity); Pinsker; unrolling with B strictly
lower triangular, whose inverse (I − B)^{-1} = Σ_{j<N} B^j is entrywise ≥ 0.
"""

from __future__ import annotations

import random
from fractions import Fraction

import sympy as sp
from flint import arb, fmpq

from proofs._core import Proof, Step
from proofs.checks_distributions import (
    NoCounterexample,
    kl,
    mix,
    mixture_setups,
    pairs,
    push,
    tv,
)
from proofs.checks_interval import SignOnBox
from proofs.checks_symbolic import Identity, Instances, Sign

MODELS = 4  # the mixture identity is checked symbolically for m = 1..MODELS


def _mixture_identity() -> Identity:
    """π − p0 = Σ β_k (p_k − p0) with α = 1 − Σ β_k, for m = 1..4 models at once."""
    lhs, rhs = [], []
    for m in range(1, MODELS + 1):
        p = sp.symbols(f"p0:{m + 1}", real=True)
        b = sp.symbols(f"beta1:{m + 1}", nonnegative=True)
        alpha = 1 - sum(b)
        lhs.append(alpha * p[0] + sum(bk * pk for bk, pk in zip(b, p[1:], strict=True)) - p[0])
        rhs.append(sum(bk * (pk - p[0]) for bk, pk in zip(b, p[1:], strict=True)))
    return Identity(sp.Matrix(lhs), sp.Matrix(rhs))


def _round(setup):
    p0, models, a, b, p_next = setup
    return p0, models, b, p_next, mix([a, *b], [p0, *models])


def _triangle_violated(setup) -> bool:
    p0, _, _, p_next, pi = _round(setup)
    margin = tv(p_next, pi) + tv(pi, p0) - tv(p_next, p0)
    push(margin, "triangle")
    return margin < 0


def _convexity_violated(setup, power: int = 1) -> bool:
    p0, models, b, _, pi = _round(setup)
    margin = sum((bk**power * tv(pk, p0) for bk, pk in zip(b, models, strict=True)),
                 Fraction(0)) - tv(pi, p0)
    push(margin, "convexity")
    return margin < 0


def _master_violated(setup) -> bool:
    p0, models, b, p_next, pi = _round(setup)
    e = [tv(pk, p0) for pk in models]
    margin = tv(p_next, pi) + sum((bk * ek for bk, ek in zip(b, e, strict=True)), Fraction(0))
    margin -= tv(p_next, p0)
    push(margin, "master")
    return margin < 0


def _pinsker_violated(pq, denominator: int = 2) -> bool:
    """TV² > KL/denominator, certified in arb (so never claimed on rounding)."""
    p, q = pq
    t = tv(p, q)
    t2 = arb(fmpq(t.numerator, t.denominator)) ** 2
    k = kl(p, q) / denominator
    push(float((k - t2).mid()), "pinsker")
    return bool(t2 > k)


mu = sp.Symbol("mu", positive=True)
sigma = sp.Symbol("sigma", positive=True)
z = sp.Symbol("z", positive=True)
#: TV(N(0,1), N(μ,1)) = erf(μ / (2√2)); KL = μ²/2.
TV_LOCATION = sp.erf(mu / (2 * sp.sqrt(2)))
KL_LOCATION = mu**2 / 2
#: σ > 1: the densities of N(0,1) and N(0,σ²) cross at ±x*, x*² = 2σ² ln σ / (σ² − 1).
X_STAR = sp.sqrt(2 * sigma**2 * sp.log(sigma) / (sigma**2 - 1))
TV_SCALE = sp.erf(X_STAR / sp.sqrt(2)) - sp.erf(X_STAR / (sigma * sp.sqrt(2)))
KL_SCALE = sp.log(sigma) + 1 / (2 * sigma**2) - sp.Rational(1, 2)


def _unrolled(n: int):
    """(I − B)·Σ_{j<N} B^j = I for a symbolic strictly lower-triangular B (N = n)."""
    b = sp.Matrix(n, n, lambda r, c: sp.Symbol(f"beta_{r}{c}", nonnegative=True) if c < r else 0)
    series = sum((b**j for j in range(n)), sp.zeros(n, n))
    return Identity((sp.eye(n) - b) * series, sp.eye(n))


def _boundkit_agrees(seed: int) -> bool | str:
    """boundkit's symbolic R1 solver equals (I − B)^{-1} δ for a random exact schedule."""
    from boundkit.recursion import bound_symbolic
    from boundkit.schedules import GeneralSchedule

    rng = random.Random(seed)
    rounds = 5
    alpha, beta = [], []
    for j in range(1, rounds + 1):
        w = [rng.randint(0, 5) for _ in range(j + 1)]
        w[0] += 1
        alpha.append(Fraction(w[0], sum(w)))
        beta.append([Fraction(x, sum(w)) for x in w[1:]])
    got = bound_symbolic(GeneralSchedule(tuple(alpha), tuple(map(tuple, beta))), rounds)
    deltas = sp.Matrix(sp.symbols(f"delta_0:{rounds + 1}", positive=True))
    big_b = sp.zeros(rounds + 1, rounds + 1)
    for j, row in enumerate(beta, start=1):
        for k, w in enumerate(row):
            big_b[j, k] = sp.Rational(w.numerator, w.denominator)
    want = (sp.eye(rounds + 1) - big_b).inv() * deltas
    diff = [sp.expand(g - w) for g, w in zip(got, want, strict=True)]
    return all(d == 0 for d in diff) or f"residuals {diff}"


PROOF = Proof(
    name="R1",
    title="Master inequality and its unrolled bound",
    claim=r"e_{i+1} \le \delta_i + \sum_k \beta_{i,k} e_k,\quad b = (I - B)^{-1}\delta",
    assumptions=(
        r"\alpha_i, \beta_{i,k} \ge 0,\ \alpha_i + \sum_k \beta_{i,k} = 1",
        r"\text{all distributions on one space; TV is half the } L^1 \text{ distance}",
        r"e_k = \mathrm{TV}(p_k, p_0),\ \delta_i = \mathrm{TV}(p_{i+1}, \pi_i)",
    ),
    steps=(
        Step("mixture minus p0",
             r"\pi_i - p_0 = \sum_k \beta_{i,k}(p_k - p_0)\quad(m = 1..4\text{ models})",
             _mixture_identity),
        Step("triangle inequality through pi_i",
             r"\mathrm{TV}(p_{i+1},p_0) \le \mathrm{TV}(p_{i+1},\pi_i) + \mathrm{TV}(\pi_i,p_0)",
             lambda: NoCounterexample("triangle", mixture_setups(), _triangle_violated)),
        Step("convexity of TV in the mixture weights",
             r"\mathrm{TV}(\pi_i, p_0) \le \sum_k \beta_{i,k} e_k",
             lambda: NoCounterexample("convexity", mixture_setups(), _convexity_violated)),
        Step("master inequality, composed",
             r"e_{i+1} \le \delta_i + \sum_k \beta_{i,k} e_k",
             lambda: NoCounterexample("master", mixture_setups(), _master_violated)),
        Step("Pinsker on discrete distributions",
             r"\mathrm{TV}(p,q)^2 \le \mathrm{KL}(p\|q)/2",
             lambda: NoCounterexample("Pinsker", pairs(), _pinsker_violated)),
        Step("erf grows no faster than its tangent at 0",
             r"\tfrac{d}{dz}\big(\tfrac{2z}{\sqrt\pi} - \operatorname{erf} z\big)"
             r" = \tfrac{2}{\sqrt\pi}\big(1 - e^{-z^2}\big)",
             lambda: Identity(sp.diff(2 * z / sp.sqrt(sp.pi) - sp.erf(z), z),
                              2 / sp.sqrt(sp.pi) * (1 - sp.exp(-z**2)))),
        Step("so erf z <= 2z/sqrt(pi) for z >= 0",
             r"-z^2 < 0 \Rightarrow e^{-z^2} < 1 \text{ (exp increasing)}"
             r"\Rightarrow \operatorname{erf} z \le 2z/\sqrt\pi",
             lambda: Sign(-(z**2), "<0")),
        Step("Pinsker, Gaussian location family, every mu",
             r"\mathrm{TV}^2 = \operatorname{erf}^2\tfrac{\mu}{2\sqrt2} \le \tfrac{\mu^2}{2\pi}"
             r" < \tfrac{\mu^2}{4} = \mathrm{KL}/2",
             lambda: Sign(KL_LOCATION / 2 - (2 * mu / (2 * sp.sqrt(2) * sp.sqrt(sp.pi))) ** 2,
                          ">0")),
        Step("Pinsker, Gaussian location family, certified",
             r"\mathrm{KL}/2 - \mathrm{TV}^2 > 0 \text{ for } N(0,1), N(\mu,1)",
             lambda: SignOnBox(KL_LOCATION / 2 - TV_LOCATION**2, {mu: (Fraction(1, 16), 6)})),
        Step("Pinsker, Gaussian scale family, certified",
             r"\mathrm{KL}/2 - \mathrm{TV}^2 > 0 \text{ for } N(0,1), N(0,\sigma^2)",
             lambda: SignOnBox(KL_SCALE / 2 - TV_SCALE**2,
                               {sigma: (Fraction(21, 20), 4)})),
        Step("unrolling: (I - B) is inverted by a finite Neumann series",
             r"(I - B)\sum_{j<N} B^j = I,\ B \text{ strictly lower triangular } (N = 5)",
             lambda: _unrolled(5)),
        Step("boundkit's R1 solver is (I - B)^{-1} delta",
             r"\texttt{bound\_symbolic} = (I - B)^{-1}\delta\ \text{(3 random exact schedules)}",
             lambda: Instances("bound_symbolic agrees", (1, 2, 3), _boundkit_agrees)),
    ),
    mutants=(
        Step("MUTANT: Pinsker with 1/8",
             r"\mathrm{TV}(p,q) \le \sqrt{\mathrm{KL}(p\|q)/8}",
             lambda: NoCounterexample("Pinsker/8", pairs(),
                                      lambda pq: _pinsker_violated(pq, 8))),
        Step("MUTANT: convexity with squared weights",
             r"\mathrm{TV}(\pi_i,p_0) \le \sum_k \beta_{i,k}^2 e_k",
             lambda: NoCounterexample("convexity²", mixture_setups(),
                                      lambda s: _convexity_violated(s, 2))),
        Step("MUTANT: Gaussian Pinsker with 1/8",
             r"\mathrm{TV}^2 \le \mathrm{KL}/8 \text{ for } N(0,1), N(\mu,1)",
             lambda: SignOnBox(KL_LOCATION / 8 - TV_LOCATION**2, {mu: (Fraction(1, 16), 6)})),
    ),
    summary="Triangle inequality, convexity and Pinsker on exact distributions; the "
    "Gaussian Pinsker case certified; unrolling exact.",
)
