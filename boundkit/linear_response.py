r"""R8 linear response (docs/theory.md §8, beyond): a predictor of e_i, to be tested (claim V5).

Round i's fit lands at deviation d_{i+1} = Σ_k β_{i,k} d_k + a(n_i) + ξ_i from p0 (in
a one-dimensional summary): a deterministic bias a and zero-mean noise ξ_i of
standard deviation s, independent across rounds. Stacked, d = (I − B)^{-1}(a + ξ)
with R1's matrix, so with M = (I − B)^{-1}

.. math::
    m = M a, \qquad s_i^2 = \sum_k M_{ik}^2 s_k^2, \qquad
    e_i \approx \mathbb E|m_i + s_i Z|
       = s_i\sqrt{2/\pi}\,e^{-m_i^2/(2 s_i^2)} + m_i\,(1 - 2\Phi(-m_i/s_i)).

Biases add linearly (as in R1's bound), noise in quadrature: with no bias a
full-synthetic loop drifts like sqrt(i+1), not like i. Convention: generation i is
the model of round i (the paper's p_{i+1}); index k runs over rounds 0..i.

Closed forms (:func:`linear_response_expr`): M_{ik} = c^{i−k} for one-step schedules
(c = 1 full synthetic, 1 − α constant real share, λ/(1+λ) fixed ratio) and, for the
balanced schedule, M_{ii} = 1, M_{ik} = 1/(k+2) for k < i, so m_i = a H_{i+1} and
s_i² = s² H^{(2)}_{i+1} (bounded: the noise of an accumulating loop does not grow).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sympy as sp
from scipy.linalg import solve_triangular
from scipy.special import ndtr

from boundkit._checks import check_choice, check_generations, check_instance, to_float
from boundkit.error_models import ErrorModel
from boundkit.errors import InvalidArgument
from boundkit.schedules import (
    Balanced,
    ConstantRealShare,
    FixedRatio,
    FullSynthetic,
    Schedule,
    i,
)

#: Most rounds of the dense (general-weights) route; named schedules are O(N) to 10^6.
DENSE_LIMIT = 3_000
FAST_LIMIT = 1_000_000
a_sym, s_sym = sp.symbols("a s", positive=True)


@dataclass(frozen=True)
class Response:
    """R8's prediction per generation.

    Attributes
    ----------
    generations : numpy.ndarray
        The generations i.
    bias : numpy.ndarray
        The propagated bias m_i.
    sd : numpy.ndarray
        The propagated noise standard deviation s_i.
    e : numpy.ndarray
        The predicted error E|m_i + s_i Z|.
    vacuous : numpy.ndarray of bool
        True where e > 1: a TV never exceeds 1, so the linear model has left its range
        there and the prediction says nothing (shown, never clipped silently).
    """

    generations: np.ndarray
    bias: np.ndarray
    sd: np.ndarray
    e: np.ndarray

    @property
    def vacuous(self) -> np.ndarray:
        return np.asarray(self.e) > 1.0

    def as_frame(self) -> pd.DataFrame:
        """Columns generation, bias, sd, e, vacuous (e > 1: outside R8's range)."""
        return pd.DataFrame({"generation": self.generations, "bias": self.bias,
                             "sd": self.sd, "e": self.e, "vacuous": self.vacuous})


def folded_normal_mean(m, s) -> np.ndarray | float:
    """The folded-normal mean E|m + sZ|, Z ~ N(0, 1), elementwise.

    Parameters
    ----------
    m : array_like
        The bias m.
    s : array_like
        The standard deviation s ≥ 0.

    Returns
    -------
    numpy.ndarray or float
        s sqrt(2/π) exp(−m²/(2s²)) + m (1 − 2Φ(−m/s)); |m| where s = 0.

    References
    ----------
    docs/theory.md §8, R8.

    Examples
    --------
    >>> round(float(folded_normal_mean(0, 1)), 12)  # sqrt(2/π)
    0.797884560803
    """
    m, s = _finite_array(m, "m"), _finite_array(s, "s")
    if np.any(s < 0):
        raise InvalidArgument(f"s is a standard deviation and must be >= 0; got {s!r}. "
                              f"Pass e.g. s=0.05.",
                              argument="s")
    safe = np.where(s > 0, s, 1.0)
    with np.errstate(over="ignore", under="ignore"):  # z² = inf: exp(−z²/2) is 0, exactly
        z = m / safe
        out = safe * np.sqrt(2 / np.pi) * np.exp(-0.5 * z * z) + m * (1 - 2 * ndtr(-z))
    out = np.where(s > 0, out, np.abs(m))
    return float(out) if out.ndim == 0 else out  # scalar in, scalar out


def _finite_array(value, name: str) -> np.ndarray:
    if isinstance(value, str | bytes | bool | np.bool_) or (
            np.ndim(value) == 0 and not isinstance(value, int | float | np.number)):
        raise TypeError(f"{name} must be a number or an array of numbers; got "
                        f"{type(value).__name__} {value!r}.")
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"{name} must be a number or an array of numbers; got "
                        f"{type(value).__name__}.") from None
    if not np.all(np.isfinite(out)) or out.size == 0:
        raise InvalidArgument(f"{name} must be finite numbers; got {value!r}. Pass e.g. "
                              f"{name}=0.05.", argument=name)
    return out


def _one_step(schedule: Schedule) -> float | None:
    """c with M_{ik} = c^{i−k}, for the one-step (latest-only) schedules."""
    if isinstance(schedule, FullSynthetic):
        return 1.0
    if isinstance(schedule, ConstantRealShare):
        return 1.0 - float(schedule.alpha)
    if isinstance(schedule, FixedRatio):
        lam = float(schedule.lam)
        return lam / (1.0 + lam)
    return None


def propagate(schedule: Schedule, a: np.ndarray, s2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m, s²) = (M a, (M∘M) s²) for rounds 0..N, M = (I − B)^{-1} (R1's matrix)."""
    rounds = a.size - 1
    c = _one_step(schedule)
    if c is not None:
        from scipy.signal import lfilter

        return lfilter([1.0], [1.0, -c], a), lfilter([1.0], [1.0, -c * c], s2)
    if isinstance(schedule, Balanced):
        k = np.arange(rounds + 1, dtype=np.float64)
        carry = np.concatenate(([0.0], np.cumsum(a[:-1] / (k[:-1] + 2))))
        carry2 = np.concatenate(([0.0], np.cumsum(s2[:-1] / (k[:-1] + 2) ** 2)))
        return a + carry, s2 + carry2
    if rounds + 1 > DENSE_LIMIT:
        raise InvalidArgument(f"R8 with general weights solves a dense {rounds + 1}-round system;"
                              f" the limit is {DENSE_LIMIT:,} rounds. Pass fewer generations.",
                              argument="generations")
    if schedule.per_generation:
        m, v = np.empty(rounds + 1), np.empty(rounds + 1)
        for g in range(rounds + 1):
            mg, vg = _dense(schedule.for_generation(g), a[: g + 1], s2[: g + 1])
            m[g], v[g] = mg[-1], vg[-1]
        return m, v
    return _dense(schedule, a, s2)


def _dense(schedule: Schedule, a: np.ndarray, s2: np.ndarray):
    size = a.size
    b = np.zeros((size, size))
    for j in range(1, size):
        _, beta = schedule.weights(j)
        b[j, :j] = np.asarray(beta, dtype=np.float64)
    inv = solve_triangular(np.eye(size) - b, np.eye(size), lower=True, unit_diagonal=True)
    return inv @ a, (inv * inv) @ s2


def _per_round(value, rounds: int, sizes: np.ndarray | None, name: str, signed: bool):
    """Per-round values from a number, a sequence, or an ErrorModel of the round sizes."""
    if isinstance(value, ErrorModel):
        if sizes is None:
            raise InvalidArgument(f"{name} is a power law in n, so pass n= (the base size or "
                                  f"one size per round).", argument="n")
        out = np.asarray(value.delta(sizes), dtype=np.float64) * np.ones(rounds + 1)
    elif isinstance(value, str | bytes) or np.ndim(value) == 0:
        out = np.full(rounds + 1, to_float(value, name))
    else:
        try:
            out = np.asarray([to_float(v, name) for v in value], dtype=np.float64)
        except TypeError:
            raise TypeError(f"{name} must be a number, a sequence of numbers or an ErrorModel; "
                            f"got {type(value).__name__}.") from None
        if out.size < rounds + 1:
            raise InvalidArgument(f"{name} needs one value per round 0..{rounds} "
                                  f"({rounds + 1}); got {out.size}. Pass more values or one "
                                  f"number for every round.", argument=name)
        out = out[: rounds + 1]
    if not np.all(np.isfinite(out)) or (not signed and np.any(out < 0)):
        raise InvalidArgument(f"{name} must be finite{'' if signed else ' and >= 0'}; got "
                              f"{out[:4].tolist()}... Pass e.g. {name}=0.05.", argument=name)
    return out


def round_sizes(schedule: Schedule, rounds: int, n, convention: str) -> np.ndarray | None:
    """n_k for rounds 0..N: one base size times the schedule's size factor (round 0 of a
    fixed ratio under ``fixed-real``: n alone), or one given size per round."""
    if n is None:
        return None
    if np.ndim(n) == 0:
        base = to_float(n, "n")
        if not base > 0:
            raise InvalidArgument(f"n must be > 0; got {n!r}. Pass e.g. n=1000.", argument="n")
        sizes = np.full(rounds + 1, base * float(schedule.size_factor))
        if convention == "fixed-real":
            sizes[0] = base
        return sizes
    sizes = np.asarray([to_float(v, "n") for v in n], dtype=np.float64)
    if sizes.size < rounds + 1 or not np.all(sizes > 0):
        raise InvalidArgument(f"n must hold one size > 0 per round 0..{rounds}; got "
                              f"{sizes.size} value(s).", argument="n")
    return sizes[: rounds + 1]


def linear_response(schedule: Schedule, bias, noise, generations, n=None, *,
                    convention: str = "scaled") -> Response:
    r"""R8: the predicted error e_{i+1} of each generation from a per-round bias a and noise s.

    Parameters
    ----------
    schedule : Schedule
        The mixing schedule (its β give R1's matrix B).
    bias, noise : number, sequence or ErrorModel
        A number (every round), one value per round 0..max(generations), or an
        ErrorModel evaluated at the round sizes (e.g. ``PowerLaw("2/5", const=0.9)`` for
        a ∝ n^{-2/5}). ``noise`` is a standard deviation.
    generations : int or sequence of int
        Generations i ≥ 0 (the model of round i).
    n : number or sequence, optional
        The base size (times the schedule's size factor) or one size per round; needed
        when bias or noise is an ErrorModel.
    convention : {"scaled", "fixed-real"}
        R6's round 0 for a fixed ratio (fixed-real: the n real points alone).

    Returns
    -------
    Response
        Per generation: the bias m_i, the noise sd s_i and e = E|m_i + s_i Z|.

    Notes
    -----
    .. math::
        m = (I-B)^{-1} a,\qquad s_i^2 = \sum_k [(I-B)^{-1}]_{ik}^2\, s(n_k)^2,\qquad
        e_i \approx E|m_i + s_i Z|

    R8 assumes noise that does not depend on the current fit. Where it does, R8 is only a
    first-order approximation: a Gaussian-MLE loop's noise shrinks with σ̂ as it collapses
    (state-dependent noise), so under full synthetic data at n = 10 R8 gives Var μ = 5.0
    at generation 49 where the loop levels off at 0.995. For Gaussian MLE use the exact
    moments of [gaussian_moments][boundkit.gaussian_moments.gaussian_moments] (R9)
    instead. Predictions above 1 are marked in ``Response.vacuous``.

    References
    ----------
    docs/theory.md §8, R8.

    Examples
    --------
    >>> from boundkit import FullSynthetic
    >>> r = linear_response(FullSynthetic(), 0.0, 0.1, [0, 3])
    >>> (r.sd ** 2).round(12).tolist()   # noise adds in quadrature: (i+1) s²
    [0.01, 0.04]
    """
    check_instance(schedule, Schedule, "schedule", "FullSynthetic()")
    conv = check_choice(convention, ("scaled", "fixed-real"), "convention")
    gens = check_generations(generations, minimum=0)
    last = max(gens)
    limit = FAST_LIMIT if (_one_step(schedule) is not None or isinstance(schedule, Balanced)) \
        else DENSE_LIMIT
    if last + 1 > limit:
        raise InvalidArgument(f"R8 here is limited to {limit:,} rounds; got generation {last:,}."
                              f" Pass fewer generations.", argument="generations")
    sizes = round_sizes(schedule, last, n, conv)
    a = _per_round(bias, last, sizes, "bias", signed=True)
    s = _per_round(noise, last, sizes, "noise", signed=False)
    with np.errstate(over="ignore"):
        m, v = propagate(schedule, a, s * s)
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(v))):
        raise InvalidArgument("bias or noise is so large that R8's propagated deviation "
                              "leaves float64 (a TV is at most 1: pass per-round values in "
                              "[0, 1]).", argument="bias")
    idx = np.asarray(gens)
    sd = np.sqrt(np.maximum(v[idx], 0.0))
    return Response(idx, m[idx], sd, folded_normal_mean(m[idx], sd))


def linear_response_expr(schedule: Schedule) -> tuple[sp.Expr, sp.Expr] | None:
    """R8's (m_i, s_i²) in closed form for a constant per-round bias a and noise s.

    Parameters
    ----------
    schedule : Schedule
        Full synthetic, constant real share, fixed ratio or balanced.

    Returns
    -------
    tuple of sympy.Expr or None
        (m_i, s_i²) in the symbols i, a, s; None for schedules without a closed form.

    References
    ----------
    docs/theory.md §8, R8.

    Examples
    --------
    >>> from boundkit import FullSynthetic
    >>> linear_response_expr(FullSynthetic())
    (a*(i + 1), s**2*(i + 1))
    """
    check_instance(schedule, Schedule, "schedule", "FullSynthetic()")
    if isinstance(schedule, Balanced):
        k = sp.Symbol("k", integer=True, positive=True)
        return a_sym * sp.harmonic(i + 1), s_sym**2 * sp.Sum(1 / k**2, (k, 1, i + 1))
    if isinstance(schedule, FullSynthetic):
        return a_sym * (i + 1), s_sym**2 * (i + 1)
    if isinstance(schedule, ConstantRealShare | FixedRatio):
        c = 1 - sp.nsimplify(schedule.alpha) if isinstance(schedule, ConstantRealShare) \
            else sp.nsimplify(schedule.lam) / (1 + sp.nsimplify(schedule.lam))
        return (a_sym * (1 - c ** (i + 1)) / (1 - c),
                s_sym**2 * (1 - c ** (2 * (i + 1))) / (1 - c**2))
    return None
