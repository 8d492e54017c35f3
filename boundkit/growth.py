r"""R2: sample growth under full synthetic data, and the inverse questions.

THEORY.md §4, R2. With δ_k = C n^{-r} and equal round sizes, generation i obeys
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

import numpy as np
import sympy as sp

from boundkit._checks import check_generation, check_generations, check_positive
from boundkit.error_models import ErrorModel, PowerLaw
from boundkit.recursion import bound_values, round_deltas
from boundkit.schedules import FullSynthetic, Schedule, delta, i


@dataclass(frozen=True)
class GrowthRow:
    """R2 for one generation: ``n_required`` is None when ε is below the model's floor."""

    generation: int
    rate: sp.Expr
    eps: Fraction
    n_required: int | None
    exponent: sp.Expr | None

    def as_dict(self) -> dict:
        """The JSON contract's keys (README, "JSON output")."""
        return {
            "generation": self.generation,
            "rate": float(self.rate),
            "eps": float(self.eps),
            "n_required": self.n_required,
            "exponent": None if self.exponent is None else float(self.exponent),
        }


def growth_exponent(model: ErrorModel) -> sp.Expr | None:
    """The exponent p in n_required ∝ i^p: 1/r (4 for ``fu2024``, 5 for E3); None if r = 0."""
    r = model.rate
    return None if r == 0 else 1 / r


def samples_required(generation: int, eps, model: ErrorModel) -> int | None:
    """Smallest equal round size n with (i+1) δ(n) ≤ ε for generation i (R2).

    Exact (sympy, then the ceiling) for a power law without floor; otherwise from
    the model's monotone inverse. None when ε/(i+1) is at or below the floor.
    """
    (g,) = check_generations([generation], "generation", minimum=0)
    e = check_positive(eps, "eps", "0.1")
    if isinstance(model, PowerLaw) and model.floor_const == 0:
        c, r = model.const, model.r
        base = sp.Rational(c.numerator * (g + 1) * e.denominator, c.denominator * e.numerator)
        return int(sp.ceiling(base ** (1 / sp.Rational(r.numerator, r.denominator))))
    n = model.n_for_delta(float(e) / (g + 1))
    # n is a float root with relative error ~1e-15: do not let it round up past an integer.
    return None if n is None else math.ceil(n * (1 - 1e-14))


def growth_rows(generations, eps, model: ErrorModel) -> list[GrowthRow]:
    """R2 rows (generation, rate, eps, n_required, exponent) for each generation."""
    gens = check_generations(generations)
    e = check_positive(eps, "eps", "0.1")
    exponent = growth_exponent(model)
    return [GrowthRow(g, model.rate, e, samples_required(g, e, model), exponent) for g in gens]


def kl_per_round(generation: int, eps) -> Fraction:
    """The KL budget per round that keeps generation i within ε: 2ε²/(i+1)² (R2, Pinsker)."""
    g = check_generation(generation)
    e = check_positive(eps, "eps", "0.1")
    return 2 * e**2 / (g + 1) ** 2


@dataclass(frozen=True)
class GenerationLimit:
    """Answer to "how many generations stay within ε?".

    ``last`` is the largest generation i with bound ≤ ε (None if not even
    generation 0); ``forever`` is True when every generation does.
    """

    last: int | None
    forever: bool


def max_generation(
    n, eps, model: ErrorModel, schedule: Schedule | None = None
) -> GenerationLimit:
    """Largest generation whose bound stays ≤ ε at round size n (inverse of R2).

    Uses the schedule's closed form (bisection on i, values through
    H_k = ψ(k+1) + γ) and its limit as i → ∞; schedules without one are
    evaluated round by round up to their horizon.
    """
    schedule = FullSynthetic() if schedule is None else schedule
    check_positive(n, "n", "10000")
    e = float(check_positive(eps, "eps", "0.1"))
    d = float(round_deltas(schedule, 0, model=model, n=float(n))[0])
    cf = schedule.closed_form(i, delta)
    if cf is None:
        b = bound_values(schedule, np.full(schedule.horizon + 1, d))
        ok = np.nonzero(b <= e)[0]
        return GenerationLimit(_last_run(ok), bool(ok.size == b.size))
    cf = cf.subs(delta, d)
    if float(sp.limit(cf, i, sp.oo)) <= e:
        return GenerationLimit(None, True)  # bounds grow with i towards their limit
    f = sp.lambdify(i, cf.rewrite(sp.polygamma), modules="scipy")
    if float(f(0.0)) > e:
        return GenerationLimit(None, False)
    lo, hi = 0, 1
    while float(f(float(hi))) <= e:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if float(f(float(mid))) <= e else (lo, mid)
    return GenerationLimit(lo, False)


def _last_run(ok: np.ndarray) -> int | None:
    """Largest k such that 0..k all pass (bounds grow with i)."""
    if ok.size == 0 or ok[0] != 0:
        return None
    gaps = np.nonzero(np.diff(ok) != 1)[0]
    return int(ok[gaps[0]] if gaps.size else ok[-1])
