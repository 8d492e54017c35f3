r"""R5, a constant real share α (docs/theory.md §4), as checked steps.

.. math::
    b_{i+1} = \delta + (1-\alpha)\,b_i \Rightarrow
    b_m = \delta\,\frac{1 - (1-\alpha)^m}{\alpha} \le \frac{\delta}{\alpha}.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from proofs._core import Proof, Step
from proofs.checks_symbolic import Induction, Instances, Limit, Sign

m = sp.Symbol("m", integer=True, positive=True)
alpha, delta, s = sp.symbols("alpha delta s", positive=True)
q = sp.Symbol("q", nonnegative=True)  # q = 1 − α


def _closed(k):
    return delta * (1 - (1 - alpha) ** k) / alpha


def _direct(k: int) -> sp.Expr:
    """b_k from the recursion itself: b_1 = δ, b_{j+1} = δ + (1−α) b_j."""
    b = delta
    for _ in range(k - 1):
        b = delta + (1 - alpha) * b
    return b


def _boundkit_agrees(share: str) -> bool | str:
    from boundkit.recursion import bound_exact
    from boundkit.schedules import ConstantRealShare

    a = Fraction(share)
    got = bound_exact(ConstantRealShare(a), [1] * 8)
    want = [(1 - (1 - a) ** k) / a for k in range(1, 9)]
    return got == want or f"bound_exact {got} != {want}"


PROOF = Proof(
    name="R5",
    title="Constant real share: a geometric bound",
    claim=r"e_{i+1} \le \delta\,\frac{1-(1-\alpha)^{i+1}}{\alpha} \le \frac{\delta}{\alpha}",
    assumptions=(r"0 < \alpha \le 1,\ \beta_{i,i} = 1 - \alpha", r"\delta_k = \delta > 0"),
    steps=(
        Step("geometric sum by induction",
             r"b_1 = \delta,\ b_{m+1} = \delta + (1-\alpha)b_m"
             r" \Rightarrow b_m = \delta\,\tfrac{1-(1-\alpha)^m}{\alpha}",
             lambda: Induction(m, 1, _closed, lambda cl, k: delta + (1 - alpha) * cl(k),
                               direct=_direct)),
        Step("uniform bound delta/alpha",
             r"\tfrac{\delta}{\alpha} - \delta\tfrac{1 - q^m}{\alpha} = \tfrac{\delta q^m}{\alpha}"
             r" \ge 0,\ q = 1-\alpha \ge 0",
             lambda: Sign(sp.simplify(delta / alpha - delta * (1 - q**m) / alpha), ">=0")),
        Step("the bound approaches delta/alpha",
             r"\lim_{m\to\infty} \delta\tfrac{1 - q^m}{\alpha} = \tfrac{\delta}{\alpha},"
             r"\ q = \tfrac{1}{1+s} \in (0, 1)",
             lambda: Limit(delta * (1 - (1 / (1 + s)) ** m) / alpha, m, sp.oo, delta / alpha)),
        Step("boundkit's constant-share bound matches",
             r"\texttt{bound\_exact}(\text{ConstantRealShare}(\alpha), \delta = 1)",
             lambda: Instances("shares alpha", ("1", "1/2", "1/3", "9/10", "1/1000"),
                               _boundkit_agrees)),
    ),
    mutants=(
        Step("MUTANT: geometric bound without the 1/alpha factor",
             r"b_m = \delta\,(1 - (1-\alpha)^m)",
             lambda: Induction(m, 1, lambda k: delta * (1 - (1 - alpha) ** k),
                               lambda cl, k: delta + (1 - alpha) * cl(k), direct=_direct)),
    ),
    summary="Geometric recursion by induction; the uniform bound δ/α by a sign.",
)
