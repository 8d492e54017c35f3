"""Sufficient-statistic Gaussian-MLE chains, the Gaussian TV, and the grid's FFT KDE (§5–6)."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from boundkit import Balanced, ConstantRealShare, FixedRatio, FullSynthetic
from boundkit.errors import InvalidArgument
from simulations import gaussian_tv, make_distribution, make_generator, tv_gaussian_1d
from simulations.batched import gaussian_mle_chains


@pytest.mark.parametrize("method", ["sufficient", "explicit"])
def test_mle_variance_law_both_methods(method):
    # E[σ̂_k²] = σ0² ((n−1)/n)^k with the 1/n estimator (docs/theory.md §5)
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
    # full synthetic: σ̂² → 0; any fixed α > 0 keeps it stable (docs/theory.md §5)
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


def test_gaussian_tv_matches_quadrature_and_theory():
    # an independent reference: 30-digit quadrature of ½|p − q| split at the crossings
    import mpmath
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    m = rng.normal(size=40)
    v = rng.uniform(0.2, 3.0, size=40)
    v[:5] = 1.0  # equal variances take the one-crossing branch
    got = gaussian_tv(torch.tensor(m), torch.tensor(v), 0.0, 1.0).numpy()
    with mpmath.workdps(30):
        for a, b, value in zip(m, v, got, strict=True):
            a, b = mpmath.mpf(a), mpmath.mpf(b)
            quad_a, quad_b = (1 - 1 / b) / 2, a / b
            quad_c = -a * a / (2 * b) - mpmath.log(mpmath.sqrt(b))
            if abs(quad_a) > 0:
                root = mpmath.sqrt(quad_b**2 - 4 * quad_a * quad_c)
                cuts = [(-quad_b - root) / (2 * quad_a), (-quad_b + root) / (2 * quad_a)]
            else:
                cuts = [-quad_c / quad_b]
            points = sorted([-40, 40, *[c for c in cuts if -40 < c < 40]])
            ref = mpmath.quad(lambda x, a=a, b=b: abs(mpmath.npdf(x, a, mpmath.sqrt(b))
                                                      - mpmath.npdf(x)) / 2, points)
            assert value == pytest.approx(float(ref), abs=1e-13)
    # equal means: docs/theory.md §5, 2|Φ(x*/a) − Φ(x*/b)| with x*² = 2a²b² ln(b/a)/(b² − a²)
    a, b = 1.0, 1.7
    x_star = math.sqrt(2 * a * a * b * b * math.log(b / a) / (b * b - a * a))
    theory = 2 * abs(norm.cdf(x_star / a) - norm.cdf(x_star / b))
    assert tv_gaussian_1d(0, a, 0, b) == pytest.approx(theory, rel=1e-13)


def test_batched_bad_input():
    with pytest.raises(InvalidArgument, match="latest model only"):
        gaussian_mle_chains(Balanced(), 3, 10, 10)
    with pytest.raises(InvalidArgument, match="rounds must be an integer >= 1"):
        gaussian_mle_chains(FullSynthetic(), 0, 10, 10)
    with pytest.raises(InvalidArgument, match="method='fast' is not known"):
        gaussian_mle_chains(FullSynthetic(), 3, 10, 10, method="fast")
    with pytest.raises(InvalidArgument, match="at least 2 samples"):
        gaussian_mle_chains(FullSynthetic(), 3, 1, 10)


def _kde_on_grid(p0, n, h, seed, points=None):
    """A KDE of n draws from p0 on p0's grid: (grid, FFT density, exact density)."""
    from simulations.grid import Grid
    from simulations.laws import BatchedMixture

    x = p0.sample(n, make_generator(seed, torch.device("cpu")))[None]
    scales = torch.as_tensor(h, dtype=torch.float64).expand_as(x).contiguous()
    law = BatchedMixture(x, scales, torch.full((1, n), 1.0 / n, dtype=torch.float64), True)
    grid = Grid.around(*p0.support_box(), points, torch.device("cpu"))
    fast = law.grid_density(grid)
    exact = torch.exp(law.log_prob(grid.nodes[None]))
    return grid, fast, exact


@pytest.mark.parametrize(("name", "h"), [("gaussian", [0.05]), ("unequal", [0.3]),
                                         ("ring8", [0.25, 0.3])])
def test_fft_binned_kde_matches_the_exact_sum_within_its_bound(name, h):
    grid, fast, exact = _kde_on_grid(make_distribution(name), 1500, h, 4)
    l1 = float(grid.integrate((fast.values - exact).abs())[0][0])
    bound = float(fast.l1_error[0])
    assert l1 <= bound  # the analytic binning bound holds ...
    assert bound <= 20 * l1  # ... without being vacuous
    assert float(grid.integrate(fast.values)[0][0]) == pytest.approx(1.0, abs=1e-6)


def test_grid_bad_input():
    from simulations.grid import Grid

    with pytest.raises(InvalidArgument, match="grid_points must be an integer in \\[65, "):
        Grid([0.0], [1.0], 11, torch.device("cpu"))
    with pytest.raises(InvalidArgument, match="for 1-D and 2-D data"):
        Grid([0.0] * 3, [1.0] * 3, 65, torch.device("cpu"))


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
