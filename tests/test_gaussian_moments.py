"""R9: exact Gaussian-MLE moment recursions against closed forms, published numbers,
invariants and an independent numpy simulation (99 % intervals)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import digamma

import boundkit as bk
from boundkit.errors import InvalidArgument
from boundkit.gaussian_moments import gaussian_moments

Z99 = 2.5758293035489  # two-sided 99 % normal quantile


@pytest.mark.parametrize("n", [2, 3, 10, 101])
def test_replace_is_shumailov_exactly(n):
    df = gaussian_moments("replace", n, range(0, 8))
    for g, var, mean_sq in zip(df.generation, df.var_exact, df.mean_sq_exact, strict=True):
        keep = Fraction(n - 1, n) ** (g + 1)
        assert var == keep and mean_sq == 1 - keep  # E σ̂² and Var μ̂ (docs/theory.md §9)


def test_replace_log_variance_is_a_sum_of_chi_square_logs():
    df = gaussian_moments("replace", 10, [0, 4])
    per_round = digamma(9 / 2) + math.log(2 / 10)
    assert df.log_var.tolist() == pytest.approx([per_round, 5 * per_round], rel=1e-14)
    assert df.log_var_exact.all()
    unbiased = gaussian_moments("replace", 10, [0], unbiased=True)
    assert unbiased.log_var.iloc[0] == pytest.approx(digamma(4.5) + math.log(2 / 9), rel=1e-14)
    assert unbiased.var_exact.iloc[0] == 1


def test_full_covariance_log_det_is_the_wishart_sum():
    n, d = 30, 10
    df = gaussian_moments("replace", n, [0, 20], dim=d)
    per_round = sum(digamma((n - j) / 2) for j in range(1, d + 1)) + d * math.log(2 / n)
    assert df.log_det.tolist() == pytest.approx([per_round, 21 * per_round], rel=1e-13)
    one_d = gaussian_moments("replace", n, [0, 20])
    assert df.mean_sq.tolist() == pytest.approx((d * one_d.mean_sq).tolist(), rel=1e-14)


def test_published_numbers():
    # Gerstgrasser et al.: kept accumulation, n = 10, generation 49: 0.15489, below π²/6n
    kept = gaussian_moments("accumulate", 10, 49)
    assert kept.attrs["policy"] == "kept"
    assert round(kept.mean_sq.iloc[0], 5) == 0.15489 and kept.mean_sq.iloc[0] < math.pi**2 / 60
    # Bertrand et al.: a fixed real pool, λ = 1, n = 100, 30 rounds: n E μ̂² = 1.3289
    pool = gaussian_moments(bk.FixedRatio(1), 100, 29, policy="pool")
    assert round(100 * pool.mean_sq.iloc[0], 4) == 1.3289


@given(st.sampled_from(["replace", "balanced", "accumulate", "accumulate-subsample"]),
       st.integers(2, 30), st.integers(0, 12))
def test_the_second_moment_is_conserved_by_the_mle(name, n, g):
    # Every training point has E x² = 1 (induction), and the 1/n MLE splits the sample's
    # mean square exactly: E μ̂² + E σ̂² = 1 in every generation, under every policy.
    df = gaussian_moments(name, n, g)
    assert df.mean_sq_exact.iloc[0] + df.var_exact.iloc[0] == 1


def test_a_fixed_real_share_keeps_the_variance_and_exact_equals_float():
    exact = gaussian_moments(bk.ConstantRealShare("1/2"), 10, range(30))
    floats = gaussian_moments(bk.ConstantRealShare("1/2"), 10, range(30), exact=False)
    assert floats["var"].tolist() == pytest.approx([float(v) for v in exact.var_exact], rel=1e-12)
    assert min(exact["var"]) > 0.8  # no collapse with real data
    assert not exact.log_var_exact.iloc[1:].any()  # a mixture is not one Gaussian


def _simulate(policy, n, generations, reps, seed):
    """An independent numpy simulation of each data policy (not the engine)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((reps, 2))
    for r in range(reps):
        real = rng.normal(0.0, 1.0, n)
        kept, mu, sd = [real], real.mean(), real.std()
        for _ in range(1, generations + 1):
            synthetic = rng.normal(mu, sd, n)
            if policy == "pool":
                x = np.concatenate([real, synthetic])
            elif policy == "kept":
                kept.append(synthetic)
                x = np.concatenate(kept)
            else:  # kept-subsample
                kept.append(synthetic)
                pool = np.concatenate(kept)
                x = pool[rng.choice(pool.size, n, replace=False)]
            mu, sd = x.mean(), x.std()
        out[r] = mu**2, sd**2
    return out


@pytest.mark.parametrize("policy, schedule", [("pool", bk.FixedRatio(1)),
                                              ("kept", "accumulate"),
                                              ("kept-subsample", "accumulate-subsample")])
def test_each_policy_against_an_independent_simulation(policy, schedule):
    n, g, reps = 8, 6, 6000
    sim = _simulate(policy, n, g, reps, seed=11)
    exact = gaussian_moments(schedule, n, g, policy=policy)
    for k, column in enumerate(("mean_sq", "var")):
        mean, se = sim[:, k].mean(), sim[:, k].std(ddof=1) / math.sqrt(reps)
        assert abs(mean - exact[column].iloc[0]) <= Z99 * se, (policy, column, mean, se)


def test_refusals():
    with pytest.raises(InvalidArgument, match="real share 0"):
        gaussian_moments("replace", 10, 3, policy="pool")
    with pytest.raises(InvalidArgument, match="must exceed dim"):
        gaussian_moments("replace", 5, 1, dim=5)
    with pytest.raises(InvalidArgument, match="policy"):
        gaussian_moments("replace", 10, 1, policy="kept-ish")
    with pytest.raises(InvalidArgument, match="schedule"):
        gaussian_moments("nonsense", 10, 1)
    with pytest.raises(InvalidArgument, match="limit is 2,000"):
        gaussian_moments("replace", 10, 2001)


@pytest.mark.parametrize("n", [2, 3, 10])
def test_kept_accumulation_has_the_moments_of_fresh_balanced_mixing(n):
    # In exact rationals, generation by generation: keeping every sample and drawing n
    # fresh points from the balanced mixture give the same E μ̂² and E σ̂².
    kept = gaussian_moments("accumulate", n, range(12))
    fresh = gaussian_moments("balanced", n, range(12))
    assert kept.mean_sq_exact.tolist() == fresh.mean_sq_exact.tolist()
    assert kept.var_exact.tolist() == fresh.var_exact.tolist()
    # the same weights written out as a general schedule (dense path) agree
    general = gaussian_moments(bk.GeneralSchedule(
        alpha=[Fraction(1, k + 1) for k in range(1, 12)],
        beta=[[Fraction(1, k + 1)] * k for k in range(1, 12)]), n, 11)
    assert general.mean_sq_exact.iloc[0] == kept.mean_sq_exact.iloc[-1]


# --- the engine's data policies against R9 (99 % intervals over replicates) ---------------


def _engine_moments(gen: int, **config):
    from simulations import LoopConfig, run

    frame = run(LoopConfig(model="gaussian-mle", data="gaussian", metrics=("mean", "var"),
                           **config))
    at = frame[frame.generation == gen]
    mean = at[at.metric == "mean"].value.to_numpy()
    var = at[at.metric == "var"].value.to_numpy()
    return mean**2, var


@pytest.mark.parametrize("schedule, policy", [("accumulate", "kept"),
                                              ("accumulate-subsample", "kept-subsample")])
def test_the_engine_keeps_data_as_the_literature_does(schedule, policy):
    sq, var = _engine_moments(49, schedule=schedule, n=10, rounds=50, replicates=400, seed=7)
    exact = gaussian_moments(schedule, 10, 49)
    assert exact.attrs["policy"] == policy
    for sample, column in ((sq, "mean_sq"), (var, "var")):
        se = sample.std(ddof=1) / math.sqrt(sample.size)
        assert abs(sample.mean() - exact[column].iloc[0]) <= Z99 * se, (column, sample.mean())


def test_the_engine_kept_subsample_matches_kazdans_procedure():
    sq, _ = _engine_moments(6, schedule="accumulate-subsample", n=8, rounds=7, replicates=3000,
                            seed=5)
    reference = _simulate("kept-subsample", 8, 6, 3000, seed=13)[:, 0]
    se = math.sqrt(sq.var(ddof=1) / sq.size + reference.var(ddof=1) / reference.size)
    assert abs(sq.mean() - reference.mean()) <= Z99 * se


def test_the_engine_fixed_real_pool_matches_bertrands_fixed_point():
    sq, _ = _engine_moments(29, schedule="fixed-ratio", lam=1, convention="fixed-real",
                            real_data="pool", n=100, rounds=30, replicates=400, seed=9)
    exact = gaussian_moments(bk.FixedRatio(1), 100, 29, policy="pool").mean_sq.iloc[0]
    se = sq.std(ddof=1) / math.sqrt(sq.size)
    assert abs(sq.mean() - exact) <= Z99 * se  # n E μ̂² = 1.3289


def test_fresh_accumulation_is_still_available_by_a_name_that_says_so():
    from simulations import LoopConfig

    fresh = LoopConfig(model="gaussian-mle", data="gaussian", schedule="accumulate-fresh", n=10)
    kept = LoopConfig(model="gaussian-mle", data="gaussian", schedule="accumulate", n=10)
    assert (fresh.data_policy, kept.data_policy) == ("fresh", "kept")
    assert fresh.sizes[:3] == kept.sizes[:3] == [10, 20, 30]
    assert fresh.config_hash != kept.config_hash
    sq, _ = _engine_moments(49, schedule="accumulate-fresh", n=10, rounds=50, replicates=200,
                            seed=1)
    assert sq.mean() < gaussian_moments("accumulate", 10, 49).mean_sq.iloc[0] / 2
    with pytest.raises(InvalidArgument, match="does not combine"):
        LoopConfig(model="gaussian-mle", schedule="full-synthetic", data_policy="kept")


# --- full-covariance Gaussian MLE against R9 in d = 10 -----------------------------------

Z_FAMILY = 3.30  # two-sided, 1 % family-wise over 21 generations (Bonferroni: 0.01 / 21)


def test_a_full_covariance_replace_loop_follows_r9_in_ten_dimensions():
    from simulations import LoopConfig, run

    d, n, g_max, reps = 10, 30, 20, 400
    frame = run(LoopConfig(model="gaussian-mle", model_params={"covariance": "full"},
                           data="gaussian", data_params={"dim": d}, schedule="replace", n=n,
                           rounds=g_max + 1, replicates=reps, seed=4,
                           metrics=("logdet", "trace", "mean_sq")))
    exact = gaussian_moments("replace", n, range(g_max + 1), dim=d)
    for g in range(g_max + 1):
        at = frame[frame.generation == g]
        for metric, want in (("logdet", exact.log_det.iloc[g]),
                             ("trace", d * exact["var"].iloc[g]),
                             ("mean_sq", exact.mean_sq.iloc[g])):
            x = at[at.metric == metric].value.to_numpy()
            se = x.std(ddof=1) / math.sqrt(x.size)
            assert abs(x.mean() - want) <= Z_FAMILY * se, (g, metric, x.mean(), want)


def test_the_full_covariance_law_is_the_sample_mle():
    from scipy.stats import multivariate_normal

    from simulations.gaussian_full import BatchedGaussian

    rng = np.random.default_rng(3)
    data = rng.normal(size=(2, 50, 3)) @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3],
                                                    [0.0, 0.0, 2.0]])
    law = BatchedGaussian.fit(torch.as_tensor(data))
    for r in range(2):
        cov = np.cov(data[r].T, bias=True)  # the 1/n MLE
        assert np.allclose(law.covariance()[r].numpy(), cov, rtol=1e-12, atol=1e-14)
        x = rng.normal(size=(5, 3))
        want = multivariate_normal(data[r].mean(0), cov).logpdf(x)
        got = law.log_prob(torch.as_tensor(x)[None].expand(2, -1, -1))[r].numpy()
        assert np.allclose(got, want, rtol=1e-12)
        assert float(law.logdet()[r]) == pytest.approx(np.linalg.slogdet(cov)[1], rel=1e-12)
