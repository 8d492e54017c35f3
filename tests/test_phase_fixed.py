"""R6 under the fixed-real round-0 convention (docs/theory.md §4): three routes, one answer."""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from boundkit import (
    FixedRatio,
    InvalidArgument,
    bound_values,
    lambda_critical,
    lambda_critical_certified,
    lambda_critical_exact,
    phase_transition,
    risk,
    risk_expr,
)

RATES = ["1/4", "2/5", "1/2", "1/3"]


@pytest.mark.parametrize("r", RATES)
def test_generation_one_closed_form(r):
    """λ'_1 = r^{-1/(1-r)} − 1 (d/dλ of x + (1+λ)^{-r} vanishes there)."""
    q = Fraction(r)
    want = float(q) ** (-1 / (1 - float(q))) - 1
    assert lambda_critical([1], r, convention="fixed-real")[0] == pytest.approx(want, rel=1e-13)
    exact = lambda_critical_exact(1, r, convention="fixed-real")
    assert float(exact) == pytest.approx(want, rel=1e-14)


@pytest.mark.parametrize("r", RATES)
@pytest.mark.parametrize("i", [2, 3, 5, 8])
def test_three_routes_agree(r, i):
    lam = lambda_critical([i], r, convention="fixed-real")[0]
    exact = float(sp.N(lambda_critical_exact(i, r, convention="fixed-real"), 30))
    enc = lambda_critical_certified(i, r, convention="fixed-real")
    assert enc.certified and enc.lo <= exact <= enc.hi
    assert lam == pytest.approx(exact, rel=1e-12)


def test_risk_is_r1_unrolled_with_round0_on_n_real_points():
    """B_i(λ) equals R1's forward substitution with δ_0 = C n^{-r}, δ_k = C((1+λ)n)^{-r}."""
    c, n, r = 0.7, 300.0, 0.4
    for lam in [0.25, 1.0, 3.0, 40.0]:
        deltas = np.full(9, c * ((1 + lam) * n) ** -r)
        deltas[0] = c * n**-r
        b = bound_values(FixedRatio(lam), deltas)
        for gen in range(1, 9):
            got = risk(gen, lam, r, c, n, convention="fixed-real")
            assert got == pytest.approx(b[gen], rel=1e-13)


def test_risk_expr_matches_float():
    expr = risk_expr(3, "1/4", convention="fixed-real")
    lam = sp.Symbol("lambda", nonnegative=True)
    for v in [0.5, 2.0, 9.0]:
        assert float(expr.subs(lam, v)) == pytest.approx(risk(3, v, "1/4",
                                                               convention="fixed-real"))


@settings(max_examples=60, deadline=None)
@given(st.fractions(Fraction(1, 50), Fraction(49, 50)), st.integers(1, 2000))
def test_peak_is_a_maximum_and_nothing_breaks_even(r, i):
    """B_i rises to λ'_i, falls after it, and stays above B_i(0) (no break-even)."""
    lam = lambda_critical([i], r, convention="fixed-real")[0]
    b = risk(i, np.array([0.0, lam * (1 - 1e-4), lam, lam * (1 + 1e-4), 1e12]), r,
             convention="fixed-real")
    assert b[2] >= b[1] and b[2] >= b[3]
    assert np.all(b[1:] > b[0])
    (point,) = phase_transition(r, [i], convention="fixed-real")
    assert point.lambda_break_even is None and "no break-even" in point.note
    assert point.certified and point.enclosure[0] <= lam <= point.enclosure[1]


def test_extremes_certified():
    for r in ["1e-12", "0.9999999999"]:
        pts = phase_transition(r, [1, 10, 10**6], convention="fixed-real")
        assert all(p.certified for p in pts)
        assert all(np.isfinite(p.lambda_critical) for p in pts)
    assert lambda_critical([1], "1e-12", convention="fixed-real")[0] == pytest.approx(
        1e-12 ** (-1 / (1 - 1e-12)) - 1, rel=1e-9)


def test_floor_tends_to_no_floor_and_is_certified():
    plain = phase_transition("1/4", [1, 2, 3], convention="fixed-real")
    tiny = phase_transition("1/4", [1, 2, 3], convention="fixed-real", floor=1e-12, n=100)
    for p, q in zip(plain, tiny, strict=True):
        assert q.certified and q.enclosure[0] <= p.lambda_critical <= q.enclosure[1]
        assert q.lambda_critical == pytest.approx(p.lambda_critical, rel=1e-5)


def test_bad_convention_and_exact_limit_refused():
    with pytest.raises(InvalidArgument, match="convention"):
        lambda_critical([1], "1/4", convention="fixed")
    with pytest.raises(InvalidArgument, match="degree"):
        lambda_critical_exact(150, "1/4", convention="fixed-real")
