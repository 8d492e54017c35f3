"""Check a bound of your own against trained loops, with the rules of ``boundkit verify``.

:func:`check_bound` measures a loop (or takes its frame), evaluates the bound per
replicate and generation from the loop's symbols (:data:`simulations.expr.SYMBOLS`: i,
n_i, α_i, λ, the measured δ's, R1's bound, and constants you name), and decides:

* ``kind="mean"``: the claim "mean e_i ≤ mean b_i at every generation" under
  :func:`simulations.verify.rules.bound_verdict` (paired per-replicate differences,
  one-sided tests at level α per generation (bootstrap-t and Student's t must both
  reject) for *holds*, Holm over generations
  with a 2 % slack for *violated*), the rule whose false-verdict rates
  ``tests/test_verify_calibration.py`` measures;
* ``kind="every replicate"``: the claim "e_i ≤ b_i for every replicate and generation"
  on the certified intervals the engine reports: *violated* if some margin's interval
  lies below 0, *holds* if every margin's interval lies at or above it, else
  *inconclusive*. A bound of the measured δ's is evaluated at both ends of their
  intervals (exact for bounds monotone in each δ).

Inside a hypothesis test it calls ``target()`` on the smallest margin, so the search
moves toward the loops where the bound is tightest; a *violated* verdict raises
:class:`BoundViolated` (an ``AssertionError``) with the loop and the margin that show
it. Loops are cached by their config hash (:class:`LoopCache`), so shrinking and
repeated examples do not train a loop twice.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sympy as sp

from boundkit import bound_values
from boundkit.errors import InvalidArgument
from simulations.config import LoopConfig
from simulations.engine import run
from simulations.expr import evaluate, parse_bound
from simulations.verify.rules import bound_verdict, t_interval

KINDS = ("mean", "every replicate")


class LoopCache:
    """Frames of loops already run, keyed by config hash (least recently used first out).

    Parameters
    ----------
    size : int
        Loops kept in memory.
    """

    def __init__(self, size: int = 256):
        self.size, self.frames, self.runs = size, OrderedDict(), 0

    def run(self, config: LoopConfig) -> pd.DataFrame:
        """The loop's frame, run once per config."""
        key = config.config_hash
        if key in self.frames:
            self.frames.move_to_end(key)
            return self.frames[key]
        frame = run(config)
        self.runs += 1
        self.frames[key] = frame
        while len(self.frames) > self.size:
            self.frames.popitem(last=False)
        return frame


#: The cache :func:`check_bound` uses unless given one.
CACHE = LoopCache()


@dataclass
class BoundCheck:
    """The outcome of :func:`check_bound`.

    Attributes
    ----------
    verdict : str
        ``holds``, ``violated`` or ``inconclusive``.
    ratio : float
        The largest mean e_i / mean b_i (``mean``) or e_i / b_i (``every replicate``).
    margins : pandas.DataFrame
        Per generation: mean margin b_i − e_i, its ``lo``/``hi`` (the level's two-sided
        t interval over replicates for ``mean``; the smallest certified interval for
        ``every replicate``), and the worst replicate's margin.
    smallest : float
        The smallest margin (``mean``: of the means; ``every replicate``: of all).
    config : LoopConfig or None
        The loop checked.
    """

    verdict: str
    ratio: float
    margins: pd.DataFrame
    smallest: float
    kind: str
    level: float
    bound: str
    config: LoopConfig | None = None
    replicates: int = 0
    needs: int | None = field(default=None)

    def message(self) -> str:
        """One paragraph a test failure prints."""
        row = self.margins.loc[self.margins["mean"].idxmin()]
        where = f"generation {int(row.generation)}"
        loop = "" if self.config is None else f" on {_describe(self.config)}"
        return (f"bound {self.bound} is {self.verdict}{loop} ({self.kind}, level "
                f"{self.level:g}, R = {self.replicates}): smallest mean margin b − e = "
                f"{row['mean']:.4g} [{row.lo:.4g}, {row.hi:.4g}] at {where}; worst "
                f"replicate margin {self.margins['worst'].min():.4g}; largest e/b "
                f"{self.ratio:.4g}")


class BoundViolated(AssertionError):
    """A bound found violated; ``result`` is the :class:`BoundCheck`."""

    def __init__(self, result: BoundCheck):
        self.result = result
        super().__init__(result.message())


def _describe(c: LoopConfig) -> str:
    extra = "".join(f", {k}={v}" for k, v in (("alpha", c.alpha), ("lam", c.lam))
                    if v is not None)
    return (f"{c.model} on {c.data}, schedule {c.schedule}{extra}, n = {c.n}, rounds "
            f"{c.rounds}, R = {c.replicates}, seed {c.seed}")


def loop_values(frame: pd.DataFrame, config: LoopConfig | None, metric: str,
                constants: dict | None = None) -> dict:
    """(replicates, generations) arrays of the loop's symbols, the metric and δ's ends.

    Returns
    -------
    dict
        ``value``/``lo``/``hi`` of the metric, the symbols of
        :data:`simulations.expr.SYMBOLS` (with ``_lo``/``_hi`` versions of the δ-based
        ones) and the constants, all broadcast to (R, G).
    """
    def mat(name, col="value"):
        sel = frame[frame.metric == name]
        if sel.empty:
            raise InvalidArgument(f"metric: the loop has no {name!r}; measured: "
                                  f"{sorted(frame.metric.unique())}.", argument="metric")
        return sel.pivot(index="replicate", columns="generation", values=col) \
            .sort_index(axis=1).to_numpy(np.float64)

    out = {"value": mat(metric), "lo": mat(metric, "lo"), "hi": mat(metric, "hi")}
    reps, gens = out["value"].shape
    i = np.broadcast_to(np.arange(gens, dtype=np.float64), (reps, gens))
    out.update(i=i, T=np.full((reps, gens), float(gens)))
    if config is not None:
        sizes = np.asarray(config.sizes[:gens], np.float64)
        alphas = [1.0] + [float(_weights(config, g)[0]) for g in range(1, gens)]
        out.update(n=np.full((reps, gens), float(config.n)),
                   n_i=np.broadcast_to(sizes, (reps, gens)),
                   alpha_i=np.broadcast_to(np.asarray(alphas), (reps, gens)),
                   lam=np.full((reps, gens), float(config.lam or 0)))
    if (frame.metric == "delta").any():
        for end, col in (("", "value"), ("_lo", "lo"), ("_hi", "hi")):
            d = np.clip(mat("delta", col), 0.0, 1.0)
            out["delta_i" + end] = d
            out["delta_0" + end] = np.broadcast_to(d[:, :1], d.shape)
            out["delta_max" + end] = np.maximum.accumulate(d, axis=1)
            out["delta_sum" + end] = np.cumsum(d, axis=1)
            if config is not None:
                out["r1_i" + end] = _r1(config, d)
    for name, v in (constants or {}).items():
        out[name] = np.full((reps, gens), float(v))
    return out


def _weights(config: LoopConfig, round_: int):
    """(α_i, β_i) of the round as the engine trained it: every round of one loop runs
    under ``config.schedule_obj`` (final-rescue: the rescue at the loop's last round)."""
    return config.schedule_obj.weights(round_)


def _r1(config: LoopConfig, deltas: np.ndarray) -> np.ndarray:
    """R1's b_{i+1} per replicate from its measured δ_0..δ_i, under the loop's schedule."""
    sched = config.schedule_obj
    out = np.empty_like(deltas)
    for g in range(deltas.shape[1]):
        for r in range(deltas.shape[0]):
            out[r, g] = bound_values(sched, deltas[r, :g + 1])[g]
    return out


def check_bound(loop, bound, *, metric: str = "e", kind: str = "mean",
                level: float = 0.95, constants: dict | None = None,
                generations=None, cache: LoopCache | None = None,
                raises: bool = True) -> BoundCheck:
    """Check ``metric_i ≤ bound_i`` on a trained loop with verify's rules.

    Parameters
    ----------
    loop : LoopConfig or (LoopConfig, pandas.DataFrame) or pandas.DataFrame
        The loop to run (through ``cache``), or its frame (a bare frame knows no
        schedule: only i, T and the δ symbols without ``r1_i``).
    bound : str, sympy.Expr or callable
        A formula in the loop's symbols (``"delta_max * harmonic(i + 1)"``, R4), or a
        Python function called with the symbols as keyword arrays of shape (R, G)
        (accept ``**kw`` for the ones you do not use).
    metric : str
        The measured quantity bounded (``e`` = TV(p_{i+1}, p0) by default).
    kind : {"mean", "every replicate"}
        The rule (module docstring).
    level : float
        1 − α, in (0.5, 1).
    constants : dict, optional
        Values of extra symbols in the bound (``{"C": 1.2, "r": 0.25}``).
    generations : iterable of int, optional
        The generations checked (all by default). A bound that is an identity somewhere
        (R1 and R4 give e_0 = δ_0 exactly) cannot be *shown* to hold there: its margin is
        0 in every replicate, so a strict test stays *inconclusive*; check from
        generation 1.
    cache : LoopCache, optional
        Where loops are kept (the module's :data:`CACHE` by default).
    raises : bool
        Raise :class:`BoundViolated` on a *violated* verdict (in a test).

    Returns
    -------
    BoundCheck
    """
    if kind not in KINDS:
        raise InvalidArgument(f"kind must be one of {list(KINDS)}; got {kind!r}.",
                              argument="kind")
    if not (isinstance(level, float | int) and 0.5 < level < 1):
        raise InvalidArgument(f"level must lie in (0.5, 1), e.g. 0.95; got {level!r}.",
                              argument="level")
    constants = dict(constants or {})
    expr = None if callable(bound) and not isinstance(bound, sp.Basic) else \
        parse_bound(bound, constants)
    if isinstance(loop, LoopConfig):  # refused before the loop runs
        _generations(generations, loop.rounds)
        if metric not in loop.metrics:
            raise InvalidArgument(f"metric: the loop measures {list(loop.metrics)}, not "
                                  f"{metric!r}; add it to the config's metrics.",
                                  argument="metric")
    config, frame = _loop(loop, cache or CACHE)
    values = loop_values(frame, config, metric, constants)
    cols = _generations(generations, values["value"].shape[1])
    values = {k: np.ascontiguousarray(np.broadcast_to(v, values["value"].shape)[:, cols])
              for k, v in values.items()}
    lo_b, hi_b = _bounds(expr, bound, values)
    e = values["value"]
    text = str(expr) if expr is not None else getattr(bound, "__name__", repr(bound))
    reps = e.shape[0]
    if kind == "mean":
        b = (lo_b + hi_b) / 2 if expr is None else _at(expr, values, "")
        mean_b = b.mean(0)
        if np.any(mean_b <= 0):
            raise InvalidArgument(f"bound: {text} is not positive at every generation "
                                  f"(mean {mean_b.min():.3g}); a TV bound must be > 0.",
                                  argument="bound")
        decision, ratio = bound_verdict(e - b + mean_b, mean_b, alpha=1 - level)
        margins = _mean_margins(b - e, level, cols)
        verdict, needs, smallest = str(decision), decision.needs, float(margins["mean"].min())
    else:
        lo_m, hi_m = lo_b - values["hi"], hi_b - values["lo"]
        verdict = ("violated" if np.any(hi_m < 0) else
                   "holds" if np.all(lo_m >= 0) else "inconclusive")
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = float(np.nanmax(np.where(lo_b > 0, e / lo_b, np.inf)))
        mid = (hi_b + lo_b) / 2 - e
        margins = pd.DataFrame({"generation": cols, "mean": mid.mean(0),
                                "lo": lo_m.min(0), "hi": hi_m.min(0), "worst": mid.min(0)})
        needs, smallest = None, float(lo_m.min())
    result = BoundCheck(verdict, ratio, margins, smallest, kind, level, text, config, reps,
                        needs)
    _target(smallest, text)
    if raises and verdict == "violated":
        raise BoundViolated(result)
    return result


def _loop(loop, cache: LoopCache):
    if isinstance(loop, LoopConfig):
        return loop, cache.run(loop)
    if isinstance(loop, tuple) and len(loop) == 2 and isinstance(loop[0], LoopConfig):
        return loop
    if isinstance(loop, pd.DataFrame):
        return None, loop
    raise InvalidArgument(f"loop must be a LoopConfig, a (LoopConfig, frame) pair or a "
                          f"frame; got {type(loop).__name__}.", argument="loop")


def _at(expr, values: dict, end: str) -> np.ndarray:
    """The formula with the δ-based symbols taken at one end of their intervals."""
    v = {k: values.get(k + end, values.get(k)) for k in map(str, expr.free_symbols)}
    missing = [k for k, x in v.items() if x is None]
    if missing:
        raise InvalidArgument(f"bound: the loop has no value for {missing} (a frame alone "
                              f"has no schedule; pass the config, or constants).",
                              argument="bound")
    shape = values["value"].shape
    return np.broadcast_to(evaluate(expr, v), shape)


def _bounds(expr, bound, values) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) ends of the bound over the δ intervals."""
    if expr is None:
        b = np.asarray(bound(**values), dtype=np.float64)
        b = np.broadcast_to(b, values["value"].shape)
        if not np.all(np.isfinite(b)):
            raise InvalidArgument("bound: the function returned a non-finite value.",
                                  argument="bound")
        return b, b
    ends = [_at(expr, values, end) for end in ("_lo", "_hi")]
    return np.minimum(*ends), np.maximum(*ends)


def _generations(generations, total: int) -> np.ndarray:
    if generations is None:
        return np.arange(total)
    cols = sorted({int(g) for g in generations})
    if not cols or cols[0] < 0 or cols[-1] >= total:
        raise InvalidArgument(f"generations must be a non-empty subset of 0..{total - 1}; "
                              f"got {list(generations)}.", argument="generations")
    return np.asarray(cols)


def _mean_margins(m: np.ndarray, level: float, cols) -> pd.DataFrame:
    rows = [(g, *t_interval(m[:, k], level), float(m[:, k].min()))
            for k, g in enumerate(cols)]
    return pd.DataFrame(rows, columns=["generation", "mean", "lo", "hi", "worst"])


def _target(smallest: float, label: str) -> None:
    """hypothesis.target(−smallest margin) when called inside a hypothesis test."""
    try:
        from hypothesis import target
        from hypothesis.control import currently_in_test_context
    except ImportError:  # pragma: no cover - hypothesis is a dependency
        return
    if currently_in_test_context() and np.isfinite(smallest):
        target(-smallest, label=f"smallest margin of {label[:40]} (negated)")


__all__ = ["CACHE", "KINDS", "BoundCheck", "BoundViolated", "LoopCache", "check_bound",
           "loop_values"]
