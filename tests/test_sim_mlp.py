"""MLP scores trained with Adam (architecture sensitivity) and reverse-SDE sampling."""

import numpy as np
import pytest
import torch

from boundkit.errors import InvalidArgument
from simulations import GaussianMixture, make_distribution, make_generator, tv_quadrature_1d
from simulations.diffusion import RFDiffusionModel
from simulations.score_mlp import MLPDiffusionModel

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def data():
    return make_distribution("unequal").sample(1500, make_generator(2, CPU))


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_mlp_scores_of_each_depth_learn_more_than_two_moments(data, depth):
    p0 = make_distribution("unequal")
    moment_match = GaussianMixture(p0.mean()[None], p0.variance().sqrt()[None])
    fitted = MLPDiffusionModel(depth=depth, steps=1200).fit(data)
    assert tv_quadrature_1d(fitted, p0, points=2**10 + 1).hi < tv_quadrature_1d(
        moment_match, p0).lo


def test_mlp_divergence_matches_finite_differences(data):
    score = MLPDiffusionModel(depth=2, steps=50).fit(data).score
    x = torch.linspace(-3, 3, 41, dtype=torch.float64)[None, :, None]
    _, div = score.at_time(x, 0.4, True)
    h = 1e-5
    s_plus, _ = score.at_time(x + h, 0.4, False)
    s_minus, _ = score.at_time(x - h, 0.4, False)
    np.testing.assert_allclose(div.numpy(), ((s_plus - s_minus) / (2 * h))[..., 0].numpy(),
                               rtol=1e-6, atol=1e-6)


def test_mlp_fit_is_reproducible(data):
    a = MLPDiffusionModel(depth=2, steps=30).fit(data).sample(100, make_generator(1, CPU))
    b = MLPDiffusionModel(depth=2, steps=30).fit(data).sample(100, make_generator(1, CPU))
    assert torch.equal(a, b)


class ExactGaussianScore:
    """The exact score of the OU marginals of p0 = N(0, v): p_t = N(0, v_t)."""

    def __init__(self, v):
        self.v = v

    def var(self, t):
        return np.exp(-2 * t) * self.v + 1 - np.exp(-2 * t)

    def at_time(self, x, t, with_divergence):  # x: (R, N, d), as every score takes it
        vt = self.var(t)
        return -x / vt, (torch.full(x.shape[:2], -x.shape[-1] / vt, dtype=torch.float64)
                         if with_divergence else None)


def test_samplers_and_density_are_exact_for_the_exact_score():
    from scipy.stats import chi2

    from simulations.diffusion import OUSDE, BatchedPFODE, PFODEDistribution

    sde, v = OUSDE(T=6.0, t0=1e-3), 4.0
    score = ExactGaussianScore(v)
    target = score.var(sde.t0)
    ref = torch.zeros((1, 2, 1), dtype=torch.float64)
    ode = PFODEDistribution(BatchedPFODE(score, sde, 200, ref))
    # the PF-ODE density is N(0, v_{t0}) up to the prior's tail at T (e^{-2T} v)
    x = torch.linspace(-6, 6, 25, dtype=torch.float64)[:, None]
    exact = -0.5 * x[:, 0] ** 2 / target - 0.5 * np.log(2 * np.pi * target)
    np.testing.assert_allclose(ode.log_prob(x).numpy(), exact.numpy(), atol=1e-4)
    n = 40_000
    for sampler, steps in (("ode", 200), ("sde", 2000)):
        dist = PFODEDistribution(BatchedPFODE(score, sde, steps, ref, sampler))
        xs = dist.sample(n, make_generator(3, CPU))[:, 0].numpy()
        s2 = xs.var(ddof=1)
        lo = (n - 1) * s2 / chi2.ppf(0.9995, n - 1)
        hi = (n - 1) * s2 / chi2.ppf(0.0005, n - 1)
        slack = 0.0 if sampler == "ode" else 0.02 * target  # Euler–Maruyama: O(h) bias
        assert lo - slack <= target <= hi + slack  # 99.9% interval for a normal variance


def test_reverse_sde_sampling_is_seeded(data):
    model = RFDiffusionModel(width=64, ode_steps=32, sampler="sde").fit(data)
    a = model.sample(500, make_generator(1, CPU))
    b = model.sample(500, make_generator(1, CPU))
    assert torch.equal(a, b) and torch.all(torch.isfinite(a))


def test_bad_input():
    with pytest.raises(InvalidArgument, match="depth must be 2, 3 or 4"):
        MLPDiffusionModel(depth=5)
    with pytest.raises(InvalidArgument, match="lr must lie in \\(0, 10\\]"):
        MLPDiffusionModel(lr=0)
    with pytest.raises(InvalidArgument, match="sampler='euler' is not known"):
        RFDiffusionModel(sampler="euler")  # refused before any work
    with pytest.raises(InvalidArgument, match="sampler='euler' is not known"):
        MLPDiffusionModel(sampler="euler")
