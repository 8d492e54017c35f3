"""Batched random-feature diffusion equals the unbatched code, replicate by replicate."""

import pytest
import torch

from boundkit import Balanced, ConstantRealShare, FullSynthetic
from simulations import make_distribution, make_generator
from simulations.batched_diffusion import (
    batched_dsm_statistics,
    batched_gradient_flow,
    fit_batched,
    rf_diffusion_chains,
)
from simulations.diffusion import (
    OUSDE,
    PFODEDistribution,
    RandomFeatureScore,
    dsm_statistics,
    gradient_flow,
)

CPU = torch.device("cpu")


def features(m=24, d=1):
    return RandomFeatureScore.draw(m, d, make_generator(0, CPU), CPU)


def test_one_replicate_statistics_equal_the_unbatched_ones():
    w, u = features()
    data = make_distribution("unequal").sample(200, make_generator(1, CPU))
    sde = OUSDE()
    batched = batched_dsm_statistics(w, u, data[None], sde, 3, make_generator(5, CPU))
    score = RandomFeatureScore(w, u, torch.zeros((1, 24), dtype=torch.float64), sde.T)
    single = dsm_statistics(score, data, sde, 3, make_generator(5, CPU))
    for b, s in zip(batched, single, strict=True):
        torch.testing.assert_close(b[0], s, rtol=1e-12, atol=1e-15)


def test_batched_flow_and_densities_match_each_replicate():
    w, u = features()
    sde = OUSDE()
    data = make_distribution("laplace").sample(3 * 150, make_generator(2, CPU)).reshape(3, 150, 1)
    s_ff, s_yf = batched_dsm_statistics(w, u, data, sde, 2, make_generator(3, CPU))
    a = batched_gradient_flow(s_ff, s_yf, 1e4)
    x = torch.linspace(-5, 5, 31, dtype=torch.float64)[:, None]
    from simulations.batched_diffusion import BatchedPFODE

    model = BatchedPFODE(w, u, a, sde, 24)
    logp = model.log_prob(x[None].expand(3, -1, -1))
    for r in range(3):
        torch.testing.assert_close(a[r], gradient_flow(s_ff[r], s_yf[r], 1e4), rtol=1e-10,
                                   atol=1e-12)
        single = PFODEDistribution(RandomFeatureScore(w, u, a[r], sde.T), sde, 24, data[r])
        torch.testing.assert_close(logp[r], single.log_prob(x), rtol=1e-10, atol=1e-10)


def test_chains_are_reproducible_and_shaped():
    p0 = make_distribution("unequal")
    kw = dict(width=32, ode_steps=16, grid_points=257)
    a = rf_diffusion_chains(FullSynthetic(), 3, 150, 3, p0, seed=4, **kw)
    b = rf_diffusion_chains(FullSynthetic(), 3, 150, 3, p0, seed=4, **kw)
    assert torch.equal(a, b) and a.shape == (3, 3)
    assert torch.all((a > 0) & (a < 1))
    fitted = fit_batched(p0.sample(300, make_generator(1, CPU)).reshape(2, 150, 1), width=32,
                         ode_steps=16)
    assert fitted.sample(50, make_generator(2, CPU)).shape == (2, 50, 1)


def test_chains_bad_input():
    p0 = make_distribution("unequal")
    with pytest.raises(ValueError, match="latest model only"):
        rf_diffusion_chains(Balanced(), 2, 50, 2, p0)
    with pytest.raises(ValueError, match="1-D quadrature"):
        rf_diffusion_chains(FullSynthetic(), 2, 50, 2, make_distribution("ring8"))
    with pytest.raises(ValueError, match="data must be finite"):
        fit_batched(torch.zeros((2, 1, 1), dtype=torch.float64))
    with pytest.raises(ValueError, match="rounds must be an integer"):
        rf_diffusion_chains(ConstantRealShare(0.5), 0, 50, 2, p0)
