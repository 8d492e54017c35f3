"""Command-line values as click parameter types built on boundkit's checks and registries.

Each type converts the text the user typed and, on bad input, raises
:class:`~boundkit.errors.InvalidArgument` naming the option as typed (``--alpha``)
and the fix; the CLI prints that as one line and exits 2.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from boundkit._checks import (
    MAX_GENERATION,
    MAX_GENERATIONS,
    check_generations,
    check_int,
    check_nonnegative,
    check_positive,
    check_rate,
    check_share,
    check_tv,
    to_fraction,
)
from boundkit.errors import InvalidArgument


def option_name(param: click.Parameter | None, fallback: str = "value") -> str:
    """The option as the user types it (``--lambda``), or the argument's name."""
    if param is None:
        return fallback
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return (param.name or fallback).upper()


class _Checked(click.ParamType):
    """A click type whose conversion is one of boundkit's checks."""

    def __init__(self, name: str, check: Callable[[str, str], object]):
        self.name = name
        self._check = check

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value  # already converted (a default given as an object)
        return self._check(value, option_name(param))


RATE = _Checked("rate", check_rate)


def _rates(text: str, option: str) -> list:
    items = [t.strip() for t in str(text).split(",")]
    if len(items) > 50 or any(not t for t in items):
        raise InvalidArgument(f"{option} takes one rate or a comma list of at most 50 (e.g. "
                              f"{option} 1/4,1/5); got {text[:60]!r}.", argument=option)
    out = [check_rate(t, option) for t in items]
    if len(set(out)) != len(out):
        raise InvalidArgument(f"{option} lists a rate twice: {text[:60]!r}. Pass each rate "
                              f"once.", argument=option)
    return out


#: One rate or a comma list (``1/4,1/5``), each kept exact.
RATES = _Checked("rates", _rates)
NUMBER = _Checked("number", to_fraction)
POSITIVE = _Checked("positive", lambda v, o: check_positive(v, o))
NONNEGATIVE = _Checked("nonnegative", lambda v, o: check_nonnegative(v, o))
SHARE = _Checked("share", lambda v, o: check_share(v, o))
TV = _Checked("tv", lambda v, o: check_tv(v, o))


def integer(minimum: int, maximum: int | None = None) -> _Checked:
    """An integer option in [minimum, maximum] (decimal digits only)."""

    def check(value: str, option: str) -> int:
        text = value.strip()
        if not (text.lstrip("+-").isdigit() and text.isascii() and len(text) <= 30):
            raise InvalidArgument(f"{option}={value!r} is not an integer. Pass e.g. {option} "
                                  f"{max(minimum, 10)}.", argument=option)
        return check_int(int(text), option, minimum, maximum)

    return _Checked("integer", check)


def parse_generations(text: str, option: str = "--generations", minimum: int = 1,
                      reason: str = "") -> list[int]:
    """``N`` (that generation alone), ``A..B`` (inclusive) and comma lists of both.

    Generations must be distinct, >= ``minimum`` (``reason`` says why when it is 1),
    at most 10^12, and at most 1,000,000 of them.

    >>> parse_generations("1..3,7")
    [1, 2, 3, 7]
    """
    out: list[int] = []
    total = 0
    for part in str(text).split(","):
        part = part.strip()
        lo_txt, sep, hi_txt = part.partition("..")
        if not all(t.strip().isdigit() and t.isascii() and len(t.strip()) <= 13
                   for t in ([lo_txt, hi_txt] if sep else [lo_txt])):
            raise InvalidArgument(
                f"{option}={text!r} is not a generation list. Pass N, A..B or a comma list of "
                f"non-negative integers, e.g. {option} 1..10 or {option} 1,2,5.", argument=option)
        lo = int(lo_txt)
        hi = int(hi_txt) if sep else lo
        if lo < minimum:
            why = f" ({reason})" if reason else ""
            raise InvalidArgument(f"{option}={text!r} includes {lo}; generations start at "
                                  f"{minimum} here{why}. Pass e.g. {option} {minimum}..10.",
                                  argument=option)
        if hi < lo:
            raise InvalidArgument(f"{option}={text!r} has the empty range {part}. Pass A..B "
                                  f"with A <= B, e.g. {option} 1..10.", argument=option)
        if hi > MAX_GENERATION:
            raise InvalidArgument(f"{option}={text!r} goes beyond generation 10^12. Pass smaller "
                                  f"generations.", argument=option)
        total += hi - lo + 1
        if total > MAX_GENERATIONS:
            raise InvalidArgument(f"{option}={text!r} asks for more than {MAX_GENERATIONS:,} "
                                  f"generations. Pass a shorter range.", argument=option)
        out.extend(range(lo, hi + 1))
    return check_generations(out, option, minimum)


class Generations(click.ParamType):
    """A generation list (see :func:`parse_generations`)."""

    name = "generations"

    def __init__(self, minimum: int = 0, reason: str = ""):
        self.minimum, self.reason = minimum, reason

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        return parse_generations(value, option_name(param, "--generations"), self.minimum,
                                 self.reason)


class Names(click.ParamType):
    """One of a registry's names; ``loader`` returns them (called lazily, e.g. for simulations).

    Unlike ``click.Choice`` the names may come from a module imported only when the
    option is used, so that ``boundkit threshold`` never imports torch.
    """

    name = "name"

    def __init__(self, loader: Callable[[], tuple[str, ...]], kind: str):
        self._loader, self.kind = loader, kind

    def convert(self, value, param, ctx):
        names = self._loader()
        if value not in names:
            option = option_name(param)
            raise InvalidArgument(f"{option}={value!r} is not a known {self.kind}. Pass one of: "
                                  f"{', '.join(names)}.", argument=option)
        return value

    def get_metavar(self, param, ctx=None):
        return self.kind.upper().replace(" ", "_")
