"""Benchmark one random-feature diffusion round (issue 18): today's code against boundkit's.

A round at width m and n points (1-D Gaussian data, R replicates batched, the run's
default 4097-node grid, default metrics' density) has four parts:

1. **DSM statistics** Σ_ff, Σ_yf over N = n · draws noisy points: 2 R N m² flops (the
   Gram matrix; the features' 2 R N m (d + 2) and Σ_yf's 2 R N m d are lower order).
2. **eigh** of Σ_ff and the spectral filter: ≈ 9 m³ flops per replicate (Golub & Van
   Loan's count for the symmetric eigenproblem with vectors), plus 4 d m² for A(τ).
3. **sampling**: n PF-ODE draws per replicate;
4. **density** on the grid with the exact divergence.

Baseline (the code before issue 18): sampling and density by the matmul score in
(R, chunk, m) blocks of 2^24 elements, 64 RK4 steps on a geometric grid, no error
estimate. boundkit: the 1-D score evaluated exactly from its sorted kinks
(:mod:`simulations.rf_exact`), RK4 steps chosen by the error estimate within the
default L1 tolerance (:mod:`simulations.pf_ode`: the density pays for K/2 as well).

Cost model of parts 3–4 (boundkit's path), counted, not guessed: the torch calls made
(a ``TorchFunctionMode`` counter over the same work) × the measured per-call latency,
plus the larger of the bytes moved (≈ 96 B per point and RK4 stage: x in, the piece
index out and in, two gathers, s out, the RK4 axpys; 48 B per table entry) over the
measured copy bandwidth and the binary-search comparisons (⌈log2(m + 1)⌉ per point and
stage, m log2 m per replicate and table for the sorts) over the measured rate of torch's
binary search on an L1-resident table (4M sorted queries, the best case: the ODE's points stay
nearly sorted). Parts 1–2: flops over the measured float64 matmul rate (2 threads).

Run: ``.venv/bin/python benchmarks/bench_diffusion.py [--m 1024 --n 1024 --reps 4]``
(about 3 minutes with the baseline; ``--no-baseline`` skips it). ``--device cuda`` runs
both on the GPU (timers synchronise; the limits are measured there: a 8192² float64
matmul, a 512 MiB copy, the launch latency); ``--sizes 1024 4096 16384`` times boundkit's
round at each m = n in turn (the baseline at the first).
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch.overrides import TorchFunctionMode

from simulations import make_distribution
from simulations._device import DTYPE
from simulations.diffusion import (
    OUSDE,
    RandomFeatureScore,
    RFDiffusionModel,
    dsm_statistics,
    gradient_flow,
    integrate_pf_ode,
    replicate_features,
)
from simulations.grid import Grid
from simulations.pf_ode import BatchedPFODE
from simulations.streams import Streams

BYTES_PER_STAGE_POINT = 96
BYTES_PER_TABLE_ENTRY = 48


DEVICE = torch.device("cpu")
REPEAT = 3  # timings are the best of this many runs (--repeat)


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def best(f, reps: int | None = None) -> tuple[float, object]:
    out, times = None, []
    for _ in range(reps or REPEAT):
        sync()
        t0 = time.perf_counter()
        out = f()
        sync()
        times.append(time.perf_counter() - t0)
    return min(times), out


def machine() -> dict:
    """Measured limits: matmul flop/s, copy bytes/s, per-call latency, binary-search rate."""
    gpu = DEVICE.type == "cuda"
    side = 8192 if gpu else 2048
    a = torch.randn(side, side, dtype=torch.float64, device=DEVICE)
    t, _ = best(lambda: a @ a, 4)  # the first is a warm-up
    big = torch.randn(2**26 if gpu else 2**23, dtype=torch.float64, device=DEVICE)
    dst = torch.empty_like(big)
    t_copy, _ = best(lambda: dst.copy_(big), 5)
    tiny = torch.randn(8, dtype=torch.float64, device=DEVICE)
    calls = 20_000
    sync()
    t0 = time.perf_counter()
    for _ in range(calls):
        tiny.add(1.0)
    sync()
    latency = (time.perf_counter() - t0) / calls
    table = torch.sort(torch.randn(1024, dtype=torch.float64, device=DEVICE)).values
    queries = torch.sort(torch.randn(2**22, dtype=torch.float64, device=DEVICE)).values
    t_bs, _ = best(lambda: torch.searchsorted(table, queries), 4)  # sorted, as the ODE's
    return {"flops": 2 * side**3 / t, "bandwidth": 2 * big.numel() * 8 / t_copy,
            "latency": latency, "compares": queries.numel() * math.ceil(math.log2(1025)) / t_bs}


class Counter(TorchFunctionMode):
    """Counts torch calls (functions and tensor methods)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def geometric_grid(sde: OUSDE, steps: int) -> torch.Tensor:
    return sde.time_grid(steps, DEVICE)


class LegacyScore:
    """The score's hot loop as it was before issue 18: 2^24-element blocks (each
    replicate's features broadcast in, as the model now draws them)."""

    BLOCK = 2**24

    def __init__(self, score: RandomFeatureScore):
        self.W, self.U, self.A, self.T = score.W, score.U, score.A, score.T
        self.m, self.diag = score.m, score.diag

    def at_time(self, x: torch.Tensor, t: float, with_divergence: bool):
        # each replicate's own features (W (R, m, 1)), as the model now draws them
        bias = (self.U[..., 0] + self.U[..., 1] * (t / self.T))[:, None]
        reps, count, _ = x.shape
        chunk = max(1, self.BLOCK // max(1, reps * self.m))
        s = torch.empty_like(x)
        div = torch.empty(x.shape[:2], dtype=DTYPE, device=x.device) if with_divergence else None
        for start in range(0, count, chunk):
            pre = x[:, start:start + chunk] @ self.W.transpose(1, 2) + bias
            if with_divergence:
                div[:, start:start + chunk] = ((pre > 0).to(DTYPE) @ self.diag[..., None])[
                    ..., 0] / self.m
            s[:, start:start + chunk] = torch.relu_(pre) @ self.A.transpose(1, 2) / self.m
        return s, div


def baseline_flow(score, sde, x, forward: bool):
    """Today's PF-ODE: matmul score in 2^24-element blocks, 64 geometric RK4 steps."""
    def velocity(y, t, div):
        s, d = score.at_time(y, float(t), div)
        return -y - s, (-y.shape[-1] - d) if div else 0.0
    return integrate_pf_ode(velocity, x, geometric_grid(sde, 64), forward)


def main() -> None:
    global DEVICE, REPEAT
    ap = argparse.ArgumentParser()
    ap.add_argument("--m", type=int, default=1024)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--sizes", type=int, nargs="*", default=None,
                    help="m = n at each size in turn (overrides --m and --n)")
    ap.add_argument("--reps", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many timings")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    DEVICE, REPEAT = torch.device(args.device), args.repeat
    lim = machine()
    print(f"{DEVICE}: matmul {lim['flops'] / 1e9:.0f} GFLOP/s (float64), copy "
          f"{lim['bandwidth'] / 1e9:.1f} GB/s, {lim['latency'] * 1e6:.1f} µs per torch call, "
          f"binary search {lim['compares'] / 1e9:.2f} G comparisons/s")
    sizes = [(k, k) for k in args.sizes] if args.sizes else [(args.m, args.n)]
    for k, (m, n) in enumerate(sizes):
        one_size(m, n, args.reps, lim, baseline=not args.no_baseline and k == 0)


def one_size(m: int, n: int, reps: int, lim: dict, baseline: bool) -> None:
    """boundkit's round at width m and n points, part by part (and the baseline's).

    Above m = 4096 each part is timed once (the smaller sizes, run first, warmed up)."""
    global REPEAT
    REPEAT = REPEAT if m <= 4096 else 1
    model = RFDiffusionModel(width=m, tau="star")
    sde, dev = model.sde, DEVICE
    streams = Streams(0, reps, device=dev)
    p0 = make_distribution("gaussian", device=dev)
    data = streams.sample(p0, n)
    grid = Grid.around(*p0.support_box(), None, dev)
    w, u = replicate_features(0, 0, Streams(0, reps, device=dev), m, 1)
    tau = model.tau_for(n, m)

    t_dsm, (s_ff, s_yf) = best(lambda: dsm_statistics(w, u, data, sde, model.draws,
                                                       Streams(1, reps, device=dev)))
    t_eigh, a = best(lambda: gradient_flow(s_ff, s_yf, tau))
    count = n * model.draws
    rows = [("DSM statistics", t_dsm, 2 * reps * count * m * m / lim["flops"], None),
            ("eigh + filter", t_eigh, reps * (9 * m**3 + 4 * m * m) / lim["flops"], None)]

    # the model fit_batched returns, on the A timed above (the baseline's A too)
    fast = BatchedPFODE(RandomFeatureScore(w, u, a, sde.T), sde, model.ode_steps, data,
                        model.sampler, m, tau, model.ode_tol, 1.0)

    def density():
        fast.steps_used = None  # choose the steps again: the search is part of the cost
        return fast.grid_density(grid)

    t_dens, dens = best(density)
    steps = fast.steps_used
    t_samp, _ = best(lambda: fast.sample(Streams(2, reps, device=dev), n))
    for name, work, t in (("sampling", "sample", t_samp), ("density", "density", t_dens)):
        counter = Counter()
        fast.steps_integrated = 0
        with counter:
            if work == "sample":
                fast.sample(Streams(2, reps, device=dev), n)
            else:
                density()
        points = reps * (n if work == "sample" else grid.nodes.shape[0])
        total_steps = fast.steps_integrated  # the density's search: 8, 16, 32, K/2, K
        stages = 4 * total_steps * points
        tables = 2 * total_steps + 1
        data_bytes = stages * BYTES_PER_STAGE_POINT + tables * reps * (m + 1) * \
            BYTES_PER_TABLE_ENTRY
        compares = stages * math.ceil(math.log2(m + 1)) + tables * reps * m * math.log2(m)
        model_s = counter.calls * lim["latency"] + max(data_bytes / lim["bandwidth"],
                                                       compares / lim["compares"])
        rows.append((name, t, model_s, counter.calls))
    print(f"\nboundkit on {dev}, m = {m}, n = {n}, R = {reps}; RK4 steps chosen: {steps} (L1 "
          f"error estimate {fast.ode_error:.2g}, tolerance {fast.tol:g}); grid "
          f"{grid.nodes.shape[0]} nodes")
    print(f"{'part':16s} {'time s':>8s} {'model s':>8s} {'time/model':>10s} {'calls':>8s}")
    for name, t, model_s, calls in rows:
        print(f"{name:16s} {t:8.3f} {model_s:8.3f} {t / model_s:10.2f} "
              f"{'' if calls is None else calls:>8}")
    total = sum(r[1] for r in rows)
    print(f"{'round':16s} {total:8.3f}   per replicate-round {total / reps:.3f} s", flush=True)
    if not baseline:
        return
    slow = LegacyScore(RandomFeatureScore(w, u, a, sde.T))
    nodes = grid.nodes[None].expand(reps, -1, -1).contiguous()
    t_bsamp, _ = best(lambda: baseline_flow(slow, sde, Streams(2, reps, device=dev).normal(
        n, 1), False), 1)
    t_bdens, out = best(lambda: baseline_flow(slow, sde, nodes, True), 1)
    base = t_dsm + t_eigh + t_bsamp + t_bdens
    print(f"\nbaseline (matmul blocks of 2^24, 64 geometric steps): sampling {t_bsamp:.2f} s, "
          f"density {t_bdens:.2f} s, round {base:.2f} s, per replicate-round "
          f"{base / reps:.2f} s")
    logp = sde.prior_logp(out[0]) + out[1]
    l1 = grid.integrate((torch.exp(logp) - dens.values).abs())[0]
    print(f"L1 between the baseline's density (64 geometric steps) and boundkit's: "
          f"{float(l1.max()):.2g} (boundkit's own error estimate {fast.ode_error:.2g})")
    print(f"speed-up: sampling {t_bsamp / t_samp:.1f}x, density {t_bdens / t_dens:.1f}x, "
          f"round {base / total:.1f}x (goal >= 20x, <= 1 s per replicate-round)", flush=True)


if __name__ == "__main__":
    main()
