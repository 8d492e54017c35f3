"""R8 linear response (docs/theory.md §8): closed forms, R1's matrix, and a Monte Carlo check."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from boundkit import (
    Balanced,
    ConstantRealShare,
    FinalRoundRescue,
    FixedRatio,
    FullSynthetic,
    GeneralSchedule,
    InvalidArgument,
    PowerLaw,
    bound_values,
    folded_normal_mean,
    linear_response,
    linear_response_expr,
)
from boundkit.linear_response import _dense, propagate
from boundkit.schedules import i as i_sym

SCHEDULES = [FullSynthetic(), Balanced(), ConstantRealShare("1/3"), FixedRatio(2),
             FinalRoundRescue("1/2")]


def test_noise_only_full_synthetic_drifts_like_sqrt():
    r = linear_response(FullSynthetic(), 0.0, 0.1, [0, 3, 15])
    assert np.allclose(r.sd, 0.1 * np.sqrt([1, 4, 16]), rtol=1e-15)
    assert np.allclose(r.e, r.sd * np.sqrt(2 / np.pi), rtol=1e-15)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s.name)
def test_bias_only_is_r1(schedule):
    """With no noise m = (I − B)^{-1} a: R1's bound with δ = a, exactly."""
    a = np.linspace(0.01, 0.05, 12)
    r = linear_response(schedule, a, 0.0, range(12))
    assert np.allclose(r.bias, bound_values(schedule, a), rtol=1e-13)
    assert np.allclose(r.e, np.abs(r.bias), rtol=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(SCHEDULES[:4]), st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_fast_paths_equal_the_dense_solve(schedule, rounds, seed):
    rng = np.random.default_rng(seed)
    a, s2 = rng.normal(size=rounds + 1), rng.uniform(size=rounds + 1)
    fast, dense = propagate(schedule, a, s2), _dense(schedule, a, s2)
    assert np.allclose(fast[0], dense[0], rtol=1e-12, atol=1e-14)
    assert np.allclose(fast[1], dense[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("schedule", SCHEDULES[:4], ids=lambda s: s.name)
def test_closed_forms(schedule):
    m_expr, s2_expr = linear_response_expr(schedule)
    a, s = sp.symbols("a s", positive=True)
    r = linear_response(schedule, 0.03, 0.2, range(8))
    for g in range(8):
        m = float(m_expr.subs({a: 0.03, i_sym: g}).doit())
        v = float(s2_expr.subs({s: 0.2, i_sym: g}).doit())
        assert r.bias[g] == pytest.approx(m, rel=1e-13)
        assert r.sd[g] ** 2 == pytest.approx(v, rel=1e-13)


def test_balanced_noise_stays_bounded():
    r = linear_response(Balanced(), 0.0, 1.0, [10**5])
    assert r.sd[0] ** 2 == pytest.approx(np.pi**2 / 6, abs=1e-4)


@settings(max_examples=60, deadline=None)
@given(st.floats(-5, 5), st.floats(0.01, 5))
def test_folded_normal_mean_is_scipys(m, s):
    want = stats.foldnorm(abs(m) / s, scale=s).mean()
    assert folded_normal_mean(m, s) == pytest.approx(want, rel=1e-10, abs=1e-12)


def test_monte_carlo_of_the_linear_model():
    """Simulate d = Σβ d + a + ξ directly; E|d_i| lies in its 99.9% CI around R8's value."""
    rng = np.random.default_rng(7)
    schedule, rounds, draws = Balanced(), 9, 200_000
    a, s = 0.02, 0.05
    d = np.zeros((rounds + 1, draws))
    for j in range(rounds + 1):
        carry = 0.0 if j == 0 else sum(float(w) * d[k] for k, w in
                                       enumerate(schedule.weights(j)[1]))
        d[j] = carry + a + s * rng.standard_normal(draws)
    pred = linear_response(schedule, a, s, range(rounds + 1)).e
    mean = np.abs(d).mean(axis=1)
    se = np.abs(d).std(axis=1, ddof=1) / np.sqrt(draws)
    assert np.all(np.abs(mean - pred) <= stats.norm.ppf(1 - 0.0005) * se)


def test_power_law_inputs_use_the_schedule_sizes():
    law = PowerLaw("2/5", const=1)
    r = linear_response(FixedRatio(3), law, 0.0, [0, 1], n=100, convention="fixed-real")
    assert r.bias[0] == pytest.approx(100**-0.4)
    assert r.bias[1] == pytest.approx(400**-0.4 + 0.75 * 100**-0.4)
    scaled = linear_response(FixedRatio(3), law, 0.0, [0], n=100)
    assert scaled.bias[0] == pytest.approx(400**-0.4)


def test_bad_inputs_refused():
    with pytest.raises(InvalidArgument, match="noise"):
        linear_response(FullSynthetic(), 0.0, -1.0, [1])
    with pytest.raises(InvalidArgument, match="n="):
        linear_response(FullSynthetic(), PowerLaw("1/2"), 0.1, [1])
    with pytest.raises(InvalidArgument, match="bias"):
        linear_response(FullSynthetic(), [0.1], 0.1, [3])
    with pytest.raises(TypeError):
        linear_response("full", 0.1, 0.1, [1])
    general = GeneralSchedule([0, 0], [[1], [0, 1]])
    assert linear_response(general, 0.0, 1.0, [2]).sd[0] == pytest.approx(np.sqrt(3))


def test_state_dependent_noise_is_where_r8_stops_and_r9_takes_over():
    import boundkit as bk

    # Gaussian MLE, n = 10, full synthetic: R8's constant noise s² = 1/n adds up to
    # (g+1)/n = 5.0 at generation 49, while the exact loop levels off at 1 − 0.9^50.
    r8 = bk.linear_response(bk.FullSynthetic(), 0.0, np.sqrt(0.1), [0, 49])
    assert r8.sd[1] ** 2 == pytest.approx(5.0, rel=1e-12)
    exact = bk.gaussian_moments("replace", 10, 49).mean_sq.iloc[0]
    assert exact == pytest.approx(1 - 0.9**50, rel=1e-12) and exact < 1
    # and a predicted TV above 1 is marked, not passed off as a number
    assert r8.e[1] > 1 and r8.vacuous.tolist() == [False, True]
    assert r8.as_frame()["vacuous"].tolist() == [False, True]
