"""R6 with a floor C0 > 0 (docs/theory.md §4): a real maximum or an honest "none"."""

from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from boundkit import lambda_critical, phase_transition, risk
from boundkit import strategies as bst

R = Fraction(1, 4)


def test_tiny_floor_recovers_the_pure_power_law():
    gens = [1, 2, 10]
    with_floor = phase_transition(R, gens, floor=1e-13)
    pure = lambda_critical(gens, R)
    for p, lam in zip(with_floor, pure, strict=True):
        assert p.certified
        assert p.lambda_critical == pytest.approx(lam, rel=1e-9)


def test_no_transition_is_reported_not_invented():
    # B_1 = ((1+λ)^{-1/4} + 10)(1+λ)(1 − x²) rises on all of (0, 10]
    (p,) = phase_transition(R, [1], floor=10, lam_max=10)
    assert p.lambda_critical is None and p.lambda_break_even is None
    assert not p.certified
    assert "no phase transition" in p.note
    grid = np.linspace(0, 10, 20001)
    assert np.all(np.diff(risk(1, grid, R, floor=10)) > 0)


def _b_mp(i, lam, r, c0, n=100, const=1):
    """B_i(λ) with a floor at 50 digits (mpmath), independent of boundkit's float code."""
    lam = mpmath.mpf(lam)
    rr = mpmath.mpf(r.numerator) / r.denominator
    x = lam / (1 + lam)
    c0 = mpmath.mpf(c0.numerator) / c0.denominator
    return (const * ((1 + lam) * n) ** (-rr) + c0) * (1 + lam) * (1 - x ** (i + 1))


@given(bst.rates(), st.integers(1, 30), st.fractions(Fraction(1, 1000), 2, max_denominator=1000))
def test_floor_maximum_is_a_real_local_maximum(r, i, c0):
    (p,) = phase_transition(r, [i], floor=c0, n=100, lam_max=1e8)
    if p.lambda_critical is None:
        grid = np.geomspace(1e-9, 1e8, 4000)
        values = risk(i, grid, r, n=100, floor=c0)
        assert np.all(np.diff(values) >= -1e-12 * values[1:])
        return
    lo, hi = p.enclosure
    assert p.certified and lo <= p.lambda_critical <= hi
    with mpmath.workdps(50):
        # a maximum lies in [lo, hi]: B rises at lo and falls at hi (50-digit derivative)
        assert mpmath.diff(lambda v: _b_mp(i, v, r, c0), lo) > 0
        assert mpmath.diff(lambda v: _b_mp(i, v, r, c0), hi) < 0
        b0 = _b_mp(i, 0, r, c0)
        assert p.ratio_at_peak == pytest.approx(float(_b_mp(i, p.lambda_critical, r, c0) / b0),
                                                rel=1e-12)
        if p.lambda_break_even is not None:
            assert p.lambda_break_even > p.lambda_critical
            assert float(_b_mp(i, p.lambda_break_even, r, c0) / b0) == pytest.approx(1, rel=1e-9)


def test_floor_moves_the_peak_right_and_limits_the_decline():
    (pure,) = phase_transition(R, [5])
    (floored,) = phase_transition(R, [5], floor=0.05, n=10_000)
    assert floored.lambda_critical > pure.lambda_critical
    # with a floor, B_i → (i+1) C0 > 0 instead of 0
    far = risk(5, 1e12, R, n=10_000, floor=0.05)
    assert far == pytest.approx(6 * 0.05, rel=1e-2)


def test_lam_max_is_validated():
    with pytest.raises(ValueError, match="lam_max must be finite"):
        phase_transition(R, [1], floor=0.1, lam_max=float("inf"))
