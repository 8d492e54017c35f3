"""A claim's unit of decision (:mod:`simulations.verify.claim`): loops and their rule."""

from __future__ import annotations

from collections.abc import Callable
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
