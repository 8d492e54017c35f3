r"""R1, the master inequality, unrolled for any schedule and error model.

docs/theory.md §2:

.. math::
    e_{i+1} \le \delta_i + \sum_{k=1}^{i} \beta_{i,k} e_k, \qquad
    b = (I - B)^{-1} \delta,

B strictly lower triangular with entries β_{i,k}; b_1 = δ_0 and
b_{i+1} = δ_i + Σ_k β_{i,k} b_k. Entry b_{i+1} bounds **generation i** (the model
p_{i+1} of round i; generation 0 is trained on real data only and is bounded by δ_0).
Three evaluations: symbolic (sympy, in δ_0..δ_N; N ≤ 300), exact (rationals; N ≤ 2,000)
and float64 (O(N) for the named schedules, N ≤ 10^7; a vectorised forward
substitution for general weights). Larger inputs are refused up front.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
import sympy as sp

from boundkit._checks import (
    check_generations,
    check_instance,
    check_int,
    check_tv,
    to_float,
    to_fraction,
)
from boundkit.error_models import ErrorModel
from boundkit.errors import InvalidArgument
from boundkit.schedules import Schedule

#: Most rounds of each evaluation (beyond them the cost is refused before any work).
SYMBOLIC_LIMIT = 300
EXACT_LIMIT = 2_000
DENSE_LIMIT = 20_000
ROUNDS_LIMIT = 10_000_000


def _check_schedule(schedule: object) -> Schedule:
    check_instance(schedule, Schedule, "schedule", "FullSynthetic()")
    return schedule  # type: ignore[return-value]


def _check_rounds(schedule: Schedule, last: int, limit: int, route: str) -> None:
    horizon = schedule.horizon
    if horizon is not None and last > horizon and not schedule.per_generation:
        raise InvalidArgument(
            f"generation {last} needs round {last}, but {type(schedule).__name__} defines "
            f"rounds up to {horizon}. Pass generations <= {horizon}.", argument="generations")
    if last > limit:
        way = {"symbolic": "use bound_exact or bound_values",
               "exact": "use bound_values (float64)",
               "float": "use the closed form bound_expr(schedule) for larger generations",
               "dense": "use a named schedule with an O(N) recursion"}[route]
        raise InvalidArgument(
            f"the {route} evaluation of R1 is limited to {limit:,} rounds; {last:,} were asked "
            f"for. Pass fewer generations, or {way}.", argument="generations")


def bound_symbolic(schedule: Schedule, rounds: int) -> list[sp.Expr]:
    r"""R1's bounds b_1..b_{N+1} as sympy expressions in the symbols δ_0..δ_N.

    Parameters
    ----------
    schedule : Schedule
        A schedule with exact weights.
    rounds : int
        N ≥ 0, the last round: N + 1 bounds are returned.

    Returns
    -------
    list of sympy.Expr
        b_{k+1} for k = 0..N, linear in the δ's.

    Notes
    -----
    .. math::
        b_1 = \delta_0,\qquad b_{i+1} = \delta_i + \sum_k \beta_{i,k} b_k

    References
    ----------
    docs/theory.md §2, R1.

    Examples
    --------
    >>> from boundkit import Balanced
    >>> bound_symbolic(Balanced(), 1)
    [delta_0, delta_0/2 + delta_1]
    """
    _check_schedule(schedule)
    rounds = check_int(rounds, "rounds", 0, None, "5")
    _check_rounds(schedule, rounds, SYMBOLIC_LIMIT, "symbolic")
    deltas = sp.symbols(f"delta_0:{rounds + 1}", positive=True)
    return _forward(schedule, list(deltas), rounds, sp.sympify, sp.Integer(0))


def bound_exact(schedule: Schedule, deltas: Sequence) -> list[Fraction]:
    r"""R1's bounds b_1..b_{N+1} in exact rational arithmetic.

    Parameters
    ----------
    schedule : Schedule
        A schedule with exact weights.
    deltas : sequence of exact numbers
        δ_0..δ_N (ints, Fractions, "p/q" strings), N ≤ 2,000 (O(N²)).

    Returns
    -------
    list of Fraction
        b_1..b_{N+1}.

    Notes
    -----
    .. math::
        b = (I - B)^{-1}\delta

    References
    ----------
    docs/theory.md §2, R1.

    Examples
    --------
    >>> from fractions import Fraction
    >>> from boundkit import Balanced
    >>> bound_exact(Balanced(), [Fraction(1, 10)] * 3)  # δ H_k
    [Fraction(1, 10), Fraction(3, 20), Fraction(11, 60)]
    """
    _check_schedule(schedule)
    if not schedule.is_exact:
        raise InvalidArgument(
            f"{schedule} has float weights; exact evaluation needs rationals. Pass weights as "
            f"Fractions or strings like '1/3', or use bound_values for float64.",
            argument="schedule")
    ds = [_delta(d, k) for k, d in enumerate(_sequence(deltas))]
    rounds = len(ds) - 1
    _check_rounds(schedule, rounds, EXACT_LIMIT, "exact")
    return _forward(schedule, ds, rounds, Fraction, Fraction(0))


def bound_values(schedule: Schedule, deltas) -> np.ndarray:
    r"""R1's bounds b_1..b_{N+1} in float64.

    Parameters
    ----------
    schedule : Schedule
        Any schedule.
    deltas : array_like
        δ_0..δ_N, each in [0, 1].

    Returns
    -------
    numpy.ndarray
        b_1..b_{N+1} (b_{i+1} bounds generation i's error e_{i+1}).

    Notes
    -----
    O(N) and vectorised for the named schedules (N ≤ 10^7); a vectorised forward
    substitution (O(N²), N ≤ 20,000) for general weights:

    .. math::
        b_{i+1} = \delta_i + \sum_k \beta_{i,k} b_k

    References
    ----------
    docs/theory.md §2, R1; §4 for each schedule's closed form.

    Examples
    --------
    >>> from boundkit import FullSynthetic
    >>> bound_values(FullSynthetic(), [0.1, 0.1, 0.1]).round(12).tolist()
    [0.1, 0.2, 0.3]
    """
    _check_schedule(schedule)
    d = _float_deltas(deltas)
    rounds = d.size - 1
    _check_rounds(schedule, rounds, ROUNDS_LIMIT, "float")
    fast = schedule.fast_bounds(d)
    if fast is not None:
        return fast
    _check_rounds(schedule, rounds, DENSE_LIMIT, "dense")
    if schedule.per_generation:
        return np.asarray([_forward_float(schedule.for_generation(g), d[: g + 1])[-1]
                           for g in range(rounds + 1)])
    return _forward_float(schedule, d)


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


def _forward_float(schedule: Schedule, d: np.ndarray) -> np.ndarray:
    """The forward substitution in float64, one dot product per round."""
    b = np.empty_like(d)
    b[0] = d[0]
    for j in range(1, d.size):
        _, beta = schedule.weights(j)
        b[j] = d[j] + np.dot(np.asarray(beta, dtype=np.float64), b[:j])
    return b


def round_deltas(
    schedule: Schedule,
    rounds: int,
    *,
    delta=None,
    model: ErrorModel | None = None,
    n=None,
) -> np.ndarray:
    """δ_0..δ_N: a constant ``delta`` ∈ (0, 1], or ``model.delta(n_i)``, n_i = size_factor · n_i.

    ``n`` is one base size, an array of N+1 per-round sizes, or a callable of the
    round index (e.g. ``lambda k: 100 * (k + 1) ** 4``).
    """
    _check_schedule(schedule)
    if (delta is None) == (model is None):
        raise InvalidArgument(
            "pass exactly one of delta= (the per-round error) or model= with n= "
            "(an error model and the sample size).", argument="delta")
    if rounds + 1 > ROUNDS_LIMIT:
        _check_rounds(schedule, rounds, ROUNDS_LIMIT, "float")
    if delta is not None:
        if n is not None:
            raise InvalidArgument("n= applies with model= only; a constant delta= needs no "
                                  "sample size. Drop n=.", argument="n")
        return np.full(rounds + 1, float(check_tv(delta, "delta")))
    check_instance(model, ErrorModel, "model", "PowerLaw('1/4')")
    if n is None:
        raise InvalidArgument("model= needs n= (the base sample size per round), e.g. n=10000.",
                              argument="n")
    k = np.arange(rounds + 1)
    raw = n(k) if callable(n) else n
    if np.ndim(raw) == 0:
        sizes = np.array([to_float(raw, "n")])
    else:
        try:
            sizes = np.asarray(raw, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise TypeError(f"n must be a size, a sequence of sizes or a function of the round; "
                            f"got {type(raw).__name__}. Pass e.g. n=10000.") from None
    ok = np.isfinite(sizes) & (sizes > 0) & (sizes <= 1e300)
    if sizes.size not in (1, rounds + 1) or not np.all(ok):
        raise InvalidArgument(f"n must be one finite size > 0 or {rounds + 1} of them (one per "
                              f"round); got {sizes.size} value(s), e.g. {sizes[:3].tolist()}. "
                              f"Pass e.g. n=10000.", argument="n")
    factor = float(schedule.size_factor)
    if float(sizes.max()) * factor > 1e300:
        raise InvalidArgument(f"the round sizes n_i = n x {factor:g} (the schedule's size factor) "
                              f"exceed 1e300; pass a smaller n or lambda.", argument="n")
    return np.asarray(model.delta(sizes * np.ones(rounds + 1) * factor),
                      dtype=np.float64).reshape(rounds + 1)


def bounds(schedule: Schedule, generations, *, delta=None, model=None, n=None) -> np.ndarray:
    """Float64 bounds on e_{i+1} for each requested generation i ≥ 0 (R1 with a δ source).

    Parameters
    ----------
    schedule : Schedule
        The mixing schedule.
    generations : int or sequence of int
        Generations i ≥ 0.
    delta : number, optional
        A constant per-round error δ ∈ (0, 1].
    model : ErrorModel, optional
        The per-round error model (with ``n``).
    n : number, array or callable, optional
        The real round size, per-round sizes, or a function of the round index.

    Returns
    -------
    float or numpy.ndarray
        One bound per requested generation, in order (a float for one int generation).

    References
    ----------
    docs/theory.md §2, R1.

    Examples
    --------
    >>> from boundkit import FullSynthetic, PowerLaw
    >>> bounds(FullSynthetic(), [1, 2, 3], delta=0.01).round(12).tolist()
    [0.02, 0.03, 0.04]
    >>> bounds(FullSynthetic(), [0], model=PowerLaw("1/2"), n=100).round(12).tolist()
    [0.1]
    """
    _check_schedule(schedule)
    gens = check_generations(generations, minimum=0)
    last = max(gens)
    _check_rounds(schedule, last, ROUNDS_LIMIT, "float")
    d = round_deltas(schedule, last, delta=delta, model=model, n=n)
    out = bound_values(schedule, d)[np.asarray(gens)]
    scalar = isinstance(generations, int | np.integer) and not isinstance(generations, bool)
    return float(out[0]) if scalar else out  # scalar in, scalar out


def bound_expr(schedule: Schedule) -> sp.Expr | None:
    """A schedule's closed-form bound in the symbols i (generation) and δ, where one exists.

    Parameters
    ----------
    schedule : Schedule
        The mixing schedule.

    Returns
    -------
    sympy.Expr or None
        The bound on e_{i+1} with equal δ per round, or None (general weights).

    References
    ----------
    docs/theory.md §4.

    Examples
    --------
    >>> from boundkit import Balanced
    >>> bound_expr(Balanced())
    delta*harmonic(i + 1)
    """
    return _check_schedule(schedule).closed_form()


def _sequence(values) -> list:
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        raise TypeError(f"deltas must be a sequence of per-round errors; got "
                        f"{type(values).__name__} {values!r}. Pass e.g. deltas=[0.01, 0.01].")
    out = list(values)
    if not out:
        raise InvalidArgument("deltas is empty. Pass one per-round error per round, e.g. "
                              "deltas=[0.01, 0.01].", argument="deltas")
    return out


def _delta(value, k: int) -> Fraction:
    q = to_fraction(value, f"deltas[{k}]")
    if not 0 <= q <= 1:
        raise InvalidArgument(f"deltas[{k}]={value} is not a TV distance: deltas must lie in "
                              f"[0, 1]. Pass per-round errors in [0, 1].", argument="deltas")
    return q


def _float_deltas(deltas) -> np.ndarray:
    if isinstance(deltas, np.ndarray):
        if deltas.dtype.kind not in "fiu":
            raise TypeError(f"deltas must hold real numbers; got dtype {deltas.dtype}.")
        d = np.asarray(deltas, dtype=np.float64)
        if d.ndim != 1 or d.size == 0:
            raise InvalidArgument(f"deltas must be a non-empty 1-D sequence; got shape "
                                  f"{d.shape}.", argument="deltas")
    else:
        d = np.asarray([float(_delta(v, k)) if not isinstance(v, float) else v
                        for k, v in enumerate(_sequence(deltas))], dtype=np.float64)
    if not np.all(np.isfinite(d)) or np.any(d < 0) or np.any(d > 1):
        bad = d[~(np.isfinite(d) & (d >= 0) & (d <= 1))][:3].tolist()
        raise InvalidArgument(f"deltas must be finite and in [0, 1] (they are TV distances); "
                              f"got {bad}. Pass per-round errors in [0, 1].", argument="deltas")
    if d.size - 1 > ROUNDS_LIMIT:
        raise InvalidArgument(f"deltas has {d.size:,} rounds; the float evaluation is limited to "
                              f"{ROUNDS_LIMIT:,}.", argument="deltas")
    return d
