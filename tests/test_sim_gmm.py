"""GMM by EM: monotone likelihood, exact k = 1 case, recovery of separated modes."""

import itertools
import math

import pytest
import torch

from simulations import GaussianMLEModel, make_distribution, make_generator, tv_grid_2d
from simulations.gmm import GMMModel

CPU = torch.device("cpu")


@pytest.mark.parametrize(("data", "k"), [("unequal", 3), ("laplace", 2), ("ring8", 8)])
def test_em_log_likelihood_never_decreases(data, k):
    x = make_distribution(data).sample(1500, make_generator(k, CPU))
    _, trace = GMMModel(k=k).fit_with_trace(x)
    assert len(trace) >= 2
    assert all(b >= a - 1e-12 * abs(a) for a, b in itertools.pairwise(trace))


def test_one_component_is_the_gaussian_mle():
    x = make_distribution("unequal").sample(800, make_generator(1, CPU))
    gmm, mle = GMMModel(k=1).fit(x), GaussianMLEModel().fit(x)
    assert torch.allclose(gmm.means, mle.means, rtol=1e-12)
    assert torch.allclose(gmm.scales, mle.scales, rtol=1e-12)


def test_recovers_two_far_modes():
    n = 4000
    x = make_distribution("two-modes").sample(n, make_generator(2, CPU))
    fit = GMMModel(k=2).fit(x)
    order = torch.argsort(fit.means[:, 0])
    means, sds, w = fit.means[order, 0], fit.scales[order, 0], fit.weights[order]
    se = 1 / math.sqrt(n / 2)  # each mode's mean from ~n/2 points of unit variance
    assert abs(float(means[0]) + 15) <= 4 * se and abs(float(means[1]) - 15) <= 4 * se
    assert torch.all((sds - 1).abs() <= 4 * math.sqrt(1 / n))  # sd of an sd ≈ 1/sqrt(2m)
    assert abs(float(w[0]) - 0.5) <= 4 * math.sqrt(0.25 / n)


def test_ring_fit_is_close_in_tv():
    r = make_distribution("ring8")
    fit = GMMModel(k=8).fit(r.sample(4000, make_generator(3, CPU)))
    assert tv_grid_2d(fit, r).hi < 0.08


def test_gmm_bad_input():
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        GMMModel(k=0)
    with pytest.raises(ValueError, match="data must have shape"):
        GMMModel(k=3).fit(torch.zeros((3, 1), dtype=torch.float64))
