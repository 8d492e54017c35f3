"""Benchmark simulations (issue "simulations/"), baselines and ours timed in one run.

1. KDE grid density + TV at n = 1e5 in 1-D: FFT binning against
   ``scipy.stats.gaussian_kde`` on the same grid (goal >= 100x; TV within 1e-4
   of the exact sum).
2. 1,000 Gaussian-MLE loops x 1,000 rounds, batched (goal < 1 s on CPU), against
   explicit sampling of every point (the same chains, drawn the slow way).
3. One random-feature diffusion round (m = 1024, n = 1e4, 1-D; train + sample + TV):
   goal < 10 s on CPU.

Run: ``.venv/bin/python benchmarks/bench_simulations.py [--device cpu|cuda]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.stats import gaussian_kde

from boundkit import FullSynthetic
from simulations import make_distribution, make_generator, resolve_device
from simulations.batched import gaussian_mle_chains


def simpson_tv(f: np.ndarray, g: np.ndarray, step: float) -> float:
    w = np.ones(f.size)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return 0.5 * float(w @ np.abs(f - g)) * step / 3


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def bench_kde(dev: torch.device) -> None:
    from simulations.grid import Grid
    from simulations.laws import BatchedMixture

    n = 100_000
    p0 = make_distribution("gaussian", device=dev)
    x = p0.sample(n, make_generator(0, dev))
    h = float(1.06 * x.std() * n ** -0.2)
    grid = Grid([-8.0], [8.0], 4097, dev)
    step = grid.steps[0]
    truth = torch.exp(p0.log_prob(grid.nodes)).cpu().numpy()
    law = BatchedMixture(x[None], torch.full((1, n, 1), h, dtype=torch.float64, device=dev),
                         torch.full((1, n), 1.0 / n, dtype=torch.float64, device=dev), True)

    law.grid_density(grid)  # warm-up
    sync(dev)
    t0 = time.perf_counter()
    fast = law.grid_density(grid).values[0]
    tv_fast = simpson_tv(fast.cpu().numpy(), truth, step)
    sync(dev)
    t_fast = time.perf_counter() - t0

    xs, gs = x[:, 0].cpu().numpy(), grid.nodes[:, 0].cpu().numpy()
    t0 = time.perf_counter()
    scipy_density = gaussian_kde(xs, bw_method=h / xs.std(ddof=1))(gs)
    tv_scipy = simpson_tv(scipy_density, truth, step)
    t_scipy = time.perf_counter() - t0

    exact = torch.exp(law.log_prob(grid.nodes[None])).cpu().numpy()[0]
    tv_exact = simpson_tv(exact, truth, step)
    print(f"KDE grid density + TV, n = {n:,}, 4097 points: FFT binning {t_fast * 1e3:.1f} ms, "
          f"scipy gaussian_kde {t_scipy:.2f} s, ratio {t_scipy / t_fast:,.0f}x [goal >= 100x]; "
          f"|TV - exact sum| = {abs(tv_fast - tv_exact):.1e} [goal <= 1e-4] "
          f"(scipy: {abs(tv_scipy - tv_exact):.1e})")


def bench_mle(dev: torch.device) -> None:
    reps, rounds, n = 1000, 1000, 100
    gaussian_mle_chains(FullSynthetic(), 5, n, reps, device=dev)  # warm-up
    sync(dev)
    t0 = time.perf_counter()
    gaussian_mle_chains(FullSynthetic(), rounds, n, reps, seed=1, device=dev)
    sync(dev)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    gaussian_mle_chains(FullSynthetic(), rounds, n, reps, seed=1, device=dev, method="explicit")
    sync(dev)
    t_slow = time.perf_counter() - t0
    print(f"Gaussian-MLE loops, {reps:,} x {rounds:,} rounds, n = {n}: sufficient statistics "
          f"{t_fast:.3f} s [goal < 1 s]; explicit samples {t_slow:.2f} s "
          f"(ratio {t_slow / t_fast:.0f}x)")


def bench_rf_diffusion(dev: torch.device) -> None:
    from simulations.diffusion import RFDiffusionModel
    from simulations.metrics import tv_quadrature_1d

    p0 = make_distribution("unequal", device=dev)
    data = p0.sample(10_000, make_generator(0, dev))
    model = RFDiffusionModel(width=1024)
    sync(dev)
    t0 = time.perf_counter()
    fitted = model.fit(data)
    fitted.sample(10_000, make_generator(1, dev))
    tv_value = tv_quadrature_1d(fitted, p0, points=2**12 + 1).value
    sync(dev)
    elapsed = time.perf_counter() - t0
    print(f"random-feature diffusion round (m = 1024, n = 1e4, 1-D; train + sample 1e4 + "
          f"TV on 4097 points): {elapsed:.2f} s [goal < 10 s on CPU]; TV = {tv_value:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    dev = resolve_device(parser.parse_args().device)
    print(f"device: {dev}")
    bench_kde(dev)
    bench_mle(dev)
    bench_rf_diffusion(dev)


if __name__ == "__main__":
    main()
