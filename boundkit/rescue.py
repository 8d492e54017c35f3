r"""R3: how much real data the final round needs under full synthetic data.

THEORY.md §4, R3. Full synthetic until round i, then real share α_i:

.. math::
    e_{i+1} \le \delta\,(1 + (1-\alpha_i)\,i), \qquad
    e_{i+1} \le c\,\delta \iff \alpha_i \ge 1 - \frac{c-1}{i},

so α_i ≥ (i−1)/i gives e_{i+1} ≤ 2δ: the paper's Ω((i−1)/i) real data.
"""

from __future__ import annotations

from fractions import Fraction

from boundkit._checks import check_generation, check_positive, to_fraction


def rescue_share(generation: int, factor=2) -> Fraction:
    """Smallest final-round real share α_i with e_{i+1} ≤ factor · δ (R3), exact.

    ``factor`` (c ≥ 1) is clipped to the share 0 once c − 1 ≥ i.
    """
    g = check_generation(generation)
    c = to_fraction(factor, "factor")
    if c < 1:
        raise ValueError(
            f"factor must be >= 1 (even all-real data leaves e <= delta); got {factor}. "
            f"Pass e.g. factor=2."
        )
    return max(Fraction(0), 1 - (c - 1) / g)


def rescue_share_for_eps(generation: int, eps, delta) -> Fraction | None:
    """Smallest α_i with δ(1 + (1−α_i) i) ≤ ε, or None when ε < δ (no share suffices)."""
    e = check_positive(eps, "eps", "0.1")
    d = check_positive(delta, "delta", "0.01")
    if e < d:
        return None
    return rescue_share(generation, e / d)
