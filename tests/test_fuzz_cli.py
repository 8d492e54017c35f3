"""Fuzz of the command line (issue "Hardening"): random argument lists for every subcommand.

Every run must exit 0 or 2 (1 would be a bug), print no traceback, refuse with
exactly one line, and, in JSON, give parseable output with no NaN or Infinity.
RuntimeWarnings are errors in this suite (pyproject), so one reaching the user
would surface as exit 1. Hangs are caught by :func:`fuzzing.hang_guard`.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

from fuzzing import (
    COMMANDS,
    EXAMPLES,
    cli_arguments,
    hang_guard,
    prove_arguments,
    simulate_arguments,
    store_arguments,
    sweep_file_arguments,
    valid_cli_arguments,
    valid_simulate_arguments,
)
from hypothesis import event, given, settings
from hypothesis import strategies as st

from boundkit.cli import main


def _no_constant(name: str):
    raise ValueError(f"JSON holds {name}")


def check_contract(argv: list[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    with hang_guard(), redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    event(f"{argv[0]} exit {code}")
    stderr = err.getvalue()
    assert code in (0, 2), f"exit {code} for {argv}: {stderr}"
    assert "Traceback" not in stderr and "Warning" not in stderr, (argv, stderr)
    if code == 2:
        assert stderr.count("\n") == 1 and stderr.startswith("boundkit"), (argv, stderr)
        assert out.getvalue() == "", argv
    fmt = [argv[k + 1] for k, a in enumerate(argv[:-1]) if a == "--format"]
    if code == 0 and fmt[-1:] == ["json"]:
        rows = json.loads(out.getvalue(), parse_constant=_no_constant)
        assert isinstance(rows, list) and rows, argv


@settings(max_examples=EXAMPLES)
@given(st.sampled_from(sorted(COMMANDS)).flatmap(cli_arguments))
def test_fuzz_bound_commands(argv):
    check_contract(argv)


@settings(max_examples=EXAMPLES // 2)
@given(valid_cli_arguments())
def test_fuzz_bound_commands_valid_options(argv):
    check_contract(argv)


@settings(max_examples=max(10, EXAMPLES // 5))
@given(simulate_arguments())
def test_fuzz_simulate(argv):
    check_contract(argv)


@settings(max_examples=max(10, EXAMPLES // 10))
@given(valid_simulate_arguments())
def test_fuzz_simulate_valid_options(argv):
    check_contract(argv)


@settings(max_examples=max(6, EXAMPLES // 20))
@given(prove_arguments())
def test_fuzz_prove(argv):
    check_contract(argv)


@settings(max_examples=max(10, EXAMPLES // 10))
@given(store_arguments())
def test_fuzz_sweep_results_and_schema(argv):
    check_contract(argv)


@settings(max_examples=max(10, EXAMPLES // 10))
@given(sweep_file_arguments())
def test_fuzz_sweep_file_values(argv):
    check_contract(argv)
