"""The memory budget of one engine run: an estimate of its peak, checked before any work.

``estimate_bytes`` is a cost model with measured coefficients (training data and stored
points, cached grid densities, random-feature matrices, Monte Carlo draws, the frame);
``replicate_chunk`` gives the most replicates one pass may hold within the budget (8 GiB,
or ``BOUNDKIT_MEMORY_GB``), and the engine runs larger runs in chunks of replicates;
``check_memory`` refuses, before any work, a run where not even one replicate fits.
"""

from __future__ import annotations

import os

from boundkit.errors import InvalidArgument
from simulations.config import LoopConfig
from simulations.grid import POINTS
from simulations.registry import DATA_REGISTRY
from simulations.rf_exact import CACHE_BYTES as KINK_CACHE

#: Held-out real points per replicate (the NLL metric).
HOLDOUT = 2000
#: Default memory budget of one run (override with BOUNDKIT_MEMORY_GB).
MEMORY_GB = 8.0


#: Work space every point-path run holds besides its arrays (FFT plans, scratch), measured.
FIXED_BYTES = 20 * 2**20
#: glibc raises its mmap threshold after large frees, so freed arrays may stay resident:
#: the same run peaked at 0.52 to 0.91 GiB (live arrays 0.52). The budget is checked
#: against the estimate times this factor.
ALLOCATOR_SLACK = 1.75
#: Bytes per point of the largest round and replicate, per model (data, draws, kernel
#: binning, fit scratch), measured at 1-D; KDE adds 66 bytes per further coordinate.
PER_POINT = {"kde": 124, "gaussian-mle": 47}
#: Bytes per grid node and replicate besides the kept densities of earlier rounds (the
#: density, its pointwise bounds and KL's bounded integrands), measured per dimension.
PER_NODE = {1: 35, 2: 104}


def estimate_bytes(config: LoopConfig, dim: int | None = None) -> int:
    """Approximate peak memory of :func:`simulations.engine.run` on its point path (bytes).

    A cost model of the live arrays with measured coefficients (tests/test_budget_memory.py
    checks it within 25 % of the measured peak of runs of 0.2 to 1 GiB, measured with
    glibc's mmap threshold fixed so that freed arrays leave; the budget adds
    :data:`ALLOCATOR_SLACK` for what the allocator keeps):

    ``FIXED_BYTES + R · (PER_POINT · n_max + 32 · d · stored + nodes · (PER_NODE_d + 8 · kept))
    + random-feature matrices (4 · 8 · R · m², and the kink tables' cache) + Monte Carlo
    draws + held-out data``,

    with R the replicates, n_max the largest round, ``stored`` the points later rounds keep
    (balanced and general schedules, the kept data policies), nodes the grid's nodes
    (d ≤ 2) and ``kept`` the grid densities the schedule keeps (2, or every round for a
    general schedule).
    """
    reps, sizes = config.replicates, config.sizes
    if dim is None:
        dim = DATA_REGISTRY.build(config.data, "data", **dict(config.data_params)).dim
    n_max = max(sizes)
    keeps = (config.schedule in ("balanced", "general")
             or config.data_policy in ("accumulate", "accumulate-subsample"))
    stored = sum(sizes) if keeps else 0
    per_point = PER_POINT.get(config.model, 64) + (66 * (dim - 1) if config.model == "kde"
                                                   else 8 * (dim - 1))
    nodes = (config.grid_points or POINTS.get(dim, 0)) ** dim if dim <= 2 else 0
    kept = config.rounds if config.schedule == "general" else 2
    per_rep = per_point * n_max + 32 * dim * stored + nodes * (PER_NODE.get(dim, 0) + 8 * kept)
    mc = 8 * reps * dim * 6 * config.mc_samples if dim > 2 else 0
    params = dict(config.model_params)
    width = int(params.get("width", 0)) if config.model == "diffusion-rf" else 0
    if config.model == "diffusion-rf" and params.get("width_factor") is not None:
        width = round(float(params["width_factor"]) * n_max)
        if params.get("max_width") is not None:
            width = min(width, int(params["max_width"]))
    # the random-feature matrices, and the 1-D score's kink tables kept between calls
    rf = 8 * reps * 4 * width * width + (KINK_CACHE if width else 0)
    frame = 200 * 14 * config.rounds * reps
    return int(FIXED_BYTES + reps * per_rep + mc + rf + frame + 8 * reps * HOLDOUT * dim)


def budget_bytes() -> float:
    """The memory budget of one run's estimate: 8 GiB (or ``BOUNDKIT_MEMORY_GB``) divided by
    :data:`ALLOCATOR_SLACK`."""
    return float(os.environ.get("BOUNDKIT_MEMORY_GB", MEMORY_GB)) * 2**30 / ALLOCATOR_SLACK


def replicate_chunk(config: LoopConfig) -> int:
    """The most replicates of ``config`` one pass may hold within the budget (0: not even
    one fits); the engine runs the replicates in chunks of this size (same numbers: each
    replicate's streams depend on its index only)."""
    budget = budget_bytes()
    dim = DATA_REGISTRY.build(config.data, "data", **dict(config.data_params)).dim
    if estimate_bytes(config, dim) <= budget:
        return config.replicates
    lo, hi = 0, config.replicates  # largest chunk whose estimate fits (estimates grow with R)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if estimate_bytes(config.replace(replicates=mid), dim) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def check_memory(config: LoopConfig) -> None:
    """Refuse a run above the memory budget, before any work."""
    budget = budget_bytes() * ALLOCATOR_SLACK
    need = estimate_bytes(config.replace(replicates=1)) * ALLOCATOR_SLACK
    if need > budget:
        raise InvalidArgument(
            f"this run needs about {need / 2**30:,.1f} GiB (limit {budget / 2**30:g} GiB; "
            f"largest round {max(config.sizes):,} points, {config.rounds} rounds) even for "
            f"one replicate. Pass a smaller n, growth, dimension or rounds, or raise "
            f"BOUNDKIT_MEMORY_GB.", argument="n")
