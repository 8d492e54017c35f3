"""The sufficient-statistic sampler of Gaussian-MLE loops (simulations.gaussian_fast) and
the exact Gaussian metrics (simulations.gaussian_exact): the same law as the point-by-point
loop, checked against R9's exact moments (docs/theory.md §9), and closed forms checked
against independent computations.

Statistical checks use 99.9 % normal intervals over replicates (z = 3.29), so each fails a
correct implementation with probability 1e-3 at most; the seeds are fixed.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import boundkit as bk
from boundkit.errors import InvalidArgument
from simulations import LoopConfig, montecarlo, run
from simulations import gaussian_exact as gx
from simulations.gaussian_full import BatchedGaussian
from simulations.metrics import gaussian_tv

Z999 = 3.2905267314919


def _at(frame, metric, g):
    return frame[(frame.metric == metric) & (frame.generation == g)].value.to_numpy()


def _agrees(values, exact):
    se = values.std(ddof=1) / math.sqrt(values.size)
    return abs(values.mean() - exact) <= Z999 * se


@pytest.mark.parametrize("schedule", ["replace", "balanced", "constant-real"])
def test_the_sufficient_sampler_matches_r9(schedule):
    """E[(μ̂_g − μ0)²] and E σ̂²_g of the loop, by sufficient statistics, agree with R9 at
    every generation checked (one law per round, or a mixture of p0 and many fits)."""
    kw = {"alpha": 0.5} if schedule == "constant-real" else {}
    config = LoopConfig(model="gaussian-mle", data="gaussian", schedule=schedule, n=10,
                        rounds=13, replicates=4000, seed=3, metrics=("mean", "var"), **kw)
    frame = run(config, sampler="sufficient")
    sched = bk.ConstantRealShare(0.5) if schedule == "constant-real" else schedule
    exact = bk.gaussian_moments(sched, 10, [0, 4, 12])
    for row in exact.itertuples():
        assert _agrees(_at(frame, "mean", row.generation) ** 2, row.mean_sq)
        assert _agrees(_at(frame, "var", row.generation), row.var)


def test_both_samplers_agree_on_a_mixture_loop():
    """The balanced loop (π_i mixes p0 and every earlier fit) point by point and by
    sufficient statistics: the means of σ̂²_g agree (two-sample 99.9 % interval)."""
    config = LoopConfig(model="gaussian-mle", data="gaussian", schedule="balanced", n=8,
                        rounds=8, replicates=1500, seed=5, metrics=("var",))
    a = _at(run(config, sampler="points"), "var", 7)
    b = _at(run(config, sampler="sufficient"), "var", 7)
    se = math.hypot(a.std(ddof=1) / math.sqrt(a.size), b.std(ddof=1) / math.sqrt(b.size))
    assert abs(a.mean() - b.mean()) <= Z999 * se


def test_sufficient_runs_are_reproducible_and_batching_invariant():
    config = LoopConfig(model="gaussian-mle", data="gaussian", n=50, rounds=6, replicates=5,
                        seed=11)
    frame = run(config)
    again = run(config)
    assert frame.equals(again)
    one = run(config.replace(replicates=1, first_replicate=3))
    mine = frame[frame.replicate == 3].reset_index(drop=True)
    assert list(one.metric) == list(mine.metric)
    fits = mine.metric.isin(["mean", "var"]).to_numpy()
    assert np.array_equal(one.value.to_numpy()[fits], mine.value.to_numpy()[fits])
    for col in ("value", "lo", "hi"):  # the NLL sums in another order: round-off only
        np.testing.assert_allclose(one[col], mine[col], rtol=1e-12, atol=1e-14)


def test_huge_rounds_cost_nothing():
    """n = 10^12 a round: the fit's variance concentrates at σ0² ((n−1)/n)^(g+1)."""
    frame = run(LoopConfig(model="gaussian-mle", data="gaussian", n=10**12, rounds=3,
                           replicates=4, seed=0, metrics=("var", "e")))
    assert np.all(np.abs(_at(frame, "var", 2) - 1.0) < 1e-5)
    assert np.all(_at(frame, "e", 2) < 1e-5)


def test_the_sampler_choice_is_checked():
    config = LoopConfig(model="gaussian-mle", data="gaussian", n=10, rounds=2)
    with pytest.raises(InvalidArgument, match="sampler"):
        run(config, sampler="fast")
    kept = config.replace(schedule="accumulate")
    with pytest.raises(InvalidArgument, match="sampler='sufficient'"):
        run(kept, sampler="sufficient")
    mixture_delta = config.replace(schedule="balanced", metrics=("delta",))
    with pytest.raises(InvalidArgument, match="sampler='sufficient'"):
        run(mixture_delta, sampler="sufficient")


def test_the_frame_has_the_engines_shape():
    config = LoopConfig(model="gaussian-mle", data="gaussian", n=20, rounds=3, replicates=2,
                        seed=1)
    a, b = run(config, sampler="sufficient"), run(config, sampler="points")
    assert list(a.columns) == list(b.columns)
    assert list(a.metric) == list(b.metric) and list(a.generation) == list(b.generation)
    assert a.attrs["config_hash"] == b.attrs["config_hash"]
    assert np.all(a.lo <= a.value) and np.all(a.value <= a.hi)
    assert np.all(np.isfinite(a[["value", "lo", "hi"]].to_numpy()))


def _kl_mp(m1, s1, m2, s2):
    """KL(N(m1, s1²) ‖ N(m2, s2²)) in 80 digits."""
    with mpmath.workdps(80):
        m1, s1, m2, s2 = (mpmath.mpf(float(v)) for v in (m1, s1, m2, s2))
        return float(mpmath.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5)


@settings(max_examples=200)
@given(st.floats(-100, 100), st.floats(-5, 5), st.floats(-3, 3))
def test_kl_closed_form_from_tiny_to_huge_scales(log10_scale, mean, log10_ref):
    s, ref = 10.0**log10_scale, 10.0**log10_ref
    def t(x):
        return torch.tensor(x, dtype=torch.float64)

    kl, lo, hi = gx.kl_1d(t(mean), t(s * s), t(0.0), t(ref * ref))
    truth = _kl_mp(mean, s, 0.0, ref)
    if truth < 1e300:
        assert float(lo) <= truth * (1 + 1e-12) and truth * (1 - 1e-12) <= float(hi)
        assert math.isclose(float(kl), truth, rel_tol=1e-10, abs_tol=1e-12)
    else:
        assert float(kl) == gx.KL_MAX


@pytest.mark.parametrize("dim", [1, 2, 5])
def test_gaussian_kl_matches_the_textbook_formula(dim):
    rng = np.random.default_rng(dim)
    a = rng.normal(size=(6, dim, dim))
    b = rng.normal(size=(6, dim, dim))
    cov_a = a @ a.transpose(0, 2, 1) + 0.1 * np.eye(dim)
    cov_b = b @ b.transpose(0, 2, 1) + 0.1 * np.eye(dim)
    ma, mb = rng.normal(size=(6, dim)), rng.normal(size=(6, dim))
    t = torch.as_tensor
    got = gx.gaussian_kl((t(ma), torch.linalg.cholesky(t(cov_a))),
                         (t(mb), torch.linalg.cholesky(t(cov_b))))[0].numpy()
    for r in range(6):
        inv = np.linalg.inv(cov_b[r])
        diff = mb[r] - ma[r]
        want = 0.5 * (np.trace(inv @ cov_a[r]) + diff @ inv @ diff - dim
                      + np.linalg.slogdet(cov_b[r])[1] - np.linalg.slogdet(cov_a[r])[1])
        assert math.isclose(got[r], want, rel_tol=1e-9, abs_tol=1e-12)


def test_monte_carlo_tv_intervals_hold_for_narrow_rotated_fits_in_3d():
    """TV(N(Qμ, QΣQᵀ), N(0, I)) with Σ = diag(s², 1, 1) and μ = (m, 0, 0) is the 1-D
    TV(N(m, s²), N(0, 1)) for any rotation Q. 400 fits with s from 1e-8 to 1e4: the
    Bernstein intervals at 99 % miss at most 12 times (the 99.9 % point of Bin(400, 0.01))."""
    from simulations.streams import Streams

    reps, rng = 400, np.random.default_rng(7)
    s = 10.0 ** rng.uniform(-8, 4, reps)
    m = rng.normal(0, 2, reps)
    q = np.linalg.qr(rng.normal(size=(reps, 3, 3)))[0]
    cov = np.einsum("rij,rj,rkj->rik", q, np.stack([s * s, np.ones(reps), np.ones(reps)], 1),
                    q)
    mean = np.einsum("rij,rj->ri", q, np.stack([m, 0 * m, 0 * m], 1))
    t = torch.as_tensor
    law = BatchedGaussian(t(mean), torch.linalg.cholesky(t(cov)))
    p0 = BatchedGaussian(torch.zeros(reps, 3, dtype=torch.float64),
                         torch.eye(3, dtype=torch.float64).expand(reps, 3, 3))
    streams = Streams(0, reps)
    _, lo, hi = montecarlo.tv(law.log_prob, p0.log_prob, law.sample(streams, 5000),
                              p0.sample(streams, 5000), 0.99, "bernstein")
    truth = gaussian_tv(t(m), t(s * s), 0.0, 1.0)
    misses = int(((truth < lo) | (truth > hi)).sum())
    assert misses <= 12
    assert bool(torch.all((lo >= 0) & (hi <= 1)))


def test_full_covariance_runs_measure_tv_by_monte_carlo_and_kl_exactly():
    """d = 2 full covariance goes by Monte Carlo (no grid: intervals of positive width)
    while KL(p0 ‖ p) is exact (an interval of round-off width); on a 1-D point-by-point
    loop KL(p0 ‖ p) equals ½(1/σ̂² + μ̂²/σ̂² − 1 + log σ̂²) from the run's own mean and var."""
    config = LoopConfig(model="gaussian-mle", data="gaussian", data_params={"dim": 2},
                        model_params={"covariance": "full"}, n=30, rounds=3, replicates=3,
                        seed=2, metrics=("e", "kl_p0", "logdet"), mc_samples=4000)
    frame = run(config)
    e = frame[frame.metric == "e"]
    assert np.all((e.lo <= e.value) & (e.value <= e.hi)) and np.all(e.hi - e.lo > 0)
    kl = frame[frame.metric == "kl_p0"]
    assert np.all(kl.hi - kl.lo < 1e-9) and np.all(kl.value > 0)
    one = LoopConfig(model="gaussian-mle", data="gaussian", n=30, rounds=3, replicates=3,
                     seed=2, metrics=("kl_p0", "mean", "var"))
    f1 = run(one, sampler="points")
    for g in range(3):
        m, v = _at(f1, "mean", g), _at(f1, "var", g)
        want = 0.5 * (1 / v + m * m / v - 1 + np.log(v))
        assert np.allclose(_at(f1, "kl_p0", g), want, rtol=1e-10, atol=1e-12)
