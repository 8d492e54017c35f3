"""Error models E1–E5 and custom (docs/theory.md §3): rates derived, not stored; R7 (E3)."""

import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from boundkit import (
    KDE,
    Custom,
    Fu2024Diffusion,
    GaussianMLE,
    LiDiffusion,
    PowerLaw,
    derived_rate,
    tau_star,
    tau_star_dominant,
    tau_star_exact,
)
from boundkit import strategies as bst
from boundkit.early_stopping import m, stationarity_poly, tau
from boundkit.error_models import n
from boundkit.errors import InvalidArgument


@given(bst.power_laws())
def test_power_law_rate_is_derived(model):
    expected = 0 if model.floor_const else sp.Rational(model.r.numerator, model.r.denominator)
    assert model.rate == expected
    assert model.floor == sp.Rational(model.floor_const.numerator, model.floor_const.denominator)


def test_fu2024_rate_is_quarter_and_prior_term_is_a_floor():
    assert Fu2024Diffusion().rate == sp.Rational(1, 4)
    assert Fu2024Diffusion(K=9).rate == sp.Rational(1, 4)
    assert Fu2024Diffusion(prior_kl=Fraction(1, 1000)).rate == 0
    # δ = sqrt(K n^{-1/2} / 2)
    assert Fu2024Diffusion(K=2).delta(16.0) == pytest.approx(math.sqrt(2 / 4 / 2), rel=1e-15)


def test_gaussian_mle_rate_half():
    assert GaussianMLE().rate == sp.Rational(1, 2)
    assert GaussianMLE(const=3).delta(100.0) == pytest.approx(0.3, rel=1e-15)


@pytest.mark.parametrize(("s", "d"), [(1, 1), (2, 1), (2, 2), (2, 3), (4, 5)])
def test_kde_optimal_bandwidth_and_rate(s, d):
    model = KDE(s=s, d=d, c_b=Fraction(3, 2), c_v=Fraction(2))
    # h* = (d c_v / (2 s c_b))^{2/(2s+d)} n^{-1/(2s+d)} with c_b = 3/2, c_v = 2
    ratio = sp.Rational(d) * 2 / (2 * s * sp.Rational(3, 2))
    formula = ratio ** sp.Rational(2, 2 * s + d) * n ** (-sp.Rational(1, 2 * s + d))
    assert sp.simplify(model.h_star / formula) == 1
    assert model.rate == sp.Rational(s, 2 * s + d)
    # h* minimises the risk: nearby bandwidths do worse
    h0 = float(model.h_star.subs(n, 1000))
    risk = sp.lambdify(sp.Symbol("h"), model.risk(sp.Symbol("h")).subs(n, 1000))
    assert risk(h0) < min(risk(h0 * 0.99), risk(h0 * 1.01))


def test_kde_fixed_bandwidth_leaves_bias_floor():
    model = KDE(h=Fraction(1, 10))
    assert model.rate == 0
    assert model.floor == sp.Rational(1, 100)


def test_bounded_oscillation_has_rate_zero():
    assert derived_rate(sp.sin(n) + 2) == 0


def test_custom_expression():
    model = Custom("C*n**(-1/3) + log(n)/n", {"C": 3})
    assert model.rate == sp.Rational(1, 3)
    assert model.delta(8.0) == pytest.approx(1.5 + math.log(8) / 8, rel=1e-14)
    assert Custom("log(n)/n").rate == 1


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: Custom("C*n**(-1/3)"), "symbols \\['C'\\] with no value"),
        (lambda: Custom("1/2"), "does not depend on n"),
        (lambda: Custom("n**("), "is not a formula"),
        (lambda: PowerLaw(Fraction(3, 2)), "r must lie strictly between 0 and 1"),
        (lambda: PowerLaw(Fraction(1, 4), 0), "const must be > 0"),
        (lambda: KDE(s=0), "s must be an integer in \\[1, 20\\]"),
        (lambda: GaussianMLE().delta(-1), "sample sizes n must be finite, > 0"),
        (lambda: derived_rate(n ** sp.sin(n)), "cannot derive a rate"),
    ],
)
def test_invalid_models_are_refused(make, fragment):
    with pytest.raises(InvalidArgument, match=fragment):
        make()


@given(bst.power_laws(), st.floats(1e-6, 0.5))
def test_n_for_delta_inverts_delta(model, target):
    if target <= float(model.floor_const):
        assert model.n_for_delta(target) is None
        return
    log_n = math.log(float(model.const) / (target - float(model.floor_const))) / float(model.r)
    if log_n > 709:  # the answer is beyond float64: refused, never inf
        with pytest.raises(InvalidArgument, match="beyond float64"):
            model.n_for_delta(target)
        return
    got = model.n_for_delta(target)
    assert model.delta(got) == pytest.approx(target, rel=1e-9)


def test_generic_inverse_agrees_with_power_law_closed_form():
    model = Fu2024Diffusion(K=4)
    # δ = sqrt(4 n^{-1/2}/2) = sqrt(2) n^{-1/4}, so n = (sqrt 2/target)^4 = 4/target^4
    assert model.n_for_delta(0.01) == pytest.approx(4 / 0.01**4, rel=1e-12)


# --- E3 / R7 -------------------------------------------------------------------------------


def test_dominant_balance_tau_star():
    assert sp.simplify(tau_star_dominant() - (m * n / 4) ** sp.Rational(1, 5)) == 0


def test_stationarity_polynomial_with_m_equal_n():
    # m = n: 4τ⁵ + 3τ⁴ = n² (docs/theory.md §3, E3)
    assert sp.expand(stationarity_poly(n, n) - n * (4 * tau**5 + 3 * tau**4 - n**2)) == 0


@pytest.mark.parametrize(("nv", "mv"), [(100, 100), (10**4, 10**4), (500, 2000)])
def test_tau_star_float_exact_agree_and_minimise(nv, mv):
    exact = tau_star_exact(nv, mv)
    t = tau_star(nv, mv)
    assert t == pytest.approx(float(sp.N(exact, 30)), rel=1e-13)
    assert 4 * mv * t**5 + 3 * nv * t**4 == pytest.approx(mv**2 * nv, rel=1e-12)

    def kl(s):
        return s**4 / (mv * nv) + s**3 / mv**2 + 1 / s + 1 / mv

    assert kl(t) < min(kl(t * 0.999), kl(t * 1.001))


def test_li2023_rate_is_one_fifth_and_kl_two_fifths():
    model = LiDiffusion()
    assert model.kl_rate == sp.Rational(2, 5)
    assert model.rate == sp.Rational(1, 5)
    assert LiDiffusion(width_factor=8).rate == sp.Rational(1, 5)
    assert LiDiffusion(loss_floor=Fraction(1, 100)).rate == 0


def test_li2023_dominant_bound_dominates_exact_optimum():
    model = LiDiffusion()
    sizes = np.array([1e2, 1e4, 1e6, 1e8])
    ratio = np.array([model.delta_optimal(s) for s in sizes]) / model.delta(sizes)
    assert np.all(ratio <= 1 + 1e-12)
    assert np.all(np.diff(ratio) > 0) and ratio[-1] > 0.999  # same leading order
