"""Steps, proofs and their reports: the data model of the certificate layer.

A :class:`Proof` is a docs/theory.md result (R1–R7, E3, E4) written as explicit
:class:`Step` s. Each step carries a *checker*: an object with a ``method`` name
and a ``run()`` that returns an :class:`Outcome`. A checker can always say no:
it returns ``passed=False`` with the reason (a counterexample, a non-zero
residual, an undecided box), and every scope it reports is one of

- ``symbolic``: verified for all parameter values allowed by the assumptions;
- ``certified box``: verified by interval arithmetic on the stated box only;
- ``exact instances``: verified in exact arithmetic at the listed instances;
- ``sampled``: not refuted at sampled points, which can only refute, never prove.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from boundkit.errors import InvalidArgument

SCOPES = ("symbolic", "certified box", "exact instances", "sampled")


@dataclass(frozen=True)
class Outcome:
    """What a checker found for one step.

    Attributes
    ----------
    passed : bool
        True when the step's claim was verified.
    scope : str
        What the check covers: an identity for all values, a range of i, a sample.
    detail : str
        Why it passed or failed (a counterexample, a residual).
    depth : int or None
        The recursion depth of a certified interval box, where one was used.
    """

    passed: bool
    scope: str
    detail: str = ""
    depth: int | None = None  # branch-and-bound depth reached, for certified boxes

    def __post_init__(self):
        if self.scope not in SCOPES:
            raise InvalidArgument(f"scope must be one of {SCOPES}; got {self.scope!r}.")


class Checker(Protocol):
    """Anything with a method name and a ``run()`` returning an :class:`Outcome`."""

    method: str

    def run(self) -> Outcome: ...


@dataclass(frozen=True)
class Step:
    """One step of a derivation: a claim in words and LaTeX, and its checker.

    Parameters
    ----------
    title : str
        The claim in words.
    statement : str
        The claim in LaTeX.
    checker : Checker or callable
        Checks the claim and returns an [Outcome][proofs.Outcome] (a callable is called
        first to build it, so heavy checkers are built only when run).
    """

    title: str
    statement: str  # LaTeX, without math delimiters
    checker: Checker | Callable[[], Checker]

    def resolve(self) -> Checker:
        """The checker; a zero-argument factory is called here (so building is lazy)."""
        c = self.checker
        return c() if isinstance(c, type) or not hasattr(c, "run") else c


@dataclass(frozen=True)
class Proof:
    """A result of the theory as a derivation: its assumptions, steps and wrong variants.

    Parameters
    ----------
    name : str
        The result number (``"R6"``).
    title : str
        The result in words.
    assumptions : tuple of str
        What the derivation assumes.
    steps : tuple of Step
        The steps, each with its checker.
    mutants : tuple of Step
        Deliberately wrong steps; the checker must reject each one.
    summary : str
        A paragraph for reports.
    claim : str
        The final statement in LaTeX.
    """

    name: str
    title: str
    assumptions: tuple[str, ...]
    steps: tuple[Step, ...]
    mutants: tuple[Step, ...] = ()
    summary: str = ""
    claim: str = ""  # the result, in LaTeX


@dataclass(frozen=True)
class StepResult:
    """A step, the method that checked it, its outcome and the seconds it took.

    Attributes
    ----------
    proof : str
        The proof's name.
    step : Step
        The step.
    method : str
        The checking method (identity, induction, sign, interval, roots, ...).
    outcome : Outcome
        What the checker found.
    seconds : float
        Wall time of the check.
    mutant : bool
        True for a deliberately wrong variant (it must fail).
    """

    proof: str
    step: Step
    method: str
    outcome: Outcome
    seconds: float
    mutant: bool = False

    @property
    def ok(self) -> bool:
        """True when the step passed, or when a mutant was rejected."""
        return self.outcome.passed != self.mutant


@dataclass
class Report:
    """All step results of a run, in order.

    Attributes
    ----------
    proofs : list of Proof
        The proofs that ran.
    results : list of StepResult
        One per step and wrong variant.
    """

    proofs: list[Proof] = field(default_factory=list)
    results: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every step passed and every mutant was rejected."""
        return all(r.ok for r in self.results)

    @property
    def seconds(self) -> float:
        """Total checking time."""
        return sum(r.seconds for r in self.results)

    def of(self, name: str) -> list[StepResult]:
        """The results of one proof."""
        return [r for r in self.results if r.proof == name]


def run_step(proof: str, step: Step, *, mutant: bool = False) -> StepResult:
    """Check one step; an exception inside a checker is a failure, never a pass."""
    t0 = time.perf_counter()
    method = "?"
    try:
        checker = step.resolve()
        method = checker.method
        outcome = checker.run()
    except Exception as exc:  # a crash must not look like a proof
        outcome = Outcome(False, "sampled", f"checker raised {type(exc).__name__}: {exc}")
    return StepResult(proof, step, method, outcome, time.perf_counter() - t0, mutant)


def run_proofs(proofs: Sequence[Proof], *, mutants: bool = False) -> Report:
    """Check every step of every proof (and, with ``mutants=True``, every wrong variant).

    Parameters
    ----------
    proofs : sequence of Proof
        The proofs to check.
    mutants : bool
        Also run the wrong variants, which must be rejected.

    Returns
    -------
    Report
        ``report.ok`` is True when every step passed and every wrong variant failed.
    """
    report = Report(list(proofs))
    for p in proofs:
        for s in p.steps:
            report.results.append(run_step(p.name, s))
        if mutants:
            for s in p.mutants:
                report.results.append(run_step(p.name, s, mutant=True))
    return report
