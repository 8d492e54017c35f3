"""Fuzz of the public Python API (issue "Hardening").

Each public callable of ``boundkit`` and ``simulations`` has a valid template call;
hypothesis replaces one argument at a time with a hostile value (wrong types, NaN,
±inf, 0, negatives, huge ints, empty sequences, numpy scalars, bools, complex). The
call must then either return finite results or raise ``InvalidArgument`` or
``TypeError``, within a time bound. A callable missing from the templates fails
:func:`test_every_public_callable_is_fuzzed`.
"""

from __future__ import annotations

import math
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy as sp
import torch
from fuzzing import EXAMPLES, HOSTILE_VALUES, TMP_ROOT, hang_guard
from hypothesis import event, given, settings
from hypothesis import strategies as st

import boundkit as bk
import simulations as sim
from boundkit.errors import InvalidArgument, NotCertified

CPU = torch.device("cpu")
STORE_DIR = Path(tempfile.mkdtemp(prefix="store-", dir=TMP_ROOT))
P0 = sim.make_distribution("gaussian")
P2 = sim.make_distribution("ring8")


def _gen():
    return sim.make_generator(0, CPU)


#: name -> (callable, positional args, keyword args): one valid call each.
TEMPLATES = {
    "KDE": (bk.KDE, (2, 1, 1, 1), {}),
    "Balanced": (bk.Balanced, (), {}),
    "ConstantRealShare": (bk.ConstantRealShare, ("1/2",), {}),
    "Custom": (bk.Custom, ("n**(-1/4)",), {"params": None}),
    "FinalRoundRescue": (bk.FinalRoundRescue, (None, None), {}),
    "FixedRatio": (bk.FixedRatio, (1,), {}),
    "Fu2024Diffusion": (bk.Fu2024Diffusion, (1, 0), {}),
    "FullSynthetic": (bk.FullSynthetic, (), {}),
    "GaussianMLE": (bk.GaussianMLE, (1,), {}),
    "GeneralSchedule": (bk.GeneralSchedule, ((Fraction(1, 2),), ((Fraction(1, 2),),)), {}),
    "LiDiffusion": (bk.LiDiffusion, (1, 0, 0), {}),
    "PowerLaw": (bk.PowerLaw, ("1/4", 1, 0), {}),
    "asymptotic_slope": (bk.asymptotic_slope, ("1/4",), {}),
    "asymptotic_slope_expr": (bk.asymptotic_slope_expr, ("1/4",), {}),
    "bound_exact": (bk.bound_exact, (bk.FullSynthetic(), ["1/10", "1/10"]), {}),
    "bound_expr": (bk.bound_expr, (bk.Balanced(),), {}),
    "bound_symbolic": (bk.bound_symbolic, (bk.Balanced(), 3), {}),
    "bound_values": (bk.bound_values, (bk.Balanced(), [0.1, 0.1]), {}),
    "bounds": (bk.bounds, (bk.FixedRatio(1), [1, 2]),
               {"model": bk.PowerLaw("1/4"), "n": 100}),
    "critical_poly": (bk.critical_poly, (3, "1/4"), {}),
    "critical_x_exact": (bk.critical_x_exact, (3, "1/4"), {}),
    "derived_rate": (bk.derived_rate, (bk.PowerLaw().expr,), {}),
    "growth_exponent": (bk.growth_exponent, (bk.PowerLaw("1/4"),), {}),
    "growth_rows": (bk.growth_rows, ([1, 2], "1/10", bk.PowerLaw("1/4")), {}),
    "kl_per_round": (bk.kl_per_round, (3, "1/10"), {}),
    "lambda_critical": (bk.lambda_critical, ([1, 2], "1/4"), {"convention": "fixed-real"}),
    "gaussian_moments": (bk.gaussian_moments, ("replace", 10, [0, 3]),
                         {"unbiased": False, "dim": 1, "policy": None, "exact": None}),
    "linear_response": (bk.linear_response, (bk.Balanced(), 0.01, 0.02, [0, 3]),
                        {"n": 100, "convention": "scaled"}),
    "linear_response_expr": (bk.linear_response_expr, (bk.FullSynthetic(),), {}),
    "folded_normal_mean": (bk.folded_normal_mean, (0.1, 0.2), {}),
    "lambda_critical_certified": (bk.lambda_critical_certified, (2, "1/4"), {}),
    "lambda_critical_exact": (bk.lambda_critical_exact, (2, "1/4"), {}),
    "make_schedule": (bk.make_schedule, ("constant-real", "1/2", None), {}),
    "max_generation": (bk.max_generation, (10000, "1/10", bk.PowerLaw("1/4")),
                       {"schedule": bk.FullSynthetic()}),
    "phase_transition": (bk.phase_transition, ("1/4", [1, 2]),
                         {"floor": 0, "n": 1, "const": 1, "certify": None, "lam_max": 1e12}),
    "rescue_share": (bk.rescue_share, (10,), {"factor": 2}),
    "rescue_share_for_eps": (bk.rescue_share_for_eps, (10, "1/10", "1/100"), {}),
    "risk": (bk.risk, (2, [0.5, 1.0], "1/4"), {"const": 1, "n": 1, "floor": 0}),
    "risk_expr": (bk.risk_expr, (2, "1/4"), {}),
    "samples_required": (bk.samples_required, (3, "1/10", bk.PowerLaw("1/4")), {}),
    "tau_star": (bk.tau_star, (100, 100), {}),
    "tau_star_dominant": (bk.tau_star_dominant, (), {}),
    "tau_star_exact": (bk.tau_star_exact, (100, 100), {}),
    "sim.GaussianMLEModel": (sim.GaussianMLEModel, (False,), {}),
    "sim.LoopConfig": (sim.LoopConfig, (), {"model": "gaussian-mle", "data": "gaussian",
                                           "schedule": "constant-real", "alpha": "1/2",
                                           "n": 20, "rounds": 2, "replicates": 2, "seed": 0,
                                           "metrics": ("default",), "temperature": 1.0,
                                           "growth": 0, "confidence": 0.95}),
    "sim.run": (sim.run, (sim.LoopConfig(model="gaussian-mle", n=20, rounds=2),), {}),
    "sim.gaussian_tv": (sim.gaussian_tv, (0.0, 1.0, 1.0, 2.0), {}),
    "sim.ResultStore": (sim.ResultStore, (str(STORE_DIR / "fuzz.db"),), {}),
    "sim.sweep": (sim.sweep, ([],), {"store": str(STORE_DIR / "sweep.db"), "workers": 1}),
    "sim.GaussianMixture": (sim.GaussianMixture, ([[0.0]], [1.0]), {"weights": None}),
    "sim.KDEModel": (sim.KDEModel, (0.3,), {}),
    "sim.LaplaceMixture": (sim.LaplaceMixture, ([[0.0]], [1.0]), {}),
    "sim.Mixture": (sim.Mixture, ([P0, P0], [0.5, 0.5]), {}),
    "sim.kl_monte_carlo": (sim.kl_monte_carlo, (P0, P0, 500, _gen()), {}),
    "sim.make_distribution": (sim.make_distribution, ("gaussian",), {"dim": 1}),
    "sim.make_generator": (sim.make_generator, (0, CPU), {}),
    "sim.resolve_device": (sim.resolve_device, ("cpu",), {}),
    "sim.run_loop": (sim.run_loop, (sim.GaussianMLEModel(), P0, bk.FullSynthetic(), 2, 20),
                     {"replicates": 1, "seed": 0, "confidence": 0.95, "mc_samples": 500,
                      "real_data": "fresh"}),
    "sim.tv": (sim.tv, (P0, P0), {"confidence": 0.95}),
    "sim.tv_gaussian_1d": (sim.tv_gaussian_1d, (0.0, 1.0, 1.0, 1.0), {}),
    "sim.tv_grid_2d": (sim.tv_grid_2d, (P2, P2), {"points": 65}),
    "sim.tv_monte_carlo": (sim.tv_monte_carlo, (P0, P0, 1000, _gen()), {"confidence": 0.95}),
    "sim.tv_quadrature_1d": (sim.tv_quadrature_1d, (P0, P0), {"points": 1025}),
    "sim.verdicts": (sim.verdicts, (pd.DataFrame({"metric": ["e"]}),), {}),
    "sim.w2_gaussian": (sim.w2_gaussian, (0.0, 1.0, 1.0, 1.0), {}),
}

#: Public names that are not calls to fuzz: abstract bases, exceptions, result records.
NOT_CALLS = {"ErrorModel", "Schedule", "InvalidArgument", "NotCertified", "GenerationLimit",
             "GrowthRow", "PhasePoint", "Enclosure", "Response", "sim.Distribution", "sim.Estimate"}

SLOTS = [(name, kind, key) for name, (_, args, kw) in TEMPLATES.items()
         for kind, key in [*(("arg", k) for k in range(len(args))), *(("kw", k) for k in kw)]]


def _finite(value) -> bool:
    if isinstance(value, float | np.floating):
        return math.isfinite(value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return bool(np.all(np.isfinite(value)))
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return bool(torch.all(torch.isfinite(value)))
    if isinstance(value, pd.DataFrame):
        numeric = value.select_dtypes("number").to_numpy(dtype=float)
        return bool(np.all(np.isfinite(numeric)))
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    if isinstance(value, sp.Expr) and value.is_number:
        return bool(value.is_finite is not False)
    return True


def test_every_public_callable_is_fuzzed():
    public = {n for n in bk.__all__ if callable(getattr(bk, n))}
    public |= {f"sim.{n}" for n in sim.__all__ if callable(getattr(sim, n))}
    assert public - NOT_CALLS == set(TEMPLATES)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_are_valid_calls(name):
    fn, args, kw = TEMPLATES[name]
    if name == "sim.verdicts":  # its only valid input is a loop's frame
        args = (sim.run_loop(sim.GaussianMLEModel(), P0, bk.FullSynthetic(), 1, 20,
                             mc_samples=200),)
    assert _finite(fn(*args, **kw))


@settings(max_examples=EXAMPLES * 2)
@given(st.sampled_from(SLOTS), st.sampled_from(sorted(HOSTILE_VALUES)))
def test_hostile_arguments_are_refused_or_handled(slot, hostile):
    name, kind, key = slot
    fn, args, kw = TEMPLATES[name]
    args, kw = list(args), dict(kw)
    if kind == "arg":
        args[key] = HOSTILE_VALUES[hostile]
    else:
        kw[key] = HOSTILE_VALUES[hostile]
    try:
        with hang_guard(60):
            out = fn(*args, **kw)
    except (InvalidArgument, TypeError) as exc:
        event(f"refused ({type(exc).__name__})")
        assert str(exc), "an error must say what to do"
        return
    except NotCertified:
        event("not certified")
        return
    event("accepted")
    assert _finite(out), f"{name} returned a non-finite result for {kind} {key}={hostile}"
