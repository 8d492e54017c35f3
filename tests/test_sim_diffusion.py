"""Diffusion: the random-feature score, its exact gradient flow and the PF-ODE (THEORY.md §6)."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.stats import chi2

from simulations import GaussianMixture, make_distribution, make_generator, tv_quadrature_1d
from simulations.diffusion import (
    OUSDE,
    RandomFeatureScore,
    RFDiffusionModel,
    dsm_statistics,
    euler_flow,
    gradient_flow,
)

CPU = torch.device("cpu")


def statistics(m=24, n=300, d=1, seed=0):
    gen = make_generator(seed, CPU)
    data = make_distribution("gaussian", dim=d).sample(n, gen)
    w, u = RandomFeatureScore.draw(m, d, gen, CPU)
    score = RandomFeatureScore(w, u, torch.zeros((d, m), dtype=torch.float64), 6.0)
    return score, dsm_statistics(score, data, OUSDE(), 4, gen)


def test_closed_form_flow_equals_euler_with_order_one_convergence():
    _, (s_ff, s_yf) = statistics()
    tau = 50.0 / float(torch.linalg.eigvalsh(s_ff).max())  # long enough to move A a lot
    exact = gradient_flow(s_ff, s_yf, tau)
    errors = []
    steps = [2000, 4000, 8000, 16000]
    for k in steps:
        errors.append(float((euler_flow(s_ff, s_yf, tau, k) - exact).norm() / exact.norm()))
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.05)  # Euler is first order
    assert errors[-1] < 1e-3


def test_long_flow_reaches_least_squares():
    # dead ReLU features make Σ_ff singular; the flow then tends to the minimum-norm
    # least-squares solution Σ_yf Σ_ff^+ (no gradient ever acts on the null space)
    _, (s_ff, s_yf) = statistics(m=16, n=800)
    mu = torch.linalg.eigvalsh(s_ff)
    live = mu[mu > 1e-12 * mu.max()]
    tau = 60.0 / float(live.min())
    target = s_yf @ torch.linalg.pinv(s_ff, rtol=1e-12, hermitian=True)
    got = gradient_flow(s_ff, s_yf, tau)
    assert float((got - target).norm() / target.norm()) < 1e-6


def test_flow_decreases_the_loss_monotonically():
    _, (s_ff, s_yf) = statistics()

    def loss(a):  # tr(A Σff Aᵀ) − 2 tr(A Σ_yfᵀ) (up to a constant)
        return float(torch.trace(a @ s_ff @ a.T) - 2 * torch.trace(a @ s_yf.T))

    values = [loss(gradient_flow(s_ff, s_yf, tau)) for tau in (1.0, 10.0, 100.0, 1e3, 1e4)]
    assert all(b < a for a, b in itertools.pairwise(values))


def test_divergence_is_exact():
    score, (s_ff, s_yf) = statistics(d=2)
    score.A = gradient_flow(s_ff, s_yf, 1e3)
    x = torch.randn((50, 2), dtype=torch.float64, generator=make_generator(1, CPU))
    t = torch.full((50,), 0.3, dtype=torch.float64)
    x.requires_grad_(True)
    s = score(x, t)
    auto = sum(torch.autograd.grad(s[:, c].sum(), x, retain_graph=True)[0][:, c]
               for c in range(2))
    np.testing.assert_allclose(score.divergence(x.detach(), t).numpy(), auto.detach().numpy(),
                               rtol=1e-12, atol=1e-12)


def test_ou_sde_marginals_and_prior():
    sde = OUSDE(T=5.0, t0=0.01)
    x0 = torch.tensor([[2.0], [-1.0]], dtype=torch.float64)
    t = torch.tensor([0.5, 2.0], dtype=torch.float64)
    mean, std = sde.marginal_prob(x0, t)
    assert torch.allclose(mean[:, 0], torch.tensor([2 * math.exp(-0.5), -math.exp(-2.0)],
                                                   dtype=torch.float64))
    assert torch.allclose(std**2, 1 - torch.exp(-2 * t))
    assert float(sde.prior_logp(torch.zeros((1, 1), dtype=torch.float64))[0]) == pytest.approx(
        -0.5 * math.log(2 * math.pi))
    with pytest.raises(ValueError, match="need 0 < t0 < T"):
        OUSDE(T=1.0, t0=2.0)


@pytest.fixture(scope="module")
def fitted():
    gen = make_generator(2, CPU)
    data = make_distribution("unequal").sample(1500, gen)
    return RFDiffusionModel(width=128, ode_steps=48, draws=8).fit(data)


def test_pf_ode_density_integrates_to_one(fitted):
    grid = torch.linspace(-12, 14, 4001, dtype=torch.float64)[:, None]
    dens = torch.exp(fitted.log_prob(grid))[:]
    assert float(torch.trapezoid(dens, dx=26 / 4000)) == pytest.approx(1.0, abs=2e-3)


def test_pf_ode_density_matches_its_own_samples(fitted):
    # bin probabilities from the density vs counts of 10,000 samples: chi-square at 99.9%
    n = 10_000
    xs = fitted.sample(n, make_generator(3, CPU))[:, 0].numpy()
    edges = np.quantile(xs, np.linspace(0, 1, 21))
    edges[0], edges[-1] = -40.0, 40.0
    counts = np.histogram(xs, edges)[0]
    probs = []
    for a, b in itertools.pairwise(edges):
        g = torch.linspace(max(a, -14.0), min(b, 16.0), 201, dtype=torch.float64)
        probs.append(float(torch.trapezoid(torch.exp(fitted.log_prob(g[:, None])), g)))
    expected = n * np.asarray(probs) / np.sum(probs)
    stat = float(np.sum((counts - expected) ** 2 / expected))
    assert stat < chi2.ppf(0.999, len(counts) - 1)


def test_trained_model_learns_more_than_two_moments(fitted):
    # p0 is trimodal: the diffusion model must beat the Gaussian with p0's own mean and
    # variance (TV 0.33), i.e. learn structure beyond the first two moments
    p0 = make_distribution("unequal")
    moment_match = GaussianMixture(p0.mean()[None], p0.variance().sqrt()[None])
    baseline = tv_quadrature_1d(moment_match, p0)
    learned = tv_quadrature_1d(fitted, p0, points=2**10 + 1)
    assert learned.hi < baseline.lo


def test_model_bad_input():
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        RFDiffusionModel(width=0)
    with pytest.raises(ValueError, match="tau must be > 0"):
        RFDiffusionModel(tau=0)
    with pytest.raises(ValueError, match="data must be finite"):
        RFDiffusionModel().fit(torch.zeros((1, 1), dtype=torch.float64))
    with pytest.raises(ValueError, match="tau must be > 0"):
        gradient_flow(torch.eye(2, dtype=torch.float64), torch.ones((1, 2), dtype=torch.float64),
                      0.0)
