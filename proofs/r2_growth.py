r"""R2, quartic sample growth under full synthetic data (docs/theory.md §4), as checked steps.

.. math::
    e_{i+1} \le \sum_{k=0}^{i}\delta_k = (i+1)\,C n^{-r} \le \varepsilon
    \iff n \ge \Big(\frac{C(i+1)}{\varepsilon}\Big)^{1/r},

n = Θ(i⁴/ε⁴) at r = 1/4; equivalently KL per round ≤ 2ε²/(i+1)². (beyond)
n_k = c k^{1/r} gives δ_k = C c^{-r}/k, a harmonic (logarithmic) drift, and
n_k ∝ k^{(1+η)/r} a uniform bound, from Σ k^{-(1+η)} ≤ 1 + 1/η.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from proofs._core import Proof, Step
from proofs.checks_interval import SignOnBox
from proofs.checks_symbolic import Identity, Induction, Instances, Limit, Sign

i = sp.Symbol("i", integer=True, positive=True)
k = sp.Symbol("k", integer=True, positive=True)
n, c_, C, eps, r, delta, kl, eta = sp.symbols("n c C epsilon r delta KL eta", positive=True)
N, t = sp.symbols("N t", positive=True)

N_STAR = (C * (i + 1) / eps) ** (1 / r)


def _full_synthetic_direct(m: int) -> sp.Expr:
    """b_m from the recursion itself: b_1 = δ, b_{j+1} = δ + 1·b_j."""
    b = delta
    for _ in range(m - 1):
        b = delta + b
    return b


def _boundkit_agrees(case) -> bool | str:
    from boundkit.error_models import PowerLaw
    from boundkit.growth import growth_exponent, samples_required
    from boundkit.schedules import FullSynthetic
    from boundkit.schedules import delta as bk_delta
    from boundkit.schedules import i as bk_i

    gen, e, rate, const = case
    want = sp.ceiling((sp.Rational(const) * (gen + 1) / sp.Rational(e)) ** (1 / sp.Rational(rate)))
    got = samples_required(gen, e, PowerLaw(rate, const))
    if got != want:
        return f"samples_required = {got}, derivation gives {want}"
    if growth_exponent(PowerLaw(rate, const)) != 1 / sp.Rational(rate):
        return "growth exponent is not 1/r"
    closed = FullSynthetic().closed_form().subs({bk_i: gen, bk_delta: 1})
    return closed == gen + 1 or f"closed form {closed} != {gen + 1}"


CASES = ((1, "1/10", "1/4", 1), (9, "1/20", "1/4", 2), (5, "1/100", "1/2", 1), (3, "1/3", "1/5", 1))

PROOF = Proof(
    name="R2",
    title="Full synthetic data: quartic sample growth",
    claim=(r"e_{i+1} \le (i+1)\delta \le \varepsilon \iff n \ge (C(i+1)/\varepsilon)^{1/r}"
           r" = \Theta(i^4/\varepsilon^4) \text{ at } r = 1/4"),
    assumptions=(r"\delta_k = C n_k^{-r},\ C > 0,\ 0 < r < 1", r"\varepsilon > 0,\ i \ge 0",
                 r"\alpha_i = 0,\ \beta_{i,i} = 1"),
    steps=(
        Step("full-synthetic recursion unrolls to a sum",
             r"b_1 = \delta,\ b_{m+1} = \delta + b_m \Rightarrow b_m = m\delta",
             lambda: Induction(i, 1, lambda m: m * delta, lambda cl, m: delta + cl(m),
                               direct=_full_synthetic_direct)),
        Step("the bound is decreasing in n",
             r"\partial_n\,(i+1)Cn^{-r} = -r(i+1)Cn^{-r-1} < 0",
             lambda: Sign(sp.diff((i + 1) * C * n ** (-r), n), "<0")),
        Step("n* makes the bound exactly epsilon",
             r"(i+1)\,C\,(n^*)^{-r} = \varepsilon,\quad n^* = (C(i+1)/\varepsilon)^{1/r}",
             lambda: Identity((i + 1) * C * N_STAR ** (-r), eps)),
        Step("growth exponent is 1/r",
             r"\lim_{i\to\infty} \log n^* / \log i = 1/r",
             lambda: Limit(sp.expand_log(sp.log(N_STAR), force=True) / sp.log(i), i, sp.oo, 1 / r)),
        Step("quartic at r = 1/4",
             r"\lim_{i\to\infty} n^*/i^4 = (C/\varepsilon)^4 \quad (r = 1/4)",
             lambda: Limit(N_STAR.subs(r, sp.Rational(1, 4)) / i**4, i, sp.oo, (C / eps) ** 4)),
        Step("KL per round (Pinsker)",
             r"\delta = \sqrt{\mathrm{KL}/2},\ \mathrm{KL} = \tfrac{2\varepsilon^2}{(i+1)^2}"
             r"\Rightarrow (i+1)\delta = \varepsilon",
             lambda: Identity((i + 1) * sp.sqrt(kl / 2).subs(kl, 2 * eps**2 / (i + 1) ** 2), eps)),
        Step("(beyond) n_k = c k^{1/r} gives a harmonic drift",
             r"C (c k^{1/r})^{-r} = C c^{-r} / k \Rightarrow \sum_{k\le i}\delta_k = Cc^{-r}H_i",
             lambda: Identity(C * (c_ * k ** (1 / r)) ** (-r), C * c_ ** (-r) / k)),
        Step("(beyond) the tail term is an integral of a decreasing function",
             r"\int_N^{N+1} t^{-1-\eta}\,dt = \big(N^{-\eta} - (N+1)^{-\eta}\big)/\eta",
             lambda: Identity(sp.integrate(t ** (-1 - eta), (t, N, N + 1)),
                              (N ** (-eta) - (N + 1) ** (-eta)) / eta)),
        Step("(beyond) so sum_k k^{-1-eta} <= 1 + 1/eta: uniform bound",
             r"\partial_t\, t^{-1-\eta} < 0 \Rightarrow (N+1)^{-1-\eta} \le"
             r" \int_N^{N+1} t^{-1-\eta}dt,\ \sum_{k\ge1} k^{-1-\eta} \le 1 + 1/\eta",
             lambda: Sign(sp.diff(t ** (-1 - eta), t), "<0")),
        Step("boundkit's samples_required and growth exponent match",
             r"\texttt{samples\_required} = \lceil n^* \rceil,\ \texttt{growth\_exponent} = 1/r",
             lambda: Instances("exact cases (i, eps, r, C)", CASES, _boundkit_agrees)),
    ),
    mutants=(
        Step("MUTANT: cubic growth suffices at r = 1/4",
             r"(i+1)\,C\,n^{-1/4} \le \varepsilon \text{ with } n = (C(i+1)/\varepsilon)^{3}",
             lambda: SignOnBox(
                 eps - (i + 1) * C * ((C * (i + 1) / eps) ** 3) ** sp.Rational(-1, 4),
                 {i: (1, 1000), C: (Fraction(1, 2), 2), eps: (Fraction(1, 100), Fraction(1, 2))},
                 ">=0")),
        Step("MUTANT: full synthetic bound i*delta",
             r"b_m = (m-1)\delta",
             lambda: Induction(i, 1, lambda m: (m - 1) * delta, lambda cl, m: delta + cl(m),
                               direct=_full_synthetic_direct)),
    ),
    summary="Unrolled sum by induction; n* solves the bound exactly; exponent 1/r by a limit.",
)
