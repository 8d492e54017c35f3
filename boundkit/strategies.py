"""Hypothesis strategies for valid boundkit objects, to property-test your own bounds.

Every strategy builds only valid objects (no ``assume`` filtering): weights are
drawn as non-negative integers and normalised, rates as fractions in (0, 1).

Examples
--------
>>> from hypothesis import given
>>> from boundkit import strategies as bst
>>> @given(bst.rates(), bst.generations())
... def test_mine(r, i): ...
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from boundkit.error_models import Fu2024Diffusion, GaussianMLE, PowerLaw
from boundkit.schedules import (
    Balanced,
    ConstantRealShare,
    FinalRoundRescue,
    FixedRatio,
    FullSynthetic,
    GeneralSchedule,
)


def rates(max_denominator: int = 64) -> st.SearchStrategy[Fraction]:
    """Exact rates r = p/q with 0 < p < q ≤ max_denominator."""
    return st.integers(2, max_denominator).flatmap(
        lambda q: st.integers(1, q - 1).map(lambda p: Fraction(p, q))
    )


def generations(max_value: int = 60) -> st.SearchStrategy[int]:
    """Generations i ≥ 1."""
    return st.integers(1, max_value)


def shares(allow_zero: bool = True, max_denominator: int = 32) -> st.SearchStrategy[Fraction]:
    """Real-data shares α in [0, 1] (or (0, 1])."""
    low = 0 if allow_zero else 1
    return st.integers(1, max_denominator).flatmap(
        lambda q: st.integers(low, q).map(lambda p: Fraction(p, q))
    )


def _row(size: int) -> st.SearchStrategy[tuple[Fraction, ...]]:
    """size+1 non-negative weights summing to exactly 1."""
    return st.lists(st.integers(0, 9), min_size=size + 1, max_size=size + 1).map(
        lambda ws: tuple(Fraction(w + (k == 0 and sum(ws) == 0), max(sum(ws), 1))
                         for k, w in enumerate(ws))
    )


def general_schedules(max_rounds: int = 8) -> st.SearchStrategy[GeneralSchedule]:
    """Exact general schedules with 1..max_rounds rounds (rows on the simplex)."""

    def build(rows):
        return GeneralSchedule(alpha=tuple(r[0] for r in rows), beta=tuple(r[1:] for r in rows))

    return st.integers(1, max_rounds).flatmap(
        lambda n: st.tuples(*[_row(j) for j in range(1, n + 1)]).map(build)
    )


def named_schedules() -> st.SearchStrategy:
    """One of the named schedules with exact parameters."""
    return st.one_of(
        st.just(FullSynthetic()),
        st.just(Balanced()),
        shares(allow_zero=False).map(ConstantRealShare),
        st.fractions(0, 50, max_denominator=16).map(FixedRatio),
        st.one_of(st.none(), shares()).map(FinalRoundRescue),
    )


def power_laws() -> st.SearchStrategy[PowerLaw]:
    """E1 power laws with exact r, C and floor."""
    return st.builds(
        PowerLaw,
        rates(),
        st.fractions(Fraction(1, 10), 10, max_denominator=20),
        st.one_of(st.just(Fraction(0)), st.fractions(0, Fraction(1, 10), max_denominator=100)),
    )


def error_models() -> st.SearchStrategy:
    """Error models with closed-form rates: E1, E2 and E5."""
    return st.one_of(
        power_laws(),
        st.fractions(Fraction(1, 10), 10, max_denominator=10).map(Fu2024Diffusion),
        st.fractions(Fraction(1, 10), 10, max_denominator=10).map(GaussianMLE),
    )
