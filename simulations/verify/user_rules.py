"""Running a user's claim (:class:`~simulations.verify.claimfile.ClaimSpec`) inside a
verification, as one :class:`~simulations.verify.case.Case`: its loops through the study's
runner, then, per loop, the rule of its kind
(the rules of simulations.verify.rules, the same as the built-in claims'):

* ``bound``: :func:`simulations.check.check_bound` (``mean``: bound_verdict on paired
  margins; ``every replicate``: the certified intervals);
* ``monotone``: monotone_verdict over the generations (every step significant);
* ``growth``: the exponent of mean e_i in (i+1) (bootstrap standard error) against
  ``exponent ± tol`` by equivalence_verdict (P3's rule);
* ``peak``: peak_verdict at the last generation over the loops' λ (P2's rule), the
  window given in the claim.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from simulations.check import check_bound
from simulations.verify.case import Case
from simulations.verify.claims import _exponent, _fmt
from simulations.verify.rules import (
    Decision,
    equivalence_verdict,
    monotone_verdict,
    peak_verdict,
)
from simulations.verify.study import by_generation, replicate_matrix


def spec_cases(study, spec):
    """The claim's one case: its loops, then :func:`judge_spec` (the cases of
    :class:`~simulations.verify.claim.Claim`, like a built-in claim's)."""
    yield Case(spec.configs, partial(judge_spec, spec=spec))


def judge_spec(study, configs, frames, spec) -> None:
    """One verdict per loop (``peak``: per model, data and n) with its figure rows."""
    if spec.kind == "peak":
        _peak(study, spec, frames)
        return
    for config, frame in zip(spec.configs, frames, strict=True):
        setting = (f"n = {config.n}, {config.rounds} rounds"
                   + (f", alpha = {config.alpha}" if config.alpha is not None else "")
                   + (f", lambda = {config.lam}" if config.lam is not None else ""))
        table = by_generation(frame, spec.metric)
        bound_col = None
        if spec.kind == "bound":
            res = check_bound((config, frame), spec.bound, metric=spec.metric, kind=spec.rule,
                              level=spec.level, constants=spec.constants,
                              generations=spec.generations, raises=False)
            worst = res.margins.loc[res.margins["mean"].idxmin()]
            verdict, stat = Decision(res.verdict, res.needs), res.ratio
            detail = (f"{spec.metric}_i <= {res.bound} ({spec.rule}, level {spec.level:g}): "
                      f"largest {spec.metric}/bound {_fmt(res.ratio)}; smallest mean margin "
                      f"{_fmt(worst['mean'])} [{_fmt(worst.lo)}, {_fmt(worst.hi)}] at "
                      f"generation {int(worst.generation)}; worst replicate margin "
                      f"{_fmt(res.margins['worst'].min())}")
            bound_col = _bound_means(table, res)
        else:
            mat = replicate_matrix(frame, spec.metric)
            cols = list(spec.generations) if spec.generations else list(range(mat.shape[1]))
            mat = mat[:, cols]
            if spec.kind == "monotone":
                verdict = monotone_verdict(mat, decreasing=spec.direction == "decreasing")
                steps = np.diff(mat.mean(0))
                stat = float(steps.min() if spec.direction == "increasing" else steps.max())
                detail = (f"{spec.metric}_i {spec.direction} over generations {cols[0]}.."
                          f"{cols[-1]} (every step significant); smallest step "
                          f"{_fmt(stat)}")
            else:
                slope, se = _exponent(mat, study.seed)
                verdict = equivalence_verdict(slope, se, spec.exponent, spec.tol,
                                              reps=mat.shape[0])
                stat = slope
                detail = (f"mean {spec.metric}_i ∝ (i+1)^{_fmt(slope)} (se {_fmt(se)}) over "
                          f"generations {cols[0]}..{cols[-1]}; claimed {spec.exponent:g} ± "
                          f"{spec.tol:g}")
        study.verdict(spec.name, spec.kind, config.model, config.data, verdict, stat,
                      detail, setting=setting, schedule=config.schedule,
                      convention=config.convention if config.schedule == "fixed-ratio"
                      else None, replicates=config.replicates)
        study.summary(f"{spec.name} {config.schedule} n={config.n}", config.model,
                      config.data, spec.metric, table.generation + 1, table["mean"], table.lo,
                      table.hi, bound=bound_col)


def _bound_means(table, res) -> np.ndarray:
    """The bound's mean per generation for the figure (NaN where not checked)."""
    out = np.full(len(table), np.nan)
    m = res.margins.set_index("generation")
    for k, g in enumerate(table.generation):
        if g in m.index:
            out[k] = table["mean"].iloc[k] + m.loc[g, "mean"]
    return out


def _peak(study, spec, frames) -> None:
    groups: dict[tuple, list] = {}
    for config, frame in zip(spec.configs, frames, strict=True):
        groups.setdefault((config.model, config.data, config.n), []).append((config, frame))
    lo, hi = spec.window
    for (model, data, n), items in groups.items():
        lams = np.array([float(c.lam) for c, _ in items])
        last = [replicate_matrix(f, spec.metric)[:, -1] for _, f in items]
        reps = min(v.size for v in last)
        values = np.column_stack([v[:reps] for v in last])
        window = (lams >= lo) & (lams <= hi)
        verdict, peak = peak_verdict(values, window)
        means = values.mean(0)
        study.verdict(spec.name, "peak", model, data, verdict, float(lams[peak]),
                      f"{spec.metric} at the last generation against λ = "
                      f"{[_fmt(v) for v in lams]}: {', '.join(_fmt(v) for v in means)}; "
                      f"largest at λ = {_fmt(lams[peak])}; claimed peak in [{lo:g}, {hi:g}] "
                      f"(P2's rule: some λ in the window significantly above 1.05 × λ = 0)",
                      setting=f"n = {n}, {items[0][0].rounds} rounds", schedule="fixed-ratio",
                      replicates=reps)
        sd = values.std(0, ddof=1) / np.sqrt(reps)
        study.summary(spec.name, model, data, spec.metric, lams, means, means - 1.96 * sd,
                      means + 1.96 * sd)
