r"""R1, the master inequality, unrolled for any schedule and error model.

THEORY.md §2:

.. math::
    e_{i+1} \le \delta_i + \sum_{k=1}^{i} \beta_{i,k} e_k, \qquad
    b = (I - B)^{-1} \delta,

B strictly lower triangular with entries β_{i,k}; b_1 = δ_0 and
b_{i+1} = δ_i + Σ_k β_{i,k} b_k. Entry b_{i+1} bounds **generation i** (the model
p_{i+1} of round i). Three evaluations: symbolic (sympy, in δ_0..δ_N), exact
(rationals, for small N) and float64 (O(N) for the named schedules, up to and
beyond N = 10^6; a dense forward substitution otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
import sympy as sp

from boundkit._checks import check_generations, check_positive, to_fraction
from boundkit.error_models import ErrorModel
from boundkit.schedules import Schedule

#: Largest number of rounds for the O(N²) dense and exact evaluations.
DENSE_LIMIT = 20_000


def _check_rounds(schedule: Schedule, last: int) -> None:
    horizon = schedule.horizon
    if horizon is not None and last > horizon and not schedule.per_generation:
        raise ValueError(
            f"generation {last} needs round {last}, but {type(schedule).__name__} defines "
            f"rounds up to {horizon}. Pass generations <= {horizon}."
        )


def bound_symbolic(schedule: Schedule, rounds: int) -> list[sp.Expr]:
    """b_1..b_{N+1} as sympy expressions in the symbols δ_0..δ_N (R1, exact weights)."""
    deltas = sp.symbols(f"delta_0:{rounds + 1}", positive=True)
    return _forward(schedule, list(deltas), rounds, sp.sympify, sp.Integer(0))


def bound_exact(schedule: Schedule, deltas: Sequence) -> list[Fraction]:
    """b_1..b_{N+1} in exact rational arithmetic from exact δ_0..δ_N (R1).

    Needs a schedule with exact weights; O(N²), for N up to a few thousand.
    """
    if not schedule.is_exact:
        raise ValueError(
            f"{schedule} has float weights; exact evaluation needs rationals. Pass weights as "
            f"Fractions or strings like '1/3', or use bound_values for float64."
        )
    ds = [to_fraction(d, f"deltas[{k}]") for k, d in enumerate(deltas)]
    _check_deltas(ds)
    rounds = len(ds) - 1
    _check_rounds(schedule, rounds)
    if rounds > DENSE_LIMIT:
        raise ValueError(
            f"exact evaluation is O(N²); {rounds} rounds is over {DENSE_LIMIT}. Use "
            f"bound_values for float64."
        )
    return _forward(schedule, ds, rounds, Fraction, Fraction(0))


def bound_values(schedule: Schedule, deltas) -> np.ndarray:
    """b_1..b_{N+1} in float64 from δ_0..δ_N (R1).

    O(N) and vectorised for the named schedules; a dense forward substitution
    (O(N²), N ≤ 20,000) for general weights.
    """
    d = np.asarray(deltas, dtype=np.float64)
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"deltas must be a non-empty 1-D sequence; got shape {d.shape}.")
    _check_deltas(d)
    rounds = d.size - 1
    _check_rounds(schedule, rounds)
    fast = schedule.fast_bounds(d)
    if fast is not None:
        return fast
    if rounds > DENSE_LIMIT:
        raise ValueError(
            f"{type(schedule).__name__} has no O(N) recursion and {rounds} rounds is over "
            f"the dense limit {DENSE_LIMIT}. Pass fewer generations."
        )
    if schedule.per_generation:
        out = [float(bound_values(schedule.for_generation(g), d[: g + 1])[-1]) for g in
               range(rounds + 1)]
        return np.asarray(out)
    return np.asarray(_forward(schedule, list(d), rounds, float, 0.0), dtype=np.float64)


def _forward(schedule: Schedule, deltas: list, rounds: int, conv: Callable, zero):
    """Forward substitution b_{j+1} = δ_j + Σ_{k≤j} β_{j,k} b_k (generic element type)."""
    if schedule.per_generation:
        return [_forward(schedule.for_generation(g), deltas[: g + 1], g, conv, zero)[-1]
                for g in range(rounds + 1)]
    b = [deltas[0]]
    for j in range(1, rounds + 1):
        _, beta = schedule.weights(j)
        acc = zero
        for k, w in enumerate(beta):
            if w:
                acc = acc + conv(w) * b[k]
        b.append(deltas[j] + acc)
    return b


def round_deltas(
    schedule: Schedule,
    rounds: int,
    *,
    delta=None,
    model: ErrorModel | None = None,
    n=None,
) -> np.ndarray:
    """δ_0..δ_N: a constant ``delta``, or ``model.delta(n_i)`` with n_i = size_factor · n_i.

    ``n`` is one base size, an array of N+1 per-round sizes, or a callable of the
    round index (e.g. ``lambda k: 100 * (k + 1) ** 4``).
    """
    if (delta is None) == (model is None):
        raise ValueError(
            "pass exactly one of delta= (the per-round error) or model= with n= "
            "(an error model and the sample size)."
        )
    if delta is not None:
        d = float(check_positive(delta, "delta", "0.01"))
        return np.full(rounds + 1, d)
    if n is None:
        raise ValueError("model= needs n= (the base sample size per round), e.g. n=10000.")
    k = np.arange(rounds + 1)
    sizes = np.asarray(n(k) if callable(n) else n, dtype=np.float64) * np.ones(rounds + 1)
    return np.asarray(model.delta(sizes * float(schedule.size_factor)))


def bounds(schedule: Schedule, generations, *, delta=None, model=None, n=None) -> np.ndarray:
    """Float64 bounds on e_{i+1} for each requested generation i (R1 + a δ source).

    Examples
    --------
    >>> from boundkit import FullSynthetic, bounds
    >>> bounds(FullSynthetic(), [1, 2, 3], delta=0.01).round(12).tolist()
    [0.02, 0.03, 0.04]
    """
    gens = check_generations(generations, minimum=0)
    d = round_deltas(schedule, max(gens), delta=delta, model=model, n=n)
    return bound_values(schedule, d)[np.asarray(gens)]


def bound_expr(schedule: Schedule) -> sp.Expr | None:
    """The closed-form bound in the symbols i (generation) and δ, where one exists."""
    return schedule.closed_form()


def _check_deltas(ds) -> None:
    arr = ds if isinstance(ds, np.ndarray) else np.asarray([float(x) for x in ds])
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(
            f"deltas must be finite and >= 0 (they are TV distances); got {list(ds)[:5]}... "
            f"Pass per-round errors in [0, 1]."
        )
