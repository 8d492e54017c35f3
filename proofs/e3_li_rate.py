r"""E3, the Li et al. (2023) diffusion rate (docs/theory.md §3), as checked steps.

With optimal early stopping (R7) and m = n, KL ∝ n^{-2/5}, so by Pinsker
δ = √(KL/2) ≍ n^{-1/5}: r = 1/5, and R2's n ≥ (C(i+1)/ε)^{1/r} grows like
i⁵, *quintic*, not quartic **(beyond)**.
"""

from __future__ import annotations

import sympy as sp

from proofs._core import Proof, Step
from proofs.checks_symbolic import Instances, Limit
from proofs.r7_early_stopping import KL, TAU_D, m, n, tau

i = sp.Symbol("i", integer=True, positive=True)
C, eps = sp.symbols("C epsilon", positive=True)

DELTA = sp.sqrt(KL.subs(tau, TAU_D).subs(m, n) / 2)
N_STAR_E3 = (C * (i + 1) / eps) ** 5


def _boundkit_agrees(width: str) -> bool | str:
    from boundkit.early_stopping import LiDiffusion
    from boundkit.growth import growth_exponent

    model = LiDiffusion(width_factor=sp.Rational(width))
    if model.rate != sp.Rational(1, 5):
        return f"LiDiffusion rate {model.rate}, not 1/5"
    return growth_exponent(model) == 5 or f"growth exponent {growth_exponent(model)}, not 5"


PROOF = Proof(
    name="E3",
    title="Li et al. (2023) diffusion: quintic, not quartic, growth",
    claim=r"\delta \asymp n^{-1/5} \Rightarrow n \ge (C(i+1)/\varepsilon)^5",
    assumptions=(r"m \propto n\ (\text{here } m = n)", r"\tau = \tau_d = (mn/4)^{1/5}\ (R7)",
                 r"\delta = \sqrt{\mathrm{KL}/2}\ (\text{Pinsker})"),
    steps=(
        Step("log-log rate of delta",
             r"\lim_{n\to\infty} \log\delta / \log n = -1/5",
             lambda: Limit(sp.log(DELTA) / sp.log(n), n, sp.oo, sp.Rational(-1, 5))),
        Step("elasticity of delta",
             r"\lim_{n\to\infty} -n\,\delta'(n)/\delta(n) = 1/5",
             lambda: Limit(-n * sp.diff(DELTA, n) / DELTA, n, sp.oo, sp.Rational(1, 5))),
        Step("R2 with r = 1/5: growth exponent 5",
             r"\lim_{i\to\infty}\log n^*/\log i = 5,\ n^* = (C(i+1)/\varepsilon)^5",
             lambda: Limit(sp.expand_log(sp.log(N_STAR_E3), force=True) / sp.log(i), i, sp.oo, 5)),
        Step("so quartic sizes do not suffice",
             r"\lim_{i\to\infty} n^*/i^4 = \infty",
             lambda: Limit(N_STAR_E3 / i**4, i, sp.oo, sp.oo)),
        Step("boundkit derives r = 1/5 and exponent 5",
             r"\texttt{LiDiffusion().rate} = 1/5,\ \texttt{growth\_exponent} = 5",
             lambda: Instances("width factors m/n", ("1", "1/2", "3"), _boundkit_agrees)),
    ),
    mutants=(
        Step("MUTANT: E3 gives quartic growth",
             r"\lim_{i\to\infty}\log n^*/\log i = 4",
             lambda: Limit(sp.expand_log(sp.log(N_STAR_E3), force=True) / sp.log(i), i, sp.oo, 4)),
        Step("MUTANT: E3 has the fu2024 rate 1/4",
             r"\lim_{n\to\infty} \log\delta / \log n = -1/4",
             lambda: Limit(sp.log(DELTA) / sp.log(n), n, sp.oo, sp.Rational(-1, 4))),
    ),
    summary="Rate 1/5 by two limits; quintic growth through R2.",
)
