"""``run_loop``: the object-style front door to the engine, and the C1 verdicts per round.

:func:`run_loop` takes a model object, p0 and a boundkit schedule object, builds
the :class:`~simulations.config.LoopConfig` they describe and runs it on the engine
(:func:`simulations.engine.run`): same frame, same numbers as ``run(config)``.
Round i draws n_i points from π_i = α_i p0 + Σ_k β_{i,k} p_k, fits the model and
gets p_{i+1}: **generation i**. The metrics are those of :mod:`simulations.measure`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pandas as pd

from boundkit import (
    Balanced,
    ConstantRealShare,
    FinalRoundRescue,
    FixedRatio,
    FullSynthetic,
    GeneralSchedule,
    Schedule,
)
from boundkit._checks import check_instance, check_int
from boundkit.errors import InvalidArgument
from simulations._device import resolve_device
from simulations.config import LoopConfig
from simulations.datasets import DataSource
from simulations.distributions import Distribution
from simulations.engine import run
from simulations.sampling import SyntheticSampling


def schedule_fields(schedule: Schedule) -> dict:
    """The LoopConfig fields (schedule, alpha, lam, weights) that name a schedule object."""
    check_instance(schedule, Schedule, "schedule", "FullSynthetic()")
    if isinstance(schedule, GeneralSchedule):
        return {"schedule": "general", "weights": (schedule.alpha, schedule.beta)}
    if isinstance(schedule, FinalRoundRescue) and schedule.final_round is not None:
        raise InvalidArgument("a loop rescues its own last round; pass FinalRoundRescue(alpha) "
                              "without final_round.", argument="schedule")
    fields = {"schedule": schedule.name}
    if isinstance(schedule, ConstantRealShare | FinalRoundRescue):
        fields["alpha"] = schedule.alpha
    if isinstance(schedule, FixedRatio):
        fields["lam"] = schedule.lam
    if not isinstance(schedule, FullSynthetic | Balanced | ConstantRealShare | FixedRatio |
                      FinalRoundRescue):
        raise InvalidArgument(f"{type(schedule).__name__} is not a schedule the engine knows.",
                              argument="schedule")
    return fields


def config_for(model, p0, schedule: Schedule, rounds: int, n, **options) -> LoopConfig:
    """The LoopConfig for a model object, a named p0 and a schedule object."""
    if not callable(getattr(model, "fit_batched", None)) or not dataclasses.is_dataclass(model):
        raise TypeError(f"model must be one of simulations' models (GaussianMLEModel(), "
                        f"KDEModel(), ...); got {type(model).__name__}.")
    check_instance(p0, (Distribution, DataSource), "p0", "make_distribution('gaussian')")
    spec = getattr(p0, "spec", None) if isinstance(p0, Distribution) else (p0.name, {})
    if spec is None:
        raise InvalidArgument("p0 must come from make_distribution or make_source, so that the "
                              "run can be named in a LoopConfig.", argument="p0")
    params = {f.name: getattr(model, f.name) for f in dataclasses.fields(model)
              if f.init and f.name != "name"}
    rounds = check_int(rounds, "rounds", 1, 100_000, "10")
    sizes = {"round_sizes": tuple(n(i) for i in range(rounds)), "n": 2} if callable(n) else {
        "n": n}
    return LoopConfig(model=model.name, model_params=params, data=spec[0], data_params=spec[1],
                      rounds=rounds, **sizes, **schedule_fields(schedule), **options)


def run_loop(
    model,
    p0,
    schedule: Schedule,
    rounds: int,
    n: int | Callable[[int], float],
    *,
    replicates: int = 1,
    seed: int = 0,
    device="cpu",
    mc_samples: int = 20_000,
    confidence: float = 0.95,
    sampling: SyntheticSampling | None = None,
    real_data: str = "fresh",
    metrics=("default",),
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Run ``replicates`` independent loops of ``rounds`` rounds; return the tidy frame.

    This builds the [LoopConfig][simulations.config.LoopConfig] the arguments describe and
    runs it on the engine ([run][simulations.engine.run]); see the config for the rest.

    Parameters
    ----------
    model : model
        A simulations model (``GaussianMLEModel()``, ``KDEModel(0.3)``, ...).
    p0 : Distribution
        The real distribution, from ``make_distribution`` or ``make_source``.
    schedule : Schedule
        A boundkit schedule (its ``size_factor`` scales n, e.g. fixed-ratio).
    rounds : int
        Rounds 0..rounds−1 (generations 0..rounds−1).
    n : int or callable
        Samples per round, or a function of the round index.
    replicates : int
        Independent loops, run batched.
    seed : int
        Replicate r uses its own stream keyed by (seed, r): the same seed gives the same
        numbers on CPU.
    device : str
        ``"cpu"`` (default), ``"cuda"`` or ``"auto"``.
    mc_samples, confidence : int, float
        Monte Carlo draws and interval level where a metric needs them.
    sampling : SyntheticSampling, optional
        Biased (temperature) or self-corrected synthetic data; π_i then mixes the
        transformed models, so δ_i and V1 refer to the data actually used.
    real_data : {"fresh", "pool"}
        Fresh real draws each round, or the round-0 data set as the only real data.
    metrics : tuple of str
        ``"default"`` and/or metric names (``"w2"``, ``"precision_recall"``, ...).
    progress : callable, optional
        Called as ``progress(rounds_done, rounds)``.

    Returns
    -------
    pandas.DataFrame
        The engine's tidy frame (replicate, round, generation, n, real_share, metric,
        value, lo, hi).

    References
    ----------
    docs/theory.md §1 (the loop), §6 (the metrics).
    """
    sampling = SyntheticSampling() if sampling is None else sampling
    check_instance(sampling, SyntheticSampling, "sampling", "SyntheticSampling(0.8)")
    dev = resolve_device(device)
    if isinstance(p0, Distribution | DataSource) and p0.device.type != dev.type:
        raise InvalidArgument(f"p0 lives on {p0.device}, the loop on {dev}. Build p0 with "
                              f"device={str(dev)!r}.", argument="p0")
    config = config_for(model, p0, schedule, rounds, n, replicates=replicates, seed=seed,
                        mc_samples=mc_samples, confidence=confidence, real_data=real_data,
                        temperature=sampling.temperature, self_correct=sampling.self_correct,
                        metrics=metrics, device=str(dev))
    return run(config, progress)


def verdicts(frame: pd.DataFrame) -> pd.DataFrame:
    """Per round: whether C1's checks hold in every replicate.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame from [run][simulations.engine.run] with the ``v1_margin`` and
        ``v2_margin`` metrics.

    Returns
    -------
    pandas.DataFrame
        Indexed by round; ``v1_ok`` (R1 with the measured δ holds: every replicate's
        margin ≥ 0) and ``v2_ok`` (Pinsker holds).

    References
    ----------
    docs/theory.md §7, C1.
    """
    check_instance(frame, pd.DataFrame, "frame", "run_loop(...)")
    if "metric" not in frame or "v1_margin" not in set(frame["metric"]):
        raise InvalidArgument("this frame has no V1/V2 margins: p0 had no density (a bundled data "
                              "set), so TV and KL could not be measured.", argument="frame")
    wide = frame.pivot_table(index=["replicate", "round"], columns="metric", values="value")
    out = pd.DataFrame({"v1_ok": wide["v1_margin"] >= 0, "v2_ok": wide["v2_margin"] >= 0})
    return out.groupby(level="round").all()
