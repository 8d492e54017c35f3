"""One registry per kind of named thing: schedules (with their aliases) and error models.

Every front end (the CLI, tables, simulations, sweeps) resolves names here, so a
name, an alias or the options a thing takes are written down once. An option
passed to a thing that does not take it is refused with the list of those that do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction

from boundkit.early_stopping import LiDiffusion
from boundkit.error_models import KDE, Fu2024Diffusion, GaussianMLE, PowerLaw
from boundkit.errors import InvalidArgument
from boundkit.schedules import (
    Balanced,
    ConstantRealShare,
    FinalRoundRescue,
    FixedRatio,
    FullSynthetic,
    Schedule,
)


@dataclass(frozen=True)
class Entry:
    """A named thing: how to build it and the keyword options it takes.

    ``accumulate`` marks the schedule aliases whose round sizes grow as n_i = (i+1) n;
    ``policy`` says where a schedule alias's training points come from (docs/theory.md
    §1): ``fresh`` draws from π_i, ``kept`` (every earlier point stays in the training
    set) or ``kept-subsample`` (n points drawn from the kept ones each round).
    """

    name: str
    build: Callable[..., object]
    options: tuple[str, ...] = ()
    summary: str = ""
    accumulate: bool = False
    policy: str = "fresh"


class Registry:
    """Names (and aliases) to :class:`Entry` objects, for one kind of thing."""

    def __init__(self, kind: str, entries: Iterable[Entry],
                 aliases: dict[str, Entry] | None = None):
        self.kind = kind
        self._entries = {e.name: e for e in entries}
        self._aliases = dict(aliases or {})

    def names(self, *, aliases: bool = True) -> tuple[str, ...]:
        """Every accepted name, canonical names first."""
        return (*self._entries, *(self._aliases if aliases else ()))

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases

    def entry(self, name: object, argument: str | None = None) -> Entry:
        """The entry for a name or alias; InvalidArgument listing the names otherwise."""
        argument = argument or self.kind
        if not isinstance(name, str) or name not in self:
            raise InvalidArgument(f"{argument}={name!r} is not a known {self.kind}. Pass one of: "
                                  f"{', '.join(self.names())}.", argument=argument)
        return self._aliases.get(name) or self._entries[name]

    def takes(self, option: str) -> list[str]:
        """The names whose entry takes ``option``."""
        return [n for n in self.names() if option in self.entry(n).options]

    def check_options(self, name: str, given: dict, spell: Callable[[str], str] = str,
                      argument: str | None = None) -> Entry:
        """Refuse options (keys of ``given`` whose value is not None) that ``name`` does not take.

        ``spell`` maps an option's Python name to what the user typed (``lam`` to
        ``--lambda``) for the message.
        """
        entry = self.entry(name, argument)
        for option, value in given.items():
            if value is not None and option not in entry.options:
                users = self.takes(option)
                where = (f"it applies to {', '.join(users)}" if users
                         else f"no {self.kind} takes it")
                raise InvalidArgument(f"{spell(option)} does not apply to {self.kind} {name}; "
                                      f"{where}. Drop {spell(option)}.", argument=option)
        return entry

    def build(self, name: str, argument: str | None = None, **options):
        """Build the named thing with the options given (None means the default)."""
        entry = self.check_options(name, options, argument=argument)
        return entry.build(**{k: v for k, v in options.items() if v is not None})


def _final_rescue(alpha=None):
    return FinalRoundRescue(alpha)


_full = Entry("full-synthetic", FullSynthetic, summary="alpha_i = 0: synthetic data only (R2)")
_balanced = Entry("balanced", Balanced, summary="alpha_i = beta_ik = 1/(i+1) (R4)")

#: Schedules of docs/theory.md §4, and the self-consuming literature's aliases for two of them.
SCHEDULE_REGISTRY = Registry("schedule", [
    _full,
    _balanced,
    Entry("constant-real", lambda alpha=Fraction(1, 2): ConstantRealShare(alpha), ("alpha",),
          "constant real share alpha (R5)"),
    Entry("fixed-ratio", lambda lam=Fraction(1): FixedRatio(lam), ("lam",),
          "n real + lambda n synthetic (R6)"),
    Entry("final-rescue", _final_rescue, ("alpha",),
          "full synthetic, then real share alpha in the last round (R3)"),
], aliases={
    "replace": Entry("replace", FullSynthetic, summary="alias of full-synthetic"),
    "accumulate": Entry("accumulate", Balanced, accumulate=True, policy="kept",
                        summary="Gerstgrasser et al. 2024: the real set and every "
                                "generation's sample are kept; round i trains on all (i+1)n"),
    "accumulate-subsample": Entry("accumulate-subsample", Balanced, policy="kept-subsample",
                                  summary="Kazdan et al. 2024: the same kept points; each "
                                          "round trains on n of them, drawn without "
                                          "replacement"),
    "accumulate-fresh": Entry("accumulate-fresh", Balanced, accumulate=True,
                              summary="balanced weights with n_i = (i+1) n fresh draws from "
                                      "pi_i (the paper's model, nothing kept)"),
})

#: Error models of docs/theory.md §3 by CLI name.
ERROR_MODEL_REGISTRY = Registry("model", [
    Entry("power-law", lambda rate=Fraction(1, 4), const=1, floor=0: PowerLaw(rate, const, floor),
          ("rate", "const", "floor"), "E1: C n^-r (+ C0)"),
    Entry("fu2024", Fu2024Diffusion, summary="E2: the paper's diffusion reading, rate 1/4"),
    Entry("li2023", LiDiffusion, summary="E3: Li et al. 2023 with m = n and tau*, rate 1/5"),
    Entry("kde", KDE, summary="E4: Gaussian KDE with the optimal bandwidth, rate 2/5"),
    Entry("gaussian-mle", lambda const=1: GaussianMLE(const), ("const",),
          "E5: Gaussian MLE, rate 1/2"),
])


def make_schedule(name: str, alpha=None, lam=None) -> Schedule:
    """A named schedule (or alias) with the defaults every front end uses.

    Parameters
    ----------
    name : str
        A schedule name (full-synthetic, balanced, constant-real, fixed-ratio,
        final-rescue) or an alias (replace).
    alpha : number, optional
        constant-real's share (default 1/2) or final-rescue's (default R3's (i−1)/i).
    lam : number, optional
        fixed-ratio's λ (default 1).

    Returns
    -------
    Schedule

    Raises
    ------
    InvalidArgument
        An unknown name, or an option the schedule does not take.

    References
    ----------
    docs/theory.md §4.

    Examples
    --------
    >>> make_schedule("constant-real")
    ConstantRealShare(alpha=Fraction(1, 2))
    """
    return SCHEDULE_REGISTRY.build(name, "schedule", alpha=alpha, lam=lam)


#: Named schedules (canonical names) to their classes.
SCHEDULES: dict[str, type[Schedule]] = {
    cls.name: cls
    for cls in (FullSynthetic, Balanced, ConstantRealShare, FixedRatio, FinalRoundRescue)
}
