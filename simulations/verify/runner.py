"""How ``boundkit verify`` runs its loops: in process (``--quick``) or through the sweep
runner and a results store (``--full``: resumable, on local workers, Dask or Slurm)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from simulations.config import LoopConfig
from simulations.engine import run


@dataclass(frozen=True)
class Scale:
    """Sizes of one verification run (replicates, grids, horizons)."""

    name: str
    reps: int            # replicates of 1-D loops
    reps_2d: int         # replicates of 2-D loops
    sizes: tuple         # V3's geometric grid of n
    n: int               # real n of the loops
    rounds: int          # horizon of the loops
    long_rounds: int     # the long horizon
    diffusion_sizes: tuple
    diffusion_reps: int
    mlp_steps: int


QUICK = Scale("quick", reps=24, reps_2d=4, sizes=(100, 200, 400, 800, 1600), n=200, rounds=8,
              long_rounds=100, diffusion_sizes=(64, 128, 256), diffusion_reps=3, mlp_steps=300)
FULL = Scale("full", reps=200, reps_2d=32, sizes=(100, 200, 400, 800, 1600, 3200, 6400),
             n=200, rounds=20, long_rounds=200, diffusion_sizes=(128, 256, 512, 1024, 2048),
             diffusion_reps=8, mlp_steps=1500)


class Runner:
    """Runs LoopConfigs and returns their frames, in order."""

    def __init__(self, scale: Scale, store: str | Path | None = None, executor=None,
                 workers: int | None = None, progress=None):
        self.scale, self.store, self.executor = scale, store, executor
        self.workers, self.progress = workers, progress
        self.loops = 0

    def run(self, configs: list[LoopConfig]) -> list[pd.DataFrame]:
        self.loops += len(configs)
        if self.store is None:
            return [run(c) for c in configs]
        from simulations.store import ResultStore, run_key
        from simulations.sweeps import sweep

        result = sweep(configs, executor=self.executor, store=self.store, workers=self.workers,
                       progress=self.progress)
        if result.interrupted:
            raise KeyboardInterrupt  # the finished loops are in the store: rerun to resume
        if result.failed:
            raise RuntimeError(f"{len(result.failed)} verification loop(s) failed; see "
                               f"`boundkit results list --store {self.store}`")
        with ResultStore(self.store) as store:
            return [store.frame(run_key(c)) for c in configs]
