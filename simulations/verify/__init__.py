"""``boundkit verify``: the paper's claims confronted with trained loops (docs/theory.md §7–§8).

:func:`verify` runs the named experiments (all by default) at a :class:`Scale`
(``quick``, ``standard`` or ``full``), writes ``verdicts.json``, ``report.md``, one figure
per experiment (PNG and PDF) and LaTeX tables into ``out``, and returns the verdicts.
Nothing is tuned toward a claim: the sizes, tolerances and rules are fixed in advance
and printed in the report.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from simulations.verify.claim import BUILTIN, Case, Claim
from simulations.verify.rules import RULE_TEXT, Verdict
from simulations.verify.runner import (
    FULL,
    QUICK,
    SCALES,
    STANDARD,
    LoopsFailed,
    Runner,
    Scale,
    clock,
)
from simulations.verify.study import Study

#: Experiment name → function, in the order they run (C1 last: it reads every loop).
EXPERIMENTS = {c.name: c.run for c in BUILTIN}
ALIASES = {"V5": "V4", "P5": "V4"}
#: Experiments whose replicates the design does not scale (D1 and the MLP check run the
#: scale's diffusion_reps; C1 reads the others' loops). Diffusion loops in the other
#: experiments follow the design up to the scale's diffusion_cap.
FIXED_REPLICATES = tuple(c.name for c in BUILTIN if c.fixed_replicates)

__all__ = ["BUILTIN", "EXPERIMENTS", "FULL", "QUICK", "RULE_TEXT", "SCALES", "STANDARD",
           "Case", "Claim", "LoopsFailed", "Runner", "Scale", "Study", "Verdict", "resolve",
           "user_claims", "verify"]


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


def user_claims(claims) -> list[Claim]:
    """Users' claims as :class:`Claim` objects: each a Claim, a parsed
    :class:`~simulations.verify.claimfile.ClaimSpec`, or the path of a claim file (read
    and checked here, before any work); names must differ."""
    from boundkit.errors import InvalidArgument
    from simulations.verify.claimfile import ClaimSpec, load

    out = []
    for c in claims:
        if isinstance(c, str | Path):
            c = load(c)
        if isinstance(c, ClaimSpec):
            c = c.as_claim()
        if not isinstance(c, Claim):
            raise InvalidArgument(f"claims: {c!r} is not a Claim, a ClaimSpec or a claim "
                                  f"file.", argument="claims")
        out.append(c)
    names = [c.name for c in out]
    if len(set(names)) != len(names) or set(names) & set(EXPERIMENTS):
        raise InvalidArgument(f"claims: names must differ from each other and from the "
                              f"built-in experiments; got {names}.", argument="claims")
    return out


def verify(names=(), out: str | Path = "verify-out", scale: Scale = QUICK, *, claims=(),
           store=None, executor=None, workers=None, seed: int = 0, device: str = "cpu",
           progress=None) -> list[Verdict]:
    """Run the experiments and write the report into ``out`` (see the module docstring).

    ``claims`` adds users' claims (:func:`user_claims`: Claim objects, parsed specs or
    claim-file paths); with claims and no ``names``, only those claims run (then C1 on
    their loops).

    ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:N"``; checked before any work) is where every
    loop runs; the same seed gives other numbers on another device (its own generators).

    ``progress(line)`` receives lines "experiment k of K (NAME): loops done/total, elapsed,
    ETA". Where the scale has a design (``standard``, ``full``), each experiment runs at
    the pilot's replicates, then again at the replicates its verdicts need (capped). A
    batch with failed loops is recorded (report and verdicts.json) and the run goes on.
    """
    from simulations._device import resolve_device
    from simulations.verify.report import write_report, write_verdicts

    device = str(resolve_device(device))  # a missing CUDA refused before any work
    extra = user_claims(claims)
    order = resolve(names) if names or not extra else ["C1"]
    order = [k for k in order if k != "C1"] + [c.name for c in extra] + ["C1"]
    table = {**{c.name: c for c in BUILTIN}, **{c.name: c for c in extra}}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meter = _Meter(len(order), progress)
    runner = Runner(scale, store=store, executor=executor, workers=workers,
                    progress=meter.loops)
    study = Study(runner, seed=seed, device=device)
    study.claims = {c.name: c for c in extra}
    start = time.perf_counter()
    timings = {}
    for k, name in enumerate(order):
        t0 = time.perf_counter()
        meter.experiment(k, name)
        _run_designed(study, table[name], meter)
        timings[name] = time.perf_counter() - t0
        if k + 1 < len(order):  # a run stopped later keeps what it finished
            write_verdicts(study, out, order[:k + 1], timings, time.perf_counter() - start,
                           complete=False)
    write_report(study, out, order, timings, time.perf_counter() - start)
    return study.verdicts


def _run_designed(study: Study, claim: Claim, meter) -> None:
    """One experiment: the pilot, then (with a design) the final stage at the replicates
    its verdicts need; failed loops recorded."""
    name = claim.name
    marks = (len(study.verdicts), len(study.summaries), len(study.c1))
    study.factor = 1.0
    study.regimes = {}
    if not _attempt(study, claim):
        return
    if not study.scale.design or claim.fixed_replicates:
        return
    pilot = study.verdicts[marks[0]:]
    factors = [v.replicates_needed / v.replicates for v in pilot
               if v.replicates_needed and v.replicates]
    factor = max(factors, default=1.0)
    if study.reps() >= study.scale.max_reps or factor <= 1.0:
        return
    del study.verdicts[marks[0]:], study.summaries[marks[1]:], study.c1[marks[2]:]
    if name == "V3":  # the fits feed every later bound: refit at the final replicates
        study.fits.clear(), study.fit_values.clear(), study.cals.clear()
    study.factor = factor
    meter.stage(name, study.reps())
    study.regimes = {}
    _attempt(study, claim)
    study.factor = 1.0


def _attempt(study: Study, claim: Claim) -> bool:
    try:
        EXPERIMENTS.get(claim.name, claim.run)(study)
    except LoopsFailed as exc:
        study.failures.append((claim.name, str(exc)))
        return False
    return True


class _Meter:
    """Progress lines: experiment k of K, loops done/total of the current batch, elapsed
    time and a rough ETA (elapsed / share of experiments done)."""

    def __init__(self, total: int, sink, every: float = 5.0):
        self.total, self.sink, self.every = total, sink, every
        self.k, self.name, self.start, self.last = 0, "", time.perf_counter(), -math.inf

    def experiment(self, k: int, name: str) -> None:
        self.k, self.name = k, name
        self._emit(f"experiment {k + 1} of {self.total} ({name})", force=True)

    def stage(self, name: str, reps: int) -> None:
        self._emit(f"experiment {self.k + 1} of {self.total} ({name}): final stage at R = "
                   f"{reps}", force=True)

    def loops(self, done: int, total: int) -> None:
        share = (self.k + done / max(total, 1)) / self.total
        elapsed = time.perf_counter() - self.start
        eta = f", ETA {clock(elapsed / share - elapsed)}" if share > 0 else ""
        self._emit(f"experiment {self.k + 1} of {self.total} ({self.name}): loops "
                   f"{done}/{total}, elapsed {clock(elapsed)}{eta}", force=done == total)

    def _emit(self, line: str, force: bool = False) -> None:
        now = time.perf_counter()
        if self.sink is not None and (force or now - self.last >= self.every):
            self.last = now
            self.sink(line)

