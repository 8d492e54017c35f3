"""Every example of the hardening issue, as found by a new user, behaves as it should now.

Grouped as in the issue: tracebacks, silently wrong answers, hangs, poor messages,
security, consistency, and the error contract (exit codes 0/1/2, ``--debug``).
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

import boundkit as bk
import simulations as sim
from boundkit.cli import main
from boundkit.errors import InvalidArgument
from simulations.sampling import SyntheticSampling

ROOT = Path(__file__).resolve().parents[1]


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def refused(argv, fragment: str) -> str:
    code, out, err = cli(*argv)
    assert code == 2 and out == "" and err.count("\n") == 1, (code, err)
    assert fragment in err, err
    return err


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a simulation starts training (refusals must come before work)."""
    import simulations.report

    def forbidden(*args, **kwargs):
        raise AssertionError("the engine ran: the input should have been refused first")

    monkeypatch.setattr(simulations.report, "run", forbidden)


# --- tracebacks -----------------------------------------------------------------------


def test_threshold_at_rate_1e_12_is_solved_and_certified():
    code, out, _ = cli("threshold", "--rate", "1e-12", "--generations", "1..3", "--format",
                       "json")
    rows = json.loads(out)
    r = Fraction(1, 10**12)
    assert code == 0 and all(row["certified"] for row in rows)
    assert rows[0]["lambda_critical"] == pytest.approx(float((1 - r) / (2 * r)), rel=1e-14)
    for row in rows:
        exact = float(sp.N(bk.lambda_critical_exact(row["generation"], r), 30))
        assert row["lambda_critical"] == pytest.approx(exact, rel=1e-13)


def test_growth_at_rate_2_99_is_the_exact_least_n():
    code, out, _ = cli("growth", "--rate", "2/99", "--generations", "1", "--const", "262145",
                       "--format", "json")
    assert code == 0
    (row,) = json.loads(out)
    n = row["n_required"]
    # 2 C n^{-2/99} <= 1/10  <=>  n^2 >= (20 C)^99, in integers
    target = (20 * 262145) ** 99
    assert n**2 >= target > (n - 1) ** 2 and row["certified"]


def test_simulate_into_an_unwritable_folder_is_refused_before_work(no_training):
    refused(["simulate", "gaussian-mle", "--rounds", "2", "--n", "100", "--out", "/proc/x"],
            "--out='/proc/x' cannot be created or written")


def test_simulate_beyond_memory_is_refused_before_work(no_training, tmp_path):
    refused(["simulate", "kde", "--n", "100000000000", "--out", str(tmp_path)],
            "GiB (limit 8 GiB")
    refused(["simulate", "gmm", "--dim", "10000", "--n", "30", "--out", str(tmp_path)],
            "GiB (limit 8 GiB")


def test_max_generation_under_final_rescue_counts_generation_zero():
    # δ = 10^4^{-1/4} = 0.1: generation 0 meets ε = 0.1 exactly, generation 1 needs 2δ
    assert bk.max_generation(10000, 0.1, bk.PowerLaw(), bk.FinalRoundRescue()) == \
        bk.GenerationLimit(0, False)
    assert bk.max_generation(10000, 0.25, bk.PowerLaw(), bk.FinalRoundRescue()) == \
        bk.GenerationLimit(None, True)  # 2δ = 0.2 <= 0.25 for every generation


@pytest.mark.parametrize("call", [
    lambda: bk.bounds("full-synthetic", [1], delta=0.1),
    lambda: bk.bound_values(bk.FullSynthetic(), []),
    lambda: bk.lambda_critical([1], 10**400),
    lambda: bk.risk(2, 10**400, "1/4"),
    lambda: bk.samples_required(1, "1/10", None),
    lambda: sim.tv_quadrature_1d(None, sim.make_distribution("gaussian")),
    lambda: sim.GaussianMixture([], [1.0]),
])
def test_wrong_types_empty_and_huge_inputs_raise_only_the_contract(call):
    with pytest.raises((InvalidArgument, TypeError)):
        call()


# --- silently wrong -------------------------------------------------------------------


def test_tv_of_far_apart_gaussians_is_one():
    p, q = sim.GaussianMixture([[0.0]], [1.0]), sim.GaussianMixture([[1e10]], [1.0])
    est = sim.tv(p, q)
    assert est.lo >= 1 - 1e-6 and est.value == pytest.approx(1.0, abs=1e-6) and est.hi <= 1


def test_tv_interval_holds_when_the_model_leaves_the_box():
    # the rule is built from p0's pieces only when the model's are not offered: the
    # mass it misses must widen the interval instead of shrinking the estimate
    p0 = sim.make_distribution("gaussian")
    wide = sim.GaussianMixture([[0.0]], [1e6])
    est = sim.tv(wide, p0)
    truth = sim.tv_gaussian_1d(0, 1e6, 0, 1)
    assert est.lo <= truth <= est.hi and est.hi - est.lo < 1e-3


def test_huge_temperature_reports_an_error_near_one_with_valid_intervals():
    p0 = sim.make_distribution("gaussian")
    frame = sim.run_loop(sim.KDEModel(), p0, bk.FullSynthetic(), 3, 30, mc_samples=500,
                         sampling=SyntheticSampling(1e12))
    tvs = frame[frame.metric.isin(["e", "delta", "tv_pi"])]
    assert ((tvs.lo >= 0) & (tvs.lo <= tvs.value) & (tvs.value <= tvs.hi) & (tvs.hi <= 1)).all()
    late = tvs[(tvs.metric == "e") & (tvs.generation == 2)]
    assert float(late.lo.iloc[0]) > 0.99  # N(0, ~1e12) against N(0, 1)


@pytest.mark.parametrize("r", ["1e-12", "1e-9", "1e-6", "1/4", "0.9999999999"])
def test_asymptotic_slope_matches_a_50_digit_root(r):
    q = Fraction(r)
    with mpmath.workdps(60):
        a = 1 - mpmath.mpf(q.numerator) / q.denominator
        c = -mpmath.log(a)  # L(u*) = c and L(s) in [s/2, s] bracket u* in [c, 2c]
        u = mpmath.findroot(lambda v: mpmath.log(mpmath.expm1(v) / v) - c, 1.5 * c)
        assert c <= u <= 2 * c
        slope = float(1 / u)
    assert bk.asymptotic_slope(q) == pytest.approx(slope, rel=1e-13)
    with pytest.raises(InvalidArgument, match="outside the range the solvers are verified on"):
        bk.asymptotic_slope("1e-13")


def test_fu2024_growth_is_the_exact_minimum():
    code, out, _ = cli("growth", "--model", "fu2024", "--eps", "1e-4", "--generations", "1",
                       "--format", "json")
    assert code == 0 and json.loads(out)[0]["n_required"] == 40_000_000_000_000_000


def test_samples_required_is_at_least_one_and_eps_one_means_any_n():
    for model in (bk.PowerLaw("1/4"), bk.Fu2024Diffusion(), bk.KDE(), bk.LiDiffusion()):
        assert bk.samples_required(3, "1e6", model) == 1
        assert bk.samples_required(3, 1, model) == 1
    code, out, _ = cli("growth", "--eps", "1e300", "--format", "json")
    assert code == 0 and {row["n_required"] for row in json.loads(out)} == {1}


def test_delta_above_one_is_refused():
    refused(["bound", "--schedule", "balanced", "--delta", "2"],
            "--delta must lie in (0, 1] (a total-variation distance cannot exceed 1)")
    refused(["bound", "--schedule", "balanced", "--delta", "1e308"], "--delta=1e308 is outside")
    with pytest.raises(InvalidArgument, match="cannot exceed 1"):
        bk.bounds(bk.Balanced(), [1], delta=1.5)


def test_confidence_outside_the_unit_interval_is_refused():
    with pytest.raises(InvalidArgument, match="confidence must lie in \\(0, 1\\)"):
        sim.run_loop(sim.GaussianMLEModel(), sim.make_distribution("gaussian"),
                     bk.FullSynthetic(), 1, 20, confidence=2)


def test_absurd_bandwidth_is_refused():
    with pytest.raises(InvalidArgument, match="bandwidth must lie in \\[1e-100, 1e100\\]"):
        sim.KDEModel(bandwidth=1e300)


# --- hangs ----------------------------------------------------------------------------


def test_answers_with_too_many_digits_are_refused_up_front():
    err = refused(["growth", "--eps", "1e-300", "--rate", "1e-6"], "more than 1000 digits")
    assert "Pass a larger eps" in err


def test_exact_lambda_for_large_generations_is_refused():
    refused(["threshold", "--exact", "--generations", "1..150"],
            "--exact gives the algebraic lambda' of a pure power law for at most 100")
    refused(["threshold", "--exact", "--generations", "5000"], "limited to generation 200")
    with pytest.raises(InvalidArgument, match="limited to generation 200"):
        bk.lambda_critical_exact(5000, "1/4")


def test_a_million_rows_as_a_rich_table_is_refused_but_json_works():
    refused(["threshold", "--generations", "1..1000000"], "Use --format json or csv")


def test_critical_poly_of_degree_1e5_is_built_from_its_coefficients():
    i = 10**5
    poly = bk.critical_poly(i, "1/4")
    coeffs = poly.all_coeffs()  # highest degree first: x^i carries (1 - r) - (i + 1)
    assert poly.degree() == i and len(coeffs) == i + 1
    assert coeffs[0] == sp.Rational(3, 4) - (i + 1)
    assert set(coeffs[1:]) == {sp.Rational(3, 4)}
    with pytest.raises(InvalidArgument, match="limited to generation 100,000"):
        bk.critical_poly(i + 1, "1/4")


def test_bounds_beyond_the_recursion_limit_are_refused_with_the_way_around():
    with pytest.raises(InvalidArgument, match="closed form bound_expr"):
        bk.bounds(bk.FullSynthetic(), [10**9], delta=0.1)


# --- poor messages --------------------------------------------------------------------


def test_numbers_beyond_float64_name_the_range():
    with pytest.raises(InvalidArgument, match="outside float64's working range"):
        bk.phase_transition("1/4", [1], floor=10**400)
    refused(["threshold", "--floor", "1e400"], "--floor=1e400 is outside float64's working range")
    refused(["threshold", "--floor", "1e999999999"], "is not a number in float64's range")


def test_duplicate_generations_are_refused():
    refused(["table", "schedules", "--generations", "1..3,2"],
            "--generations lists generation 2 more than once")


def test_tau_star_at_extreme_sizes_is_finite():
    assert math.isfinite(bk.tau_star(1e300, 1e300))
    assert bk.tau_star(1e300, 100) == pytest.approx((100**2 / 3) ** 0.25, rel=1e-6)


def test_messages_name_options_as_typed():
    refused(["bound", "--schedule", "constant-real", "--alpha", "0", "--delta", "0.1"],
            "--alpha must lie in (0, 1] for constant-real")
    refused(["simulate", "kde", "--schedule", "replace", "--alpha", "0.5"],
            "--alpha does not apply to schedule replace; it applies to constant-real, "
            "final-rescue")
    refused(["table", "growth", "--floor", "0.3"], "--floor does not apply to table growth")
    refused(["threshold", "--n", "100"], "--n does not apply to threshold without --floor")
    refused(["growth", "--model", "fu2024", "--const", "2"],
            "--const does not apply to model fu2024; it applies to power-law, gaussian-mle")
    refused(["simulate", "diffusion-rf", "--temperature", "0.5"],
            "--temperature does not apply to model diffusion-rf")
    refused(["simulate", "kde", "--data", "ring8", "--dim", "3"],
            "--dim does not apply to data set ring8")


# --- security -------------------------------------------------------------------------


def test_custom_formulas_cannot_run_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for formula in ['__import__("os").getcwd()', '__import__("os").mkdir("pwned")',
                    "n.__class__", "[n][0]", "(lambda: n)()", "getattr(n, 'x')", "n; 1"]:
        with pytest.raises(InvalidArgument):
            bk.Custom(formula)
    assert not (tmp_path / "pwned").exists()
    assert bk.Custom("2*n^(-1/4) + sqrt(n)/n**2").rate == sp.Rational(1, 4)


# --- consistency ----------------------------------------------------------------------


def test_generation_zero_rule():
    # defined (the model of round 0, real data only: bounded by delta_0) ...
    assert bk.bounds(bk.FullSynthetic(), [0], delta=0.1).tolist() == [0.1]
    assert bk.samples_required(0, "1/10", bk.PowerLaw("1/4")) == 10**4
    assert bk.kl_per_round(0, "1/10") == Fraction(2, 100)
    code, out, _ = cli("growth", "--generations", "0..1", "--format", "json")
    assert code == 0 and [r["generation"] for r in json.loads(out)] == [0, 1]
    # ... and refused with the reason where the quantity does not exist for it
    refused(["threshold", "--generations", "0..3"], "round 0 trains on real data only")
    with pytest.raises(InvalidArgument, match="round 0 trains on real data only"):
        bk.lambda_critical([0, 1], "1/4")
    with pytest.raises(InvalidArgument, match="no synthetic data to rescue"):
        bk.rescue_share(0)


def test_numpy_scalars_are_accepted_where_python_numbers_are():
    assert bk.bounds(bk.FullSynthetic(), np.array([1, 2]), delta=np.float64(0.1)).tolist() == \
        pytest.approx([0.2, 0.3])
    assert bk.lambda_critical(np.int64(1), np.float64(0.25)) == pytest.approx(1.5)  # scalar out
    assert bk.samples_required(np.int64(1), np.float32(0.5), bk.PowerLaw("1/4")) == 256
    frame = sim.run_loop(sim.GaussianMLEModel(), sim.make_distribution("gaussian"),
                         bk.FullSynthetic(), np.int64(1), np.int64(20), mc_samples=200)
    assert set(frame["round"]) == {0}


def test_bools_and_complex_numbers_are_refused():
    with pytest.raises(InvalidArgument, match="boolean"):
        bk.phase_transition(True, [1])
    with pytest.raises(InvalidArgument):
        bk.lambda_critical([True], "1/4")
    with pytest.raises(TypeError):
        bk.phase_transition(1j, [1])
    with pytest.raises(TypeError):
        bk.PowerLaw(np.complex128(0.25))


def test_no_runtime_warning_reaches_stderr():
    argv = [["threshold", "--rate", "1e-12", "--generations", "1..50", "--format", "json"],
            ["threshold", "--rate", "0.9999999999", "--floor", "0.01", "--n", "1e6"],
            ["growth", "--model", "li2023", "--eps", "1e-3"],
            ["bound", "--schedule", "fixed-ratio", "--lambda", "1e12", "--delta", "1"]]
    for args in argv:
        proc = subprocess.run([sys.executable, "-m", "boundkit", *args], capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0 and proc.stderr == "", (args, proc.stderr)


def test_prove_writes_no_hypothesis_directory(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "boundkit", "prove", "R1", "--no-mutants"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert list(tmp_path.iterdir()) == []


# --- the error contract ---------------------------------------------------------------


def test_a_bug_exits_1_with_one_line_and_debug_shows_the_traceback(monkeypatch):
    import boundkit.cli

    def broken(*args, **kwargs):
        return 1 / 0

    monkeypatch.setattr(boundkit.cli, "phase_transition_table", broken)
    code, out, err = cli("threshold")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "internal error (a bug" in err and "ZeroDivisionError" in err and "--debug" in err
    code, _, err = cli("--debug", "threshold")
    assert code == 1 and "Traceback" in err and "ZeroDivisionError" in err


def test_invalid_argument_is_a_value_error_that_remembers_the_argument():
    with pytest.raises(ValueError) as info:
        bk.ConstantRealShare(2)
    assert isinstance(info.value, InvalidArgument) and info.value.argument == "alpha"


def test_frames_and_estimates_never_hold_nan():
    frame = sim.run_loop(sim.KDEModel(0.3), sim.make_distribution("unequal"), bk.Balanced(), 3,
                         40, replicates=2, mc_samples=500)
    assert np.all(np.isfinite(frame[["value", "lo", "hi"]].to_numpy()))
    tvs = frame[frame.metric.isin(["e", "delta", "tv_pi"])]
    assert ((tvs.lo >= 0) & (tvs.lo <= tvs.value) & (tvs.value <= tvs.hi) & (tvs.hi <= 1)).all()


def test_growth_at_the_extreme_rates_is_exact_or_refused():
    r = 1 - Fraction(1, 10**10)
    for i in (1, 10, 1000):
        n = bk.samples_required(i, "1/10", bk.PowerLaw(r))
        with mpmath.workdps(60):
            bound = lambda m: (i + 1) * mpmath.mpf(m) ** (-mpmath.mpf(r.numerator) / r.denominator)  # noqa: E731, B023
            assert bound(n) <= mpmath.mpf(1) / 10 < bound(n - 1)
    with pytest.raises(InvalidArgument, match="more than 1000 digits"):
        bk.samples_required(0, "0.999", bk.PowerLaw("1e-12"))
    assert bk.samples_required(0, "1", bk.PowerLaw("1e-12")) == 1


def test_a_growth_exponent_that_overflows_is_refused_before_work(no_training, tmp_path):
    refused(["simulate", "gaussian-mle", "--n", "20", "--growth", "1e12", "--rounds", "2",
             "--out", str(tmp_path)], "the limit is 10^12. Pass a smaller n, growth")
