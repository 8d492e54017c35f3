"""Argument checks shared by the public API: refuse bad input before any work.

Every message names the argument, the value received and the fix, in the style
of ``../shared/STYLE.md`` ("Errors that teach").
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import sympy as sp

Number = int | float | Fraction | str | sp.Rational

#: Tolerance for a float round's weights to sum to one (exact rationals must be exact).
FLOAT_SUM_TOL = 1e-12


def to_fraction(value: object, name: str) -> Fraction:
    """Exact rational from an int, Fraction, sympy Rational, finite float or a string.

    Strings may be fractions (``"1/4"``) or decimals (``"0.25"``); decimals are
    read exactly (``"0.1"`` is 1/10, not the nearest double).
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number; got the boolean {value!r}.")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, sp.Rational):
        return Fraction(int(value.p), int(value.q))
    if isinstance(value, numbers.Integral):
        return Fraction(int(value))
    if isinstance(value, numbers.Real):
        if not math.isfinite(float(value)):
            raise ValueError(f"{name} must be finite; got {value!r}. Pass a finite number.")
        return Fraction(float(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            out = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise ValueError(
                f"{name}={value!r} is not a number. Pass a fraction like 1/4 or a decimal "
                f"like 0.25."
            ) from None
        return out
    raise ValueError(
        f"{name} must be a number (int, float, Fraction or a string like '1/4'); "
        f"got {type(value).__name__} {value!r}."
    )


def is_exact(value: object) -> bool:
    """True for values that carry an exact rational (ints, Fractions, Rationals, strings)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, numbers.Integral | Fraction | sp.Rational | str)


def check_rate(r: object, name: str = "rate") -> Fraction:
    """A TV rate r in the open interval (0, 1) (THEORY.md §3), as an exact Fraction."""
    q = to_fraction(r, name)
    if not 0 < q < 1:
        raise ValueError(
            f"{name} must lie strictly between 0 and 1; got {_show(r)}. "
            f"Pass e.g. {name}=1/4 (the fu2024 diffusion rate) or 1/2 (Gaussian MLE)."
        )
    return q


def check_positive(value: object, name: str, example: str = "1") -> Fraction:
    """A strictly positive finite number, as an exact Fraction."""
    q = to_fraction(value, name)
    if q <= 0:
        raise ValueError(f"{name} must be > 0; got {_show(value)}. Pass e.g. {name}={example}.")
    return q


def check_nonnegative(value: object, name: str, example: str = "0") -> Fraction:
    """A non-negative finite number, as an exact Fraction."""
    q = to_fraction(value, name)
    if q < 0:
        raise ValueError(f"{name} must be >= 0; got {_show(value)}. Pass e.g. {name}={example}.")
    return q


def check_share(value: object, name: str = "alpha", *, allow_zero: bool = True) -> Fraction:
    """A mixture weight in [0, 1] (or (0, 1] when ``allow_zero`` is False)."""
    q = to_fraction(value, name)
    low_ok = q >= 0 if allow_zero else q > 0
    if not (low_ok and q <= 1):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(
            f"{name} must lie in {interval}; got {_show(value)}. Pass a real-data share "
            f"such as {name}=1/2."
        )
    return q


def check_generation(i: object, name: str = "generation") -> int:
    """A generation index i >= 1 (generation i is the model p_{i+1} of round i)."""
    if isinstance(i, bool) or not isinstance(i, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= 1; got {i!r}. Pass e.g. {name}=3.")
    if int(i) < 1:
        raise ValueError(
            f"{name} must be >= 1 (generation i is the model of round i); got {i}. "
            f"Pass e.g. {name}=1."
        )
    return int(i)


def check_generations(gens: object, name: str = "generations", minimum: int = 1) -> list[int]:
    """A non-empty list of integer generations, each >= ``minimum``."""
    try:
        seq = [gens] if isinstance(gens, numbers.Integral) else list(gens)  # type: ignore[call-overload]
    except TypeError:
        raise ValueError(f"{name} must be an int or a list of ints; got {gens!r}.") from None
    if not seq:
        raise ValueError(f"{name} is empty. Pass at least one generation, e.g. {name}=[1, 2, 3].")
    out = []
    for g in seq:
        if isinstance(g, bool) or not isinstance(g, numbers.Integral) or int(g) < minimum:
            raise ValueError(
                f"{name} must hold integers >= {minimum}; got {g!r}. Pass e.g. {name}=range(1, 11)."
            )
        out.append(int(g))
    return out


def _show(value: object) -> str:
    return str(value) if isinstance(value, str | Fraction | sp.Rational) else repr(value)
