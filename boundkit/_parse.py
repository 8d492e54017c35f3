"""Parsing of command-line values: rates, numbers and generation lists."""

from __future__ import annotations

from fractions import Fraction

from boundkit._checks import (
    check_nonnegative,
    check_positive,
    check_rate,
    check_share,
    to_fraction,
)

#: Most generations one command may ask for.
MAX_GENERATIONS = 1_000_000


def parse_number(text: str, option: str) -> Fraction:
    """A fraction ("1/4") or decimal ("0.25", "1e-3") read exactly."""
    return to_fraction(text, option)


def parse_rate(text: str, option: str = "--rate") -> Fraction:
    """A rate in (0, 1)."""
    return check_rate(text, option)


def parse_positive(text: str, option: str, example: str = "1") -> Fraction:
    """A number > 0, named by its option in any error."""
    return check_positive(text, option, example)


def parse_nonnegative(text: str, option: str, example: str = "0") -> Fraction:
    """A number >= 0, named by its option in any error."""
    return check_nonnegative(text, option, example)


def parse_share(text: str, option: str, *, allow_zero: bool = True) -> Fraction:
    """A real-data share in [0, 1] (or (0, 1])."""
    return check_share(text, option, allow_zero=allow_zero)


def parse_generations(text: str, option: str = "--generations") -> list[int]:
    """``N`` (that generation alone), ``A..B`` (inclusive) and comma lists of both.

    >>> parse_generations("1..3,7")
    [1, 2, 3, 7]
    """
    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        lo_txt, sep, hi_txt = part.partition("..")
        try:
            lo = int(lo_txt)
            hi = int(hi_txt) if sep else lo
        except ValueError:
            raise ValueError(
                f"{option}={text!r} is not a generation list. Pass N, A..B or a comma list, "
                f"e.g. {option} 1..10 or {option} 1,2,5."
            ) from None
        if lo < 1:
            raise ValueError(
                f"{option}={text!r} includes {lo}; generations start at 1 (generation i is "
                f"the model of round i). Pass e.g. {option} 1..10."
            )
        if hi < lo:
            raise ValueError(
                f"{option}={text!r} has the empty range {part}. Pass A..B with A <= B, "
                f"e.g. {option} 1..10."
            )
        if hi - lo + 1 + len(out) > MAX_GENERATIONS:
            raise ValueError(
                f"{option}={text!r} asks for more than {MAX_GENERATIONS:,} generations. "
                f"Pass a shorter range."
            )
        out.extend(range(lo, hi + 1))
    return out
