"""The engine: ``run(config)`` trains R self-consuming loops at once (docs/theory.md §1, §6, §7).

Round i draws n_i points per replicate from π_i = α_i p0 + Σ_k β_{i,k} q_k (any
schedule; q_k the law generation k's synthetic data came from), fits R models at
once (:meth:`fit_batched`), measures them (:mod:`simulations.measure`) and keeps
what later rounds need:

* the synthetic part of π_i is sampled in O(n_i) however many laws it mixes (one
  union mixture for the Gaussian-mixture models; one PF-ODE solve per law with
  β > 0 for diffusion);
* each generation's density is computed once on the shared grid (d ≤ 2), and π_i's
  density is a weighted sum of cached grids: only the latest for latest-only
  schedules, a running sum for balanced ones, every grid for general weights.

Real data: ``fresh`` draws per round, or ``pool`` (the round-0 set, drawn without
replacement while it lasts). Fixed-ratio's ``fixed-real`` convention trains round 0
on the n real points alone and later rounds on exactly n real plus λn synthetic.
All randomness is per replicate (:mod:`simulations.streams`); one host
synchronisation per round moves the round's metrics to the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from boundkit import Balanced, GeneralSchedule
from boundkit._checks import check_choice
from boundkit.errors import InvalidArgument
from simulations import gaussian_exact, gaussian_fast, measure, montecarlo
from simulations._device import DTYPE, resolve_device
from simulations.budget import (  # noqa: F401 (the budget's names stay importable here)
    HOLDOUT,
    MEMORY_GB,
    check_memory,
    estimate_bytes,
    replicate_chunk,
)
from simulations.config import LoopConfig
from simulations.distributions import Distribution
from simulations.grid import Grid, OnGrid
from simulations.laws import BatchedMixture, union
from simulations.models import MAX_ABS
from simulations.registry import DATA_REGISTRY, build_model
from simulations.streams import Streams

#: The frame's columns: ``n`` is the round's training-set size n_i (for fixed-ratio
#: (1+λ)n, real and synthetic together) and ``real_share`` the schedule's real weight α_i,
#: so the round trains on about α_i n_i real points.
COLUMNS = ["replicate", "round", "generation", "n", "real_share", "metric", "value", "lo",
           "hi"]


class _Context:
    """What every round of a run shares."""

    def __init__(self, config: LoopConfig):
        self.config = config
        self.sizes = config.sizes  # computed once (a property that loops over the rounds)
        self.device = resolve_device(config.device)
        self.metrics = set(config.metrics)
        params = dict(config.data_params)
        self.p0 = DATA_REGISTRY.build(config.data, "data", device=self.device, **params)
        self.model = build_model(config.model, dict(config.model_params))
        self.streams = Streams(config.seed, config.replicates, config.first_replicate,
                               self.device)
        self.dim = self.p0.dim
        self.density = isinstance(self.p0, Distribution)
        # no grid where every metric has a closed form, nor for full-covariance fits (a
        # narrow rotated ellipse defeats any fixed grid): those go by Monte Carlo
        self.closed = self.density and gaussian_exact.closed_form_run(
            config, self.p0, _structure(config.schedule_obj))
        full = dict(config.model_params).get("covariance") == "full"
        self.grid = (Grid.around(*self.p0.support_box(), config.grid_points, self.device)
                     if self.density and self.dim <= 2 and not (self.closed or full) else None)
        self.p0_grid = self.grid.density(self.p0) if self.grid is not None else None
        self.holdout = self.streams.sample(self.p0, HOLDOUT)
        self.mu0 = self.p0.mean().reshape(1, 1, -1)
        self.sd0 = self.p0.variance().sqrt().reshape(1, 1, -1)
        self.knn_real_radii = None  # k-NN radii of the held-out data (measure.expensive)
        self.kept = None  # the kept points (data_policy kept, kept-subsample)
        pooled = config.real_data == "pool" or config.convention == "fixed-real"
        self.pool = self.streams.sample(self.p0, config.sizes[0] if config.convention ==
                                        "scaled" else config.n) if pooled else None

    def p0_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.p0.log_prob(x.reshape(-1, self.dim)).reshape(x.shape[:2])


def _structure(schedule) -> str:
    if isinstance(schedule, GeneralSchedule):
        return "general"
    return "balanced" if isinstance(schedule, Balanced) else "latest"


class _Mix:
    """The laws q_k later rounds sample from, their grid densities and TV(q_k, p0)_hi."""

    def __init__(self, structure: str):
        self.structure = structure
        self.laws: list = []
        self.grids: list[OnGrid] = []
        self.running: OnGrid | None = None
        self.e_hi: list[torch.Tensor] = []

    def add(self, law, dens: OnGrid | None, e_hi: torch.Tensor) -> None:
        if self.structure == "latest":
            self.laws, self.e_hi = [law], [e_hi]
            self.grids = [dens] if dens is not None else []
            return
        self.laws.append(law)
        self.e_hi.append(e_hi)
        if dens is not None and self.structure == "general":
            self.grids.append(dens)
        elif dens is not None:
            self.running = dens if self.running is None else self.running.mix(1.0, dens)

    def weights(self, beta: list[float]) -> list[float]:
        """β aligned with the stored laws (latest-only keeps the last one)."""
        return beta[-1:] if self.structure == "latest" else beta

    def pi_grid(self, alpha: float, beta: list[float], p0: OnGrid) -> OnGrid:
        """π_i's density on the grid: α p0 + Σ_k β_k q_k from the cached grids."""
        out = OnGrid(alpha * p0.values, alpha * p0.l1_error)
        if self.structure == "balanced":
            return out.mix(beta[0], self.running)  # equal weights: β_k = 1/(i+1)
        for w, dens in zip(self.weights(beta), self.grids, strict=True):
            if w:
                out = out.mix(w, dens)
        return out

    def carried_hi(self, beta: list[float]) -> torch.Tensor | float:
        """Σ_k β_k TV(q_k, p0)_hi, the carried term of R1."""
        return sum((w * e for w, e in zip(self.weights(beta), self.e_hi, strict=True)), 0.0)

    def draw(self, streams: Streams, beta: list[float], m: int) -> torch.Tensor:
        """m draws per replicate from Σ_k β_k q_k / Σ β."""
        weights = self.weights(beta)
        if isinstance(self.laws[0], BatchedMixture):
            return union(self.laws, weights).sample(streams, m)
        active = [(law, w) for law, w in zip(self.laws, weights, strict=True) if w > 0]
        if len(active) == 1:
            return active[0][0].sample(streams, m)
        probs = torch.tensor([w for _, w in active], dtype=DTYPE, device=streams.device)
        pick = streams.categorical(probs.expand(len(streams), -1), m)[..., None]
        out = torch.zeros((len(streams), m, self.laws[0].dim), dtype=DTYPE,
                          device=streams.device)
        for k, (law, _) in enumerate(active):
            out = torch.where(pick == k, law.sample(streams, m), out)
        return out

    def log_prob(self, ctx: _Context, alpha: float, beta: list[float]):
        """log π_i(x) for points (R, N, d) (Monte Carlo metrics)."""
        def log_pi(x):
            terms = [] if alpha == 0 else [np.log(alpha) + ctx.p0_log_prob(x)]
            for w, law in zip(self.weights(beta), self.laws, strict=True):
                if w > 0:
                    terms.append(np.log(w) + law.log_prob(x))
            return torch.logsumexp(torch.stack(terms), 0)
        return log_pi


def _draw_round(ctx: _Context, mix: _Mix, i: int, alpha: float, beta: list[float]):
    """Round i's training data, shape (R, n_i, d)."""
    cfg, streams, size = ctx.config, ctx.streams, ctx.sizes[i]
    if cfg.data_policy != "fresh":
        return _kept_round(ctx, mix, i)
    if i == 0:
        return ctx.pool if ctx.pool is not None else streams.sample(ctx.p0, size)
    if cfg.convention == "fixed-real":  # exactly n real points plus λn synthetic
        real = ctx.pool if cfg.real_data == "pool" else streams.sample(ctx.p0, cfg.n)
        if size == cfg.n:
            return real
        return torch.cat([real, mix.draw(streams, beta, size - cfg.n)], 1)
    real = synthetic = None
    if alpha > 0:
        if ctx.pool is None:
            real = streams.sample(ctx.p0, size)
        else:
            pool = ctx.pool.shape[1]
            order = streams.permutations(pool)
            idx = order[:, torch.arange(size, device=ctx.device) % pool]
            real = torch.gather(ctx.pool, 1, idx[..., None].expand(-1, -1, ctx.dim))
    if alpha < 1:
        synthetic = mix.draw(streams, beta, size)
    if real is None or synthetic is None:
        return real if synthetic is None else synthetic
    is_real = streams.uniform(size)[..., None] < alpha
    return torch.where(is_real, real, synthetic)


def _kept_round(ctx: _Context, mix: _Mix, i: int) -> torch.Tensor:
    """Kept data (docs/theory.md §1): round 0's n real points, then each generation's
    n-point sample from the latest model, all kept. ``kept`` trains on every kept point
    (Gerstgrasser et al.), ``kept-subsample`` on n of them drawn without replacement
    (Kazdan et al.), one permutation per replicate."""
    cfg, streams = ctx.config, ctx.streams
    if i == 0:
        ctx.kept = streams.sample(ctx.p0, cfg.n)
    else:
        ctx.kept = torch.cat([ctx.kept, mix.laws[-1].sample(streams, cfg.n)], 1)
    if cfg.data_policy == "kept":
        return ctx.kept
    chosen = streams.permutations(ctx.kept.shape[1])[:, :cfg.n]
    return torch.gather(ctx.kept, 1, chosen[..., None].expand(-1, -1, ctx.dim))


def _fit(ctx: _Context, data: torch.Tensor, i: int):
    fit = ctx.model.fit_batched
    if ctx.config.model.startswith("diffusion"):
        return fit(data, ctx.streams, round_=i)
    return fit(data, ctx.streams)


def _check_round(i: int, host: np.ndarray) -> None:
    """Raise on a diverged or collapsed round (flags came back with the round's metrics)."""
    finite, collapsed = bool(host[0]), bool(host[1])
    if not finite:
        raise InvalidArgument(f"round {i}: the training data left float64's safe range (|x| > "
                              f"{MAX_ABS:g} or not finite): the loop diverged. Use fewer rounds "
                              f"or milder settings (temperature, bandwidth).", argument="rounds")
    if collapsed:
        raise InvalidArgument(f"round {i}: a replicate's data have no spread at all (all points "
                              f"equal): the model collapsed. Use larger n or fewer rounds.",
                              argument="rounds")


def run(config: LoopConfig, progress: Callable[[int, int], None] | None = None, *,
        sampler: str = "auto") -> pd.DataFrame:
    """Train ``config.replicates`` loops at once and measure every round.

    Parameters
    ----------
    config : LoopConfig
        What to run (model, data, schedule, data policy, sizes, rounds, replicates,
        seed, device, metrics).
    progress : callable, optional
        Called as ``progress(rounds_done, rounds)`` after each round.
    sampler : {"auto", "points", "sufficient"}
        How training data are drawn. ``points`` draws every point. ``sufficient`` draws
        a diagonal Gaussian MLE's sufficient statistics exactly instead (O(1) per round
        whatever n: [gaussian_fast][simulations.gaussian_fast]); it applies to fresh-data
        loops on a Gaussian p0 whose asked metrics all have closed forms. ``auto``
        (default) takes it where it applies. Both give the same law of the loop, not the
        same random numbers.

    Returns
    -------
    pandas.DataFrame
        The tidy frame, one row per replicate, round and metric. Columns: replicate,
        round, generation (= round: generation i is the model p_{i+1} of round i), n (the
        round's training-set size n_i), real_share (the schedule's α_i), metric, value,
        lo, hi (an interval that holds the value's truth). ``frame.attrs`` holds
        ``config`` (the dict) and ``config_hash``.

    Raises
    ------
    InvalidArgument
        A config of which not even one replicate fits the memory budget (checked before
        any work); larger runs go in chunks of replicates that fit, with the same numbers.

    Notes
    -----
    The same config gives the same numbers on CPU. Metrics: ``e`` = e_{i+1} =
    TV(p_{i+1}, p0), ``delta`` = δ_i = TV(p_{i+1}, π_i), ``kl``, ``v1_margin`` (R1 with
    the measured δ) and ``v2_margin`` (Pinsker), moments, NLL and more on request.

    References
    ----------
    docs/theory.md §1, §2 (R1), §6.

    Examples
    --------
    >>> from simulations import LoopConfig, run
    >>> frame = run(LoopConfig(model="gaussian-mle", data="gaussian", n=50, rounds=2))
    >>> sorted(set(frame.generation)), float(frame.real_share.max())
    ([0, 1], 1.0)
    """
    if not isinstance(config, LoopConfig):
        raise TypeError(f"config must be a LoopConfig; got {type(config).__name__}.")
    check_choice(sampler, ("auto", "points", "sufficient"), "sampler")
    schedule = config.schedule_obj
    structure = _structure(schedule)
    if sampler != "points":
        p0 = DATA_REGISTRY.build(config.data, "data", **dict(config.data_params))
        comps = gaussian_fast.plan(config, p0, structure)
        if comps is not None:
            records, shares = gaussian_fast.run_sufficient(config, config.sizes, comps, p0,
                                                           progress)
            return _frame(config, records, shares)
        if sampler == "sufficient":
            raise InvalidArgument(
                "sampler='sufficient' needs a diagonal Gaussian MLE on a one-Gaussian p0 with "
                "fresh data (scaled sizes, real_data='fresh') and metrics with closed forms "
                "(TV only in 1-D; delta, tv_pi, kl only when pi_i is one law). Pass "
                "sampler='auto' or 'points'.", argument="sampler")
    check_memory(config)
    chunk = replicate_chunk(config)
    if chunk < config.replicates:
        return _in_chunks(config, chunk, progress)
    ctx = _Context(config)
    mix = _Mix(structure)
    records: list[tuple[int, int, str, np.ndarray]] = []
    shares: list[float] = []
    for i in range(config.rounds):
        alpha, beta = (1.0, []) if i == 0 else schedule.weights(i)
        alpha, beta = float(alpha), [float(b) for b in beta]
        shares.append(alpha)
        data = _draw_round(ctx, mix, i, alpha, beta)
        law = _fit(ctx, data, i)
        metrics, f = _measure(ctx, mix, law, i, alpha, beta)
        sampling_law = law
        if isinstance(law, BatchedMixture):
            sampling_law = law.transformed(config.temperature, config.self_correct, ctx.mu0,
                                           ctx.sd0)
        dens, e_hi = _law_for_later(ctx, law, sampling_law, f, metrics)
        host = _to_host(ctx, data, law, metrics)  # the round's one host synchronisation
        _check_round(i, host[:2])
        values = host[2:].reshape(len(metrics), 3, config.replicates)
        for k, name in enumerate(metrics):
            records.append((i, ctx.sizes[i], name, values[k]))
        for name, value in _extra(law).items():
            records.append((i, ctx.sizes[i], name, np.full((3, config.replicates), value)))
        mix.add(sampling_law, dens, e_hi)
        if progress is not None:
            progress(i + 1, config.rounds)
    return _frame(config, records, shares)


def _to_host(ctx: _Context, data: torch.Tensor, law, metrics: dict) -> np.ndarray:
    """[finite?, collapsed?, every metric's (value, lo, hi) per replicate] on the host."""
    reps, dev = ctx.config.replicates, ctx.device
    collapsed = (torch.any(law.scales.amax((1, 2)) <= 0) if isinstance(law, BatchedMixture)
                 else torch.zeros((), dtype=torch.bool, device=dev))
    flags = torch.stack([torch.all(torch.isfinite(data) & (data.abs() <= MAX_ABS)),
                         collapsed]).to(DTYPE)
    rows = [torch.as_tensor(v, dtype=DTYPE, device=dev).expand(reps)
            for triple in metrics.values() for v in triple]
    return torch.cat([flags, *rows]).cpu().numpy()


def _measure(ctx: _Context, mix: _Mix, law, i: int, alpha: float, beta: list[float]):
    """(the round's wanted metrics, the fitted density on the grid or None)."""
    carried = 0.0 if i == 0 else mix.carried_hi(beta)
    f = None
    if not ctx.density:
        out = measure.density_free(ctx, law)
    elif ctx.closed:
        out = gaussian_exact.closed_form(ctx, law, _single_law(ctx, mix, i, alpha, beta),
                                         i == 0, carried)
    elif ctx.grid is not None:
        f = law.grid_density(ctx.grid) if measure.needs_density(ctx, law) else None
        pi = None
        if measure.needs_pi(ctx):
            pi = ctx.p0_grid if i == 0 else mix.pi_grid(alpha, beta, ctx.p0_grid)
        out = measure.on_grid(ctx, law, f, pi, i == 0, carried)
    elif not ctx.metrics & {"e", "delta", "tv_pi", "kl", "kl_p0", "mean", "var", "nll"}:
        out = {}  # only the fit's own summaries (or opt-ins) asked: no Monte Carlo
    else:
        pi_log = ctx.p0_log_prob if i == 0 else mix.log_prob(ctx, alpha, beta)

        def pi_draws(m):
            return _draw_mixture(ctx, mix, alpha, beta, m)

        out = measure.by_monte_carlo(ctx, law, pi_log, pi_draws, i == 0, carried)
    if ctx.density and not ctx.closed:  # closed forms replace grid or Monte Carlo values
        gaussian_exact.exact_gaussian(ctx, law, _single_law(ctx, mix, i, alpha, beta), out,
                                      carried)
    measure.expensive(ctx, law, out)
    measure.fit_summaries(ctx, law, out)
    return {k: v for k, v in out.items() if _wanted(ctx, k)}, f


def _single_law(ctx: _Context, mix: _Mix, i: int, alpha: float, beta: list[float]):
    """π_i when it is one law (p0 in round 0 or a real share of 1; one model with weight
    1), else None."""
    if i == 0 or alpha == 1:
        return ctx.p0
    weights = mix.weights(beta)
    active = [law for law, w in zip(mix.laws, weights, strict=True) if w > 0]
    return active[0] if alpha == 0 and len(active) == 1 else None


def _wanted(ctx: _Context, name: str) -> bool:
    if name in ("v1_margin", "v2_margin"):
        return {"e", "delta", "kl"} <= ctx.metrics
    if name in ("precision", "recall"):
        return "precision_recall" in ctx.metrics
    return name in ctx.metrics


def _draw_mixture(ctx: _Context, mix: _Mix, alpha: float, beta: list[float], m: int):
    """m draws per replicate from π_i (fresh p0 draws for the real share)."""
    synth = mix.draw(ctx.streams, beta, m) if alpha < 1 else None
    real = ctx.streams.sample(ctx.p0, m) if alpha > 0 else None
    if real is None or synth is None:
        return real if synth is None else synth
    return torch.where(ctx.streams.uniform(m)[..., None] < alpha, real, synth)


def _law_for_later(ctx: _Context, law, sampling_law, f: OnGrid | None, metrics: dict):
    """(grid density, TV(q, p0)_hi) of the law the next rounds sample from: each only
    when later rounds need it (π_i's density; the carried term of the V1 margin)."""
    zero = torch.zeros(ctx.config.replicates, dtype=DTYPE, device=ctx.device)
    margins = {"e", "delta", "kl"} <= ctx.metrics
    if not ctx.density or not (margins or measure.needs_pi(ctx)):
        return None, zero
    if ctx.closed:
        return None, (metrics["e"][2] if sampling_law is law and "e" in metrics
                      else gaussian_exact.e_hi(ctx, sampling_law))
    if ctx.grid is not None and not margins:
        return (f if sampling_law is law and f is not None
                else sampling_law.grid_density(ctx.grid)), zero
    if sampling_law is law and "e" in metrics:
        return f, metrics["e"][2]
    if ctx.grid is not None:
        dens = f if sampling_law is law else sampling_law.grid_density(ctx.grid)
        return dens, ctx.grid.tv(dens, ctx.p0_grid)[2]
    m = ctx.config.mc_samples // 2
    x_q, x_p0 = sampling_law.sample(ctx.streams, m), ctx.streams.sample(ctx.p0, m)
    return None, montecarlo.tv(sampling_law.log_prob, ctx.p0_log_prob, x_q, x_p0,
                               ctx.config.confidence, ctx.config.interval)[2]


def _extra(law) -> dict:
    """Per-round facts of diffusion fits: the width m, the training time τ (and τ/τ*(n, m)
    for random features), the PF-ODE's RK4 steps and their L1 error estimate."""
    if not getattr(law, "width", 0):
        return {}
    steps = law.resolve_steps()
    facts = {"width": float(law.width), "tau": float(law.tau), "ode_steps": float(steps),
             "ode_error": float(law.ode_error)}
    if math.isfinite(law.tau_ratio):
        facts["tau_ratio"] = float(law.tau_ratio)
    return {k: v for k, v in facts.items() if math.isfinite(v)}


def _in_chunks(config: LoopConfig, chunk: int, progress) -> pd.DataFrame:
    """Run the replicates in chunks that fit the memory budget; the same numbers as one
    pass (each replicate's streams depend on its index only), the same frame."""
    starts = range(config.first_replicate, config.first_replicate + config.replicates, chunk)
    frames = []
    for k, first in enumerate(starts):
        size = min(chunk, config.first_replicate + config.replicates - first)
        step = None if progress is None else (
            lambda done, total, _k=k: progress(_k * total + done, total * len(starts)))
        frames.append(run(config.replace(replicates=size, first_replicate=first), step,
                          sampler="points"))
    frame = pd.concat(frames, ignore_index=True)
    frame.attrs["config"] = config.to_dict()
    frame.attrs["config_hash"] = config.config_hash
    return frame


def _frame(config: LoopConfig, records, shares: list[float]) -> pd.DataFrame:
    """The tidy frame from the per-round records (appended in round order), built from
    whole columns at once, replicate-major: rows sorted by replicate, then round."""
    reps, k = config.replicates, len(records)
    ids = np.arange(config.first_replicate, config.first_replicate + reps)
    per_record = np.array([r[0] for r in records], dtype=np.int64)
    values = (np.stack([r[3] for r in records], 1) if k
              else np.zeros((3, 0, reps)))  # (3, K, R)
    values = values.transpose(0, 2, 1).reshape(3, -1)  # replicate-major
    rounds = np.tile(per_record, reps)
    metric = np.array([r[2] for r in records], dtype=object)
    frame = pd.DataFrame({
        "replicate": np.repeat(ids, k), "round": rounds, "generation": rounds,
        "n": np.tile(np.array([r[1] for r in records], dtype=np.int64), reps),
        "real_share": np.asarray(shares, dtype=np.float64)[rounds],
        "metric": np.tile(metric, reps), "value": values[0], "lo": values[1],
        "hi": values[2]}, columns=COLUMNS)
    frame.attrs["config"] = config.to_dict()
    frame.attrs["config_hash"] = config.config_hash
    return frame
