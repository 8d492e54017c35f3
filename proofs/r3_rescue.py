r"""R3, final-round real data (docs/theory.md §4), as checked steps.

.. math::
    e_{i+1} \le \delta\,\big(1 + (1-\alpha_i)\,i\big) \le c\,\delta
    \iff \alpha_i \ge 1 - \frac{c-1}{i};

    \alpha_i = \frac{i-1}{i} \Rightarrow e_{i+1} \le 2\delta.

Rounds 0..i−1 are full synthetic, so b_i = iδ (R2); the last round mixes real
data with share α_i and the latest model with 1 − α_i.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from proofs._core import Proof, Step
from proofs.checks_symbolic import Identity, Instances, Sign

i = sp.Symbol("i", integer=True, positive=True)
alpha, delta, c = sp.symbols("alpha delta c", positive=True)
s = sp.Symbol("s", nonnegative=True)

BOUND = 1 + (1 - alpha) * i  # in units of δ


def _boundkit_agrees(case) -> bool | str:
    from boundkit.recursion import bound_exact
    from boundkit.rescue import rescue_share
    from boundkit.schedules import FinalRoundRescue

    gen, factor = case
    share = rescue_share(gen, factor)
    want = max(Fraction(0), 1 - (Fraction(factor) - 1) / gen)
    if share != want:
        return f"rescue_share = {share}, derivation gives {want}"
    b = bound_exact(FinalRoundRescue(share, gen), [1] * (gen + 1))[-1]
    limit = 1 + (1 - share) * gen
    return b == limit or f"bound_exact gives {b}, derivation {limit}"


PROOF = Proof(
    name="R3",
    title="Final-round real data",
    claim=(r"\alpha_i \ge \tfrac{i-1}{i} \Rightarrow e_{i+1} \le 2\delta;\quad "
           r"e_{i+1} \le c\delta \iff \alpha_i \ge 1 - \tfrac{c-1}{i}"),
    assumptions=(r"i \ge 1,\ \delta > 0,\ c \ge 1",
                 r"\text{rounds } 0..i-1 \text{ full synthetic, so } b_i = i\delta\ (R2)",
                 r"\alpha_i \in [0, 1],\ \beta_{i,i} = 1 - \alpha_i"),
    steps=(
        Step("last round of the recursion",
             r"b_{i+1} = \delta + (1-\alpha_i)\,b_i = \delta\big(1 + (1-\alpha_i)\,i\big)",
             lambda: Identity(delta + (1 - alpha) * (i * delta), delta * BOUND)),
        Step("the bound falls as the real share rises",
             r"\partial_{\alpha_i}\,\delta(1 + (1-\alpha_i)i) = -i\delta < 0",
             lambda: Sign(sp.diff(delta * BOUND, alpha), "<0")),
        Step("the paper's share gives 2 delta",
             r"\alpha_i = (i-1)/i \Rightarrow 1 + (1-\alpha_i)\,i = 2",
             lambda: Identity(BOUND.subs(alpha, (i - 1) / i), 2)),
        Step("threshold share for factor c",
             r"\alpha_i = 1 - (c-1)/i \Rightarrow 1 + (1-\alpha_i)\,i = c",
             lambda: Identity(BOUND.subs(alpha, 1 - (c - 1) / i), c)),
        Step("any larger share stays within c delta",
             r"\alpha_i = 1 - (c-1)/i + s,\ s \ge 0 \Rightarrow c - (1 + (1-\alpha_i)i) = si \ge 0",
             lambda: Sign(sp.expand(c - BOUND.subs(alpha, 1 - (c - 1) / i + s)), ">=0")),
        Step("boundkit's rescue_share and bound_exact match",
             r"\texttt{rescue\_share}(i, c) = \max(0, 1 - (c-1)/i)",
             lambda: Instances("exact cases (i, c)",
                               ((1, 2), (2, 2), (5, 2), (10, 3), (7, "3/2"), (3, 5)),
                               _boundkit_agrees)),
    ),
    mutants=(
        Step("MUTANT: share (i-2)/i suffices for 2 delta",
             r"\alpha_i = (i-2)/i \Rightarrow 2 - (1 + (1-\alpha_i)\,i) \ge 0",
             lambda: Sign(sp.simplify(2 - BOUND.subs(alpha, (i - 2) / i)), ">=0")),
    ),
    summary="One step of R1 after R2's iδ; the threshold share solves a linear equation.",
)
