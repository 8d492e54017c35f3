"""Diffusion: the random-feature score, its exact gradient flow and the PF-ODE (theory §6)."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.stats import chi2

from boundkit.errors import InvalidArgument
from simulations import GaussianMixture, make_distribution, make_generator, tv_quadrature_1d
from simulations.diffusion import (
    OUSDE,
    RandomFeatureScore,
    RFDiffusionModel,
    draw_features,
    dsm_statistics,
    euler_flow,
    gradient_flow,
    replicate_features,
)
from simulations.grid import Grid
from simulations.streams import Streams

CPU = torch.device("cpu")


def statistics(m=24, n=300, d=1, seed=0):
    """Features, and the DSM statistics of one data set (R = 1), as 2-D matrices."""
    gen = make_generator(seed, CPU)
    data = make_distribution("gaussian", dim=d).sample(n, gen)
    w, u = draw_features(m, d, gen, CPU)
    s_ff, s_yf = dsm_statistics(w, u, data[None], OUSDE(), 4, Streams.single(seed))
    return (w, u), (s_ff[0], s_yf[0])


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
    (w, u), (s_ff, s_yf) = statistics(d=2)
    score = RandomFeatureScore(w, u, gradient_flow(s_ff, s_yf, 1e3), 6.0)
    x = torch.randn((1, 50, 2), dtype=torch.float64, generator=make_generator(1, CPU))
    x.requires_grad_(True)
    with torch.enable_grad():
        s = (score.features(x, torch.full((1, 50), 0.3, dtype=torch.float64))
             @ score.A.transpose(1, 2))
        auto = sum(torch.autograd.grad(s[..., c].sum(), x, retain_graph=True)[0][..., c]
                   for c in range(2))
    _, div = score.at_time(x.detach(), 0.3, True)
    np.testing.assert_allclose(div.numpy(), auto.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_one_replicate_of_a_batch_equals_its_single_fit():
    # replicate r draws from its own stream: fitting R at once changes nothing for it
    p0 = make_distribution("laplace")
    streams = Streams(5, 3)
    data = streams.sample(p0, 150)
    model = RFDiffusionModel(width=24, ode_steps=16)
    batch = model.fit_batched(data, streams)
    x = torch.linspace(-5, 5, 31, dtype=torch.float64)[None, :, None]
    logp = batch.log_prob(x.expand(3, -1, -1))
    for r in range(3):
        own = Streams(5, 1, first=r)
        assert torch.equal(own.sample(p0, 150)[0], data[r])  # the same draws, then the fit
        single = model.fit_batched(data[r:r + 1], own)
        torch.testing.assert_close(batch.score.A[r], single.score.A[0], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(logp[r], single.log_prob(x)[0], rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(logp[r], batch.replicate(r).log_prob(x[0]), rtol=1e-12,
                                   atol=1e-12)
        assert torch.equal(batch.score.W[r], single.score.W[0])  # its own features, too


def test_each_replicate_draws_its_own_features():
    # a replicate is an independent run of the experiment, the features' draw included
    # (shared features made D1's replicates conditional on one draw per size: at
    # n = m = 64 the variance of mean TV between draws was 37x what the data explain)
    streams = Streams(5, 4)
    w, u = replicate_features(0, 2, streams, 32, 1)
    assert w.shape == (4, 32, 1) and u.shape == (4, 32, 2)
    assert all(not torch.equal(w[0], w[r]) for r in range(1, 4))
    torch.testing.assert_close(w.abs().sum(-1) + u.abs().sum(-1),
                               torch.ones((4, 32), dtype=torch.float64))
    # keyed by (model seed, round, loop seed, replicate): each key changes the draw
    for other in (replicate_features(1, 2, streams, 32, 1)[0],
                  replicate_features(0, 3, streams, 32, 1)[0],
                  replicate_features(0, 2, Streams(6, 4), 32, 1)[0]):
        assert not torch.equal(other[0], w[0])
    # per-replicate DSM statistics are each replicate's own, computed alone
    data = streams.sample(make_distribution("gaussian"), 40)
    s_ff, s_yf = dsm_statistics(w, u, data, OUSDE(), 2, Streams(7, 4))
    for r in range(4):
        one_ff, one_yf = dsm_statistics(w[r], u[r], data[r:r + 1], OUSDE(), 2,
                                        Streams(7, 1, first=r))
        torch.testing.assert_close(s_ff[r], one_ff[0], rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(s_yf[r], one_yf[0], rtol=1e-12, atol=1e-15)


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
    with pytest.raises(InvalidArgument, match="need 0 < t0 < T"):
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
    with pytest.raises(InvalidArgument, match="width must be an integer >= 1"):
        RFDiffusionModel(width=0)
    with pytest.raises(InvalidArgument, match="tau must be > 0"):
        RFDiffusionModel(tau=0)
    with pytest.raises(InvalidArgument, match="data must have shape"):
        RFDiffusionModel().fit(torch.zeros((1, 1), dtype=torch.float64))
    with pytest.raises(InvalidArgument, match="tau='soon' is not known"):
        RFDiffusionModel(tau="soon")
    with pytest.raises(InvalidArgument, match="width_factor must lie in"):
        RFDiffusionModel(width_factor=0)
    with pytest.raises(InvalidArgument, match="tau must be > 0"):
        gradient_flow(torch.eye(2, dtype=torch.float64), torch.ones((1, 2), dtype=torch.float64),
                      0.0)


# -- issue 18: the exact 1-D evaluator, the step search, intervals against an exact score --


def test_kink_evaluation_equals_the_matmul_score_and_divergence():
    # the same sums in another order: s and ∇·s agree to round-off at every time,
    # including points beyond every kink and replicates with their own A
    gen = make_generator(4, CPU)
    w, u = draw_features(257, 1, gen, CPU)
    a = torch.randn((3, 1, 257), dtype=torch.float64, generator=gen)
    fast = RandomFeatureScore(w, u, a, 6.0)
    slow = RandomFeatureScore(w, u, a, 6.0, evaluator="matmul")
    assert fast.kinks is not None and slow.kinks is None
    x = torch.cat([torch.randn((3, 400, 1), dtype=torch.float64, generator=gen) * 3,
                   torch.tensor([-1e3, 1e3, 0.0], dtype=torch.float64).expand(3, 3)[..., None]],
                  1)
    # each replicate with its own features: its own sorted kinks, the same sums
    wr, ur = draw_features(257 * 3, 1, gen, CPU)
    wr, ur = wr.reshape(3, 257, 1), ur.reshape(3, 257, 2)
    own = [(RandomFeatureScore(wr, ur, a, 6.0), RandomFeatureScore(wr, ur, a, 6.0,
                                                                    evaluator="matmul"))]
    for t in (1e-3, 0.37, 2.0, 6.0):
        for f, sl in [(fast, slow), *own]:
            s1, d1 = f.at_time(x, t, True)
            s2, d2 = sl.at_time(x, t, True)
            scale = float(s2.abs().max())
            assert float((s1 - s2).abs().max()) <= 1e-13 * scale
            assert float((d1 - d2).abs().max()) <= 1e-13 * float(d2.abs().max())
            assert f.at_time(x, t, False)[1] is None
    # and replicate r's values are those of the score of replicate r alone
    s_all = own[0][0].at_time(x, 0.37, False)[0]
    for r in range(3):
        alone = RandomFeatureScore(wr[r], ur[r], a[r:r + 1], 6.0).at_time(x[r:r + 1], 0.37,
                                                                          False)[0]
        torch.testing.assert_close(s_all[r], alone[0], rtol=1e-13, atol=1e-15)


@pytest.fixture(scope="module")
def rf_law():
    p0 = make_distribution("gaussian")
    streams = Streams(8, 2)
    law = RFDiffusionModel(width=256, tau="star").fit_batched(streams.sample(p0, 256), streams)
    grid = Grid.around(*p0.support_box(), 1025, CPU)
    return law, grid


def test_steps_are_chosen_within_the_tolerance_and_the_estimate_is_honest(rf_law):
    law, grid = rf_law
    law.steps_used = None
    dens = law.grid_density(grid)
    k = law.steps_used
    assert law.ode_error <= law.tol and k & (k - 1) == 0 and 16 <= k <= 1024
    # the estimate (|p_K − p_{K/2}| in L1) against a far finer solution (K = 4096): the
    # kinks make RK4 first order here, so p_K's error is about the estimate itself;
    # 1.5x allows for the reference's own error (≈ estimate / 8) and the random signs
    nodes = grid.nodes[None].expand(2, -1, -1).contiguous()
    ref = torch.exp(law._log_prob(nodes, 4096))
    truth_gap = grid.integrate((dens.values - ref).abs())[0]
    assert torch.all(truth_gap <= 1.5 * law.ode_error)
    # the grid density carries the estimate: |p_K − p_{K/2}| per node, its integral
    torch.testing.assert_close(dens.l1_error, grid.integrate(dens.abs_error)[0])
    assert torch.all(dens.abs_error >= 0) and torch.all(dens.log_lo <= torch.log(dens.values))
    # a fixed step count keeps its count and still reports the error of K against K/2
    law.steps_used = 64
    fixed = law.grid_density(grid)
    assert law.steps_used == 64
    p64, p32 = law._log_prob(nodes, 64), law._log_prob(nodes, 32)
    torch.testing.assert_close(fixed.abs_error, torch.exp(p64) * torch.expm1((p64 - p32).abs()))


def test_a_diverged_coarse_path_widens_the_interval_and_never_makes_nan(rf_law, monkeypatch):
    # found by verify on a barely trained MLP score (20 Adam steps): at a tail node p_K
    # underflowed to 0 while p_{K/2}'s path diverged (log p = +800), and the estimate
    # p_K (e^gap − 1) became 0 · inf = NaN, then every TV of the round NaN. Now that node's
    # error is +inf, so the TV interval is [0, 1] around a finite value, the others exact
    from simulations.pf_ode import abs_exp_diff

    law, grid = rf_law
    law.steps_used = 64
    nodes = grid.nodes[None].expand(2, -1, -1).contiguous()
    fine, coarse = law._log_prob(nodes, 64), law._log_prob(nodes, 32)
    fine[0, 0], coarse[0, 0] = -800.0, 800.0  # replicate 0, first node
    crafted = {64: fine, 32: coarse}
    monkeypatch.setattr(law, "_log_prob", lambda x, steps: crafted[steps].clone())
    dens = law.grid_density(grid)
    assert dens.abs_error[0, 0] == math.inf and not torch.isnan(dens.abs_error).any()
    assert dens.l1_error[0] == math.inf and torch.isfinite(dens.l1_error[1])
    p0 = grid.density(make_distribution("gaussian"))
    value, lo, hi = grid.tv(dens, p0)
    assert torch.isfinite(value).all() and lo[0] == 0 and hi[0] == 1
    assert 0 < lo[1] <= value[1] <= hi[1] < 1
    # the helper: |e^a − e^b| exactly where it is finite, inf where e^max overflows
    a = torch.tensor([0.0, 1.0, -800.0, 800.0, 5.0], dtype=torch.float64)
    b = torch.tensor([0.0, 0.5, 800.0, 800.0, -5.0], dtype=torch.float64)
    got = abs_exp_diff(a, b)
    assert got[0] == 0 and got[3] == 0 and got[2] == math.inf
    torch.testing.assert_close(got[[1, 4]], (torch.exp(a) - torch.exp(b)).abs()[[1, 4]],
                               rtol=1e-15, atol=0)


@pytest.mark.parametrize("v", [1.0, 0.01])
def test_tv_and_kl_intervals_hold_against_the_exact_gaussian_score(v):
    # with the exact score the PF-ODE maps the prior N(0, 1) at T linearly onto
    # N(0, v_t0 / v_T): a known law. Its grid density (steps chosen by the estimate)
    # must give TV and KL intervals that hold the exact values against N(0.2, 1.1²)
    from scipy.integrate import quad
    from scipy.stats import norm
    from test_sim_mlp import ExactGaussianScore

    from simulations.diffusion import BatchedPFODE
    from simulations.grid import OnGrid

    sde = OUSDE()
    score = ExactGaussianScore(v)
    sd = math.sqrt(score.var(sde.t0) / score.var(sde.T))
    law = BatchedPFODE(score, sde, None, torch.zeros((1, 2, 1), dtype=torch.float64))
    grid = Grid(-8.0, 8.0, 2049, CPU)
    dens = law.grid_density(grid)
    assert law.ode_error <= law.tol
    other = norm(0.2, 1.1)
    q = OnGrid(torch.as_tensor(other.pdf(grid.nodes[:, 0].numpy()))[None],
               torch.zeros(1, dtype=torch.float64))
    model = norm(0.0, sd)
    tv_true = 0.5 * quad(lambda x: abs(model.pdf(x) - other.pdf(x)), -12, 12, points=[0.0],
                         limit=400)[0]
    _, lo, hi = grid.tv(dens, q)
    assert float(lo[0]) <= tv_true <= float(hi[0])
    assert float(hi[0] - lo[0]) <= 2e-3
    kl_true = quad(lambda x: other.pdf(x) * (other.logpdf(x) - model.logpdf(x)), -12, 12,
                   limit=400)[0]
    _, lo, hi = grid.kl(q, dens)
    assert float(lo[0]) <= kl_true <= float(hi[0])


def test_ode_settings_are_refused_before_any_work():
    with pytest.raises(InvalidArgument, match="ode_tol must lie in"):
        RFDiffusionModel(ode_tol=0)
    with pytest.raises(InvalidArgument, match="ode_steps must be"):
        RFDiffusionModel(ode_steps=0)
    with pytest.raises(InvalidArgument, match="evaluator='fast' is not known"):
        RFDiffusionModel(evaluator="fast")
