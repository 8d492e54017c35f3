r"""What the R6 modules share: conventions, argument checks, B_i(λ) and the result types.

docs/theory.md §4, R6. :mod:`boundkit.phase` (scaled convention and the public entry points),
:mod:`boundkit.phase_fixed` (fixed-real) and :mod:`boundkit.phase_floor` (a floor C0 > 0)
all import from here and from nothing above them, so the three never import each other
in a circle. The public names are re-exported by :mod:`boundkit.phase`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy as sp

from boundkit._checks import (
    check_choice,
    check_generation,
    check_generations,
    check_nonnegative,
    check_positive,
    check_rate,
    rate_text,
    to_float,
)
from boundkit.errors import InvalidArgument

x = sp.Symbol("x", positive=True)
lam = sp.Symbol("lambda", nonnegative=True)

#: Above this many generations, certification is skipped unless asked for.
CERTIFY_AUTO_LIMIT = 10_000
#: Largest generation of the exact algebraic route (CRootOf of degree i + 1; ~0.6 s at 200).
EXACT_LIMIT = 200
#: Largest degree of the critical polynomial built as a sympy Poly.
POLY_LIMIT = 100_000
#: R6's round-0 conventions (docs/theory.md §4): round 0 on (1+λ)n real points, or on n alone.
CONVENTIONS = ("scaled", "fixed-real")
NO_BREAK_EVEN = ("fixed-real has no break-even ratio: B_i(lambda) > B_i(0) for every "
                 "lambda > 0 (it declines back towards B_i(0) only as lambda -> infinity)")


def _convention(convention: object) -> str:
    return check_choice(convention, CONVENTIONS, "convention")

_GEN0 = ("R6 needs generation >= 1: round 0 trains on real data only, so B_0(lambda) falls "
         "monotonically and has no critical point")


def _phase_generation(i: object, limit: int | None = None, route: str = "") -> int:
    """A generation i ≥ 1 for R6 (generation 0 has no phase transition), at most ``limit``."""
    if not isinstance(i, bool) and isinstance(i, int | np.integer) and int(i) == 0:
        raise InvalidArgument(f"{_GEN0}. Pass generation=1 or more.", argument="generation")
    g = check_generation(i)
    if limit is not None and g > limit:
        raise InvalidArgument(f"the {route} route is limited to generation {limit:,}; got {g:,}. "
                              f"Use lambda_critical_certified (arb) or lambda_critical (float64) "
                              f"for larger i.", argument="generation")
    return g


def _phase_generations(gens: object) -> list[int]:
    """Generations i ≥ 1 for R6, with the reason when 0 is among them."""
    out = check_generations(gens, minimum=0)
    if 0 in out:
        raise InvalidArgument(f"{_GEN0}. Pass generations >= 1.", argument="generations")
    return out


def _rq(r: Fraction) -> sp.Rational:
    return sp.Rational(r.numerator, r.denominator)


def risk_expr(i: int, r, const=1, n=1, *, convention: str = "scaled") -> sp.Expr:
    """R6's bound B_i(λ) as a sympy expression in λ.

    Parameters
    ----------
    i : int
        The generation i ≥ 1.
    r : rate
        The TV rate r in (0, 1).
    const, n : number
        E1's constant C and the real sample size n.
    convention : {"scaled", "fixed-real"}
        R6's round-0 convention.

    Returns
    -------
    sympy.Expr
        C n^{-r}(1+λ)^{1−r}(1 − x^{i+1}) (scaled) or C n^{-r}[x^i + (1+λ)^{1−r}(1 − x^i)]
        (fixed-real), x = λ/(1+λ).

    References
    ----------
    docs/theory.md §4, R6.

    Examples
    --------
    >>> risk_expr(1, "1/4")
    (lambda + 1)**(3/4)*(-lambda**2/(lambda + 1)**2 + 1)
    """
    conv = _convention(convention)
    i = _phase_generation(i, POLY_LIMIT, "symbolic")
    rq = _rq(check_rate(r))
    c = sp.nsimplify(check_positive(const, "const"))
    nn = sp.nsimplify(check_positive(n, "n"))
    xx = lam / (1 + lam)
    if conv == "fixed-real":
        return c * nn ** (-rq) * (xx**i + (1 + lam) ** (1 - rq) * (1 - xx**i))
    return c * nn ** (-rq) * (1 + lam) ** (1 - rq) * (1 - xx ** (i + 1))


def risk(i: int, lam_values, r, const=1.0, n=1.0, floor=0.0, *,
         convention: str = "scaled") -> np.ndarray | float:
    r"""R6's bound B_i(λ) in float64, in log space (λ up to 1e300, i up to 1e6).

    Parameters
    ----------
    i : int
        The generation i ≥ 1.
    lam_values : number or array_like
        λ ≥ 0.
    r : rate
        The TV rate r in (0, 1).
    const, n, floor : number
        E1's C, the real sample size n and the floor C0 ≥ 0.
    convention : {"scaled", "fixed-real"}
        R6's round-0 convention.

    Returns
    -------
    float or numpy.ndarray
        B_i at each λ (a float for a scalar λ).

    Notes
    -----
    With a floor the per-round error is C((1+λ)n)^{-r} + C0, so

    .. math::
        B_i(\lambda) = \left(C((1+\lambda)n)^{-r} + C_0\right)(1+\lambda)(1 - x^{i+1})

    ("scaled"), and (C n^{-r} + C0) x^i + (C((1+λ)n)^{-r} + C0)(1+λ)(1 − x^i)
    ("fixed-real").

    References
    ----------
    docs/theory.md §4, R6.

    Examples
    --------
    >>> risk(1, [0.0, 1.5], "1/4").round(6)  # B_1(0) = 1; the peak at λ' = 3/2
    array([1.      , 1.272433])
    """
    conv = _convention(convention)
    i = _phase_generation(i)
    rr = float(check_rate(r))
    c = float(check_positive(const, "const"))
    nn = float(check_positive(n, "n"))
    c0 = float(check_nonnegative(floor, "floor"))
    if isinstance(lam_values, str | bytes):
        lam_values = to_float(lam_values, "lambda")
    try:
        lv = np.asarray(lam_values, dtype=np.float64)
    except OverflowError:
        raise InvalidArgument(f"lambda must be <= 1e300; got {lam_values!r}.",
                              argument="lambda") from None
    except (TypeError, ValueError):
        raise TypeError(f"lambda values must be numbers; got {type(lam_values).__name__} "
                        f"{lam_values!r}. Pass e.g. [0.5, 1.0].") from None
    if not np.all(np.isfinite(lv)) or np.any(lv < 0) or np.any(lv > 1e300):
        raise InvalidArgument(f"lambda must be finite, >= 0 and <= 1e300; got {lam_values!r}.",
                              argument="lambda")
    with np.errstate(divide="ignore", over="ignore", under="ignore"):
        safe = np.where(lv > 0, lv, 1.0)
        log_c0 = math.log(c0) if c0 > 0 else -np.inf
        log_round = np.logaddexp(math.log(c) - rr * (np.log1p(lv) + math.log(nn)), log_c0)
        if conv == "fixed-real":
            t = np.log1p(1 / safe)
            log_mass = np.log1p(safe) + np.log(-np.expm1(-i * t))
            log_first = np.logaddexp(math.log(c) - rr * math.log(nn), log_c0) - i * t
            log_out = np.where(lv > 0, np.logaddexp(log_first, log_round + log_mass),
                               log_round)
        else:
            log_mass = np.log1p(safe) + np.log(-np.expm1(-(i + 1) * np.log1p(1 / safe)))
            log_mass = np.where(lv > 0, log_mass, 0.0)  # log (1+λ)(1 − x^{i+1}); 0 at λ = 0
            log_out = log_round + log_mass
    if np.any(log_out > 700):
        raise InvalidArgument(f"B_i(lambda) exceeds float64 here (log B = "
                              f"{float(log_out.max()):.4g}). Pass a smaller const or lambda.",
                              argument="const")
    out = np.exp(log_out)
    return float(out) if out.ndim == 0 else out




@dataclass(frozen=True)
class Enclosure:
    """A certified interval [lo, hi] that contains λ'_i (R6), or why there is none.

    Attributes
    ----------
    lo, hi : float
        The interval's ends, rounded outward from arb balls (NaN when not certified).
    certified : bool
        True when ball arithmetic proved a sign change of the critical function
        inside [lo, hi]; rounding can only make a proof fail, never pass wrongly.
    reason : str
        Why certification failed ("" when ``certified``).
    """

    lo: float
    hi: float
    certified: bool
    reason: str = ""


@dataclass(frozen=True)
class PhasePoint:
    """R6's results for one generation i (the model p_{i+1} of round i).

    Attributes
    ----------
    generation : int
        The generation i ≥ 1.
    rate : Fraction
        The TV rate r.
    x_critical : float or None
        x' = λ'/(1+λ').
    lambda_critical : float or None
        λ'_i; None when B_i has no interior maximum for λ ≤ the search cap (only
        possible with a floor C0 > 0).
    lambda_break_even : float or None
        λ⁼_i, None when B_i never returns to B_i(0) past the peak (always under
        fixed-real), or λ⁼ exceeds float64.
    ratio_at_peak : float or None
        B_i(λ')/B_i(0).
    certified : bool
        True when an arb enclosure provably contains the critical point and the float
        value lies inside it.
    enclosure : tuple of float or None
        That enclosure (lo, hi).
    note : str
        Why a value is absent, or how it was found.
    convention : str
        ``"scaled"`` or ``"fixed-real"``.
    """

    generation: int
    rate: Fraction
    x_critical: float | None
    lambda_critical: float | None
    lambda_break_even: float | None
    ratio_at_peak: float | None
    certified: bool
    enclosure: tuple[float, float] | None = None
    note: str = ""
    convention: str = "scaled"

    def as_dict(self) -> dict:
        """The JSON contract's keys (README, "JSON output")."""
        return {
            "generation": self.generation,
            "rate": rate_text(self.rate),
            "rate_float": float(self.rate),
            "convention": self.convention,
            "x_critical": self.x_critical,
            "lambda_critical": self.lambda_critical,
            "lambda_break_even": self.lambda_break_even,
            "ratio_at_peak": self.ratio_at_peak,
            "certified": self.certified,
        }




# The result types are public in boundkit.phase (and boundkit): say so in reprs, docs and
# pickles (boundkit.phase re-exports both names).
Enclosure.__module__ = PhasePoint.__module__ = "boundkit.phase"
