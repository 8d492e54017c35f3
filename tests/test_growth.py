"""R2 quartic growth and its inverse; R3 final-round real share (docs/theory.md §4)."""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from boundkit import (
    Balanced,
    ConstantRealShare,
    FinalRoundRescue,
    Fu2024Diffusion,
    FullSynthetic,
    GaussianMLE,
    LiDiffusion,
    PowerLaw,
    bounds,
    growth_exponent,
    growth_rows,
    kl_per_round,
    max_generation,
    rescue_share,
    rescue_share_for_eps,
    samples_required,
)
from boundkit import strategies as bst
from boundkit.error_models import n as n_sym
from boundkit.errors import InvalidArgument


def test_quartic_exact_values():
    # n ≥ (C (i+1)/ε)^4 at r = 1/4, C = 1, ε = 1/10
    model = PowerLaw(Fraction(1, 4))
    assert [samples_required(i, Fraction(1, 10), model) for i in (1, 2, 9)] == [
        20**4, 30**4, 100**4,
    ]
    assert samples_required(3, Fraction(1, 7), PowerLaw(Fraction(1, 4), 2)) == 56**4


def test_growth_exponents():
    assert growth_exponent(Fu2024Diffusion()) == 4
    assert growth_exponent(LiDiffusion()) == 5  # quintic, not quartic (beyond)
    assert growth_exponent(GaussianMLE()) == 2
    assert growth_exponent(PowerLaw(Fraction(1, 4), 1, Fraction(1, 100))) is None


@given(bst.rates(16), st.integers(0, 200), st.fractions(Fraction(1, 100), 1, max_denominator=100))
def test_required_n_is_the_smallest_sufficient(r, i, eps):
    model = PowerLaw(r)
    need = samples_required(i, eps, model)
    if eps >= 1:  # a TV distance never exceeds 1: any n keeps e <= eps, the least is 1
        assert need == 1
        return
    # exact check in rationals: (i+1) n^{-r} ≤ ε  ⇔  n ≥ ((i+1)/ε)^{1/r}
    base = sp.Rational((i + 1) * eps.denominator, eps.numerator)
    bound = base ** (1 / sp.Rational(r.numerator, r.denominator))
    assert need >= bound and need - 1 < bound


def test_growth_rows_and_slope_of_log_n():
    rows = growth_rows(range(1, 200), Fraction(1, 10), Fu2024Diffusion())
    i = np.array([row.generation for row in rows], dtype=float)
    logn = np.log([row.n_required for row in rows])
    slope = np.polyfit(np.log(i[100:] + 1), logn[100:], 1)[0]
    assert slope == pytest.approx(4, abs=1e-3)
    # the requirement keeps the full-synthetic bound (i+1)δ(n) within ε and n − 1 does not,
    # checked in exact arithmetic (n = 40000 at i = 1 lands exactly on ε)
    delta_expr = Fu2024Diffusion().expr
    eps = sp.Rational(1, 10)
    for row in rows[:20]:
        g, need = row.generation, row.n_required
        assert bool((g + 1) * delta_expr.subs(n_sym, need) <= eps)
        assert bool((g + 1) * delta_expr.subs(n_sym, need - 1) > eps)
    b = bounds(FullSynthetic(), [5], model=Fu2024Diffusion(), n=rows[4].n_required)
    assert b[0] == pytest.approx(0.1, rel=1e-6)


def test_growth_with_floor_becomes_unreachable():
    model = PowerLaw(Fraction(1, 4), 1, Fraction(1, 50))
    rows = growth_rows([1, 3, 4, 10], Fraction(1, 10), model)
    # (i+1) C0 ≥ ε  ⇔  i ≥ 4: no n is enough
    assert [r.n_required is None for r in rows] == [False, False, True, True]


def test_kl_per_round():
    assert kl_per_round(4, Fraction(1, 10)) == Fraction(2, 100 * 25)


def test_max_generation_inverse():
    model = PowerLaw(Fraction(1, 4))
    n = 10**8  # δ = 1/100
    assert max_generation(n, Fraction(1, 10), model).last == 9
    assert max_generation(n, Fraction(1, 1000), model).last is None
    bal = max_generation(n, Fraction(1, 10), model, Balanced())
    # H_{i+1} ≤ 10 for i ≤ 12365, not beyond
    assert bal.last == 12365 and not bal.forever
    const = max_generation(n, Fraction(1, 10), model, ConstantRealShare(Fraction(1, 2)))
    assert const.forever  # δ/α = 0.02 ≤ 0.1 for every generation
    rescue = max_generation(n, Fraction(3, 100), model, FinalRoundRescue())
    assert rescue.forever  # 2δ ≤ 0.03


@given(st.integers(1, 10**6))
def test_rescue_share_is_r3_threshold(i):
    a = rescue_share(i)
    assert a == Fraction(i - 1, i)
    # with that share the rescued bound is exactly 2δ; any less real data is worse
    assert 1 + (1 - a) * i == 2
    if i > 1:
        less = a - Fraction(1, 10 * i)
        assert 1 + (1 - less) * i > 2


def test_rescue_share_general_factor_and_eps():
    assert rescue_share(10, 3) == Fraction(8, 10)
    assert rescue_share(2, 5) == 0  # clipped: no real data needed
    assert rescue_share_for_eps(4, Fraction(3, 100), Fraction(1, 100)) == Fraction(1, 2)
    assert rescue_share_for_eps(4, Fraction(1, 200), Fraction(1, 100)) is None
    with pytest.raises(InvalidArgument, match="factor must be >= 1"):
        rescue_share(3, Fraction(1, 2))


def test_invalid_growth_arguments():
    with pytest.raises(InvalidArgument, match="eps must be > 0"):
        samples_required(1, 0, PowerLaw(Fraction(1, 4)))
    with pytest.raises(InvalidArgument, match="generation must be an integer in \\[0, "):
        samples_required(-1, Fraction(1, 10), PowerLaw(Fraction(1, 4)))
