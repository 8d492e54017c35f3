"""R6 phase transition (docs/theory.md §4): exact values, the three λ' routes, properties."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, target
from hypothesis import strategies as st

from boundkit import (
    asymptotic_slope,
    asymptotic_slope_expr,
    critical_poly,
    critical_x_exact,
    lambda_critical,
    lambda_critical_certified,
    lambda_critical_exact,
    phase_transition,
    risk,
    risk_expr,
)
from boundkit import strategies as bst
from boundkit.errors import InvalidArgument

R = Fraction(1, 4)


def test_lambda_1_closed_form_is_one_minus_r_over_two_r():
    r = sp.Symbol("r", positive=True)
    for q in (Fraction(1, 4), Fraction(1, 3), Fraction(2, 7), Fraction(9, 10)):
        exact = lambda_critical_exact(1, q)
        assert exact == sp.Rational(1 - q) / (2 * sp.Rational(q))
        assert sp.simplify(exact - ((1 - r) / (2 * r)).subs(r, sp.Rational(q))) == 0


def test_lambda_2_at_quarter_is_three_plus_sqrt13_over_two():
    assert sp.simplify(lambda_critical_exact(2, R) - (3 + sp.sqrt(13)) / 2) == 0
    assert lambda_critical([2], R)[0] == pytest.approx((3 + 13**0.5) / 2, rel=1e-14)


def test_lambda_1_float_and_certified():
    assert lambda_critical([1], R)[0] == pytest.approx(1.5, rel=1e-15)
    enc = lambda_critical_certified(1, R)
    assert enc.certified and enc.lo <= 1.5 <= enc.hi and enc.hi - enc.lo < 1e-10


def test_break_even_1_at_quarter():
    # B_1(λ) = B_1(0)  <=>  1 + 2λ = (1 + λ)^{5/4}: λ⁼_1 = 12.80… (docs/theory.md)
    (p,) = phase_transition(R, [1])
    lam = p.lambda_break_even
    assert 1 + 2 * lam == pytest.approx((1 + lam) ** 1.25, rel=1e-13)
    assert 12.80 < lam < 12.81
    assert risk(1, lam, R) == pytest.approx(risk(1, 0.0, R), rel=1e-12)


def test_polynomial_matches_derivative_of_B():
    # sign(dB/dλ) = sign(h_i(x)): dB/dλ · (1+λ)^{r+1} / (C n^{-r}) = h_i(x) at x = λ/(1+λ)
    from boundkit.phase import lam, x

    quarter = sp.Rational(1, 4)
    for i in (1, 2, 5):
        b = risk_expr(i, R, const=3, n=7)
        h = critical_poly(i, R).as_expr().subs(x, lam / (1 + lam))
        ratio = sp.diff(b, lam) * (1 + lam) ** (quarter + 1) / (3 * sp.Integer(7) ** (-quarter))
        for v in (sp.Rational(1, 3), sp.Integer(2), sp.Integer(40)):
            assert sp.nsimplify(sp.N((ratio - h).subs(lam, v), 50)) == 0


@given(bst.rates(), bst.generations(40))
def test_exactly_one_critical_point_in_unit_interval(r, i):
    poly = critical_poly(i, r)
    assert poly.count_roots(0, 1) == 1
    assert poly.count_roots(0, sp.oo) == 1  # one sign change: Descartes
    coeffs = [c for c in poly.all_coeffs() if c != 0]
    assert sum(1 for a, b in itertools.pairwise(coeffs) if a * b < 0) == 1


@given(bst.rates(), bst.generations(25))
def test_three_routes_agree(r, i):
    exact = lambda_critical_exact(i, r)
    ref = float(sp.N(exact, 30))
    fast = lambda_critical([i], r)[0]
    enc = lambda_critical_certified(i, r)
    assert enc.certified
    assert enc.lo <= ref <= enc.hi
    assert enc.lo <= fast <= enc.hi
    target(-abs(fast - ref) / ref)
    assert fast == pytest.approx(ref, rel=1e-12)


@given(bst.rates(), bst.generations(200), st.floats(0.01, 0.99))
def test_B_rises_before_and_falls_after_the_threshold(r, i, frac):
    lam_c = lambda_critical([i], r)[0]
    below, above = lam_c * frac, lam_c / frac
    eps = 1e-6
    grid_lo = np.array([below * (1 - eps), below])
    grid_hi = np.array([above, above * (1 + eps)])
    lo = risk(i, grid_lo, r)
    hi = risk(i, grid_hi, r)
    target(min(lo[1] - lo[0], hi[0] - hi[1]))
    assert lo[1] > lo[0]
    assert hi[1] < hi[0]
    assert risk(i, lam_c, r) >= max(risk(i, below, r), risk(i, above, r))


@given(bst.rates())
def test_lambda_critical_increases_in_i(r):
    gens = np.arange(1, 2001)
    lam = lambda_critical(gens, r)
    assert np.all(np.diff(lam) > 0)


@given(bst.rates(), bst.generations(50))
def test_break_even_beyond_threshold_and_below_quartic_bound(r, i):
    (p,) = phase_transition(r, [i])
    assert p.lambda_break_even > p.lambda_critical
    # λ⁼ ≤ (i+1)^{1/r} − 1, from B_i(λ) ≤ (i+1) C n^{-r} (1+λ)^{-r}
    assert p.lambda_break_even <= (i + 1) ** (1 / float(r)) - 1 + 1e-9 * p.lambda_break_even
    assert p.ratio_at_peak > 1


def test_lambert_w_slope_value_and_convergence():
    # u* = 0.550200…, slope 1.817518… at r = 1/4 (docs/theory.md; digits truncated)
    slope = asymptotic_slope(R)
    assert 0.550200 <= 1 / slope < 0.550201
    assert 1.817518 <= slope < 1.817519
    assert float(asymptotic_slope_expr(R)) == pytest.approx(slope, rel=1e-14)
    u = 1 / slope
    assert (1 - 0.25) * np.expm1(u) == pytest.approx(u, rel=1e-14)
    gens = np.array([10**3, 10**4, 10**5, 10**6])
    gap = np.abs(lambda_critical(gens, R) / gens - slope)
    assert np.all(np.diff(gap) < 0)
    # the gap is O(1/i): i · gap settles to a constant (within 1% from 1e5 to 1e6)
    scaled = gens * gap
    assert scaled[-1] == pytest.approx(scaled[-2], rel=1e-2)


def test_break_even_quartic_law():
    # λ⁼_i / (i+1)^{1/r} → 1 (docs/theory.md, R6 beyond)
    pts = phase_transition(R, [10, 100, 1000], certify=False)
    ratios = [p.lambda_break_even / (p.generation + 1) ** 4 for p in pts]
    assert all(abs(1 - a) > abs(1 - b) for a, b in itertools.pairwise(ratios))
    assert ratios[-1] == pytest.approx(1, abs=1e-2)


def test_no_dependence_on_n_or_const_without_floor():
    a = phase_transition(R, [1, 5, 9])
    b = phase_transition(R, [1, 5, 9], const=7, n=12345)
    assert [p.lambda_critical for p in a] == [p.lambda_critical for p in b]


def test_large_i_float_solver_all_generations():
    gens = np.arange(1, 10**5 + 1)
    lam = lambda_critical(gens, R)
    assert np.all(np.isfinite(lam)) and np.all(np.diff(lam) > 0)
    # spot-check against the exact CRootOf at a few places
    for i in (7, 31):
        assert lam[i - 1] == pytest.approx(float(sp.N(lambda_critical_exact(i, R), 30)), rel=1e-13)


def test_risk_matches_symbolic_and_limits():
    from boundkit.phase import lam

    e = risk_expr(3, R, const=2, n=16)
    for v in (0.0, 0.5, 3.0, 1e3):
        assert risk(3, v, R, const=2, n=16) == pytest.approx(float(e.subs(lam, v)), rel=1e-13)
    assert risk(3, 0.0, R, const=2, n=16) == pytest.approx(2 * 16**-0.25, rel=1e-15)
    # decline: B_i(λ) ~ (i+1) C n^{-r} (1+λ)^{-r} -> 0
    big = 1e12
    assert risk(3, big, R) == pytest.approx(4 * (1 + big) ** -0.25, rel=1e-9)
    assert sp.limit(risk_expr(3, R), lam, sp.oo) == 0
    assert sp.diff(risk_expr(3, R), lam).subs(lam, 0) > 0  # initial ascent


def test_exact_route_gives_crootof_beyond_two():
    x3 = critical_x_exact(3, R)
    assert isinstance(x3, sp.CRootOf)
    assert 0 < float(x3) < 1
    from boundkit.phase import x

    assert abs(sp.N(critical_poly(3, R).as_expr().subs(x, x3), 50)) < 1e-45


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"r": 0}, "rate must lie strictly between 0 and 1"),
        ({"r": 1}, "rate must lie strictly between 0 and 1"),
        ({"r": "abc"}, "is not a number"),
        ({"generations": [0]}, "R6 needs generation >= 1: round 0 trains on real data only"),
        ({"floor": -1}, "floor must be >= 0"),
        ({"const": 0}, "const must be > 0"),
    ],
)
def test_invalid_input_names_the_argument(kwargs, fragment):
    args = {"r": R, "generations": [1, 2]} | kwargs
    with pytest.raises(InvalidArgument, match=fragment):
        phase_transition(args.pop("r"), args.pop("generations"), **args)


@pytest.mark.parametrize("r", [Fraction(1, 10**4), Fraction(1, 100), Fraction(999, 1000),
                               1 - Fraction(1, 10**9)])
def test_extreme_rates_stay_finite_and_certified(r):
    gens = [1, 2, 3, 50, 1000]
    pts = phase_transition(r, gens)
    assert all(p.certified for p in pts)
    assert pts[0].lambda_critical == pytest.approx(float((1 - r) / (2 * r)), rel=1e-12)
    for p in pts[:4]:
        assert p.lambda_critical == pytest.approx(
            float(sp.N(lambda_critical_exact(p.generation, r), 30)), rel=1e-11)
    for p in pts:
        # λ⁼ is either a finite ratio past λ' or reported as unavailable, never inf or NaN
        assert p.lambda_break_even is None or p.lambda_critical < p.lambda_break_even < 1e301
        assert p.lambda_break_even is not None or p.generation > 1 or r < Fraction(1, 50)
