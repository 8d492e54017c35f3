"""The memory budget of one engine run: an estimate of its peak, checked before any work.

``estimate_bytes`` adds the training data and stored models, the cached grid densities,
FFT and mixture-density work space, Monte Carlo draws, random-feature matrices and the
frame; ``check_memory`` refuses a run above the budget (8 GiB, or ``BOUNDKIT_MEMORY_GB``)
with the sizes to change.
"""

from __future__ import annotations

import os

from boundkit.errors import InvalidArgument
from simulations.config import LoopConfig
from simulations.grid import POINTS
from simulations.registry import DATA_REGISTRY

#: Held-out real points per replicate (the NLL metric).
HOLDOUT = 2000
#: Default memory budget of one run (override with BOUNDKIT_MEMORY_GB).
MEMORY_GB = 8.0


def estimate_bytes(config: LoopConfig) -> int:
    """Approximate peak memory of :func:`simulations.engine.run` (bytes): data and stored
    models, cached grid densities, FFT and mixture-density work space, Monte Carlo draws,
    the frame."""
    reps, sizes = config.replicates, config.sizes
    dim = DATA_REGISTRY.build(config.data, "data", **dict(config.data_params)).dim
    n_max = max(sizes)
    stored = sum(sizes) if config.schedule in ("balanced", "general") else n_max
    data = 8 * reps * dim * (6 * n_max + (2 * stored if config.model == "kde" else 0))
    nodes = (config.grid_points or POINTS.get(dim, 0)) ** dim if dim <= 2 else 0
    kept = config.rounds if config.schedule == "general" else 2
    grids = 8 * reps * nodes * (8 + kept) + 16 * min(reps, 8) * 4 * nodes
    mc = 8 * reps * dim * 6 * config.mc_samples if dim > 2 else 0
    params = dict(config.model_params)
    width = int(params.get("width", 0)) if config.model == "diffusion-rf" else 0
    if config.model == "diffusion-rf" and params.get("width_factor") is not None:
        width = round(float(params["width_factor"]) * n_max)
    rf = 8 * reps * 4 * width * width + (2**24 * 8 * 3 if width else 0)
    block = 2**23 * 8 * 4
    frame = 200 * 14 * config.rounds * reps
    return int(data + grids + mc + rf + block + frame + 8 * reps * HOLDOUT * dim)


def check_memory(config: LoopConfig) -> None:
    """Refuse a run above the memory budget, before any work."""
    budget = float(os.environ.get("BOUNDKIT_MEMORY_GB", MEMORY_GB)) * 2**30
    need = estimate_bytes(config)
    if need > budget:
        raise InvalidArgument(
            f"this run needs about {need / 2**30:,.1f} GiB (limit {budget / 2**30:g} GiB; "
            f"largest round {max(config.sizes):,} points, {config.replicates} replicate(s), "
            f"{config.rounds} rounds). Pass a smaller n, growth, dimension, rounds or "
            f"replicates (or split the replicates with first_replicate), or raise "
            f"BOUNDKIT_MEMORY_GB.", argument="n")
