"""The ``boundkit`` command line: threshold, growth, bound, table, simulate and prove.

Human output is a rich table; ``--format json`` is the stable machine contract
(a JSON array, one object per generation; see the README).

Error contract (exit codes): 0 success; 2 a refused argument (``InvalidArgument``
or a usage error), printed as one line naming the option as typed and the fix;
1 anything else, which is a bug (or an unwritable disk), printed as one line
saying so; ``boundkit --debug COMMAND ...`` shows the traceback instead.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import click

from boundkit._cli_common import (
    GEN_HELP,
    MAX_EXACT_ROWS,
    NO_GEN0,
    check_rows,
    emit,
    format_option,
    given,
    refuse_unless,
    spell,
)
from boundkit._parse import NONNEGATIVE, POSITIVE, RATE, SHARE, TV, Generations
from boundkit.errors import InvalidArgument, NotCertified
from boundkit.registry import ERROR_MODEL_REGISTRY, SCHEDULE_REGISTRY
from boundkit.tables import bound_table, growth_table, phase_transition_table, schedule_table


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Bounds for self-consuming generative models (Fu et al., ICML 2024). "
    "Generation i is the model p_{i+1} produced by round i. Exit codes: 0 ok, 2 a refused "
    "argument, 1 a bug.",
)
@click.version_option(package_name="boundkit")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
def app(debug: bool) -> None:
    """The boundkit command group."""


def _threshold(rate, generations, floor, const, n, exact, fmt, context, convention="scaled"):
    typed = given("const", "n")
    if floor == 0:
        refuse_unless(set(), f"{context} without --floor (lambda' depends on neither n nor C "
                       f"under a pure power law)", **typed)
    check_rows(len(generations), fmt)
    if exact and (floor > 0 or len(generations) > MAX_EXACT_ROWS):
        raise InvalidArgument(
            "--exact gives the algebraic lambda' of a pure power law for at most "
            f"{MAX_EXACT_ROWS} generations; " + ("drop --floor" if floor > 0 else
                                                 "pass fewer --generations") + " or drop --exact.",
            argument="exact")
    if exact and convention == "fixed-real" and max(generations) * rate.denominator > 400:
        raise InvalidArgument(
            "--exact under --convention fixed-real builds a polynomial of degree about "
            "(rate denominator) x generation, at most 400; pass fewer --generations or drop "
            "--exact.", argument="exact")
    df = phase_transition_table(rate, generations, const=const, n=n, floor=floor, exact=exact,
                                convention=convention)
    emit(df, fmt, f"R6 phase transition, r = {rate}, {convention}")


@app.command()
@click.option("--rate", type=RATE, default="1/4", help="TV rate r in (0, 1), e.g. 1/4 or 0.25.")
@click.option("--generations", type=Generations(1, NO_GEN0), default="1..10", help=GEN_HELP)
@click.option("--floor", type=NONNEGATIVE, default="0",
              help="Floor C0 of the per-round error (R6 with a floor).")
@click.option("--const", type=POSITIVE, default="1", help="Constant C (with --floor).")
@click.option("--n", type=POSITIVE, default="1", help="Real samples per round (with --floor).")
@click.option("--exact", is_flag=True, help="Add the exact algebraic lambda' (sympy; i <= 200).")
@click.option("--convention", type=click.Choice(["scaled", "fixed-real"]), default="scaled",
              show_default=True, help="Round 0 on (1+lambda)n real points (scaled) or on the n "
              "real points alone (fixed-real: no break-even ratio, null).")
@format_option
def threshold(rate, generations, floor, const, n, exact, convention, fmt) -> None:
    """R6: the critical synthetic-to-real ratio lambda' and the break-even ratio."""
    _threshold(rate, generations, floor, const, n, exact, fmt, "threshold", convention)


def _model(name: str, rate, const):
    return ERROR_MODEL_REGISTRY.build(name, "--model", rate=rate, const=const)


@app.command()
@click.option("--eps", type=POSITIVE, default="1/10", help="Target TV bound epsilon > 0.")
@click.option("--rate", type=RATE, default=None, help="TV rate r (power-law; default 1/4).")
@click.option("--generations", type=Generations(0), default="1..10", help=GEN_HELP)
@click.option("--const", type=POSITIVE, default=None, help="Constant C (power-law, gaussian-mle).")
@click.option("--model", type=click.Choice(ERROR_MODEL_REGISTRY.names()), default="power-law",
              help="The per-round error model (THEORY.md §3).")
@format_option
def growth(eps, rate, generations, const, model, fmt) -> None:
    """R2: samples per round needed to keep generation i within eps (full synthetic)."""
    ERROR_MODEL_REGISTRY.check_options(model, {"rate": rate, "const": const}, spell, "--model")
    check_rows(len(generations), fmt)
    df = growth_table(generations, eps, _model(model, rate, const))
    emit(df, fmt, f"R2 sample growth, {model}, eps = {eps}")


def _schedule(name: str, alpha, lam):
    entry = SCHEDULE_REGISTRY.check_options(name, {"alpha": alpha, "lam": lam}, spell,
                                            "--schedule")
    if name == "constant-real" and alpha == 0:
        raise InvalidArgument("--alpha must lie in (0, 1] for constant-real (alpha = 0 is "
                              "full-synthetic); got 0. Pass e.g. --alpha 1/2.", argument="alpha")
    return entry, SCHEDULE_REGISTRY.build(name, "--schedule", alpha=alpha, lam=lam)


def _source(delta, rate, n, const, accumulate: bool = False) -> dict:
    typed = given("delta", "rate", "n", "const")
    if delta is not None:
        refuse_unless({"delta"}, "a constant --delta", **typed)
        return {"delta": delta}
    if rate is None or n is None:
        raise InvalidArgument("pass --delta D (per-round error), or --rate R --n N [--const C].",
                              argument="delta")
    sizes = (lambda k: float(n) * (k + 1)) if accumulate else float(n)
    return {"model": ERROR_MODEL_REGISTRY.build("power-law", rate=rate, const=const),
            "n": sizes}


@app.command()
@click.option("--schedule", type=click.Choice(SCHEDULE_REGISTRY.names()), required=True,
              help="The mixing schedule (THEORY.md §4); replace and accumulate are aliases.")
@click.option("--generations", type=Generations(0), default="1..10", help=GEN_HELP)
@click.option("--alpha", type=SHARE, default=None, help="Real share (constant-real; final-rescue).")
@click.option("--lambda", "lam", type=NONNEGATIVE, default=None,
              help="Synthetic-to-real ratio (fixed-ratio).")
@click.option("--delta", type=TV, default=None, help="Per-round error delta in (0, 1].")
@click.option("--rate", type=RATE, default=None, help="Power-law rate r (with --n).")
@click.option("--n", type=POSITIVE, default=None, help="Real samples per round (with --rate).")
@click.option("--const", type=POSITIVE, default=None, help="Power-law constant C (with --rate).")
@format_option
def bound(schedule, generations, alpha, lam, delta, rate, n, const, fmt) -> None:
    """R1: the bound on e_{i+1} = TV(p_{i+1}, p0) for one schedule."""
    entry, s = _schedule(schedule, alpha, lam)
    source = _source(delta, rate, n, const, entry.accumulate)
    check_rows(len(generations), fmt)
    df = bound_table([s], generations, **source)
    emit(df, fmt, f"R1 bound, {schedule}")


#: The options each table takes (Python names).
TABLE_OPTIONS = {
    "phase-transition": {"rate", "generations", "floor", "const", "n", "exact", "convention",
                         "fmt"},
    "growth": {"rate", "generations", "eps", "const", "fmt"},
    "schedules": {"generations", "delta", "rate", "n", "const", "alpha", "lam", "fmt"},
}


@app.command()
@click.argument("name", type=click.Choice(list(TABLE_OPTIONS)))
@click.option("--rate", type=RATE, default=None, help="TV rate r in (0, 1) (default 1/4).")
@click.option("--generations", type=Generations(0), default="1..10", help=GEN_HELP)
@click.option("--eps", type=POSITIVE, default="1/10", help="growth: target epsilon.")
@click.option("--floor", type=NONNEGATIVE, default="0", help="phase-transition: floor C0.")
@click.option("--const", type=POSITIVE, default=None, help="Power-law constant C.")
@click.option("--n", type=POSITIVE, default=None, help="Samples per round.")
@click.option("--delta", type=TV, default=None, help="schedules: per-round error (default 1).")
@click.option("--alpha", type=SHARE, default="1/2", help="schedules: real share (constant-real).")
@click.option("--lambda", "lam", type=NONNEGATIVE, default="1",
              help="schedules: ratio (fixed-ratio).")
@click.option("--exact", is_flag=True, help="phase-transition: add the exact lambda'.")
@click.option("--convention", type=click.Choice(["scaled", "fixed-real"]), default="scaled",
              help="phase-transition: R6's round-0 convention.")
@format_option
def table(name, rate, generations, eps, floor, const, n, delta, alpha, lam, exact, convention,
          fmt) -> None:
    """Paper-ready tables. NAME: phase-transition (R6), growth (R2), schedules (R1)."""
    typed = given("rate", "generations", "eps", "floor", "const", "n", "delta", "alpha", "lam",
                   "exact", "convention", "fmt")
    refuse_unless(TABLE_OPTIONS[name], f"table {name}", **typed)
    if name == "phase-transition":
        if 0 in generations:
            raise InvalidArgument(f"--generations includes 0; {NO_GEN0}. Pass generations >= 1.",
                                  argument="generations")
        _threshold(rate or "1/4", generations, floor, const or 1, n or 1, exact, fmt,
                   "table phase-transition", convention)
        return
    check_rows(len(generations), fmt)
    if name == "growth":
        df = growth_table(generations, eps, _model("power-law", rate, const))
        title = f"R2 sample growth, r = {rate or '1/4'}, eps = {eps}"
    else:
        if alpha == 0:
            raise InvalidArgument("--alpha must lie in (0, 1] for the constant-real column; got "
                                  "0. Pass e.g. --alpha 1/2.", argument="alpha")
        in_units = delta is None and rate is None and n is None
        source = {"delta": 1} if in_units else _source(delta, rate, n, const)
        schedules = [SCHEDULE_REGISTRY.build(s, alpha=alpha if s in ("constant-real",) else None,
                                             lam=lam if s == "fixed-ratio" else None)
                     for s in SCHEDULE_REGISTRY.names(aliases=False)]
        df = schedule_table(schedules, generations, **source)
        title = "R1 bounds by schedule" + (" (units of delta)" if in_units else "")
    emit(df, fmt, title)


@app.command(
    "prove",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
    help="Check the machine-checked derivations of R1-R7, E3, E4 (see: boundkit prove -h).",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def prove(args) -> int:
    """Forward to ``python -m proofs`` (imported only here: boundkit stays light)."""
    from proofs.cli import main as proofs_main

    code = proofs_main(list(args), prog="boundkit prove")
    if code:
        raise click.exceptions.Exit(code)
    return 0


@app.command()
def schema() -> None:
    """The JSON contract: its schema_version and, per command, the keys of each object."""
    from boundkit.tables import JSON_CONTRACT, SCHEMA_VERSION

    click.echo(json.dumps({"schema_version": SCHEMA_VERSION, "commands": JSON_CONTRACT},
                          indent=2))


def _register() -> None:
    """Add the simulation-side commands (their modules import simulations lazily)."""
    from boundkit.cli_simulate import results, simulate, sweep
    from boundkit.cli_verify import verify

    for command in (simulate, sweep, results, verify):
        app.add_command(command)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the app and return the exit code (the console script passes it to sys.exit)."""
    return run_command(app, argv, "boundkit")


def run_command(command: click.Command, argv: list[str] | None, prog: str) -> int:
    """Run a click command under the error contract (module docstring); return the exit code.

    ``--debug`` anywhere before the subcommand (or ``BOUNDKIT_DEBUG=1``) re-raises
    unexpected errors with their traceback.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args[: _first_command(args)] or os.environ.get("BOUNDKIT_DEBUG") == "1"
    try:
        result = command.main(args=args, prog_name=prog, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.UsageError as exc:
        return _fail(prog, exc.format_message(), 2)
    except (click.exceptions.Abort, KeyboardInterrupt):
        return _fail(prog, "interrupted.", 130)
    except InvalidArgument as exc:
        return _fail(prog, str(exc), 2)
    except NotCertified as exc:
        return _fail(prog, f"not certified: {exc}", 1)
    except OSError as exc:
        return _fail(prog, f"cannot read or write a file: {exc}", 1)
    except Exception as exc:  # a bug: say so in one line; --debug shows the traceback
        if debug:
            traceback.print_exc()
            return 1
        where = "" if prog.startswith("boundkit") else " boundkit"
        return _fail(prog, f"internal error (a bug, please report it): "
                           f"{type(exc).__name__}: {exc}. Run{where} {prog.split()[0]} --debug "
                           f"... for the traceback.", 1)
    return result if isinstance(result, int) else 0


def _first_command(args: list[str]) -> int:
    """Index of the first argument that is not an option (the subcommand), or len(args)."""
    for k, a in enumerate(args):
        if not a.startswith("-"):
            return k
    return len(args)


def _fail(prog: str, message: str, code: int) -> int:
    text = " ".join(str(message).split())
    sys.stderr.write(f"{prog}: error: {text[:2000]}\n")
    return code
