"""simulations: models and the loop against docs/theory.md §5 exact facts and V1/V2 (§7)."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from scipy.stats import chi2

from boundkit import Balanced, ConstantRealShare, FixedRatio, FullSynthetic
from boundkit.errors import InvalidArgument
from simulations import (
    GaussianMLEModel,
    KDEModel,
    make_distribution,
    make_generator,
    run_loop,
    tv_gaussian_1d,
    tv_quadrature_1d,
    verdicts,
)

CPU = torch.device("cpu")


def test_gaussian_mle_variance_shrinks_geometrically():
    # docs/theory.md §5: full synthetic with the 1/n estimator, E[σ̂_k²] = σ0² ((n−1)/n)^k
    n, rounds, reps = 10, 4, 3000
    g = make_generator(11, CPU)
    p0 = make_distribution("gaussian")
    var = np.empty((reps, rounds))
    for r in range(reps):
        p = p0
        for k in range(rounds):
            p = GaussianMLEModel().fit(p.sample(n, g))
            var[r, k] = float(p.variance()[0])
    mean, se = var.mean(0), var.std(0, ddof=1) / math.sqrt(reps)
    target = ((n - 1) / n) ** np.arange(1, rounds + 1)
    assert np.all(np.abs(mean - target) <= 4 * se)  # 99.99% normal intervals
    # and the unbiased estimator keeps E[σ̂_1²] = σ0²
    one = [float(GaussianMLEModel(unbiased=True).fit(p0.sample(n, g)).variance()[0])
           for _ in range(reps)]
    assert abs(np.mean(one) - 1) <= 4 * np.std(one, ddof=1) / math.sqrt(reps)


def test_kde_mean_density_adds_h_squared_per_round():
    # E[p_k] = N(0, 1 + k h²) (docs/theory.md §5). One exact draw from each independent
    # replicate's p_k is a draw from E[p_k]: its variance has a chi-square interval.
    h, n, k, reps = 0.5, 15, 3, 4000
    g = make_generator(5, CPU)
    p0 = make_distribution("gaussian")
    draws = np.empty(reps)
    for r in range(reps):
        p = p0
        for _ in range(k):
            p = KDEModel(h).fit(p.sample(n, g))
        draws[r] = float(p.sample(1, g)[0, 0])
    target = 1 + k * h * h
    s2 = draws.var(ddof=1)
    lo = (reps - 1) * s2 / chi2.ppf(0.9995, reps - 1)
    hi = (reps - 1) * s2 / chi2.ppf(0.0005, reps - 1)
    assert lo <= target <= hi  # 99.9% interval for the variance of a normal sample
    assert abs(draws.mean()) <= 4 * math.sqrt(target / reps)


def test_jensen_lower_bound_on_expected_error():
    # E[e_k] ≥ TV(E[p_k], p0) = TV(N(0, 1 + k h²), N(0, 1)) (docs/theory.md §5)
    h, n, k, reps = 0.4, 30, 2, 150
    g = make_generator(8, CPU)
    p0 = make_distribution("gaussian")
    errs = []
    for _ in range(reps):
        p = p0
        for _ in range(k):
            p = KDEModel(h).fit(p.sample(n, g))
        errs.append(tv_quadrature_1d(p, p0, points=2**12 + 1).value)
    bound = tv_gaussian_1d(0, 1, 0, math.sqrt(1 + k * h * h))
    se = np.std(errs, ddof=1) / math.sqrt(reps)
    assert np.mean(errs) + 3.1 * se >= bound  # one-sided 99.9%
    assert all(e >= 0 for e in errs)


def test_silverman_bandwidth_formula():
    data = torch.tensor([[0.0], [1.0], [2.0], [4.0]], dtype=torch.float64)
    h = KDEModel("silverman").bandwidths(data)
    sd = float(data.std(0, correction=1)[0])
    assert float(h[0]) == pytest.approx((4 / 3) ** 0.2 * 4 ** -0.2 * sd, rel=1e-14)
    assert float(KDEModel("scott").bandwidths(data)[0]) == pytest.approx(4**-0.2 * sd, rel=1e-14)


@pytest.mark.parametrize(
    ("model", "data", "schedule"),
    [
        (GaussianMLEModel(), "gaussian", FullSynthetic()),
        (GaussianMLEModel(), "unequal", Balanced()),
        (KDEModel(), "laplace", ConstantRealShare(Fraction(1, 3))),
        (KDEModel(0.3), "gaussian", FixedRatio(Fraction(2))),
    ],
    ids=["mle-full", "mle-balanced", "kde-constant", "kde-fixed-ratio"],
)
def test_loop_master_inequality_and_pinsker_hold(model, data, schedule):
    frame = run_loop(model, make_distribution(data), schedule, 4, 60, replicates=2, seed=3,
                     mc_samples=4000, metrics=("default", "w2", "precision_recall"))
    v = verdicts(frame)
    assert v["v1_ok"].all() and v["v2_ok"].all()
    wide = frame.pivot_table(index=["replicate", "round"], columns="metric", values="value")
    assert np.all((wide["e"] >= 0) & (wide["e"] <= 1))
    # round 0 trains on p0 itself, so e_1 = δ_0 exactly
    r0 = wide.xs(0, level="round")
    assert np.allclose(r0["e"], r0["delta"], rtol=0, atol=1e-12)
    assert np.all((wide["precision"] >= 0) & (wide["precision"] <= 1))
    assert np.all((wide["recall"] >= 0) & (wide["recall"] <= 1))
    assert np.all(wide["w2"] >= 0)  # every model here is 1-D or a single Gaussian
    assert set(frame["n"]) == {round(60 * float(schedule.size_factor))}


def test_loop_is_reproducible_and_tidy():
    p0 = make_distribution("gaussian")
    a = run_loop(GaussianMLEModel(), p0, FullSynthetic(), 3, 40, replicates=2, seed=7,
                 mc_samples=1000)
    b = run_loop(GaussianMLEModel(), p0, FullSynthetic(), 3, 40, replicates=2, seed=7,
                 mc_samples=1000)
    c = run_loop(GaussianMLEModel(), p0, FullSynthetic(), 3, 40, replicates=2, seed=8,
                 mc_samples=1000)
    assert a.equals(b) and not a.equals(c)
    assert list(a.columns) == ["replicate", "round", "generation", "n", "real_share",
                               "metric", "value", "lo", "hi"]
    assert len(a) == 2 * 3 * a["metric"].nunique()
    assert np.all(a["lo"] <= a["value"] + 1e-15) and np.all(a["value"] <= a["hi"] + 1e-15)


def test_growing_sample_sizes():
    frame = run_loop(GaussianMLEModel(), make_distribution("gaussian"), FullSynthetic(), 3,
                     lambda i: 10 * (i + 1) ** 2, seed=1, mc_samples=500)
    assert sorted(set(frame["n"])) == [10, 40, 90]


def test_full_synthetic_drifts_more_than_real_data():
    # P1 (control by real data): averaged over replicates, the last-round error with
    # a real share of 1/2 is below full synthetic's (same seeds, same sizes).
    p0 = make_distribution("gaussian")
    args = dict(replicates=12, seed=21, mc_samples=500)
    full = run_loop(GaussianMLEModel(), p0, FullSynthetic(), 6, 20, **args)
    half = run_loop(GaussianMLEModel(), p0, ConstantRealShare(Fraction(1, 2)), 6, 20, **args)

    def last(frame):
        e = frame[(frame.metric == "e") & (frame["round"] == 5)]["value"]
        return e.mean(), e.std(ddof=1) / math.sqrt(len(e))

    (m_full, s_full), (m_half, s_half) = last(full), last(half)
    assert m_full - m_half > 2 * math.hypot(s_full, s_half)  # ~97.7% one-sided


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"rounds": 0}, "rounds must be an integer in \\[1, "),
        ({"n": 0}, "n must be an integer in \\[2, "),
        ({"replicates": 0}, "replicates must be an integer in \\[1, "),
        ({"device": "cuda:7"} if not torch.cuda.is_available() else {"device": "nope"},
         "device="),
        ({"seed": -3}, "seed must be an integer in \\[0, "),
    ],
)
def test_loop_bad_input(kwargs, fragment):
    args = {"rounds": 2, "n": 20} | kwargs
    with pytest.raises(InvalidArgument, match=fragment):
        run_loop(GaussianMLEModel(), make_distribution("gaussian"), FullSynthetic(),
                 args.pop("rounds"), args.pop("n"), **args)


def test_model_bad_input():
    with pytest.raises(InvalidArgument, match="bandwidth='wide' is not known"):
        KDEModel("wide")
    with pytest.raises(InvalidArgument, match="bandwidth must lie in \\[1e-100, 1e100\\]"):
        KDEModel(-1.0)
    with pytest.raises(InvalidArgument, match="data must have shape"):
        GaussianMLEModel().fit(torch.zeros(1, 1, dtype=torch.float64))
    with pytest.raises(InvalidArgument, match="collapsed"):
        GaussianMLEModel().fit(torch.zeros(5, 1, dtype=torch.float64))
    with pytest.raises(InvalidArgument, match="collapsed"):
        KDEModel().fit(torch.ones(5, 3, dtype=torch.float64))
    # one constant coordinate (a blank pixel) is floored, not refused
    half = torch.stack([torch.arange(6.0), torch.zeros(6)], 1).to(torch.float64)
    fit = KDEModel().fit(half)
    assert float(fit.scales[0, 1]) == pytest.approx(1e-3 * float(fit.scales[0, 0]))


def test_biased_and_self_corrected_sampling_keep_v1_and_pinsker():
    from simulations.sampling import SyntheticSampling

    p0 = make_distribution("unequal")
    for sampling in (SyntheticSampling(temperature=0.6), SyntheticSampling(self_correct=0.5)):
        frame = run_loop(GaussianMLEModel(), p0, FullSynthetic(), 4, 80, seed=2,
                         mc_samples=3000, sampling=sampling)
        v = verdicts(frame)
        assert v["v1_ok"].all() and v["v2_ok"].all()


def test_low_temperature_shrinks_variance_and_self_correction_restores_it():
    from simulations.sampling import SyntheticSampling

    p0 = make_distribution("gaussian")
    args = dict(replicates=6, seed=5, mc_samples=500)

    def last_var(sampling):
        frame = run_loop(GaussianMLEModel(unbiased=True), p0, FullSynthetic(), 6, 400,
                         sampling=sampling, **args)
        return frame[(frame.metric == "var") & (frame["round"] == 5)]["value"].mean()

    # each round multiplies the expected variance by T = 0.7 (unbiased fits): 0.7^5 ≈ 0.17
    cold = last_var(SyntheticSampling(temperature=0.7))
    assert 0.7**5 * 0.6 < cold < 0.7**5 * 1.6
    # full self-correction maps each model's moments back to p0's
    fixed = last_var(SyntheticSampling(temperature=0.7, self_correct=1.0))
    assert 0.8 < fixed < 1.25


def test_sampling_refuses_models_without_explicit_mixture():
    from simulations.diffusion import RFDiffusionModel
    from simulations.sampling import SyntheticSampling

    with pytest.raises(InvalidArgument, match="temperature must lie in \\(0, 1e100\\]"):
        SyntheticSampling(temperature=0)
    with pytest.raises(InvalidArgument, match="self_correct must lie in"):
        SyntheticSampling(self_correct=1.5)
    p0 = make_distribution("gaussian")
    with pytest.raises(InvalidArgument, match="apply to the Gaussian-mixture models"):
        run_loop(RFDiffusionModel(width=16), p0, FullSynthetic(), 2, 50,
                 sampling=SyntheticSampling(temperature=0.5), mc_samples=100)


@pytest.mark.parametrize("name", ["moons", "circles", "swiss-roll", "digits"])
def test_density_free_data_sets(name):
    from simulations.datasets import make_source

    src = make_source(name)
    a = src.sample(300, make_generator(1, CPU))
    assert a.shape == (300, src.dim) and torch.equal(a, src.sample(300, make_generator(1, CPU)))
    frame = run_loop(KDEModel(), src, FullSynthetic(), 2, 200, seed=1)
    metrics = set(frame["metric"])
    assert {"precision", "recall", "nll", "mean", "var"} <= metrics
    assert not {"e", "delta", "kl", "v1_margin"} & metrics  # no density, no TV
    with pytest.raises(InvalidArgument, match="p0 had no density"):
        verdicts(frame)


def test_digits_are_the_bundled_images():
    from sklearn.datasets import load_digits

    from simulations.datasets import make_source

    x = make_source("digits").sample(2000, make_generator(2, CPU)).numpy()
    images = load_digits().data / 16.0
    assert x.shape[1] == 64 and x.min() >= 0 and x.max() <= 1
    rows = {tuple(r) for r in images}
    assert all(tuple(r) in rows for r in x[:200])  # draws are rows of the data set
    with pytest.raises(InvalidArgument, match="not a bundled data set"):
        make_source("mnist")


def test_fixed_real_pool_versus_fresh_real_data():
    p0 = make_distribution("gaussian")
    args = dict(replicates=2, seed=13, mc_samples=500)
    fresh = run_loop(GaussianMLEModel(), p0, ConstantRealShare(Fraction(1, 2)), 3, 60, **args)
    pool = run_loop(GaussianMLEModel(), p0, ConstantRealShare(Fraction(1, 2)), 3, 60,
                    real_data="pool", **args)
    assert set(pool["metric"]) == set(fresh["metric"])
    # later rounds differ: fresh real draws versus reuse of the round-0 pool
    later = (fresh["round"] > 0) & (fresh.metric == "mean")
    assert not np.allclose(fresh[later]["value"].to_numpy(), pool[later]["value"].to_numpy())
    # with all real data (alpha = 1) every round refits a permutation of the same pool
    same = run_loop(GaussianMLEModel(), p0, ConstantRealShare(Fraction(1)), 3, 60,
                    real_data="pool", replicates=1, seed=3, mc_samples=200)
    means = same[same.metric == "mean"]["value"].to_numpy()
    assert np.allclose(means, means[0], rtol=0, atol=1e-12)
    with pytest.raises(InvalidArgument, match="real_data='reuse' is not known"):
        run_loop(GaussianMLEModel(), p0, FullSynthetic(), 2, 20, real_data="reuse")


def test_five_dimensional_mixture_uses_monte_carlo_tv_and_keeps_v1():
    p0 = make_distribution("mixture", dim=5)
    assert p0.dim == 5 and float(p0.weights[0]) == 0.5
    frame = run_loop(GaussianMLEModel(), p0, FullSynthetic(), 3, 300, seed=4, mc_samples=20_000)
    v = verdicts(frame)
    assert v["v1_ok"].all() and v["v2_ok"].all()
    e = frame[frame.metric == "e"]
    # the models stay close to p0, so the pair means vary little and the empirical
    # Bernstein interval (95%, 10,000 pairs) is narrower than Hoeffding's 2 sqrt(log(40)/40000)
    assert np.all(e["hi"] - e["lo"] <= 2 * math.sqrt(math.log(40) / 40_000) + 1e-12)
