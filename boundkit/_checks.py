"""Argument checks shared by boundkit, simulations and proofs: refuse bad input before work.

Every message names the argument, the value received and the fix, in the style
of ``../shared/STYLE.md`` ("Errors that teach"). Values of the wrong kind raise
``TypeError``; values of the right kind but outside the domain raise
:class:`~boundkit.errors.InvalidArgument`.

Numbers are accepted as Python or numpy ints and floats, Fractions, sympy
Rationals and strings (``"1/4"``, ``"0.25"``, read exactly). Booleans and complex
numbers are refused wherever a real number is meant.
"""

from __future__ import annotations

import math
import numbers
import re
from fractions import Fraction

import numpy as np
import sympy as sp

from boundkit.errors import InvalidArgument

Number = int | float | Fraction | str | sp.Rational

#: Tolerance for a float round's weights to sum to one (exact rationals must be exact).
FLOAT_SUM_TOL = 1e-12
#: Largest magnitude a number may have: every route must also work in float64.
MAX_MAGNITUDE = Fraction(1e300)  # the double 1e300 (slightly above 10^300): both spellings pass
MIN_MAGNITUDE = Fraction(1, 10**300)  # below the double 1e-300: both spellings pass
#: Rates the solvers are correct on (float, certified, exact, Lambert-W slope, growth).
RATE_MIN = Fraction(1, 10**12)
RATE_MAX = 1 - Fraction(1, 10**10)
#: Most generations one call may ask for, and the largest generation index.
MAX_GENERATIONS = 1_000_000
MAX_GENERATION = 10**12
#: Longest numeric string read (a guard against "1e999999999" and 10,000-digit inputs).
MAX_NUMBER_TEXT = 64

_EXPONENT = re.compile(r"[eE]([+-]?\d+)\s*$")


def _is_bool(value: object) -> bool:
    return isinstance(value, bool | np.bool_)


def _brief(v: int) -> str:
    """An integer, or its number of digits when it is too long to print."""
    return str(v) if abs(v) < 10**20 else f"an integer of {v.bit_length() * 0.30103:.0f} digits"


def _show(value: object) -> str:
    return str(value) if isinstance(value, str | Fraction | sp.Rational) else repr(value)


def to_fraction(value: object, name: str) -> Fraction:
    """Exact rational from an int, Fraction, sympy Rational, finite float or a string.

    Strings may be fractions (``"1/4"``) or decimals (``"0.25"``, ``"1e-3"``); decimals are
    read exactly (``"0.1"`` is 1/10, not the nearest double). Magnitudes beyond 1e300
    and non-zero ones below 1e-300 are refused (they would leave float64's range).
    """
    if _is_bool(value):
        raise InvalidArgument(f"{name} must be a number; got the boolean {value!r}. Pass e.g. "
                              f"{name}=1/4.", argument=name)
    if isinstance(value, Fraction):
        out = value
    elif isinstance(value, sp.Rational):
        out = Fraction(int(value.p), int(value.q))
    elif isinstance(value, numbers.Integral):
        out = Fraction(int(value))
    elif isinstance(value, numbers.Real):
        if not math.isfinite(float(value)):
            raise InvalidArgument(f"{name} must be finite; got {value!r}. Pass a finite number.",
                                  argument=name)
        out = Fraction(float(value))
    elif isinstance(value, str):
        out = _parse_text(value, name)
    else:
        raise TypeError(f"{name} must be a real number (int, float, Fraction or a string like "
                        f"'1/4'); got {type(value).__name__} {value!r}.")
    if abs(out) > MAX_MAGNITUDE or (out != 0 and abs(out) < MIN_MAGNITUDE):
        raise InvalidArgument(f"{name}={_show(value)} is outside float64's working range "
                              f"(1e-300 <= |x| <= 1e300). Pass a number in that range.",
                              argument=name)
    return out


def _parse_text(value: str, name: str) -> Fraction:
    text = value.strip()
    exponent = _EXPONENT.search(text)
    too_long = len(text) > MAX_NUMBER_TEXT
    if too_long or (exponent is not None and abs(int(exponent.group(1))) > 400):
        raise InvalidArgument(f"{name}={value[:40]!r}{'...' if len(value) > 40 else ''} is not "
                              f"a number in float64's range. Pass e.g. {name}=1/4 or 0.25.",
                              argument=name)
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise InvalidArgument(f"{name}={value!r} is not a number. Pass a fraction like 1/4 or a "
                              f"decimal like 0.25.", argument=name) from None


def to_float(value: object, name: str) -> float:
    """A finite real number as float64 (same acceptance rules as :func:`to_fraction`)."""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Rational | np.integer):
        if _is_bool(value):
            to_fraction(value, name)
        v = float(value)
        if not math.isfinite(v):
            raise InvalidArgument(f"{name} must be finite; got {value!r}. Pass a finite number.",
                                  argument=name)
        if abs(v) > 1e300 or (v != 0 and abs(v) < 1e-300):
            to_fraction(v, name)  # raises with the range message
        return v
    return float(to_fraction(value, name))


def is_exact(value: object) -> bool:
    """True for values that carry an exact rational (ints, Fractions, Rationals, strings)."""
    if _is_bool(value):
        return False
    return isinstance(value, numbers.Integral | Fraction | sp.Rational | str)


def check_rate(r: object, name: str = "rate") -> Fraction:
    """A TV rate r in (0, 1) (docs/theory.md §3), as an exact Fraction, in [1e-12, 1 − 1e-10]."""
    q = to_fraction(r, name)
    if not 0 < q < 1:
        raise InvalidArgument(
            f"{name} must lie strictly between 0 and 1; got {_show(r)}. "
            f"Pass e.g. {name}=1/4 (the fu2024 diffusion rate) or 1/2 (Gaussian MLE).",
            argument=name)
    if not RATE_MIN <= q <= RATE_MAX:
        raise InvalidArgument(
            f"{name}={_show(r)} is outside the range the solvers are verified on, "
            f"[1e-12, 1 - 1e-10]. Pass a rate in that range.", argument=name)
    return q


def check_positive(value: object, name: str, example: str = "1") -> Fraction:
    """A strictly positive finite number, as an exact Fraction."""
    q = to_fraction(value, name)
    if q <= 0:
        raise InvalidArgument(f"{name} must be > 0; got {_show(value)}. Pass e.g. "
                              f"{name}={example}.", argument=name)
    return q


def check_nonnegative(value: object, name: str, example: str = "0") -> Fraction:
    """A non-negative finite number, as an exact Fraction."""
    q = to_fraction(value, name)
    if q < 0:
        raise InvalidArgument(f"{name} must be >= 0; got {_show(value)}. Pass e.g. "
                              f"{name}={example}.", argument=name)
    return q


def check_share(value: object, name: str = "alpha", *, allow_zero: bool = True) -> Fraction:
    """A mixture weight in [0, 1] (or (0, 1] when ``allow_zero`` is False)."""
    q = to_fraction(value, name)
    low_ok = q >= 0 if allow_zero else q > 0
    if not (low_ok and q <= 1):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise InvalidArgument(f"{name} must lie in {interval}; got {_show(value)}. Pass a "
                              f"real-data share such as {name}=1/2.", argument=name)
    return q


def check_tv(value: object, name: str = "delta", example: str = "0.01") -> Fraction:
    """A per-round error δ ∈ (0, 1]: a total-variation distance cannot exceed 1."""
    q = check_positive(value, name, example)
    if q > 1:
        raise InvalidArgument(f"{name} must lie in (0, 1] (a total-variation distance cannot "
                              f"exceed 1); got {_show(value)}. Pass e.g. {name}={example}.",
                              argument=name)
    return q


def check_int(value: object, name: str, minimum: int = 1, maximum: int | None = None,
              example: str | None = None) -> int:
    """An integer in [minimum, maximum] (Python or numpy ints; bools refused)."""
    example = example or str(max(minimum, 1 if maximum is None else min(10, maximum)))
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) or isinstance(value, str):
            raise InvalidArgument(f"{name} must be an integer >= {minimum}; got {value!r}. "
                                  f"Pass e.g. {name}={example}.", argument=name)
        raise TypeError(f"{name} must be an integer; got {type(value).__name__} {value!r}. "
                        f"Pass e.g. {name}={example}.")
    v = int(value)
    if v < minimum or (maximum is not None and v > maximum):
        span = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum:,}]"
        raise InvalidArgument(f"{name} must be an integer {span}; got {_brief(v)}. Pass e.g. "
                              f"{name}={example}.", argument=name)
    return v


def check_generation(i: object, name: str = "generation", minimum: int = 1) -> int:
    """A generation index i (generation i is the model p_{i+1} of round i).

    ``minimum`` is 1 where generation 0 has no meaning (R3's final-round share, R6's
    λ′: round 0 uses real data only, so there is nothing to mix), 0 elsewhere.
    """
    return check_int(i, name, minimum, MAX_GENERATION, example="3")


def check_generations(gens: object, name: str = "generations", minimum: int = 1) -> list[int]:
    """A non-empty list of distinct integer generations, each >= ``minimum``.

    At most 1,000,000 of them, each at most 10^12.
    """
    if isinstance(gens, numbers.Integral) and not _is_bool(gens):
        seq = [gens]
    elif isinstance(gens, str | bytes | dict) or not hasattr(gens, "__iter__"):
        raise TypeError(f"{name} must be an int or a sequence of ints; got "
                        f"{type(gens).__name__} {gens!r}. Pass e.g. {name}=range(1, 11).")
    else:
        seq = list(gens) if not hasattr(gens, "__len__") or len(gens) <= MAX_GENERATIONS else None
        if seq is None:
            raise InvalidArgument(f"{name} holds more than {MAX_GENERATIONS:,} generations. Pass "
                                  f"a shorter range.", argument=name)
    if not seq:
        raise InvalidArgument(f"{name} is empty. Pass at least one generation, e.g. "
                              f"{name}=[1, 2, 3].", argument=name)
    if len(seq) > MAX_GENERATIONS:
        raise InvalidArgument(f"{name} holds more than {MAX_GENERATIONS:,} generations. Pass a "
                              f"shorter range.", argument=name)
    out = [check_generation(g, name, minimum) for g in seq]
    if len(set(out)) != len(out):  # find the first repeat in one pass (not O(n²))
        seen: set[int] = set()
        twice = next(g for g in out if g in seen or seen.add(g))
        raise InvalidArgument(f"{name} lists generation {twice} more than once. Pass each "
                              f"generation once.", argument=name)
    return out


def check_confidence(value: object, name: str = "confidence") -> float:
    """A confidence level in the open interval (0, 1)."""
    c = to_float(value, name)
    if not 0 < c < 1:
        raise InvalidArgument(f"{name} must lie in (0, 1); got {value!r}. Pass e.g. "
                              f"{name}=0.95.", argument=name)
    return c


def check_choice(value: object, choices, name: str) -> str:
    """One of a few named options (strings): TypeError for other kinds, else InvalidArgument."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {', '.join(map(repr, choices))}; got "
                        f"{type(value).__name__} {value!r}.")
    if value not in choices:
        raise InvalidArgument(f"{name}={value!r} is not known. Pass one of: "
                              f"{', '.join(map(repr, choices))}.", argument=name)
    return value


def check_instance(value: object, types, name: str, example: str) -> None:
    """``TypeError`` naming the argument when ``value`` is not of ``types``."""
    if not isinstance(value, types):
        raise TypeError(f"{name} must be {_kind(types)}; got {type(value).__name__} {value!r}. "
                        f"Pass e.g. {name}={example}.")


def _kind(types) -> str:
    seq = types if isinstance(types, tuple) else (types,)
    return " or ".join(f"a {t.__name__}" for t in seq)


def rate_text(rate) -> str:
    """A rate as exact text: ``"1/4"`` for 1/4, ``"0.2"`` for the float 0.2.

    Fractions and sympy rationals with a denominator up to 10^6 print as ``p/q``; other
    numbers (a binary float, an irrational sympy number) as their shortest decimal.

    Examples
    --------
    >>> rate_text("1/4"), rate_text(0.2), rate_text(Fraction(2, 5))
    ('1/4', '0.2', '2/5')
    """
    if isinstance(rate, sp.Basic):
        if rate.is_Rational:
            rate = Fraction(int(rate.p), int(rate.q))
        else:
            return repr(float(rate))
    q = rate if isinstance(rate, Fraction) else to_fraction(rate, "rate")
    if q.denominator <= 10**6:
        return str(q)
    return repr(float(q))
