"""A claim's unit of decision (:mod:`simulations.verify.claim`): loops and their rule."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from simulations.config import LoopConfig


@dataclass(frozen=True)
class Case:
    """One decision of a claim: its loops and its rule.

    Attributes
    ----------
    configs : tuple of LoopConfig
        The loops the rule needs (empty for a rule on loops already run, as C1's).
    judge : callable
        ``judge(study, configs, frames)``, the frames in the order of ``configs``: adds
        verdicts (``study.verdict``) and figure rows (``study.summary``).
    """

    configs: tuple[LoopConfig, ...]
    judge: Callable

    def __post_init__(self):
        object.__setattr__(self, "configs", tuple(self.configs))


def together(cases: Iterable[Case]) -> Case:
    """Independent cases as one: all their loops in one batch (a sweep runs them side by
    side on its workers, where one case's single loop would leave the others idle), then
    each case's rule on its own frames, in the cases' order (the same verdicts)."""
    cases = list(cases)

    def judge(study, configs, frames):
        start = 0
        for case in cases:
            stop = start + len(case.configs)
            case.judge(study, list(configs[start:stop]), list(frames[start:stop]))
            start = stop

    return Case([c for case in cases for c in case.configs], judge)


def batched(cases_of: Callable) -> Callable:
    """A claim's ``cases(study)`` whose cases never read each other's results, made into
    one :func:`together` case (cases that do, as D1's top-ups, stay lazy)."""

    @functools.wraps(cases_of)
    def cases(study):
        yield together(cases_of(study))

    return cases
