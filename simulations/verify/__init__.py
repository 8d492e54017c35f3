"""``boundkit verify``: the paper's claims confronted with trained loops (docs/theory.md §7–§8).

:func:`verify` runs the named experiments (all by default) at a :class:`Scale` (``quick``
or ``full``), writes ``verdicts.json``, ``report.md``, one figure per experiment (PNG and
PDF) and LaTeX tables into ``out``, and returns the verdicts. Nothing is tuned toward a
claim: the sizes, tolerances and rules are fixed in advance and printed in the report.
"""

from __future__ import annotations

import time
from pathlib import Path

from simulations.verify import claims, claims_more
from simulations.verify.rules import RULE_TEXT, Verdict
from simulations.verify.runner import FULL, QUICK, Runner, Scale
from simulations.verify.study import Study

#: Experiment name → function, in the order they run (C1 last: it reads every loop).
EXPERIMENTS = {
    "V3": claims.v3,
    "V4": claims.loops,      # also V5, P3 (constant n) and P5
    "P1": claims.p1,
    "P2": claims_more.p2,
    "P3": claims_more.p3_sizes,
    "P4": claims.p4,
    "D1": claims_more.d1,
    "long": claims_more.long_horizon,
    "MLP": claims_more.mlp,
    "C1": claims.c1,
}
ALIASES = {"V5": "V4", "P5": "V4"}

__all__ = ["EXPERIMENTS", "FULL", "QUICK", "RULE_TEXT", "Runner", "Scale", "Study", "Verdict",
           "resolve", "verify"]


def resolve(names) -> list[str]:
    """Experiment names in run order (aliases V5, P5 → V4; C1 always last)."""
    from boundkit.errors import InvalidArgument

    wanted = list(names) or list(EXPERIMENTS)
    out = []
    for name in wanted:
        key = ALIASES.get(name, name)
        if key not in EXPERIMENTS:
            raise InvalidArgument(f"no experiment {name!r}; choose from "
                                  f"{', '.join([*EXPERIMENTS, *ALIASES])}.", argument="NAME")
        out.append(key)
    out.append("C1")
    return [k for k in EXPERIMENTS if k in out]


def verify(names=(), out: str | Path = "verify-out", scale: Scale = QUICK, *, store=None,
           executor=None, workers=None, seed: int = 0, progress=None) -> list[Verdict]:
    """Run the experiments and write the report into ``out`` (see the module docstring)."""
    from simulations.verify.report import write_report

    order = resolve(names)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    study = Study(Runner(scale, store=store, executor=executor, workers=workers), seed=seed)
    start = time.perf_counter()
    timings = {}
    for name in order:
        t0 = time.perf_counter()
        if progress:
            progress(name)
        EXPERIMENTS[name](study)
        timings[name] = time.perf_counter() - t0
    write_report(study, out, order, timings, time.perf_counter() - start)
    return study.verdicts
