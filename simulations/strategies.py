"""Hypothesis strategies for valid loops, to property-test your own bounds on trained
loops (docs/howto-claims.md).

:func:`loop_configs` draws :class:`~simulations.LoopConfig` values: the model, the data, a
schedule family with its weights (every boundkit schedule, both round-0 conventions of
fixed-ratio, every data policy: fresh, a fixed real pool, kept and kept-subsample),
sizes and growth, rounds, replicates and the seed. Every draw is valid by construction
(no ``assume``): the cost bound is met by drawing the rounds, then the replicates, then n
within what the budget leaves. Cheap values come first everywhere (Gaussian MLE, the 1-D
Gaussian, full synthetic, one round, the fewest replicates, the smallest n, seed 0), so
hypothesis shrinks a failing loop toward a small, cheap one.

The cost of a loop is the number of training points it draws, ``replicates × Σ_i n_i``
(:func:`loop_cost`): the work of every model grows with it (diffusion models by a larger
constant, which is why they are opt-in).

Examples
--------
>>> from hypothesis import given, settings
>>> from simulations import strategies as sst
>>> @settings(max_examples=5)
... @given(sst.loop_configs(max_cost=4_000))
... def test_cheap(config):
...     assert sst.loop_cost(config) <= 4_000
>>> test_cheap()
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from boundkit.errors import InvalidArgument
from simulations.config import LoopConfig

#: Models in order of cost (hypothesis shrinks toward the first).
MODELS = ("gaussian-mle", "kde", "gmm", "diffusion-rf", "diffusion-mlp")
#: Data sets with a density, 1-D first (shrinking goes toward N(0, 1)).
DATA = ("gaussian", "unequal", "laplace", "two-modes", "ring8", "grid25")
#: Schedule families (the aliases carry the data policies: accumulate = kept,
#: accumulate-subsample = kept-subsample, accumulate-fresh = fresh).
SCHEDULES = ("full-synthetic", "balanced", "constant-real", "fixed-ratio", "final-rescue",
             "accumulate", "accumulate-subsample", "accumulate-fresh", "general")
_ONE_D = ("gaussian", "unequal", "laplace", "two-modes")
_DIFFUSION = ("diffusion-rf", "diffusion-mlp")
#: the largest λ drawn for fixed-ratio (its rounds train on (1 + λ) n points)
MAX_LAM = 8


def loop_cost(config: LoopConfig) -> int:
    """Training points drawn by the loop: ``replicates × Σ_i n_i``."""
    return config.replicates * sum(config.sizes)


def schedules(families=SCHEDULES, max_rounds: int = 6) -> st.SearchStrategy[dict]:
    """LoopConfig keyword arguments for one schedule family with its weights.

    Parameters
    ----------
    families : sequence of str
        Names from :data:`SCHEDULES` (cheap first: hypothesis shrinks toward the first).
    max_rounds : int
        Rounds a ``general`` schedule must define (its weights cover rounds 1..max − 1).

    Returns
    -------
    SearchStrategy of dict
        ``schedule`` and, where the family takes them, ``alpha``, ``lam``,
        ``convention``, ``real_data`` or ``weights`` (exact fractions).
    """
    families = _subset(families, SCHEDULES, "families")
    share = st.integers(1, 8).map(lambda p: Fraction(p, 8))
    parts = {
        "full-synthetic": st.just({"schedule": "full-synthetic"}),
        "balanced": st.just({"schedule": "balanced"}),
        "constant-real": share.map(lambda a: {"schedule": "constant-real", "alpha": a}),
        # R6's both round-0 conventions; fixed-real may reuse the round-0 set (a pool)
        "fixed-ratio": st.tuples(st.integers(0, 4 * MAX_LAM).map(lambda k: Fraction(k, 4)),
                                 st.sampled_from(("scaled", "fixed-real")),
                                 st.sampled_from(("fresh", "pool"))).map(
            lambda t: {"schedule": "fixed-ratio", "lam": t[0], "convention": t[1],
                       "real_data": t[2]}),
        "final-rescue": share.map(lambda a: {"schedule": "final-rescue", "alpha": a}),
        "accumulate": st.just({"schedule": "accumulate"}),
        "accumulate-subsample": st.just({"schedule": "accumulate-subsample"}),
        "accumulate-fresh": st.just({"schedule": "accumulate-fresh"}),
        "general": _general(max_rounds),
    }
    return st.one_of([parts[f] for f in families])


def _general(max_rounds: int) -> st.SearchStrategy[dict]:
    """Exact general weights for rounds 1..max_rounds − 1 (rows on the simplex)."""
    def row(j: int):
        return st.lists(st.integers(0, 4), min_size=j + 1, max_size=j + 1).map(
            lambda w: [Fraction(v + (k == 0 and sum(w) == 0), max(sum(w), 1))
                       for k, v in enumerate(w)])

    rows = max(max_rounds - 1, 1)
    return st.tuples(*[row(j) for j in range(1, rows + 1)]).map(
        lambda rs: {"schedule": "general",
                    "weights": ([r[0] for r in rs], [r[1:] for r in rs])})


def _subset(values, allowed, name: str) -> tuple:
    values = tuple(values)
    bad = [v for v in values if v not in allowed]
    if not values or bad:
        raise InvalidArgument(f"{name} must be a non-empty subset of {list(allowed)}; got "
                              f"{list(values)}.", argument=name)
    return tuple(v for v in allowed if v in values)  # cheap first


def _points_per_n(schedule: dict, rounds: int, growth: float) -> float:
    """Σ_i n_i / n for the schedule at this horizon (LoopConfig.sizes without rounding)."""
    lam = float(schedule.get("lam", 0))
    scaled = schedule["schedule"] == "fixed-ratio"
    conv = schedule.get("convention", "scaled")
    acc = schedule["schedule"] in ("accumulate", "accumulate-fresh")
    total = 0.0
    for i in range(rounds):
        f = 1 + lam if scaled and (conv == "scaled" or i > 0) else 1.0
        total += f * (i + 1) ** growth * ((i + 1) if acc else 1)
    return total


def loop_configs(*, models=("gaussian-mle", "kde"), data=("gaussian", "unequal"),
                 schedules_=SCHEDULES, max_rounds: int = 6, min_replicates: int = 2,
                 max_replicates: int = 8, min_n: int = 20, max_n: int = 800,
                 growth: bool = True, max_cost: int = 20_000,
                 metrics=("default",)) -> st.SearchStrategy[LoopConfig]:
    """Valid loops within a cost budget (see the module docstring).

    Parameters
    ----------
    models, data : sequences of str
        Models (from :data:`MODELS`) and data sets with a density (from :data:`DATA`)
        to draw from; diffusion models are paired with 1-D data only.
    schedules_ : sequence of str
        Schedule families (:func:`schedules`).
    max_rounds, min_replicates, max_replicates, min_n, max_n : int
        Ranges of the rounds, replicates and the base size n.
    growth : bool
        Whether round sizes may grow as n (i+1)^g, g ∈ {0, 1/2, 1, 2}.
    max_cost : int
        The largest :func:`loop_cost` (training points) a drawn loop may have; it must
        allow one round of ``min_replicates`` × ``min_n`` × (1 + λ) points.
    metrics : sequence of str
        The loops' metrics (``default``: e, δ, TV to π, KL, mean, var, NLL).

    Returns
    -------
    SearchStrategy of LoopConfig
        Valid configs with ``loop_cost(config) <= max_cost``.
    """
    models = _subset(models, MODELS, "models")
    data = _subset(data, DATA, "data")
    families = _subset(schedules_, SCHEDULES, "schedules_")
    if not 1 <= max_rounds <= 1000 or not 2 <= min_n <= max_n:
        raise InvalidArgument(f"need 1 <= max_rounds <= 1000 and 2 <= min_n <= max_n; got "
                              f"max_rounds={max_rounds}, min_n={min_n}, max_n={max_n}.",
                              argument="max_rounds")
    if not 1 <= min_replicates <= max_replicates:
        raise InvalidArgument(f"need 1 <= min_replicates <= max_replicates; got "
                              f"{min_replicates}, {max_replicates}.", argument="min_replicates")
    floor = min_replicates * min_n * (1 + MAX_LAM)
    if max_cost < floor:
        raise InvalidArgument(f"max_cost={max_cost} cannot hold one round of {min_replicates} "
                              f"replicates × {min_n} points × (1 + λ ≤ {MAX_LAM + 1}); pass "
                              f"max_cost >= {floor}.", argument="max_cost")
    pairs = [(m, d) for m in models for d in data if m not in _DIFFUSION or d in _ONE_D]
    if not pairs:
        raise InvalidArgument("diffusion models run on 1-D data only; add 'gaussian' or "
                              "'unequal' to data.", argument="data")
    grow = st.sampled_from((0.0, 0.5, 1.0, 2.0)) if growth else st.just(0.0)

    @st.composite
    def draw(draw_):
        model, dataset = draw_(st.sampled_from(pairs))
        sched = draw_(schedules(families, max_rounds))
        g = draw_(grow)
        if sched["schedule"] == "general":
            g = 0.0
        # rounds: the most whose cheapest loop fits (at least one: the floor above)
        fits = [r for r in range(1, max_rounds + 1)
                if min_replicates * (min_n * _points_per_n(sched, r, g) + r) <= max_cost]
        rounds = draw_(st.integers(1, fits[-1]))
        if sched["schedule"] == "general":
            alpha, beta = sched["weights"]
            sched = {**sched, "weights": (alpha[:rounds - 1] or alpha[:1],
                                          beta[:rounds - 1] or beta[:1])}
        per_n = _points_per_n(sched, rounds, g)
        top = min(max_replicates, int(max_cost // (min_n * per_n + rounds)))
        reps = draw_(st.integers(min_replicates, top))
        n_top = min(max_n, int((max_cost / reps - rounds) / per_n))
        n = draw_(st.integers(min_n, max(min_n, n_top)))
        seed = draw_(st.integers(0, 2**32 - 1))
        params = {"k": 2} if model == "gmm" else {}
        return LoopConfig(model=model, model_params=params, data=dataset, n=n, growth=g,
                          rounds=rounds, replicates=reps, seed=seed, metrics=metrics,
                          **sched)

    return draw()


__all__ = ["DATA", "MODELS", "SCHEDULES", "loop_configs", "loop_cost", "schedules"]
