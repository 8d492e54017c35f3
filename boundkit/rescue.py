r"""R3: how much real data the final round needs under full synthetic data.

docs/theory.md §4, R3. Full synthetic until round i, then real share α_i:

.. math::
    e_{i+1} \le \delta\,(1 + (1-\alpha_i)\,i), \qquad
    e_{i+1} \le c\,\delta \iff \alpha_i \ge 1 - \frac{c-1}{i},

so α_i ≥ (i−1)/i gives e_{i+1} ≤ 2δ: the paper's Ω((i−1)/i) real data.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from boundkit._checks import check_generation, check_positive, check_tv, to_fraction
from boundkit.errors import InvalidArgument

_GEN0 = ("R3 needs generation >= 1: round 0 trains on real data only, so there is no "
         "synthetic data to rescue")


def _rescue_generation(generation) -> int:
    if isinstance(generation, int | np.integer) and not isinstance(generation, bool) and (
            generation == 0):
        raise InvalidArgument(f"{_GEN0}. Pass generation=1 or more.", argument="generation")
    return check_generation(generation)


def rescue_share(generation: int, factor=2) -> Fraction:
    r"""The smallest final-round real share α_i that keeps e_{i+1} ≤ c δ (R3), exactly.

    Parameters
    ----------
    generation : int
        The rescued round i ≥ 1.
    factor : number
        c ≥ 1 (default 2, the paper's e_{i+1} ≤ 2δ).

    Returns
    -------
    Fraction
        1 − (c − 1)/i, clipped at 0 once c − 1 ≥ i.

    Notes
    -----
    .. math::
        e_{i+1} \le \delta(1 + (1-\alpha_i) i) \le c\,\delta
        \iff \alpha_i \ge 1 - \frac{c-1}{i}

    References
    ----------
    docs/theory.md §4, R3 (the paper's Ω((i−1)/i) real data).

    Examples
    --------
    >>> rescue_share(5)
    Fraction(4, 5)
    """
    g = _rescue_generation(generation)
    c = to_fraction(factor, "factor")
    if c < 1:
        raise InvalidArgument(
            f"factor must be >= 1 (even all-real data leaves e <= delta); got {factor}. "
            f"Pass e.g. factor=2.", argument="factor"
        )
    return max(Fraction(0), 1 - (c - 1) / g)


def rescue_share_for_eps(generation: int, eps, delta) -> Fraction | None:
    """The smallest final-round real share α_i with δ(1 + (1 − α_i) i) ≤ ε.

    Parameters
    ----------
    generation : int
        The rescued round i ≥ 1.
    eps : number
        The target ε > 0.
    delta : number
        The per-round error δ ∈ (0, 1].

    Returns
    -------
    Fraction or None
        The share, or None when ε < δ (even all-real data leaves e_{i+1} up to δ).

    References
    ----------
    docs/theory.md §4, R3.

    Examples
    --------
    >>> rescue_share_for_eps(4, "1/5", "1/10")
    Fraction(3, 4)
    """
    _rescue_generation(generation)
    e = check_positive(eps, "eps", "0.1")
    d = check_tv(delta, "delta")
    if e < d:
        return None
    return rescue_share(generation, e / d)
