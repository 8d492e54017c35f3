"""Shared state of one verification: the runner, cached fits, frames and verdicts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from simulations.config import LoopConfig
from simulations.verify.fits import Calibration, RateFit, calibrate, fit_rate
from simulations.verify.rules import Verdict, mean_se, t_interval
from simulations.verify.runner import Runner

#: The models confronted with the bounds, with their parameters.
MODELS = {"gaussian-mle": {}, "kde": {"bandwidth": "silverman"}}
#: Diffusion models (joined per scale): the paper's random-feature score at m = n (at most
#: 1,024: P2's large λ would ask for m³ eigendecompositions of 10^4; D1 goes to 4,096
#: without the cap) and R7's stopping time τ*(n, m) (E2/E3), and an MLP score (Adam steps
#: from the scale).
DIFFUSION = {"diffusion-rf": {"width_factor": 1.0, "tau": "star", "max_width": 1024},
             "diffusion-mlp": {}}
#: The data sets (1-D Gaussian, 1-D unequal mixture, 2-D ring of 8); diffusion runs the
#: 1-D ones (its exact 1-D score evaluation; the MLP's divergence is one pass per axis).
DATA = ("gaussian", "unequal", "ring8")
DIFFUSION_DATA = ("gaussian", "unequal")
DIM = {"gaussian": 1, "unequal": 1, "ring8": 2}
#: Grid nodes of diffusion loops (each node is a PF-ODE path).
DIFFUSION_GRID = 1025


def theory_rate(model: str, dim: int) -> float | None:
    """The model's TV rate: MLE 1/2 (E5), Gaussian-kernel KDE s/(2s+d) with s = 2 (E4),
    random-feature diffusion at m = n, τ = τ* E3's 1/5 (E2's 1/4 in D1); None for the MLP
    score (no rate is claimed for it)."""
    if model == "gaussian-mle":
        return 0.5
    if model == "kde":
        return 2 / (4 + dim)
    return 0.2 if model == "diffusion-rf" else None


def is_diffusion(model: str) -> bool:
    return model in DIFFUSION


class Study:
    """One verification: loops run through ``runner``; fits cached per (model, data)."""

    def __init__(self, runner: Runner, seed: int = 0, device: str = "cpu"):
        self.runner, self.seed, self.device = runner, seed, device
        self.scale = runner.scale
        self.fits: dict[tuple, RateFit] = {}
        self.fit_values: dict[tuple, list] = {}
        self.cals: dict[tuple, Calibration] = {}
        self.c1: list[tuple[str, str, pd.DataFrame]] = []
        self.verdicts: list[Verdict] = []
        self.summaries: list[pd.DataFrame] = []
        self.notes: dict[str, str] = {}
        self.factor = 1.0  # replicates × this in the design's final stage (see reps())
        self.failures: list[tuple[str, str]] = []  # (experiment, what failed)
        self.regimes: dict[tuple, list[pd.DataFrame]] = {}  # diffusion facts per (model, data)

    def models(self) -> list[str]:
        """MLE, KDE and the scale's diffusion models."""
        return [*MODELS, *self.scale.diffusion_models]

    def data_for(self, model: str) -> tuple:
        """Data sets of the experiments run on every one (V3, V4, V5, P3 at constant n,
        P5): all three for MLE and KDE, the two 1-D ones for diffusion."""
        return DIFFUSION_DATA if is_diffusion(model) else DATA

    def model_data(self) -> list[tuple[str, str]]:
        """(model, data) pairs of P1, P2, P3's growing sizes, P4 and the long horizon: the
        Gaussian for MLE and KDE; both 1-D data sets (the Gaussian and ``unequal``) for
        diffusion, the paper's own model class, which thus meets every claim on a
        unimodal and a multimodal target."""
        return [(m, d) for m in self.models()
                for d in (DIFFUSION_DATA if is_diffusion(m) else ("gaussian",))]

    # -- loops -----------------------------------------------------------------------------

    def reps(self, dim: int = 1, model: str | None = None) -> int:
        """Replicates of this stage: the scale's (the pilot) times the design's factor,
        capped by the scale's budget (diffusion: by ``diffusion_cap`` as well)."""
        base, cap = ((self.scale.reps, self.scale.max_reps) if dim == 1 else
                     (self.scale.reps_2d, self.scale.max_reps_2d))
        reps = int(min(max(base, np.ceil(base * self.factor)), max(cap, base)))
        return min(reps, self.scale.diffusion_cap) if model and is_diffusion(model) else reps

    def params(self, model: str) -> dict:
        """The model's parameters at this scale (diffusion: the scale's ODE tolerance)."""
        if model == "diffusion-mlp":
            return {"steps": self.scale.mlp_steps, "ode_tol": self.scale.ode_tol}
        if model in DIFFUSION:
            return {**DIFFUSION[model], "ode_tol": self.scale.ode_tol}
        return dict(MODELS.get(model, {}))

    def config(self, model: str, data: str, **kw) -> LoopConfig:
        reps = self.reps(DIM.get(data, 1), model)
        params = {"model": model, "model_params": self.params(model), "data": data,
                  "n": self.scale.n, "rounds": self.scale.rounds, "replicates": reps,
                  "seed": self.seed}
        if is_diffusion(model):
            params["grid_points"] = DIFFUSION_GRID
        params.update(kw)
        return LoopConfig(**params)

    def loops(self, configs: list[LoopConfig]) -> list[pd.DataFrame]:
        # every loop of a verification runs on its device (built-in and users' claims)
        configs = [c if c.device == self.device else c.replace(device=self.device)
                   for c in configs]
        frames = self.runner.run(configs)
        batch: dict[tuple, list[pd.DataFrame]] = {}
        for c, f in zip(configs, frames, strict=True):
            self.c1.append((c.model, c.data, f))
            if is_diffusion(c.model):
                batch.setdefault((c.model, c.data), []).append(f)
        self.regimes.update(batch)  # a verdict states the regime of its latest batch
        return frames

    def regime(self, model: str, data: str) -> str:
        """The diffusion regime of the latest batch of loops of (model, data): the width m,
        τ/τ*(n, m) (random features) or the Adam steps (MLP), the RK4 steps and the
        largest L1 error estimate those steps leave (docs/verify.md)."""
        frames = self.regimes.get((model, data), [])
        if not frames:
            return ""
        facts = pd.concat([f[f.metric.isin(["width", "tau", "tau_ratio", "ode_steps",
                                            "ode_error"])] for f in frames])
        get = facts.groupby("metric")["value"]
        lo, hi = get.min(), get.max()

        def span(name, fmt="{:.0f}"):
            a, b = fmt.format(lo[name]), fmt.format(hi[name])
            return a if a == b else f"{a}–{b}"

        flow = (f"tau/tau* = {span('tau_ratio', '{:.3g}')}" if "tau_ratio" in lo
                else f"Adam steps {span('tau')}")
        return (f"; regime: width m = {span('width')}, {flow}, RK4 steps "
                f"{span('ode_steps')}, ODE L1 error <= {hi['ode_error']:.2g}")

    def verdict(self, claim, kind, model, data, verdict, statistic, detail, *,
                setting: str = "", schedule: str | None = None,
                convention: str | None = None, replicates: int | None = None) -> None:
        """Add a verdict; ``verdict`` may carry ``needs`` (a rules.Decision)."""
        needs = getattr(verdict, "needs", None)
        if is_diffusion(model):
            detail += self.regime(model, data)
        if (verdict == "inconclusive" and needs is not None and replicates is not None
                and needs > replicates):
            detail += f"; inconclusive at R = {replicates}: needs R ≈ {needs:,}"
        self.verdicts.append(Verdict(
            claim, kind, model, data, str(verdict),
            None if statistic is None else float(statistic), detail, setting, schedule,
            convention, self.scale.name, replicates, needs))

    def summary(self, experiment: str, model: str, data: str, series: str, x, mean, lo, hi,
                bound=None, predicted=None) -> None:
        """Rows for the figures and tables: one per x."""
        n = len(mean)
        self.summaries.append(pd.DataFrame({
            "experiment": experiment, "model": model, "data": data, "series": series,
            "x": np.asarray(x, float), "mean": mean, "lo": lo, "hi": hi,
            "bound": np.full(n, np.nan) if bound is None else bound,
            "predicted": np.full(n, np.nan) if predicted is None else predicted}))

    # -- fits ------------------------------------------------------------------------------

    def rate_configs(self, model: str, data: str) -> list[LoopConfig]:
        """V3's loops: round 0 over the geometric grid of n."""
        return [self.config(model, data, n=n, rounds=1, schedule="full-synthetic")
                for n in self.scale.sizes]

    def record_rate(self, model: str, data: str, frames: list[pd.DataFrame]) -> RateFit:
        """Fit δ(n) from the frames of :meth:`rate_configs` and cache it."""
        key = (model, data)
        values = [values_at(f, "delta", 0) for f in frames]
        self.fit_values[key] = values
        self.fits[key] = fit_rate(self.scale.sizes, values, seed=self.seed)
        return self.fits[key]

    def rate(self, model: str, data: str) -> RateFit:
        """V3's fit of round 0's δ(n) over the geometric grid of n (cached)."""
        if (model, data) not in self.fits:
            self.record_rate(model, data, self.loops(self.rate_configs(model, data)))
        return self.fits[(model, data)]

    def calibration(self, model: str, data: str) -> Calibration:
        """R8's calibration (cached)."""
        key = (model, data)
        if key not in self.cals:
            base = self.config(model, data, rounds=1)
            self.cals[key] = self._stored_calibration(base)
        return self.cals[key]

    def _stored_calibration(self, base: LoopConfig) -> Calibration:
        """calibrate() trains round-0 fits in this process, outside the sweep; with a
        store, its result is kept there (keyed by the config's run key and the sizes), so
        that a resumed run neither repeats it (minutes per diffusion model) nor changes it."""
        if self.runner.store is None:
            return calibrate(base, self.scale.sizes)
        from simulations.store import ResultStore, run_key

        name = f"calibration:{run_key(base)}:{list(self.scale.sizes)}"
        with ResultStore(self.runner.store) as store:
            kept = store.derived(name)
        if kept is not None:
            return Calibration(**{k: tuple(v) if isinstance(v, list) else v
                                  for k, v in kept.items()})
        cal = calibrate(base, self.scale.sizes)
        with ResultStore(self.runner.store) as store:
            store.record_derived(name, dataclasses.asdict(cal))
        return cal


def values_at(frame: pd.DataFrame, metric: str, generation: int) -> np.ndarray:
    """Per-replicate values of one metric at one generation (ordered by replicate)."""
    sel = frame[(frame.metric == metric) & (frame.generation == generation)]
    return sel.sort_values("replicate")["value"].to_numpy()


def by_generation(frame: pd.DataFrame, metric: str = "e") -> pd.DataFrame:
    """Per generation: mean, se, lo, hi (95 % t interval) and the replicate count."""
    rows = []
    sel = frame[frame.metric == metric]
    for g, part in sel.groupby("generation"):
        v = part.sort_values("replicate")["value"].to_numpy()
        m, se = mean_se(v)
        _, lo, hi = t_interval(v)
        rows.append((int(g), m, se, lo, hi, v.size))
    return pd.DataFrame(rows, columns=["generation", "mean", "se", "lo", "hi", "reps"])


def replicate_matrix(frame: pd.DataFrame, metric: str = "e") -> np.ndarray:
    """(replicates, generations) matrix of one metric."""
    sel = frame[frame.metric == metric].pivot(index="replicate", columns="generation",
                                              values="value")
    return sel.sort_index(axis=1).to_numpy()
