"""Benchmark the engine (issue "One fast engine"); baselines and ours are timed in one run.

(a) 1-D KDE, fixed h = 0.3, p0 = N(0, 1), n = 1,000, full synthetic, 6 rounds, default
    metrics, 100 replicates: time per replicate-round against a scikit-learn
    ``KernelDensity`` loop that computes only TV on an 8,001-point grid (goal: >= 20x),
    and the mean TV per round of both (agreement within the standard errors).
(b) the same with the accumulate schedule (n_i = (i+1) n), and on the 2-D ring of 8:
    the cost of each round, against the round (it must not grow with the number of
    stored models beyond the grid sum).
(c) random-feature diffusion, 16 replicates, m = 1,024, n = 10^4, two rounds: per
    replicate against (c1) one unbatched run the way the loop measured before the engine
    (a single fit, then TV, KL, NLL, W2, moments and precision/recall on explicit
    densities) (goal: <= 1/4), and (c2) the engine with one replicate (batching alone).
(d) on a GPU (``--device cuda``): one random-feature diffusion round at m = 8,192,
    n = 10^5 (goal <= 10 s) and the CPU/GPU ratio at m = 2,048.

Run: ``.venv/bin/python benchmarks/bench_engine.py [--only a,b,c,d] [--device cuda]``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from simulations import LoopConfig, make_distribution, make_generator, resolve_device, run


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def sklearn_kde_loop(reps: int, rounds: int, n: int, h: float, seed: int) -> np.ndarray:
    """The baseline: KernelDensity refitted each round, TV by Simpson on 8,001 points."""
    from scipy.stats import norm
    from sklearn.neighbors import KernelDensity

    grid = np.linspace(-8, 8, 8001)
    weights = np.ones(grid.size)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    weights *= (grid[1] - grid[0]) / 3
    truth = norm.pdf(grid)
    rng = np.random.RandomState(seed)
    out = np.empty((reps, rounds))
    for r in range(reps):
        data = rng.normal(size=(n, 1))
        for i in range(rounds):
            kde = KernelDensity(bandwidth=h).fit(data)
            dens = np.exp(kde.score_samples(grid[:, None]))
            out[r, i] = 0.5 * weights @ np.abs(dens - truth)
            data = kde.sample(n, random_state=rng)
    return out


def bench_a(dev: torch.device) -> None:
    reps, rounds, n, h = 100, 6, 1000, 0.3
    config = LoopConfig(model="kde", model_params={"bandwidth": h}, n=n, rounds=rounds,
                        replicates=reps, seed=1, device=str(dev))
    run(config.replace(rounds=1, replicates=2))  # warm-up
    sync(dev)
    t0 = time.perf_counter()
    frame = run(config)
    sync(dev)
    ours = (time.perf_counter() - t0) / (reps * rounds)
    base_reps = 10
    t0 = time.perf_counter()
    base = sklearn_kde_loop(base_reps, rounds, n, h, seed=2)
    theirs = (time.perf_counter() - t0) / (base_reps * rounds)
    e = frame[frame.metric == "e"].pivot(index="replicate", columns="round", values="value")
    m1, s1 = e.mean().to_numpy(), e.std().to_numpy() / math.sqrt(reps)
    m2, s2 = base.mean(0), base.std(0, ddof=1) / math.sqrt(base_reps)
    z = np.abs(m1 - m2) / np.hypot(s1, s2)
    print(f"(a) KDE loop, n = {n}, {rounds} rounds, default metrics: engine "
          f"{ours * 1e3:.2f} ms per replicate-round ({reps} replicates), scikit-learn "
          f"KernelDensity + TV on 8,001 points {theirs * 1e3:.1f} ms ({base_reps} replicates): "
          f"ratio {theirs / ours:.0f}x [goal >= 20x]")
    print("    mean TV per round, engine:  " + " ".join(f"{v:.4f}" for v in m1))
    print("    mean TV per round, sklearn: " + " ".join(f"{v:.4f}" for v in m2))
    print(f"    largest |difference| / its standard error: {z.max():.2f} (agreement within "
          f"3 standard errors: {bool(np.all(z <= 3))})")


def per_round_seconds(config: LoopConfig, dev: torch.device) -> list[float]:
    stamps = [time.perf_counter()]

    def tick(done, total):
        sync(dev)
        stamps.append(time.perf_counter())

    run(config, tick)
    return list(np.diff(stamps))


def bench_b(dev: torch.device) -> None:
    common = dict(model="kde", model_params={"bandwidth": 0.3}, replicates=100, seed=3,
                  device=str(dev))
    cases = [("1-D, accumulate (n_i = (i+1) 1000)", LoopConfig(schedule="accumulate", n=1000,
                                                               rounds=6, **common)),
             ("1-D, balanced, constant n = 1000", LoopConfig(schedule="balanced", n=1000,
                                                             rounds=6, **common)),
             ("2-D ring of 8, full synthetic, n = 1000", LoopConfig(data="ring8", n=1000,
                                                                    rounds=6, **common))]
    for label, config in cases:
        run(config.replace(rounds=1, replicates=2))
        seconds = per_round_seconds(config, dev)
        per_point = [s / size for s, size in zip(seconds, config.sizes, strict=True)]
        print(f"(b) {label}, 100 replicates: seconds per round "
              + " ".join(f"{s:.3f}" for s in seconds)
              + "; per replicate and 1,000 points "
              + " ".join(f"{1e3 * p / 100 * 1e3:.2f}ms" for p in per_point))


def legacy_round(model, p0, data, gen):
    """One replicate measured the way the loop did before the engine (explicit densities)."""
    from simulations.metrics import kl_monte_carlo, knn_precision_recall, tv, w2_1d

    fitted = model.fit(data)
    holdout = p0.sample(2000, gen)
    e = tv(fitted, p0, gen)
    delta = tv(fitted, p0, gen)  # π_0 = p0
    kl = kl_monte_carlo(p0, fitted, 20_000, gen)
    nll = float(-fitted.log_prob(holdout).mean())
    mean, var = fitted.mean(), fitted.variance()
    prec = knn_precision_recall(holdout[:1000], fitted.sample(1000, gen))
    w2 = w2_1d(fitted, p0)
    synthetic = fitted.sample(data.shape[0], gen)
    return (e.value, delta.value, kl[0], nll, float(mean[0]), float(var[0]), prec, w2), synthetic


def bench_c(dev: torch.device) -> None:
    from simulations.diffusion import RFDiffusionModel

    reps, n, m = 16, 10_000, 1024
    config = LoopConfig(model="diffusion-rf", model_params={"width": m}, data="unequal", n=n,
                        rounds=2, replicates=reps, seed=4, device=str(dev))
    sync(dev)
    t0 = time.perf_counter()
    run(config)
    sync(dev)
    batched = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    run(config.replace(replicates=1))
    sync(dev)
    engine_single = time.perf_counter() - t0
    p0 = make_distribution("unequal", device=dev)
    gen = make_generator(5, dev)
    model = RFDiffusionModel(width=m)
    t0 = time.perf_counter()
    data = p0.sample(n, gen)
    for _ in range(2):
        _, data = legacy_round(model, p0, data, gen)
    sync(dev)
    legacy = time.perf_counter() - t0
    print(f"(c) random-feature diffusion, m = {m}, n = {n:,}, 2 rounds: engine with {reps} "
          f"replicates {batched:.1f} s per replicate; (c1) one unbatched run as measured "
          f"before the engine {legacy:.1f} s: ratio {batched / legacy:.2f} [goal <= 0.25]; "
          f"(c2) the engine with one replicate {engine_single:.1f} s: ratio "
          f"{batched / engine_single:.2f} (batching alone)")


def bench_d(dev: torch.device) -> None:
    if dev.type != "cuda":
        print("(d) skipped: needs --device cuda (no GPU here)")
        return
    big = LoopConfig(model="diffusion-rf", model_params={"width": 8192}, data="unequal",
                     n=100_000, rounds=1, replicates=1, device="cuda")
    run(big.replace(n=1000, model_params={"width": 64}))
    sync(dev)
    t0 = time.perf_counter()
    run(big)
    sync(dev)
    gpu_big = time.perf_counter() - t0
    times = {}
    for device in ("cpu", "cuda"):
        config = LoopConfig(model="diffusion-rf", model_params={"width": 2048}, data="unequal",
                            n=10_000, rounds=1, replicates=4, device=device)
        sync(dev)
        t0 = time.perf_counter()
        run(config)
        sync(dev)
        times[device] = time.perf_counter() - t0
    print(f"(d) GPU: one random-feature round at m = 8,192, n = 10^5: {gpu_big:.1f} s "
          f"[goal <= 10 s]; m = 2,048, n = 10^4, 4 replicates: CPU {times['cpu']:.1f} s, GPU "
          f"{times['cuda']:.1f} s, ratio {times['cpu'] / times['cuda']:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default="a,b,c,d")
    args = parser.parse_args()
    dev = resolve_device(args.device)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"device: {dev}, torch threads: {torch.get_num_threads()}")
    for key in args.only.split(","):
        {"a": bench_a, "b": bench_b, "c": bench_c, "d": bench_d}[key.strip()](dev)


if __name__ == "__main__":
    main()
