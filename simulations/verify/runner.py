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
    max_reps: int = 0      # the design's cap on 1-D replicates (0: no final stage)
    max_reps_2d: int = 0   # and on 2-D replicates
    #: diffusion models that join every experiment (1-D data), their replicate cap and
    #: the long horizon's rounds for them
    diffusion_models: tuple = ("diffusion-rf", "diffusion-mlp")
    diffusion_cap: int = 4
    diffusion_long_rounds: int = 20
    #: the PF-ODE's L1 tolerance (simulations.pf_ode): its error widens every interval
    ode_tol: float = 2e-4
    #: D1's design: the 95 % half-width its rate interval must reach (0: the pilot only);
    #: replicates are added where they narrow it most per second of the cost model
    #: (simulations.verify.d1_design), up to ``d1_cap`` per size and ``d1_budget_s``
    #: seconds of added cost per top-up
    d1_halfwidth: float = 0.0
    d1_cap: int = 0
    d1_budget_s: float = 3600.0

    @property
    def design(self) -> bool:
        """Whether a final stage sized from the pilot follows (rules.py: design)."""
        return self.max_reps > self.reps


QUICK = Scale("quick", reps=24, reps_2d=4, sizes=(100, 200, 400, 800, 1600), n=200, rounds=8,
              long_rounds=100, diffusion_sizes=(64, 128, 256), diffusion_reps=3, mlp_steps=300,
              ode_tol=1e-3)
#: Quick's sizes with replicates sized by the design (pilot 24, cap 400; 2-D 8, cap 48;
#: diffusion loops up to 16), D1 on seven sizes to n = m = 4,096: a pilot of 20
#: replicates, then up to two top-ups where the rate's ±0.05 interval needs them most.
STANDARD = Scale("standard", reps=24, reps_2d=8, sizes=(100, 200, 400, 800, 1600), n=200,
                 rounds=8, long_rounds=100,
                 diffusion_sizes=(64, 128, 256, 512, 1024, 2048, 4096), diffusion_reps=20,
                 mlp_steps=600, max_reps=400, max_reps_2d=48, diffusion_cap=16,
                 diffusion_long_rounds=30, d1_halfwidth=0.05, d1_cap=1024)
#: The paper-scale run: fixed replicates (no final stage: at 200 replicates a second stage
#: would triple its hour on 2 cores); its verdicts still state the R they need.
FULL = Scale("full", reps=200, reps_2d=32, sizes=(100, 200, 400, 800, 1600, 3200, 6400),
             n=200, rounds=20, long_rounds=200,
             diffusion_sizes=(128, 256, 512, 1024, 2048, 4096), diffusion_reps=16,
             mlp_steps=1500, diffusion_cap=16, diffusion_long_rounds=50, d1_halfwidth=0.05,
             d1_cap=2048, d1_budget_s=7200.0)
SCALES = {s.name: s for s in (QUICK, STANDARD, FULL)}


def clock(seconds: float) -> str:
    """Seconds as "42 s" or "3 min 07 s" (progress lines and the report)."""
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class LoopsFailed(RuntimeError):
    """Some loops of one batch failed: ``errors`` lists (config, message); the verification
    records them and goes on with the next experiment."""

    def __init__(self, errors: list[tuple[LoopConfig, str]]):
        self.errors = errors
        first = errors[0][1].strip().splitlines()[-1] if errors[0][1].strip() else "?"
        super().__init__(f"{len(errors)} loop(s) failed; first: {first}")


class Runner:
    """Runs LoopConfigs and returns their frames, in order; counts the loops for progress
    (``progress(done, total)`` after each loop or sweep update of the current batch)."""

    def __init__(self, scale: Scale, store: str | Path | None = None, executor=None,
                 workers: int | None = None, progress=None):
        self.scale, self.store, self.executor = scale, store, executor
        self.workers, self.progress = workers, progress
        self.loops = 0

    def run(self, configs: list[LoopConfig]) -> list[pd.DataFrame]:
        if self.store is None:
            frames, errors = [], []
            for k, c in enumerate(configs):
                try:
                    frames.append(run(c))
                except Exception as exc:  # recorded; the verification goes on
                    errors.append((c, f"{type(exc).__name__}: {exc}"))
                self.loops += 1
                if self.progress:
                    self.progress(k + 1, len(configs))
            if errors:
                raise LoopsFailed(errors)
            return frames
        from simulations.store import ResultStore, run_key
        from simulations.sweeps import sweep

        step = None if self.progress is None else (
            lambda finished, running, failed, todo: self.progress(
                len(configs) - todo + finished + failed, len(configs)))
        result = sweep(configs, executor=self.executor, store=self.store, workers=self.workers,
                       progress=step)
        self.loops += len(configs)
        if result.interrupted:
            raise KeyboardInterrupt  # the finished loops are in the store: rerun to resume
        if result.failed:
            errors = [(c, result.errors[c.config_hash]) for c in configs
                      if c.config_hash in result.errors]
            raise LoopsFailed(errors)
        with ResultStore(self.store) as store:
            return [store.frame(run_key(c)) for c in configs]
