"""Experiment P3's growing sizes (docs/theory.md §7): n_i = n0 (i+1)^p, with R1's own
growth p_b from V3's fit, a claim's ``cases(study)`` like those of
:mod:`simulations.verify.claims`."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from scipy import optimize

from simulations.verify.case import Case, batched
from simulations.verify.claims import _fmt
from simulations.verify.rules import bound_verdict
from simulations.verify.study import Study, by_generation, is_diffusion, replicate_matrix

GROWTH_POWERS = (0.0, 0.5, 1.0, 2.0, 3.0)
#: Largest last-round size of a growth loop (diffusion: the random-feature width follows
#: n, and its eigendecomposition costs m³).
P3_MAX_POINTS = 500_000
P3_MAX_POINTS_DIFFUSION = 4096


def _p_excess(p, eps, c, r, c0, n0, rounds) -> float:
    """R1's b_T(p) − ε for n_i = n0 (i+1)^p over ``rounds`` rounds (log space)."""
    log_n = math.log(n0) + p * np.log(np.arange(rounds) + 1.0)
    return float(np.sum(c * np.exp(-r * log_n) + c0)) - eps


def _p_needed(eps, c, r, c0, n0, rounds) -> float:
    """The least growth p ∈ [0, 50] with b_T(p) ≤ ε (0 if p = 0 does; inf if none does).
    Module-level, bound by ``partial``: a closure over loop variables would read the last
    model's fit once the cases are judged together."""
    args = (eps, c, r, c0, n0, rounds)
    at_0, at_50 = _p_excess(0, *args), _p_excess(50, *args)
    if at_0 > 0 > at_50:
        return optimize.brentq(_p_excess, 0, 50, args=args)
    return 0.0 if at_0 <= 0 else math.inf


@batched
def p3_sizes(study: Study):
    """P3: n_i = n0 (i+1)^p. R1 with the fitted δ(n) names the growth p_b that keeps
    e_i ≤ ε = 2 e_0 at every round; the claim is tested at every grid p ≥ p_b (bound rule,
    paired per replicate against 2 e_0 of the constant-n loop: the loops share seeds); one
    case per model and data set (Study.model_data), a loop per p."""
    n0, rounds = 100, study.scale.rounds
    for model, data in study.model_data():
        fit = study.rate(model, data)
        r, c, c0 = fit.e1_rate, fit.const, fit.floor
        eps_fit = 2 * float(min(fit.delta(np.array([float(n0)]))[0], 1.0))
        p_needed = partial(_p_needed, c=c, r=r, c0=c0, n0=n0, rounds=rounds)
        # the bound's own growth (from the fit's e_0, named before the loops run), rounded
        # up to a quarter, joins the grid where its last round stays within P3_MAX_POINTS
        p_star = math.ceil(4 * p_needed(eps_fit)) / 4 if math.isfinite(
            p_needed(eps_fit)) else math.inf
        most = P3_MAX_POINTS_DIFFUSION if is_diffusion(model) else P3_MAX_POINTS
        powers = [p for p in GROWTH_POWERS if n0 * rounds**p <= most]
        if math.isfinite(p_star) and p_star not in powers and n0 * rounds**p_star <= most:
            powers.append(p_star)
        configs = [study.config(model, data, n=n0, growth=p) for p in powers]
        yield Case(configs, partial(_p3_judge, model=model, data=data, powers=powers,
                                    p_needed=p_needed, eps_fit=eps_fit, rate=r, most=most,
                                    n0=n0))


def _p3_judge(study, configs, frames, model, data, powers, p_needed, eps_fit, rate, most,
              n0) -> None:
    rounds, r = study.scale.rounds, rate
    mats = [replicate_matrix(f) for f in frames]
    e0 = mats[0][:, 0]  # round 0 is the same loop at every p (same n0, same seeds)
    eps = 2 * float(e0.mean())
    p_bound = p_needed(eps)
    covered = [j for j, p in enumerate(powers) if p >= p_needed(eps_fit)]  # named before
    # per replicate: e_i(p) − 2 e_0 ≤ 0 at every round ≥ 1 of every p ≥ p_b; the bound
    # rule on e_i(p) + (ε − 2 e_0) against ε keeps the pairing
    holds_at = []
    for j in range(len(powers)):
        shifted = mats[j][:, 1:] + (eps - 2 * e0)[:, None]
        word, _ = bound_verdict(shifted, np.full(shifted.shape[1], eps))
        holds_at.append(word == "holds")
    if covered:
        block = np.column_stack([mats[j][:, 1:] + (eps - 2 * e0)[:, None] for j in covered])
        verdict, worst = bound_verdict(block, np.full(block.shape[1], eps))
    else:
        verdict, worst = "not applicable", float("nan")
    smallest = next((p for p, h in zip(powers, holds_at, strict=True) if h), None)
    study.verdict("P3", "bound", model, data, verdict, worst if covered else None,
                  f"n_i = {n0}(i+1)^p over {rounds} rounds, eps = 2 e_0 = {_fmt(eps)}: R1 "
                  f"with the fit needs p >= {_fmt(p_needed(eps_fit))} (with the fit's e_0; "
                  f"{_fmt(p_bound)} with the measured one; uniform in i: p > 1/r̂ = "
                  f"{_fmt(1 / r)}); tested at p = "
                  f"{[powers[j] for j in covered] or 'none on the grid'}: max "
                  f"mean e_i/eps = {_fmt(worst)}; the smallest grid p where e_i <= eps "
                  f"holds is {smallest} (the bound's p is sufficient, not necessary)"
                  + ("" if covered else f"; not applicable: the bound's p is beyond the "
                     f"grid and n0 (T)^p would pass {most:,} points"),
                  setting="growing sizes keep e_i <= 2 e_0", schedule="full-synthetic",
                  replicates=e0.size)
    study.summary("P3 sizes", model, data, "e_T by p", powers,
                  [by_generation(f)["mean"].iloc[-1] for f in frames],
                  [by_generation(f).lo.iloc[-1] for f in frames],
                  [by_generation(f).hi.iloc[-1] for f in frames],
                  bound=np.full(len(powers), eps))
