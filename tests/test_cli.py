"""The boundkit CLI: JSON contract equals the API; bad input exits 2 with one line."""

import json
import subprocess
import sys
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boundkit import (
    Balanced,
    ConstantRealShare,
    FixedRatio,
    Fu2024Diffusion,
    PowerLaw,
    bounds,
    growth_rows,
    lambda_critical,
    phase_transition,
)
from boundkit import strategies as bst
from boundkit._parse import parse_generations
from boundkit.cli import main
from boundkit.errors import InvalidArgument


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_threshold_fixed_real_json_has_null_break_even(capsys):
    code, out, _ = run(capsys, "threshold", "--convention", "fixed-real", "--generations",
                       "1..5", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["convention"] for r in rows] == ["fixed-real"] * 5
    assert all(r["lambda_break_even"] is None and r["certified"] for r in rows)
    api = lambda_critical(range(1, 6), "1/4", convention="fixed-real")
    assert [r["lambda_critical"] for r in rows] == api.tolist()


def test_threshold_json_equals_api(capsys):
    code, out, _ = run(capsys, "threshold", "--rate", "1/4", "--generations", "1..20",
                       "--format", "json")
    assert code == 0
    rows = json.loads(out)
    api = [p.as_dict() for p in phase_transition(Fraction(1, 4), range(1, 21))]
    assert rows == api
    assert set(rows[0]) == {"generation", "rate", "rate_float", "convention", "x_critical",
                            "lambda_critical", "lambda_break_even", "ratio_at_peak", "certified"}


@given(bst.rates(32), st.integers(1, 30))
def test_threshold_json_any_rate(r, top):
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["threshold", "--rate", f"{r.numerator}/{r.denominator}",
                     "--generations", f"1..{top}", "--format", "json"])
    assert code == 0
    api = [p.as_dict() for p in phase_transition(r, range(1, top + 1))]
    assert json.loads(buf.getvalue()) == api


def test_threshold_with_floor_and_exact(capsys):
    code, out, _ = run(capsys, "threshold", "--rate", "0.25", "--generations", "2",
                       "--exact", "--format", "json")
    assert code == 0
    (row,) = json.loads(out)
    assert row["lambda_critical_exact"] == "3/2 + sqrt(13)/2"
    code, out, _ = run(capsys, "threshold", "--generations", "1,3", "--floor", "0.05",
                       "--n", "10000", "--const", "2", "--format", "json")
    api = [p.as_dict() for p in phase_transition(Fraction(1, 4), [1, 3], floor=Fraction(1, 20),
                                                 n=10000, const=2)]
    assert code == 0 and json.loads(out) == api


def test_growth_json_equals_api(capsys):
    code, out, _ = run(capsys, "growth", "--rate", "1/4", "--eps", "0.1", "--generations",
                       "1..10", "--const", "2", "--format", "json")
    assert code == 0
    api = [r.as_dict() for r in growth_rows(range(1, 11), Fraction(1, 10),
                                            PowerLaw(Fraction(1, 4), 2))]
    assert json.loads(out) == api
    assert json.loads(out)[0]["n_required"] == 40**4
    code, out, _ = run(capsys, "growth", "--model", "fu2024", "--generations", "3",
                       "--format", "json")
    assert json.loads(out)[0]["exponent"] == 4.0
    assert json.loads(out)[0]["n_required"] == growth_rows([3], Fraction(1, 10),
                                                           Fu2024Diffusion())[0].n_required


@pytest.mark.parametrize(
    ("argv", "schedule", "source"),
    [
        (["--schedule", "balanced", "--delta", "0.01"], Balanced(), {"delta": 0.01}),
        (["--schedule", "constant-real", "--alpha", "1/3", "--delta", "1/100"],
         ConstantRealShare(Fraction(1, 3)), {"delta": 0.01}),
        (["--schedule", "fixed-ratio", "--lambda", "4", "--rate", "1/4", "--n", "1000"],
         FixedRatio(Fraction(4)), {"model": PowerLaw(Fraction(1, 4)), "n": 1000}),
    ],
)
def test_bound_json_equals_api(capsys, argv, schedule, source):
    code, out, _ = run(capsys, "bound", "--generations", "1..10", "--format", "json", *argv)
    assert code == 0
    rows = json.loads(out)
    expected = bounds(schedule, range(1, 11), **source)
    assert [r["bound"] for r in rows] == expected.tolist()
    assert [r["generation"] for r in rows] == list(range(1, 11))
    assert {r["schedule"] for r in rows} == {schedule.name}


def test_rich_table_and_other_formats(capsys):
    code, out, _ = run(capsys, "table", "phase-transition", "--rate", "1/4", "--generations",
                       "1..10")
    assert code == 0 and "λ'" in out and "17.8304" in out
    code, out, _ = run(capsys, "table", "growth", "--format", "csv", "--generations", "1,2")
    assert out.splitlines()[0] == "generation,rate,rate_float,eps,n_required,exponent,certified"
    assert out.splitlines()[1] == "1,1/4,0.25,0.1,160000,4.0,True"
    code, out, _ = run(capsys, "table", "schedules", "--format", "latex", "--generations", "1..3")
    assert "\\toprule" in out and "\\bottomrule" in out
    code, out, _ = run(capsys, "table", "schedules", "--format", "markdown", "--generations", "2")
    header, rule, data = out.splitlines()
    assert "full-synthetic" in header and "final-rescue" in header and set(rule) <= set("|-: ")
    assert [c.strip() for c in data.strip("|").split("|")] == ["2", "3", "1.83333", "1.75",
                                                              "1.75", "2"]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["threshold", "--rate", "1.5"], "--rate must lie strictly between 0 and 1"),
        (["threshold", "--rate", "0"], "--rate must lie strictly between 0 and 1"),
        (["threshold", "--rate", "x/y"], "--rate='x/y' is not a number"),
        (["growth", "--eps", "0"], "--eps must be > 0"),
        (["growth", "--eps", "-1"], "--eps must be > 0"),
        (["threshold", "--generations", "0..3"], "generations start at 1 here"),
        (["threshold", "--generations", "5..2"], "empty range"),
        (["threshold", "--generations", "a"], "not a generation list"),
        (["bound", "--schedule", "balanced", "--delta", "0.1", "--generations", "-1"],
         "is not a generation list"),
        (["bound", "--schedule", "constant-real", "--alpha", "1.2", "--delta", "0.1"],
         "--alpha must lie in"),
        (["bound", "--schedule", "nope", "--delta", "0.1"], "Invalid value for '--schedule'"),
        (["bound", "--schedule", "balanced"], "pass --delta D"),
        (["bound", "--schedule", "balanced", "--alpha", "0.5", "--delta", "1"],
         "--alpha does not apply to schedule balanced; it applies to constant-real, final-rescue"),
        (["threshold", "--format", "xml"], "Invalid value for '--format'"),
        (["threshold", "--nope"], "No such option"),
        (["table", "nope"], "Invalid value for '{phase-transition|growth|schedules}'"),
        (["growth", "--model", "gpt"], "Invalid value for '--model'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("boundkit: error: ")
    assert fragment in err


def test_console_script_never_prints_a_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "boundkit", "threshold", "--rate", "7"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    ok = subprocess.run([sys.executable, "-m", "boundkit", "threshold", "--generations", "1",
                         "--format", "json"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and json.loads(ok.stdout)[0]["lambda_critical"] == pytest.approx(1.5)


def test_parse_generations_forms():
    assert parse_generations("4") == [4]
    assert parse_generations("1..3, 7,9..10") == [1, 2, 3, 7, 9, 10]
    with pytest.raises(InvalidArgument, match="more than"):
        parse_generations("1..2000000")


def test_json_keys_follow_the_versioned_contract(capsys):
    from boundkit.tables import JSON_CONTRACT, SCHEMA_VERSION

    calls = {
        "threshold": ["threshold", "--generations", "1..3"],
        "table phase-transition": ["table", "phase-transition", "--generations", "2"],
        "growth": ["growth", "--generations", "1,2"],
        "table growth": ["table", "growth", "--generations", "1"],
        "bound": ["bound", "--schedule", "balanced", "--delta", "0.1"],
        "table schedules": ["table", "schedules", "--generations", "1..2"],
    }
    for name, argv in calls.items():
        code, out, _ = run(capsys, *argv, "--format", "json")
        assert code == 0
        assert all(list(row) == JSON_CONTRACT[name] for row in json.loads(out)), name
    code, out, _ = run(capsys, "schema")
    document = json.loads(out)
    assert code == 0 and document == {"schema_version": SCHEMA_VERSION,
                                      "commands": JSON_CONTRACT}
