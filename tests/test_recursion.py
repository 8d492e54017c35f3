"""R1 master inequality unrolled (docs/theory.md §2) and the schedules of §4."""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import digamma

from boundkit import (
    Balanced,
    ConstantRealShare,
    FinalRoundRescue,
    FixedRatio,
    FullSynthetic,
    GeneralSchedule,
    PowerLaw,
    bound_exact,
    bound_symbolic,
    bound_values,
    bounds,
)
from boundkit import strategies as bst
from boundkit.errors import InvalidArgument
from boundkit.schedules import delta, i


def _harmonic(k: int) -> Fraction:
    return sum((Fraction(1, j) for j in range(1, k + 1)), Fraction(0))


def test_full_synthetic_is_i_plus_one_delta():
    d = Fraction(1, 100)
    assert bound_exact(FullSynthetic(), [d] * 10) == [(g + 1) * d for g in range(10)]
    assert FullSynthetic().closed_form() == (i + 1) * delta


def test_balanced_is_delta_times_harmonic():
    d = Fraction(3, 7)
    got = bound_exact(Balanced(), [d] * 12)
    assert got == [d * _harmonic(g + 1) for g in range(12)]  # generation g: δ H_{g+1}


def test_balanced_induction_step_identity():
    # R4: Σ_{k≤n} H_k = (n+1) H_n − n, so b_{i+1} = δ(1 + H_i − i/(i+1)) = δ H_{i+1}
    for n in range(1, 30):
        assert sum(_harmonic(k) for k in range(1, n + 1)) == (n + 1) * _harmonic(n) - n
        assert 1 + _harmonic(n) - Fraction(n, n + 1) == _harmonic(n + 1)


def test_constant_real_share_is_geometric_and_below_delta_over_alpha():
    a = Fraction(1, 3)
    got = bound_exact(ConstantRealShare(a), [Fraction(1)] * 15)
    assert got == [(1 - (1 - a) ** (g + 1)) / a for g in range(15)]
    assert all(b < 1 / a for b in got)


def test_fixed_ratio_closed_form():
    lam = Fraction(5, 2)
    s = FixedRatio(lam)
    x = lam / (1 + lam)
    assert bound_exact(s, [Fraction(1)] * 9) == [(1 + lam) * (1 - x ** (g + 1)) for g in range(9)]
    assert s.size_factor == 1 + lam


def test_final_round_rescue_r3():
    # α_i = (i−1)/i gives exactly 2δ for every i ≥ 1 (R3)
    got = bound_exact(FinalRoundRescue(), [Fraction(1)] * 20)
    assert got[0] == 1 and all(b == 2 for b in got[1:])
    a = Fraction(1, 4)
    got = bound_exact(FinalRoundRescue(a), [Fraction(1)] * 10)
    assert got[1:] == [1 + (1 - a) * g for g in range(1, 10)]


@pytest.mark.parametrize(
    "schedule",
    [FullSynthetic(), Balanced(), ConstantRealShare(Fraction(2, 5)), FixedRatio(Fraction(3)),
     FinalRoundRescue(), FinalRoundRescue(Fraction(1, 3))],
    ids=lambda s: s.name,
)
def test_closed_form_equals_recursion(schedule):
    d = Fraction(1, 50)
    exact = bound_exact(schedule, [d] * 16)
    for g in range(1, 16):
        assert sp.nsimplify(schedule.closed_form(sp.Integer(g), sp.Rational(1, 50))) == sp.Rational(
            exact[g].numerator, exact[g].denominator
        )


@given(bst.named_schedules(), st.lists(st.fractions(0, 1, max_denominator=50), min_size=1,
                                        max_size=25))
def test_fast_path_matches_exact_recursion(schedule, deltas):
    exact = np.array([float(b) for b in bound_exact(schedule, deltas)])
    fast = bound_values(schedule, [float(d) for d in deltas])
    np.testing.assert_allclose(fast, exact, rtol=1e-13, atol=1e-15)


@given(bst.general_schedules(), st.data())
def test_general_schedule_recursion(schedule, data):
    rounds = schedule.horizon
    deltas = data.draw(st.lists(st.fractions(0, 1, max_denominator=30), min_size=rounds + 1,
                                max_size=rounds + 1))
    b = bound_exact(schedule, deltas)
    # R1 holds with equality for the bound vector, row by row
    assert b[0] == deltas[0]
    for j in range(1, rounds + 1):
        _, beta = schedule.weights(j)
        assert b[j] == deltas[j] + sum(w * b[k] for k, w in enumerate(beta))
    # the bound never exceeds the full-synthetic sum (β rows sum to at most 1)
    assert all(bj <= sum(deltas[: j + 1]) for j, bj in enumerate(b))
    sym = bound_symbolic(schedule, rounds)
    dsyms = sp.symbols(f"delta_0:{rounds + 1}", positive=True)
    subs = {s: sp.Rational(d.numerator, d.denominator) for s, d in zip(dsyms, deltas, strict=True)}
    assert [e.subs(subs) for e in sym] == [sp.Rational(x.numerator, x.denominator) for x in b]
    floats = bound_values(schedule, [float(d) for d in deltas])
    np.testing.assert_allclose(floats, [float(x) for x in b], rtol=1e-12, atol=1e-15)


def test_vectorised_million_generations():
    n = 10**6
    b = bound_values(Balanced(), np.full(n + 1, 1e-3))
    # H_k = ψ(k+1) + γ
    assert b[-1] == pytest.approx(1e-3 * (digamma(n + 2) + np.euler_gamma), rel=1e-12)
    full = bound_values(FullSynthetic(), np.full(n + 1, 1e-3))
    assert full[-1] == pytest.approx(1e-3 * (n + 1), rel=1e-10)
    fixed = bound_values(FixedRatio(1e12), np.full(n + 1, 1e-3))
    lam = 1e12
    assert fixed[-1] == pytest.approx(
        1e-3 * (1 + lam) * -np.expm1(-(n + 1) * np.log1p(1 / lam)), rel=1e-9
    )


def test_bounds_with_model_uses_sizes_and_size_factor():
    model = PowerLaw(Fraction(1, 4), 2)
    got = bounds(FixedRatio(3), [0, 1, 2], model=model, n=100)
    d = 2 * (4 * 100) ** -0.25
    x = 0.75
    np.testing.assert_allclose(got, [d * 4 * (1 - x ** (g + 1)) for g in range(3)], rtol=1e-14)
    growing = bounds(FullSynthetic(), [3], model=model, n=lambda k: 16.0 * (k + 1) ** 4)
    assert growing[0] == pytest.approx(sum(2 * (16 * (k + 1) ** 4) ** -0.25 for k in range(4)))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"alpha": [Fraction(1, 2)], "beta": [[Fraction(2, 3)]]}, "round 1 has alpha=1/2"),
        ({"alpha": [0.5], "beta": [[0.5 + 1e-9]]}, "must be 1"),
        ({"alpha": [-0.5], "beta": [[1.5]]}, "alpha must lie in"),
        ({"alpha": [1, 0], "beta": [[0]]}, "one row per round"),
        ({"alpha": [1], "beta": [[0, 0]]}, "must have 1 weights"),
        ({"alpha": [], "beta": []}, "alpha is empty"),
    ],
)
def test_general_schedule_validation(kwargs, fragment):
    with pytest.raises(InvalidArgument, match=fragment):
        GeneralSchedule(**kwargs)


def test_float_weights_within_tolerance_are_accepted():
    s = GeneralSchedule(alpha=[0.1], beta=[[0.9 + 1e-14]])
    assert not s.is_exact
    with pytest.raises(InvalidArgument, match="exact evaluation needs rationals"):
        bound_exact(s, [1, 1])


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: ConstantRealShare(0), "alpha must lie in \\(0, 1\\]"),
        (lambda: ConstantRealShare("3/2"), "alpha must lie in"),
        (lambda: FixedRatio(-1), "lambda must be >= 0"),
        (lambda: FinalRoundRescue(2), "alpha must lie in \\[0, 1\\]"),
        (lambda: bound_values(FullSynthetic(), [0.1, float("nan")]), "deltas must be finite"),
        (lambda: bound_values(FullSynthetic(), [0.1, -0.1]),
         "deltas must be finite and in \\[0, 1\\]"),
        (lambda: bounds(FullSynthetic(), [1], delta=0), "delta must be > 0"),
        (lambda: bounds(FullSynthetic(), [1]), "exactly one of delta"),
        (lambda: bounds(FullSynthetic(), [-1], delta=0.1),
         "generations must be an integer in \\[0, "),
        (lambda: bound_exact(GeneralSchedule(alpha=[1], beta=[[0]]), [1, 1, 1]), "defines rounds"),
    ],
)
def test_invalid_input_names_the_argument(make, fragment):
    with pytest.raises(InvalidArgument, match=fragment):
        make()


def test_make_schedule_defaults_and_refusal():
    from boundkit import make_schedule

    assert make_schedule("constant-real") == ConstantRealShare(Fraction(1, 2))
    assert make_schedule("fixed-ratio") == FixedRatio(Fraction(1))
    assert make_schedule("fixed-ratio", lam=Fraction(3)).size_factor == 4
    assert make_schedule("final-rescue") == FinalRoundRescue()
    assert make_schedule("balanced") == Balanced()
    with pytest.raises(InvalidArgument, match="schedule='nope' is not a known schedule"):
        make_schedule("nope")
