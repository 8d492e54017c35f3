r"""E4, kernel density estimation (docs/theory.md §3), as checked steps.

.. math::
    R(h) = c_b h^s + c_v (n h^d)^{-1/2},\qquad
    h^* = \Big(\frac{d c_v}{2 s c_b}\Big)^{2/(2s+d)} n^{-1/(2s+d)},\qquad
    R(h^*) \propto n^{-s/(2s+d)},

and convolution with a kernel does not increase TV.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp
from hypothesis import strategies as st

from proofs._core import Proof, Step
from proofs.checks_distributions import NoCounterexample, distributions, push, tv
from proofs.checks_symbolic import Identity, Instances, Limit, Sign

s, d = sp.symbols("s d", integer=True, positive=True)
h, n, c_b, c_v = sp.symbols("h n c_b c_v", positive=True)

RISK = c_b * h**s + c_v * n ** sp.Rational(-1, 2) * h ** (-d / 2)
H_STAR = (d * c_v / (2 * s * c_b)) ** (2 / (2 * s + d)) * n ** (-1 / (2 * s + d))
SECOND = (c_b * s * (s - 1) * h**s + c_v * (d / 2) * (d / 2 + 1) * n ** sp.Rational(-1, 2)
          * h ** (-d / 2)) / h**2


def convolve(p, k):
    """(p * k)_j = Σ_a p_a k_{j−a} on {0, …, len(p)+len(k)−2}, exactly."""
    out = [Fraction(0)] * (len(p) + len(k) - 1)
    for a, pa in enumerate(p):
        for b, kb in enumerate(k):
            out[a + b] += pa * kb
    return tuple(out)


@st.composite
def smoothing_setups(draw):
    """(p, q, kernel) with p, q on one support and a kernel of any small width."""
    size = draw(st.integers(2, 6))
    return draw(distributions(size)), draw(distributions(size)), draw(distributions(
        draw(st.integers(1, 4))))


def _smoothing_violated(setup, *, equality: bool = False) -> bool:
    p, q, k = setup
    margin = tv(p, q) - tv(convolve(p, k), convolve(q, k))
    push(margin, "smoothing")
    return margin != 0 if equality else margin < 0


def _boundkit_agrees(case) -> bool | str:
    from boundkit.error_models import KDE
    from boundkit.error_models import n as bk_n

    order, dim = case
    model = KDE(s=order, d=dim)
    want_rate = sp.Rational(order, 2 * order + dim)
    if model.rate != want_rate:
        return f"KDE rate {model.rate}, derivation {want_rate}"
    want_h = H_STAR.subs({s: order, d: dim, c_b: 1, c_v: 1, n: bk_n})
    return sp.simplify(model.h_star - want_h) == 0 or f"h* = {model.h_star}, not {want_h}"


PROOF = Proof(
    name="E4",
    title="KDE: optimal bandwidth and rate",
    claim=r"h^* \propto n^{-1/(2s+d)},\ r = \tfrac{s}{2s+d}",
    assumptions=(r"\text{kernel of order } s \ge 1,\ \text{density in } W^{s,1}(\mathbb{R}^d)",
                 r"c_b, c_v, n, h > 0,\ d \ge 1"),
    steps=(
        Step("h* is a stationary point of the risk",
             r"R'(h^*) = 0",
             lambda: Identity(sp.diff(RISK, h).subs(h, H_STAR), 0)),
        Step("second derivative, written out",
             r"R''(h) = h^{-2}\big[c_b s(s-1)h^s + c_v\tfrac d2(\tfrac d2 + 1)"
             r"n^{-1/2}h^{-d/2}\big]",
             lambda: Identity(sp.diff(RISK, h, 2), SECOND)),
        Step("the risk is convex, so h* is the minimiser",
             r"R''(h) > 0\ (s \ge 1)",
             lambda: Sign(SECOND, ">0")),
        Step("rate s/(2s+d)",
             r"\lim_{n\to\infty} \log R(h^*)/\log n = -s/(2s+d)",
             lambda: Limit(sp.expand_log(sp.log(RISK.subs(h, H_STAR)), force=True) / sp.log(n),
                           n, sp.oo, -s / (2 * s + d))),
        Step("smoothing does not increase TV",
             r"\mathrm{TV}(p * K, q * K) \le \mathrm{TV}(p, q)",
             lambda: NoCounterexample("convolution", smoothing_setups(), _smoothing_violated)),
        Step("boundkit's KDE rate and h* match",
             r"\texttt{KDE}(s, d).\texttt{rate} = s/(2s+d),\ \texttt{h\_star} = h^*",
             lambda: Instances("(s, d)", ((1, 1), (2, 1), (2, 2), (4, 3)), _boundkit_agrees)),
    ),
    mutants=(
        Step("MUTANT: h* without the factor 2",
             r"R'\big((d c_v/(s c_b))^{2/(2s+d)} n^{-1/(2s+d)}\big) = 0",
             lambda: Identity(sp.diff(RISK, h).subs(
                 h, (d * c_v / (s * c_b)) ** (2 / (2 * s + d)) * n ** (-1 / (2 * s + d))), 0)),
        Step("MUTANT: rate s/(s+d)",
             r"\lim_{n\to\infty} \log R(h^*)/\log n = -s/(s+d)",
             lambda: Limit(sp.expand_log(sp.log(RISK.subs(h, H_STAR)), force=True) / sp.log(n),
                           n, sp.oo, -s / (s + d))),
        Step("MUTANT: smoothing preserves TV exactly",
             r"\mathrm{TV}(p * K, q * K) = \mathrm{TV}(p, q)",
             lambda: NoCounterexample("convolution", smoothing_setups(),
                                      lambda x: _smoothing_violated(x, equality=True))),
    ),
    summary="Stationarity and convexity of the bias-variance bound; the rate by a limit.",
)
