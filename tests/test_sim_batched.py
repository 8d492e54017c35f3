"""Batched Gaussian-MLE chains and the FFT-binned KDE grid (THEORY.md §5)."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from boundkit import Balanced, ConstantRealShare, FixedRatio, FullSynthetic
from boundkit.errors import InvalidArgument
from simulations import make_distribution, make_generator, tv_gaussian_1d
from simulations.batched import gaussian_mle_chains, tv_gaussian_1d_batch
from simulations.kde_grid import kde_exact_on_grid, kde_grid_density


@pytest.mark.parametrize("method", ["sufficient", "explicit"])
def test_mle_variance_law_both_methods(method):
    # E[σ̂_k²] = σ0² ((n−1)/n)^k with the 1/n estimator (THEORY.md §5)
    n, reps = 8, 20_000
    _, var = gaussian_mle_chains(FullSynthetic(), 6, n, reps, sigma0=2.0, seed=3, method=method)
    mean, se = var.mean(0).numpy(), var.std(0).numpy() / math.sqrt(reps)
    target = 4.0 * ((n - 1) / n) ** np.arange(1, 7)
    assert np.all(np.abs(mean - target) <= 4 * se)  # 99.99% normal intervals


def test_sufficient_and_explicit_agree_with_real_data_mixed_in():
    kw = dict(rounds=5, n=12, replicates=20_000)
    m1, v1 = gaussian_mle_chains(ConstantRealShare(Fraction(1, 3)), seed=1, **kw)
    m2, v2 = gaussian_mle_chains(ConstantRealShare(Fraction(1, 3)), seed=2, method="explicit",
                                 **kw)
    for a, b in ((v1, v2), (m1, m2), (m1**2, m2**2)):
        diff = (a.mean(0) - b.mean(0)).abs()
        se = torch.sqrt(a.var(0) / kw["replicates"] + b.var(0) / kw["replicates"])
        assert torch.all(diff <= 4 * se)  # two-sample 99.99% intervals


def test_real_share_keeps_variance_from_collapsing():
    # full synthetic: σ̂² → 0; any fixed α > 0 keeps it stable (THEORY.md §5)
    _, full = gaussian_mle_chains(FullSynthetic(), 400, 10, 2000, seed=4)
    _, kept = gaussian_mle_chains(ConstantRealShare(Fraction(1, 2)), 400, 10, 2000, seed=4)
    assert float(full[:, -1].mean()) < 1e-5
    assert float(kept[:, -1].mean()) > 0.5
    _, ratio = gaussian_mle_chains(FixedRatio(Fraction(1)), 50, 10, 2000, seed=4)
    assert float(ratio[:, -1].mean()) > 0.5


def test_same_seed_same_chains():
    a = gaussian_mle_chains(FullSynthetic(), 20, 5, 10, seed=9)
    b = gaussian_mle_chains(FullSynthetic(), 20, 5, 10, seed=9)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_batched_tv_matches_scalar_closed_form():
    rng = np.random.default_rng(0)
    m = torch.tensor(rng.normal(size=200))
    v = torch.tensor(rng.uniform(0.2, 3.0, size=200))
    v[:5] = 1.0  # equal variances take the one-crossing branch
    got = tv_gaussian_1d_batch(m, v, 0.0, 1.0)
    want = [tv_gaussian_1d(float(a), math.sqrt(float(b)), 0.0, 1.0) for a, b in zip(m, v,
                                                                                   strict=True)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-15)


def test_batched_bad_input():
    with pytest.raises(InvalidArgument, match="latest model only"):
        gaussian_mle_chains(Balanced(), 3, 10, 10)
    with pytest.raises(InvalidArgument, match="rounds must be an integer >= 1"):
        gaussian_mle_chains(FullSynthetic(), 0, 10, 10)
    with pytest.raises(InvalidArgument, match="method='fast' is not known"):
        gaussian_mle_chains(FullSynthetic(), 3, 10, 10, method="fast")
    with pytest.raises(InvalidArgument, match="at least 2 samples"):
        gaussian_mle_chains(FullSynthetic(), 3, 1, 10)


def test_fft_binned_kde_matches_exact_sum():
    g = make_generator(1, torch.device("cpu"))
    x = make_distribution("unequal").sample(5000, g)[:, 0]
    grid = torch.linspace(-6, 7, 2049, dtype=torch.float64)
    h = 0.15
    fast, exact = kde_grid_density(x, h, grid), kde_exact_on_grid(x, h, grid)
    step = float(grid[1] - grid[0])
    # linear binning error is O((Δ/h)²) relative to the peak density
    assert float((fast - exact).abs().max()) <= (step / h) ** 2 * float(exact.max())
    assert float(fast.sum() * step) == pytest.approx(1.0, abs=1e-6)


def test_kde_grid_bad_input():
    x = torch.zeros(10, dtype=torch.float64)
    with pytest.raises(InvalidArgument, match="h must be > 0"):
        kde_grid_density(x, 0.0, torch.linspace(0, 1, 11, dtype=torch.float64))
    with pytest.raises(InvalidArgument, match="uniform and increasing"):
        kde_grid_density(x, 0.1, torch.tensor([0.0, 0.1, 0.5], dtype=torch.float64))


def test_fft_binned_kde_2d_matches_exact_mixture():
    from simulations import GaussianMixture
    from simulations.kde_grid import kde_grid_density_2d

    x = make_distribution("ring8").sample(1500, make_generator(4, torch.device("cpu")))
    h = torch.tensor([0.25, 0.3], dtype=torch.float64)
    gx = torch.linspace(-6, 6, 257, dtype=torch.float64)
    gy = torch.linspace(-6, 6, 241, dtype=torch.float64)
    fast = kde_grid_density_2d(x, h, gx, gy)
    exact_model = GaussianMixture(x, h[None].expand_as(x))
    mesh = torch.cartesian_prod(gx, gy)
    exact = torch.exp(exact_model.log_prob(mesh)).reshape(257, 241)
    step = max(float(gx[1] - gx[0]) / 0.25, float(gy[1] - gy[0]) / 0.3)
    assert float((fast - exact).abs().max()) <= step**2 * float(exact.max())
    mass = float(fast.sum()) * float(gx[1] - gx[0]) * float(gy[1] - gy[0])
    assert mass == pytest.approx(1.0, abs=1e-6)


def test_cv_bandwidth_rescues_multimodal_data():
    # Silverman's rule over-smooths far-apart modes; leave-one-out CV does not
    from simulations import KDEModel, tv_quadrature_1d

    p0 = make_distribution("two-modes")
    x = p0.sample(1000, make_generator(6, torch.device("cpu")))
    assert tv_quadrature_1d(KDEModel("silverman").fit(x), p0).lo > 0.4
    assert tv_quadrature_1d(KDEModel("cv").fit(x), p0).hi < 0.1
    # on Gaussian data the CV choice stays within a factor 2 of Scott's rule
    g = make_distribution("gaussian").sample(1000, make_generator(7, torch.device("cpu")))
    ratio = float(KDEModel("cv").bandwidths(g)[0] / KDEModel("scott").bandwidths(g)[0])
    assert 0.5 < ratio < 2


def test_kde_chains_round_zero_matches_the_unbatched_tv():
    from simulations import GaussianMixture, tv_quadrature_1d
    from simulations.batched import kde_chains

    reps, size, h, seed = 5, 40, 0.3, 11
    e = kde_chains(FullSynthetic(), 1, size, reps, bandwidth=h, seed=seed)
    data = torch.randn((reps, size), dtype=torch.float64,
                       generator=make_generator(seed, torch.device("cpu")))
    p0 = make_distribution("gaussian")
    for r in range(reps):
        kde = GaussianMixture(data[r][:, None], [h] * size)
        exact = tv_quadrature_1d(kde, p0)
        assert float(e[r, 0]) == pytest.approx(exact.value, abs=1e-4)  # grid + binning error


def test_kde_chains_jensen_bound_and_real_data_control():
    from simulations.batched import kde_chains

    h, reps = 0.4, 2000
    # a 1025-point grid: its error (~1e-5) is far below the standard errors used here
    e = kde_chains(FullSynthetic(), 4, 30, reps, bandwidth=h, seed=2, grid_points=1025)
    mean, se = e.mean(0), e.std(0) / math.sqrt(reps)
    for k in range(4):  # E[e] ≥ TV(N(0, 1 + (k+1) h²), N(0, 1)), one-sided 99.9%
        bound = tv_gaussian_1d(0, 1, 0, math.sqrt(1 + (k + 1) * h * h))
        assert float(mean[k] + 3.1 * se[k]) >= bound
    kept = kde_chains(ConstantRealShare(Fraction(1, 2)), 8, 30, reps, bandwidth=h, seed=2,
                      grid_points=1025)
    drift = kde_chains(FullSynthetic(), 8, 30, reps, bandwidth=h, seed=2, grid_points=1025)
    assert float(kept[:, -1].mean()) < float(drift[:, -1].mean())
    with pytest.raises(InvalidArgument, match="bandwidth must be 'silverman' or a number"):
        kde_chains(FullSynthetic(), 2, 30, 3, bandwidth="scott")
