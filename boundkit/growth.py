r"""R2: sample growth under full synthetic data, and the inverse questions.

docs/theory.md §4, R2. With δ_k = C n^{-r} and equal round sizes, generation i obeys
e_{i+1} ≤ (i+1) C n^{-r}, so keeping it ≤ ε needs

.. math:: n \ge \Big(\frac{C (i+1)}{\varepsilon}\Big)^{1/r},

n = Ω(i⁴/ε⁴) at r = 1/4 (``fu2024``: the paper's quartic growth) and Ω(i⁵/ε⁵)
under E3 with m ∝ n (quintic, **beyond**). The growth exponent is 1/r with r
derived from the model's expression. Equivalently the KL per round must stay
≤ 2ε²/(i+1)² (Pinsker).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np
import sympy as sp

from boundkit import _certify
from boundkit._checks import (
    check_generation,
    check_generations,
    check_instance,
    check_positive,
    rate_text,
    to_float,
)
from boundkit.error_models import ErrorModel, PowerLaw, n
from boundkit.errors import InvalidArgument, NotCertified
from boundkit.recursion import ROUNDS_LIMIT, bound_values, round_deltas
from boundkit.schedules import FullSynthetic, Schedule, delta, i

#: Most decimal digits an exact sample size may have (larger answers are refused up front).
MAX_DIGITS = 1000


@dataclass(frozen=True)
class GrowthRow:
    """R2 for one generation.

    Attributes
    ----------
    generation : int
        The generation i.
    rate : sympy.Expr
        The model's TV rate r.
    eps : Fraction
        The target ε.
    n_required : int or None
        The least round size, None when ε is below the model's floor.
    exponent : sympy.Expr or None
        1/r, the growth exponent.
    certified : bool
        True when n_required was checked in ball arithmetic (the bound holds at n and
        fails at n − 1, or n = 1); False only when that check could not decide (a
        transcendental custom model at an exact tie): the value is then the float
        solver's.
    """

    generation: int
    rate: sp.Expr
    eps: Fraction
    n_required: int | None
    exponent: sp.Expr | None
    certified: bool = True

    def as_dict(self) -> dict:
        """The JSON contract's keys (README, "JSON output")."""
        return {
            "generation": self.generation,
            "rate": rate_text(self.rate),
            "rate_float": float(self.rate),
            "eps": float(self.eps),
            "n_required": self.n_required,
            "exponent": None if self.exponent is None else float(self.exponent),
            "certified": self.certified,
        }


def growth_exponent(model: ErrorModel) -> sp.Expr | None:
    """The exponent p in n_required ∝ i^p under full synthetic data: p = 1/r.

    Parameters
    ----------
    model : ErrorModel
        The per-round error model; its rate r is derived as a limit.

    Returns
    -------
    sympy.Expr or None
        1/r (4 for ``fu2024``, 5 for E3 with m ∝ n), or None when r = 0 (a floor).

    References
    ----------
    docs/theory.md §3 (E2, E3), §4 (R2).

    Examples
    --------
    >>> from boundkit import Fu2024Diffusion, LiDiffusion
    >>> growth_exponent(Fu2024Diffusion()), growth_exponent(LiDiffusion())
    (4, 5)
    """
    check_instance(model, ErrorModel, "model", "PowerLaw('1/4')")
    r = model.rate
    return None if r == 0 else 1 / r


def samples_required(generation: int, eps, model: ErrorModel) -> int | None:
    r"""The least equal round size n that keeps generation i within ε under full synthetic data.

    Parameters
    ----------
    generation : int
        The generation i ≥ 0.
    eps : number
        The target ε > 0 for e_{i+1}.
    model : ErrorModel
        The per-round error model δ(n).

    Returns
    -------
    int or None
        The least n ≥ 1 with (i+1) δ(n) ≤ ε, or None when ε/(i+1) is at or below the
        model's floor (no n reaches it). ε ≥ 1 needs no data (a TV never exceeds 1): 1.

    Raises
    ------
    InvalidArgument
        The answer would have more than 1,000 digits.
    NotCertified
        The decision at n or n − 1 could not be certified.

    Notes
    -----
    .. math::
        e_{i+1} \le (i+1)\,\delta(n) \le \varepsilon

    The answer is certified for every error model: the condition is decided in ball
    arithmetic (python-flint arb) at n and at n − 1, exact ties by the minimal polynomial.

    References
    ----------
    Fu et al. (ICML 2024); docs/theory.md §4, R2.

    Examples
    --------
    >>> from boundkit import PowerLaw
    >>> samples_required(1, "1/10", PowerLaw("1/4"))  # (2 / 0.1)^4
    160000
    """
    g = check_generation(generation, minimum=0)
    e = check_positive(eps, "eps", "0.1")
    check_instance(model, ErrorModel, "model", "PowerLaw('1/4')")
    if e >= 1:
        return 1
    target = e / (g + 1)
    log_n = model._log_n(target)
    if log_n is None:
        return None
    digits = log_n / math.log(10)
    if digits > MAX_DIGITS:
        raise InvalidArgument(
            f"eps={eps} at generation {g} needs n of about 10^{digits:.3g} under {model}: more "
            f"than {MAX_DIGITS} digits. Pass a larger eps or a faster rate.", argument="eps")
    if isinstance(model, PowerLaw) and model.floor_const == 0:
        ratio = model.const / target
        bits = model.r.denominator * max(ratio.numerator.bit_length(),
                                         ratio.denominator.bit_length())
        if bits <= EXACT_POWER_BITS:  # else (C/t)^q is too large an integer: arb below
            return _least_n_power_law(model, target)
    return _least_n(model, sp.Rational(target.numerator, target.denominator), log_n)


#: Largest (C/t)^q, in bits, that the exact integer route of a pure power law builds.
EXACT_POWER_BITS = 200_000


def _least_n_power_law(model: PowerLaw, target: Fraction) -> int:
    """Least n ≥ 1 with C n^{-r} ≤ target, in exact integer arithmetic (r = p/q).

    C n^{-p/q} ≤ t  ⇔  n^p ≥ (C/t)^q = a^q / b^q  ⇔  n^p b^q ≥ a^q: the least such n is
    the ceiling of an integer p-th root, found by Newton's method on integers. Exact, so
    no certification step is needed (and 200,000 rows take a second, not minutes).
    """
    ratio = model.const / target
    p, q = model.r.numerator, model.r.denominator
    a, b = ratio.numerator ** q, ratio.denominator ** q
    need = -(-a // b)  # least integer N with N >= a/b: n^p >= a/b ⇔ n^p >= ceil(a/b)
    n_ = _iroot(need, p)
    if n_ ** p < need:
        n_ += 1
    return max(1, n_)


def _iroot(value: int, p: int) -> int:
    """floor(value^(1/p)) for integers value ≥ 0, p ≥ 1 (Newton's method on integers)."""
    if value < 2 or p == 1:
        return value
    x = 1 << -(-value.bit_length() // p)  # ≥ the root
    while True:
        y = ((p - 1) * x + value // x ** (p - 1)) // p
        if y >= x:
            return x
        x = y


def _least_n(model: ErrorModel, target: sp.Rational, log_n: float) -> int:
    """Least integer N ≥ 1 with δ(N) ≤ target, bracketing the float root then bisecting."""
    gap = target - model.expr  # ≥ 0 where N qualifies

    def ok(size: int) -> bool:
        return _certify.sign(gap, {n: size}, extra_bits=2 * size.bit_length()) >= 0

    if ok(1):
        return 1
    if log_n == -math.inf:  # the float solver says every n > 0 qualifies, yet 1 does not
        raise NotCertified(f"{model}: delta(1) > {target} although the float root is below 1")
    with mpmath.workdps(int(max(log_n, 0) / math.log(10)) + 30):
        guess = int(mpmath.ceil(mpmath.exp(mpmath.mpf(log_n))))
    width = max(2, guess // 10**9)
    lo, hi = max(1, guess - width), guess + width
    for _ in range(64):
        if ok(hi):
            break
        lo, hi, width = hi, hi + 2 * width, 2 * width
    else:
        raise NotCertified(f"{model}: no n <= {hi} found with delta(n) <= {target}")
    for _ in range(64):
        if lo == 1 or not ok(lo):
            break
        hi, lo, width = lo, max(1, lo - 2 * width), 2 * width
    else:
        raise NotCertified(f"{model}: delta(n) <= {target} holds down to n = {lo}")
    if lo == 1 and ok(1):
        return 1
    while hi - lo > 1:  # invariant: not ok(lo), ok(hi)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def growth_rows(generations, eps, model: ErrorModel) -> list[GrowthRow]:
    """R2 for each requested generation: the round size needed, the rate and the exponent.

    Parameters
    ----------
    generations : int or sequence of int
        Generations i ≥ 0.
    eps : number
        The target ε > 0.
    model : ErrorModel
        The per-round error model.

    Returns
    -------
    list of GrowthRow
        One row per generation (see :class:`GrowthRow`).

    References
    ----------
    docs/theory.md §4, R2.

    Examples
    --------
    >>> from boundkit import PowerLaw
    >>> [r.n_required for r in growth_rows([0, 1], "1/10", PowerLaw("1/2"))]
    [100, 400]
    """
    gens = check_generations(generations, minimum=0)
    e = check_positive(eps, "eps", "0.1")
    exponent = growth_exponent(model)
    rows = []
    for g in gens:
        try:
            rows.append(GrowthRow(g, model.rate, e, samples_required(g, e, model), exponent))
        except NotCertified:
            log_n = model._log_n(e / (g + 1))
            rows.append(GrowthRow(g, model.rate, e, max(1, math.ceil(math.exp(log_n))), exponent,
                                  certified=False))
    return rows


def kl_per_round(generation: int, eps) -> Fraction:
    """The KL budget per round that keeps generation i within ε under full synthetic data.

    Parameters
    ----------
    generation : int
        The generation i ≥ 0.
    eps : number
        The target ε > 0.

    Returns
    -------
    Fraction
        2ε²/(i+1)²: by Pinsker δ ≤ sqrt(KL/2), and (i+1)δ ≤ ε.

    References
    ----------
    docs/theory.md §4, R2.

    Examples
    --------
    >>> kl_per_round(1, "1/10")
    Fraction(1, 200)
    """
    g = check_generation(generation, minimum=0)
    e = check_positive(eps, "eps", "0.1")
    return 2 * e**2 / (g + 1) ** 2


@dataclass(frozen=True)
class GenerationLimit:
    """The answer to "how many generations stay within ε?".

    Attributes
    ----------
    last : int or None
        The largest generation i whose bound is ≤ ε (None if not even generation 0).
    forever : bool
        True when every generation stays within ε.
    """

    last: int | None
    forever: bool


def max_generation(
    n, eps, model: ErrorModel, schedule: Schedule | None = None
) -> GenerationLimit:
    """The largest generation whose bound stays within ε at a fixed round size (R2 inverted).

    Parameters
    ----------
    n : number
        The real round size.
    eps : number
        The target ε > 0.
    model : ErrorModel
        The per-round error model.
    schedule : Schedule, optional
        The mixing schedule (default full synthetic).

    Returns
    -------
    GenerationLimit
        ``last`` (None if not even generation 0) and ``forever``.

    Notes
    -----
    Generation 0 is bounded by δ = δ(n · size_factor). Later generations use the
    schedule's closed form (bisection on i ≥ 1, harmonic numbers through
    H_k = ψ(k+1) + γ) and its limit as i → ∞; schedules without one are evaluated round
    by round up to their horizon.

    References
    ----------
    docs/theory.md §4, R2.

    Examples
    --------
    >>> from boundkit import PowerLaw
    >>> max_generation(10_000, "1/10", PowerLaw("1/2"))  # (i+1)/100 <= 1/10
    GenerationLimit(last=9, forever=False)
    """
    schedule = FullSynthetic() if schedule is None else schedule
    check_instance(schedule, Schedule, "schedule", "FullSynthetic()")
    check_instance(model, ErrorModel, "model", "PowerLaw('1/4')")
    size = to_float(check_positive(n, "n", "10000"), "n")
    e = float(check_positive(eps, "eps", "0.1"))
    d = float(round_deltas(schedule, 0, model=model, n=size)[0])
    if d > e:
        return GenerationLimit(None, False)
    cf = schedule.closed_form(i, delta)
    if cf is None:
        if schedule.horizon is None or schedule.horizon > ROUNDS_LIMIT:
            raise InvalidArgument(f"{schedule} has no closed form and no finite horizon; "
                                  f"max_generation cannot search it.", argument="schedule")
        b = bound_values(schedule, np.full(schedule.horizon + 1, d))
        ok = np.nonzero(b <= e)[0]
        return GenerationLimit(_last_run(ok), bool(ok.size == b.size))
    j = sp.Symbol("j", integer=True, nonnegative=True)  # generation i = j + 1 >= 1
    cf = cf.subs(delta, d).subs(i, j + 1)
    if float(sp.limit(cf, j, sp.oo)) <= e:
        return GenerationLimit(None, True)  # bounds grow with i towards their limit
    f = sp.lambdify(j, cf.rewrite(sp.polygamma), modules=["scipy", "numpy"])

    def within(k: int) -> bool:
        with np.errstate(all="ignore"):
            return float(f(float(k - 1))) <= e

    if not within(1):
        return GenerationLimit(0, False)
    lo, hi = 1, 2
    while within(hi):
        lo, hi = hi, hi * 2
        if hi > 2**62:
            raise NotCertified("the bound stays <= eps beyond generation 2^62 although its "
                               "limit exceeds eps; it cannot be searched in float64.")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if within(mid) else (lo, mid)
    return GenerationLimit(lo, False)


def _last_run(ok: np.ndarray) -> int | None:
    """Largest k such that 0..k all pass (bounds grow with i)."""
    if ok.size == 0 or ok[0] != 0:
        return None
    gaps = np.nonzero(np.diff(ok) != 1)[0]
    return int(ok[gaps[0]] if gaps.size else ok[-1])
