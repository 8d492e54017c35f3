"""The GPU paths (issue 18, part 4): where CUDA is present, the same sums as on the CPU.

These tests need a CUDA device and are skipped without one (an environment guard, like
pdflatex's); the GPU machine runs them (docs/howto/gpu.md). The CPU suite tests the same
code on ``device="cpu"``; here the claim is that moving it to the GPU changes nothing but
the order of floating-point sums: the same inputs give the same score, density, TV
interval and verdict machinery, and every model runs a loop there.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from simulations import LoopConfig, make_distribution, make_generator, run
from simulations.diffusion import OUSDE, RandomFeatureScore, RFDiffusionModel, draw_features
from simulations.grid import Grid
from simulations.streams import Streams

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CPU, GPU = torch.device("cpu"), torch.device("cuda")


def test_kink_score_on_the_gpu_equals_the_cpu():
    # the exact 1-D evaluator (sorted kinks, prefix sums, searchsorted) on the same
    # features, coefficients and points: round-off apart, the same s and ∇·s
    gen = make_generator(4, CPU)
    w, u = draw_features(513, 1, gen, CPU)
    a = torch.randn((3, 1, 513), dtype=torch.float64, generator=gen)
    x = torch.randn((3, 700, 1), dtype=torch.float64, generator=gen) * 3
    cpu = RandomFeatureScore(w, u, a, 6.0)
    gpu = RandomFeatureScore(w.to(GPU), u.to(GPU), a.to(GPU), 6.0)
    for t in (1e-3, 0.37, 6.0):
        s1, d1 = cpu.at_time(x, t, True)
        s2, d2 = gpu.at_time(x.to(GPU), t, True)
        assert s2.device.type == "cuda"
        assert float((s1 - s2.cpu()).abs().max()) <= 1e-12 * float(s1.abs().max())
        assert float((d1 - d2.cpu()).abs().max()) <= 1e-12 * float(d1.abs().max())


def test_density_on_the_gpu_equals_the_cpu_with_the_same_steps():
    # one fitted A, its PF-ODE density on the grid on both devices: the step search
    # chooses the same K and the densities agree far inside the ODE's own error
    p0 = make_distribution("gaussian")
    streams = Streams(8, 2)
    law = RFDiffusionModel(width=256, tau="star").fit_batched(streams.sample(p0, 256), streams)
    on_gpu = RFDiffusionModel(width=256, tau="star").fit_batched(
        Streams(8, 2, device=GPU).sample(make_distribution("gaussian", device=GPU), 256),
        Streams(8, 2, device=GPU))
    s = law.score
    on_gpu.score = RandomFeatureScore(s.W.to(GPU), s.U.to(GPU), s.A.to(GPU), s.T)
    grid = Grid.around(*p0.support_box(), 1025, CPU)
    ggrid = Grid.around(*p0.support_box(), 1025, GPU)
    d_cpu, d_gpu = law.grid_density(grid), on_gpu.grid_density(ggrid)
    assert law.steps_used == on_gpu.steps_used
    gap = grid.integrate((d_cpu.values - d_gpu.values.cpu()).abs())[0]
    assert torch.all(gap <= 1e-9) and torch.all(gap <= law.ode_error)


def test_tv_interval_on_the_gpu_holds_the_exact_value():
    # the exact Gaussian score (the PF-ODE maps N(0, 1) at T onto N(0, v_t0 / v_T)):
    # the GPU's grid density gives a TV interval that holds the exact TV to N(0.2, 1.1²)
    from scipy.integrate import quad
    from scipy.stats import norm

    from simulations.diffusion import BatchedPFODE
    from simulations.grid import OnGrid

    class Exact:
        def var(self, t):
            return np.exp(-2 * t) * 0.01 + 1 - np.exp(-2 * t)

        def at_time(self, x, t, with_divergence):
            vt = self.var(t)
            return -x / vt, (torch.full(x.shape[:2], -x.shape[-1] / vt, dtype=torch.float64,
                                        device=x.device) if with_divergence else None)

    sde, score = OUSDE(), Exact()
    sd = math.sqrt(score.var(sde.t0) / score.var(sde.T))
    law = BatchedPFODE(score, sde, None, torch.zeros((1, 2, 1), dtype=torch.float64,
                                                      device=GPU))
    grid = Grid(-8.0, 8.0, 2049, GPU)
    dens = law.grid_density(grid)
    other = norm(0.2, 1.1)
    q = OnGrid(torch.as_tensor(other.pdf(grid.nodes[:, 0].cpu().numpy()), device=GPU)[None],
               torch.zeros(1, dtype=torch.float64, device=GPU))
    tv_true = 0.5 * quad(lambda x: abs(norm(0.0, sd).pdf(x) - other.pdf(x)), -12, 12,
                         points=[0.0], limit=400)[0]
    _, lo, hi = grid.tv(dens, q)
    assert float(lo[0]) <= tv_true <= float(hi[0]) and float(hi[0] - lo[0]) <= 2e-3


@pytest.mark.parametrize("model, params", [
    ("gaussian-mle", {}), ("kde", {}), ("diffusion-rf", {"width": 64}),
    ("diffusion-mlp", {"steps": 30})])
def test_every_model_runs_a_loop_on_the_gpu(model, params):
    frame = run(LoopConfig(model=model, model_params=params, n=64, rounds=2, replicates=3,
                           device="cuda", seed=3))
    assert frame.attrs["config"]["device"] == "cuda"
    delta = frame[frame.metric == "delta"] if "metric" in frame else frame
    values = delta.select_dtypes("number").to_numpy(dtype=float)
    assert np.isfinite(values).all()


def test_verify_runs_on_the_gpu_and_says_so(tmp_path):
    from test_verify import TINY

    from simulations.verify import verify

    verify(["V4"], out=tmp_path, scale=TINY, seed=1, device="cuda")
    doc = json.loads((tmp_path / "verdicts.json").read_text())
    assert doc["device"] == "cuda" and doc["verdicts"] and doc["failures"] == []
