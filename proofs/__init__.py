"""proofs: machine-checked derivations of docs/theory.md §2–4 (R1–R7, E3, E4).

Each result is a :class:`Proof` of explicit :class:`Step` s, every step checked
by a method that can fail: sympy identities (with a sampling fallback that can
only refute), induction, signs under assumptions, limits, Descartes and exact
root counting, arb branch and bound on a box, and hypothesis searches for
counterexamples among exact discrete distributions. Each proof also carries
wrong variants (*mutants*) that the checkers must reject.

Run ``python -m proofs`` or ``boundkit prove``; from Python::

    from proofs import check
    report = check(["R6"])
    assert report.ok
"""

from __future__ import annotations

from collections.abc import Iterable

from boundkit.errors import InvalidArgument
from proofs._core import Outcome, Proof, Report, Step, StepResult, run_proofs
from proofs.e3_li_rate import PROOF as E3
from proofs.e4_kde import PROOF as E4
from proofs.r1_master import PROOF as R1
from proofs.r2_growth import PROOF as R2
from proofs.r3_rescue import PROOF as R3
from proofs.r4_balanced import PROOF as R4
from proofs.r5_geometric import PROOF as R5
from proofs.r6_values import PROOF as R6
from proofs.r7_early_stopping import PROOF as R7
from proofs.r9_moments import PROOF as R9

#: Every proof, in docs/theory.md order.
PROOFS: dict[str, Proof] = {p.name: p for p in (R1, R2, R3, R4, R5, R6, R7, R9, E3, E4)}


def select(names: Iterable[str] = ()) -> list[Proof]:
    """The proofs named (case-insensitive), or all of them when none is named.

    Parameters
    ----------
    names : iterable of str
        Result numbers such as ``"R6"``.

    Returns
    -------
    list of Proof

    Raises
    ------
    InvalidArgument
        An unknown name (the message lists the names).

    Examples
    --------
    >>> [p.name for p in select(["r1", "E3"])]
    ['R1', 'E3']
    """
    names = list(names)
    if not names:
        return list(PROOFS.values())
    out = []
    for name in names:
        key = name.strip().upper()
        if key not in PROOFS:
            raise InvalidArgument(
                f"unknown result {name!r}; choose from {', '.join(PROOFS)} (or name none for all)."
            )
        if PROOFS[key] not in out:
            out.append(PROOFS[key])
    return out


def check(names: Iterable[str] = (), *, mutants: bool = True) -> Report:
    """Check the named proofs (all by default) and, unless ``mutants=False``, their mutants.

    Parameters
    ----------
    names : iterable of str
        Result numbers (``"R1"``, ``"E3"``, case-insensitive); empty for all.
    mutants : bool
        Also run the wrong variants.

    Returns
    -------
    Report

    Examples
    --------
    >>> check(["R4"], mutants=False).ok
    True
    """
    return run_proofs(select(names), mutants=mutants)


__all__ = [
    "PROOFS",
    "Outcome",
    "Proof",
    "Report",
    "Step",
    "StepResult",
    "check",
    "run_proofs",
    "select",
]

# The result types are public here (their home, proofs._core, is private).
for _cls in (Outcome, Proof, Report, Step, StepResult):
    _cls.__module__ = "proofs"
del _cls


def __getattr__(name: str):
    """Submodules reachable as attributes (``proofs.report``), imported on first use."""
    import importlib

    if name in ("cli", "report", "checks_distributions", "checks_interval", "checks_roots",
                "checks_symbolic", "r6_values"):
        return importlib.import_module(f"proofs.{name}")
    raise AttributeError(f"module 'proofs' has no attribute {name!r}")
