"""``LoopConfig``: one frozen value that fully determines a simulated loop.

A config names the model and real data (with their parameters), the schedule
(with R6's round-0 convention for fixed-ratio, docs/theory.md §4), the round sizes,
rounds, replicates, seed, metric set, real-data design, sampling transform,
device and interval method. It is hashable, round-trips through JSON and TOML
(:meth:`LoopConfig.to_dict` / :meth:`LoopConfig.from_dict`), and
:attr:`LoopConfig.config_hash` (SHA-256 of the canonical JSON) is the same in
every process and on every machine: a results store keys runs on it.

Everything is validated at construction, before any work: names against the
registries, parameters by building the model, numbers by boundkit's checks.
Parameters are normalized (defaults filled in, aliases resolved) so that two
configs describing the same run are equal and hash alike.

Replicate r of a run draws from its own random stream, keyed by (seed, r) only
(:mod:`simulations.streams`): ``first_replicate`` lets a sweep split the
replicates of one experiment across workers, and replicate r of a batched run
equals the one-replicate run with ``first_replicate = r``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import tomli_w

from boundkit import SCHEDULE_REGISTRY, GeneralSchedule, Schedule
from boundkit._checks import (
    check_choice,
    check_confidence,
    check_int,
    check_nonnegative,
    check_share,
    to_float,
    to_fraction,
)
from boundkit.errors import InvalidArgument
from simulations.registry import DATA_REGISTRY, build_model, has_density

#: Metric names; "default" expands per data set (see :func:`resolve_metrics`).
DENSITY_METRICS = ("e", "delta", "tv_pi", "kl", "mean", "var", "nll")
DENSITY_FREE_METRICS = ("mean", "var", "nll", "precision_recall")
EXPENSIVE_METRICS = ("w2", "precision_recall")
#: The fit's own summaries (Gaussian MLE only): log det Σ̂, tr Σ̂, ‖μ̂ − μ0‖² (docs/theory.md §9).
FIT_METRICS = ("logdet", "trace", "mean_sq")
#: Opt-in KL(p0 ‖ p_{i+1}) (exact between Gaussians; docs/theory.md §6).
OPT_IN_METRICS = ("kl_p0",)
METRICS = (*DENSITY_METRICS, *EXPENSIVE_METRICS, *FIT_METRICS, *OPT_IN_METRICS)
INTERVALS = ("bernstein", "hoeffding", "clt")
CONVENTIONS = ("scaled", "fixed-real")
SAMPLING_MODELS = ("gaussian-mle", "kde", "gmm")


def _plain(value: Any) -> Any:
    """A JSON/TOML-safe value: Fractions as "p/q" strings, tuples as lists."""
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _pairs(params: Any, argument: str) -> tuple[tuple[str, Any], ...]:
    if params is None:
        return ()
    if isinstance(params, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in params):
        params = dict(params)
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise TypeError(f"{argument} must be a dict of parameter names to values; got "
                        f"{type(params).__name__} {params!r}.")
    return tuple(sorted((k, _freeze(v)) for k, v in params.items()))


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        raise TypeError(f"parameter values must be numbers, strings or lists; got {value!r}.")
    return value


#: Where the training points come from (docs/theory.md §1), for the engine.
DATA_POLICIES = ("fresh", "kept", "kept-subsample")


@dataclass(frozen=True)
class LoopConfig:
    """A self-consuming loop, fully specified (see the module docstring).

    Parameters
    ----------
    model, model_params : a simulation model (:data:`~simulations.registry.MODEL_REGISTRY`)
        and its parameters, e.g. ``model_params={"bandwidth": 0.3}``.
    data, data_params : the real distribution p0 and its parameters (``{"dim": 2}``).
    schedule : a boundkit schedule or alias (``replace``, ``accumulate`` and
        ``accumulate-subsample`` (kept data), ``accumulate-fresh``, ``general`` with
        ``weights``).
    alpha, lam : the schedule's real share / synthetic-to-real ratio.
    convention : fixed-ratio's round 0: ``scaled`` ((1+λ)n real points) or
        ``fixed-real`` (the n real points alone; later rounds n real points plus λn
        synthetic: fresh real draws, or the round-0 points with ``real_data="pool"``).
    weights : for ``schedule="general"``: ``(alpha_rounds, beta_rows)`` as in
        :class:`boundkit.GeneralSchedule`.
    n, growth : round sizes n_i = n (i+1)^growth (times (i+1) for ``accumulate``, times
        1+λ for fixed-ratio).
    round_sizes : explicit base sizes, one per round (instead of n (i+1)^growth; still
        times (i+1) for ``accumulate`` and 1+λ for fixed-ratio).
    rounds, replicates, first_replicate, seed : the loop and its randomness.
    metrics : metric names or ``"default"`` (e, delta, tv_pi, kl, mean, var, nll with a
        density; mean, var, nll, precision_recall without); ``w2`` and
        ``precision_recall`` are the expensive opt-ins; ``kl_p0`` (KL(p0 ‖ p_{i+1}), exact
        for Gaussian fits on a Gaussian p0) and, for Gaussian MLE, ``logdet``, ``trace``
        and ``mean_sq`` the fit's own summaries.
    real_data : ``fresh`` (new real draws each round) or ``pool`` (the round-0 set is the
        only real data: Bertrand et al.'s fixed real set).
    data_policy : where the synthetic points come from (docs/theory.md §1): ``fresh``
        (drawn anew from π_i every round, the paper's model), ``kept`` (the real set and
        each generation's n-point sample stay in the training set: Gerstgrasser et al.
        2024, ``schedule="accumulate"``) or ``kept-subsample`` (each round trains on n
        of the kept points drawn without replacement: Kazdan et al. 2024,
        ``schedule="accumulate-subsample"``). The aliases set it; the kept policies go
        with balanced weights, which are also the law π_i that δ_i is measured against.
    temperature, self_correct : biased / self-corrected synthetic sampling.
    device : ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
    confidence, interval : Monte Carlo intervals (d ≥ 3): level and method.
    grid_points : nodes per axis of the shared grid (1-D: 4097, 2-D: 257 when None).
    mc_samples : draws per Monte Carlo estimate (d ≥ 3).
    """

    model: str = "kde"
    model_params: tuple = ()
    data: str = "gaussian"
    data_params: tuple = ()
    schedule: str = "full-synthetic"
    alpha: Fraction | None = None
    lam: Fraction | None = None
    convention: str = "scaled"
    weights: tuple | None = None
    n: int = 500
    growth: float = 0.0
    round_sizes: tuple | None = None
    accumulate: bool = False
    rounds: int = 10
    replicates: int = 1
    first_replicate: int = 0
    seed: int = 0
    metrics: tuple = ("default",)
    real_data: str = "fresh"
    data_policy: str = "fresh"
    temperature: float = 1.0
    self_correct: float = 0.0
    device: str = "cpu"
    confidence: float = 0.95
    interval: str = "bernstein"
    grid_points: int | None = None
    mc_samples: int = 20_000
    _schedule_obj: Schedule | None = field(default=None, repr=False, compare=False, hash=False)

    def __post_init__(self):
        setter = object.__setattr__.__get__(self)
        params = _pairs(self.model_params, "model_params")
        built = build_model(self.model, dict(params))
        setter("model_params", _model_fields(built))
        DATA_REGISTRY.entry(self.data, "data")
        data_params = dict(_pairs(self.data_params, "data_params"))
        if "device" in data_params:
            raise InvalidArgument("data_params takes no device; pass device= to the config.",
                                  argument="data_params")
        if self.data in ("gaussian", "mixture"):
            data_params["dim"] = check_int(data_params.get("dim", 1), "dim", 1, 10_000, "2")
        DATA_REGISTRY.check_options(self.data, data_params, argument="data")
        setter("data_params", tuple(sorted(data_params.items())))
        setter("rounds", check_int(self.rounds, "rounds", 1, 100_000, "10"))
        self._normalize_schedule(setter)
        setter("n", check_int(self.n, "n", 2, 10**12, "500"))
        if self.round_sizes is not None:
            sizes = _freeze(self.round_sizes) if isinstance(self.round_sizes, list | tuple) \
                else None
            if sizes is None or len(sizes) != self.rounds:
                raise InvalidArgument(f"round_sizes must hold one size per round ({self.rounds});"
                                      f" got {self.round_sizes!r}.", argument="round_sizes")
            setter("round_sizes", tuple(check_int(v, "round_sizes", 2, 10**12, "500")
                                        for v in sizes))
        setter("growth", to_float(check_nonnegative(self.growth, "growth"), "growth"))
        if not isinstance(self.accumulate, bool):
            raise TypeError(f"accumulate must be True or False; got {self.accumulate!r}.")
        setter("replicates", check_int(self.replicates, "replicates", 1, 100_000, "4"))
        setter("first_replicate", check_int(self.first_replicate, "first_replicate", 0,
                                            10**9, "0"))
        setter("seed", check_int(self.seed, "seed", 0, 2**63 - 1, "0"))
        setter("metrics", resolve_metrics(self.metrics, self.data))
        check_choice(self.real_data, ("fresh", "pool"), "real_data")
        self._normalize_sampling(setter)
        check_choice(self.device if isinstance(self.device, str) else None,
                     ("cpu", "cuda", "auto", *(f"cuda:{k}" for k in range(16))), "device")
        setter("confidence", check_confidence(self.confidence))
        check_choice(self.interval, INTERVALS, "interval")
        if self.grid_points is not None:
            setter("grid_points", check_int(self.grid_points, "grid_points", 65, 2**16 + 1,
                                            "4097"))
        setter("mc_samples", check_int(self.mc_samples, "mc_samples", 100, 10**8, "20000"))
        sizes = self.sizes  # size checks (log space) before any work
        if self.model == "gmm" and min(sizes) <= dict(self.model_params)["k"]:
            raise InvalidArgument(f"gmm with k={dict(self.model_params)['k']} components needs "
                                  f"more than k points per round; the smallest round has "
                                  f"{min(sizes)}.", argument="n")

    def _normalize_schedule(self, setter) -> None:
        name = self.schedule
        if not isinstance(name, str):
            raise TypeError(f"schedule must be a schedule name such as 'balanced'; got "
                            f"{type(name).__name__} {name!r}.")
        if name == "general":
            if self.weights is None:
                raise InvalidArgument("schedule='general' needs weights=(alpha_rounds, beta_rows),"
                                      " e.g. ((1/2,), ((1/2,),)).", argument="weights")
            alpha, beta = self.weights
            sched = GeneralSchedule(alpha=tuple(alpha), beta=tuple(tuple(b) for b in beta))
            if sched.horizon + 1 < self.rounds:
                raise InvalidArgument(f"the general schedule defines rounds 1..{sched.horizon}; "
                                      f"rounds={self.rounds} needs {self.rounds - 1}. Pass fewer "
                                      f"rounds or more weights.", argument="rounds")
            setter("weights", (tuple(sched.alpha), tuple(sched.beta)))
            setter("_schedule_obj", sched)
            for key in ("alpha", "lam"):
                if getattr(self, key) is not None:
                    raise InvalidArgument(f"{key} does not apply to schedule general (its "
                                          f"weights say it all). Drop {key}.", argument=key)
        else:
            if self.weights is not None:
                raise InvalidArgument(f"weights apply to schedule='general' only; got schedule="
                                      f"{name!r}. Drop weights.", argument="weights")
            entry = SCHEDULE_REGISTRY.check_options(name, {"alpha": self.alpha, "lam": self.lam},
                                                    argument="schedule")
            sched = SCHEDULE_REGISTRY.build(name, "schedule", alpha=self.alpha, lam=self.lam)
            canonical = type(sched).name
            setter("schedule", canonical)
            setter("accumulate", self.accumulate or entry.accumulate)
            if self.data_policy == "fresh":
                setter("data_policy", entry.policy)
            setter("alpha", getattr(sched, "alpha", None) if "alpha" in entry.options else None)
            setter("lam", getattr(sched, "lam", None) if "lam" in entry.options else None)
            if canonical == "constant-real" and self.alpha == 0:
                raise InvalidArgument("alpha must lie in (0, 1] for constant-real (alpha = 0 is "
                                      "full-synthetic).", argument="alpha")
            setter("_schedule_obj", sched)
        check_choice(self.convention, CONVENTIONS, "convention")
        check_choice(self.data_policy, DATA_POLICIES, "data_policy")
        if self.data_policy != "fresh":
            if self.schedule != "balanced" or self.convention != "scaled" or (
                    self.real_data != "fresh"):
                raise InvalidArgument(
                    f"data_policy={self.data_policy!r} keeps every generation's sample with "
                    f"balanced weights; it does not combine with schedule={self.schedule!r}, "
                    f"real_data={self.real_data!r} or convention={self.convention!r}. Pass "
                    f"schedule='accumulate' or 'accumulate-subsample' alone.",
                    argument="data_policy")
            setter("accumulate", self.data_policy == "kept")
        if self.convention != "scaled" and self.schedule != "fixed-ratio":
            raise InvalidArgument(f"convention={self.convention!r} applies to schedule "
                                  f"fixed-ratio only (R6's round 0). Drop convention.",
                                  argument="convention")

    def _normalize_sampling(self, setter) -> None:
        t = to_float(self.temperature, "temperature")
        g = to_float(check_share(self.self_correct, "self_correct"), "self_correct")
        if not 0 < t <= 1e100:
            raise InvalidArgument(f"temperature must lie in (0, 1e100]; got {self.temperature}. "
                                  f"Pass e.g. 0.8.", argument="temperature")
        if (t != 1.0 or g != 0.0) and self.model not in SAMPLING_MODELS:
            raise InvalidArgument(f"temperature and self_correct apply to the Gaussian-mixture "
                                  f"models ({', '.join(SAMPLING_MODELS)}), not {self.model}.",
                                  argument="temperature")
        full = self.model == "gaussian-mle" and dict(self.model_params).get(
            "covariance") == "full"
        if full and (t != 1.0 or g != 0.0):
            raise InvalidArgument("temperature and self_correct act on diagonal Gaussian "
                                  "mixtures; a full-covariance fit takes neither. Drop them or "
                                  "use covariance='diagonal'.", argument="temperature")
        if set(self.metrics) & set(FIT_METRICS) and self.model != "gaussian-mle":
            raise InvalidArgument(f"metrics {', '.join(FIT_METRICS)} summarise a Gaussian "
                                  f"fit; model={self.model!r} has none. Use model "
                                  f"'gaussian-mle' or drop them.", argument="metrics")
        setter("temperature", t)
        setter("self_correct", g)

    # -- derived quantities ------------------------------------------------------------

    @property
    def schedule_obj(self) -> Schedule:
        """The boundkit schedule (final-rescue's last round is the loop's last round)."""
        sched = self._schedule_obj
        if sched.per_generation and self.rounds > 1:
            return sched.for_generation(self.rounds - 1)
        return sched

    @property
    def sizes(self) -> list[int]:
        """n_i for each round (refused when one exceeds 10^12)."""
        lam = float(self.lam) if self.lam is not None else 0.0
        out = []
        for i in range(self.rounds):
            factor = 1.0 + lam if (self.schedule == "fixed-ratio" and (
                self.convention == "scaled" or i > 0)) else 1.0
            base = (math.log(self.round_sizes[i]) if self.round_sizes is not None
                    else math.log(self.n) + self.growth * math.log(i + 1))
            log_n = base + math.log(factor) + (math.log(i + 1) if self.accumulate else 0.0)
            if log_n > math.log(1e12):
                raise InvalidArgument(f"round {i} would train on about "
                                      f"10^{log_n / math.log(10):.3g} points; the limit is 10^12. "
                                      f"Pass a smaller n, growth or rounds.", argument="growth")
            out.append(max(2, round(math.exp(log_n))))
        return out

    @property
    def has_density(self) -> bool:
        """True when p0 has an explicit density (TV and KL are measured)."""
        return has_density(self.data)

    # -- serialization -----------------------------------------------------------------

    def to_dict(self) -> dict:
        """Plain JSON/TOML-safe dict of every field (exact numbers as "p/q" strings)."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name.startswith("_"):
                continue
            value = getattr(self, f.name)
            if f.name in ("model_params", "data_params"):
                value = {k: _plain(v) for k, v in value}
            else:
                value = _plain(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict) -> LoopConfig:
        """The config described by ``data`` (as :meth:`to_dict` writes it); unknown keys refused."""
        if not isinstance(data, dict):
            raise TypeError(f"a LoopConfig dict is needed; got {type(data).__name__}.")
        known = {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgument(f"unknown LoopConfig keys {unknown}; the keys are "
                                  f"{', '.join(sorted(known))}.", argument=unknown[0])
        kwargs = dict(data)
        if kwargs.get("weights") is not None:  # before _freeze: any nesting is refused here
            kwargs["weights"] = _weights(kwargs["weights"])
        for key in ("metrics", "round_sizes"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = _freeze(kwargs[key])
        for key in ("alpha", "lam"):  # the CLI's checks: "1/2", "0.5", numbers
            if isinstance(kwargs.get(key), str):
                kwargs[key] = to_fraction(kwargs[key], key)
        return cls(**kwargs)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): the text the hash is taken of."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LoopConfig:
        return cls.from_dict(json.loads(text))

    def to_toml(self) -> str:
        """TOML text (``None`` fields are left out, as TOML has no null)."""
        return tomli_w.dumps({k: v for k, v in self.to_dict().items() if v is not None})

    @classmethod
    def from_toml(cls, text: str) -> LoopConfig:
        return cls.from_dict(tomllib.loads(text))

    @property
    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON: stable across processes and machines."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def replace(self, **changes) -> LoopConfig:
        """A copy with some fields changed (validated again)."""
        data = self.to_dict() | {k: _plain(v) if not isinstance(v, dict) else v
                                 for k, v in changes.items()}
        return LoopConfig.from_dict(data)


def _model_fields(model) -> tuple[tuple[str, Any], ...]:
    """Every init field of a model dataclass (defaults filled in), for normalization."""
    return tuple(sorted((f.name, _freeze(getattr(model, f.name)))
                        for f in dataclasses.fields(model) if f.init and f.name != "name"))


def resolve_metrics(metrics: object, data: str) -> tuple[str, ...]:
    """Metric names with ``"default"`` expanded for the data set, in a fixed order."""
    if isinstance(metrics, str):
        metrics = (metrics,)
    if not isinstance(metrics, tuple | list) or not all(isinstance(m, str) for m in metrics):
        raise TypeError(f"metrics must be a list of metric names; got {metrics!r}.")
    density = has_density(data)
    chosen: set[str] = set()
    for m in metrics:
        if m == "default":
            chosen |= set(DENSITY_METRICS if density else DENSITY_FREE_METRICS)
            continue
        if m not in METRICS:
            raise InvalidArgument(f"metric {m!r} is not known. Pass names from: default, "
                                  f"{', '.join(METRICS)}.", argument="metrics")
        if not density and m in ("e", "delta", "tv_pi", "kl", "kl_p0"):
            raise InvalidArgument(f"metric {m!r} needs a density of p0; data={data!r} has none "
                                  f"(only mean, var, nll, w2 and precision_recall).",
                                  argument="metrics")
        chosen.add(m)
    if not chosen:
        raise InvalidArgument("metrics is empty. Pass e.g. metrics=('default',).",
                              argument="metrics")
    return tuple(m for m in METRICS if m in chosen)


def _weights(value) -> tuple:
    """``weights = [alpha, beta]`` of a general schedule, every entry a number or a "p/q"
    text: alpha[j] is round j+1's real share, beta[j] its list of j+1 synthetic shares."""
    example = 'Pass e.g. weights = [["1/2"], [["1/2"]]] (alpha per round, beta rows).'
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise InvalidArgument(f"weights must be a pair [alpha, beta]; got {str(value)[:80]}. "
                              f"{example}", argument="weights")
    alpha, beta = value
    if not isinstance(alpha, list | tuple) or not isinstance(beta, list | tuple) or any(
            not isinstance(row, list | tuple) for row in beta):
        raise InvalidArgument(f"weights: alpha must be a list of numbers and beta a list of "
                              f"lists of numbers; got {str(value)[:80]}. {example}",
                              argument="weights")

    def number(v, where):
        if isinstance(v, list | tuple | dict):
            raise InvalidArgument(f"weights {where} must be a number; got {str(v)[:40]}. "
                                  f"{example}", argument="weights")
        return to_fraction(v, f"weights {where}")

    return (tuple(number(a, f"alpha[{k}]") for k, a in enumerate(alpha)),
            tuple(tuple(number(b, f"beta[{j}][{k}]") for k, b in enumerate(row))
                  for j, row in enumerate(beta)))
