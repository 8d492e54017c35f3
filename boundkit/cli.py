"""The ``boundkit`` command line: threshold, growth, bound, table, simulate and prove.

Human output is a rich table; ``--format json`` is the stable machine contract
(a JSON array, one object per generation; see the README).

Error contract (exit codes): 0 success; 2 a refused argument (``InvalidArgument``
or a usage error), printed as one line naming the option as typed and the fix;
1 anything else, which is a bug (or an unwritable disk), printed as one line
saying so; ``boundkit --debug COMMAND ...`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import json
import os
from fractions import Fraction

import click

from boundkit._checks import rate_text
from boundkit._cli_common import (
    GEN_HELP,
    MAX_EXACT_ROWS,
    NO_GEN0,
    check_rows,
    emit,
    format_option,
    given,
    latex_args,
    latex_options,
    refuse_unless,
    run_command,
    spell,
)
from boundkit._parse import NONNEGATIVE, POSITIVE, RATE, RATES, SHARE, TV, Generations
from boundkit.errors import InvalidArgument
from boundkit.registry import ERROR_MODEL_REGISTRY, SCHEDULE_REGISTRY
from boundkit.tables import (
    bound_table,
    growth_table,
    phase_transition_table,
    schedule_table,
    wide,
)

#: Commands that live above boundkit (they need simulations/torch or proofs), loaded by
#: name only when asked for: boundkit's library never imports those packages.
LAZY_COMMANDS = {
    "simulate": ("simulations.cli:simulate", "Run a self-consuming loop and measure e_i."),
    "sweep": ("simulations.cli:sweep", "Run a TOML grid of loops into a results store."),
    "results": ("simulations.cli:results", "List, show and export a results store."),
    "verify": ("simulations.verify.cli:verify",
               "Confront the paper's claims with trained loops."),
    "prove": ("proofs.cli:prove", "Check the machine-checked derivations (R1-R7, R9, E3, E4)."),
}


class LazyGroup(click.Group):
    """A click group whose upper-floor commands are imported by name when first used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            module, attr = LAZY_COMMANDS[name][0].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, (self.commands[name].get_short_help_str(60) if name in self.commands
                        else LAZY_COMMANDS[name][1])) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
    help="Bounds for self-consuming generative models (Fu et al., ICML 2024). "
    "Generation i is the model p_{i+1} produced by round i. Exit codes: 0 ok, 2 a refused "
    "argument, 1 a bug.",
)
@click.version_option(package_name="boundkit")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
def app(debug: bool) -> None:
    """The boundkit command group."""


def _threshold(rates, generations, floor, const, n, exact, fmt, context, convention="scaled"):
    """The R6 frame for ``threshold`` and ``table phase-transition`` (checked before work)."""
    typed = given("const", "n")
    if floor == 0:
        refuse_unless(set(), f"{context} without --floor (lambda' depends on neither n nor C "
                       f"under a pure power law)", **typed)
    conventions = ["scaled", "fixed-real"] if convention == "both" else [convention]
    check_rows(len(generations) * len(rates) * len(conventions), fmt)
    if exact and (floor > 0 or len(generations) * len(rates) > MAX_EXACT_ROWS):
        raise InvalidArgument(
            "--exact gives the algebraic lambda' of a pure power law for at most "
            f"{MAX_EXACT_ROWS} generations x rates; " + (
                "drop --floor" if floor > 0 else "pass fewer --generations") + " or drop --exact.",
            argument="exact")
    if exact and "fixed-real" in conventions and max(generations) * max(
            r.denominator for r in rates) > 400:
        raise InvalidArgument(
            "--exact under --convention fixed-real builds a polynomial of degree about "
            "(rate denominator) x generation, at most 400; pass fewer --generations or drop "
            "--exact.", argument="exact")
    return phase_transition_table(rates, generations, const=const, n=n, floor=floor,
                                  exact=exact, convention=conventions)


def _title(rates) -> str:
    return ", ".join(rate_text(r) for r in rates)


@app.command()
@click.option("--rate", type=RATES, default="1/4", show_default=True,
              help="TV rate r in (0, 1), e.g. 1/4 or 0.25, or a comma list 1/4,1/5.")
@click.option("--generations", type=Generations(1, NO_GEN0), default="1..10", help=GEN_HELP)
@click.option("--floor", type=NONNEGATIVE, default="0",
              help="Floor C0 of the per-round error (R6 with a floor).")
@click.option("--const", type=POSITIVE, default="1", help="Constant C (with --floor).")
@click.option("--n", type=POSITIVE, default="1", help="Real samples per round (with --floor).")
@click.option("--exact", is_flag=True, help="Add the exact algebraic lambda' (sympy; i <= 200).")
@click.option("--convention", type=click.Choice(["scaled", "fixed-real", "both"]),
              default="scaled", show_default=True,
              help="Round 0 on (1+lambda)n real points (scaled) or on the n real points alone "
              "(fixed-real: no break-even ratio, null); both: one block each.")
@format_option
@latex_options
def threshold(rate, generations, floor, const, n, exact, convention, fmt, caption, label,
              digits, siunitx) -> None:
    """R6: the critical synthetic-to-real ratio lambda' and the break-even ratio."""
    latex = latex_args(fmt, caption, label, digits, siunitx)
    df = _threshold(rate, generations, floor, const, n, exact, fmt, "threshold", convention)
    emit(df, fmt, f"R6 phase transition, r = {_title(rate)}, {convention}", **latex)


def _model(name: str, rate, const):
    return ERROR_MODEL_REGISTRY.build(name, "--model", rate=rate, const=const)


@app.command()
@click.option("--eps", type=POSITIVE, default="1/10", help="Target TV bound epsilon > 0.")
@click.option("--rate", type=RATE, default=None, help="TV rate r (power-law; default 1/4).")
@click.option("--generations", type=Generations(0), default="1..10", help=GEN_HELP)
@click.option("--const", type=POSITIVE, default=None,
              help="Constant C (power-law, gaussian-mle; default 1).")
@click.option("--model", type=click.Choice(ERROR_MODEL_REGISTRY.names()), default="power-law",
              help="The per-round error model (docs/theory.md §3).")
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
              help="The mixing schedule (docs/theory.md §4); replace and accumulate are aliases.")
@click.option("--generations", type=Generations(0), default="1..10", help=GEN_HELP)
@click.option("--alpha", type=SHARE, default=None,
              help="Real share: constant-real (default 1/2) or final-rescue (default R3's "
              "(i-1)/i).")
@click.option("--lambda", "lam", type=NONNEGATIVE, default=None,
              help="Synthetic-to-real ratio (fixed-ratio; default 1).")
@click.option("--delta", type=TV, default=None, help="Per-round error delta in (0, 1].")
@click.option("--rate", type=RATE, default=None, help="Power-law rate r (with --n).")
@click.option("--n", type=POSITIVE, default=None, help="Real samples per round (with --rate).")
@click.option("--const", type=POSITIVE, default=None,
              help="Power-law constant C (with --rate; default 1).")
@format_option
def bound(schedule, generations, alpha, lam, delta, rate, n, const, fmt) -> None:
    """R1: the bound on e_{i+1} = TV(p_{i+1}, p0) for one schedule."""
    entry, s = _schedule(schedule, alpha, lam)
    source = _source(delta, rate, n, const, entry.accumulate)
    check_rows(len(generations), fmt)
    df = bound_table([s], generations, **source)
    emit(df, fmt, f"R1 bound, {schedule}")


#: The options each table takes (Python names).
_SHARED = {"generations", "fmt", "layout", "value", "caption", "label", "digits", "siunitx"}
TABLE_OPTIONS = {
    "phase-transition": _SHARED | {"rate", "floor", "const", "n", "exact", "convention"},
    "growth": _SHARED | {"rate", "eps", "const"},
    "schedules": _SHARED | {"delta", "rate", "n", "const", "alpha", "lam"},
}
#: The quantity a wide table spreads, by table.
WIDE_VALUE = {"phase-transition": "lambda_critical", "growth": "n_required"}


@app.command()
@click.argument("name", type=click.Choice(list(TABLE_OPTIONS)))
@click.option("--rate", type=RATES, default=None,
              help="TV rate(s) r in (0, 1), e.g. 1/4 or a comma list 1/4,1/5 (default 1/4; "
              "schedules: one rate, with --n).")
@click.option("--generations", type=Generations(0), default="1..10", show_default=True,
              help=GEN_HELP)
@click.option("--eps", type=POSITIVE, default="1/10", show_default=True,
              help="growth: target epsilon.")
@click.option("--floor", type=NONNEGATIVE, default="0", show_default=True,
              help="phase-transition: floor C0.")
@click.option("--const", type=POSITIVE, default=None, help="Power-law constant C (default 1).")
@click.option("--n", type=POSITIVE, default=None, help="Samples per round.")
@click.option("--delta", type=TV, default=None,
              help="schedules: per-round error (default: bounds in units of delta).")
@click.option("--alpha", type=SHARE, default="1/2", show_default=True,
              help="schedules: real share of the constant-real column.")
@click.option("--lambda", "lam", type=NONNEGATIVE, default="1", show_default=True,
              help="schedules: ratio of the fixed-ratio column.")
@click.option("--exact", is_flag=True, help="phase-transition: add the exact lambda'.")
@click.option("--convention", type=click.Choice(["scaled", "fixed-real", "both"]),
              default="scaled", show_default=True,
              help="phase-transition: R6's round-0 convention, or both.")
@click.option("--layout", type=click.Choice(["long", "wide"]), default="long",
              show_default=True, help="long: a row per rate/convention/generation; wide: a "
              "column per rate and convention (phase-transition, growth).")
@click.option("--value", default=None, help="wide: the quantity spread into columns (default "
              "lambda_critical; growth: n_required).")
@format_option
@latex_options
def table(name, rate, generations, eps, floor, const, n, delta, alpha, lam, exact, convention,
          layout, value, fmt, caption, label, digits, siunitx) -> None:
    """Paper-ready tables. NAME: phase-transition (R6), growth (R2), schedules (R1)."""
    typed = given("rate", "generations", "eps", "floor", "const", "n", "delta", "alpha", "lam",
                   "exact", "convention", "layout", "value", "fmt", "caption", "label",
                   "digits", "siunitx")
    refuse_unless(TABLE_OPTIONS[name], f"table {name}", **typed)
    latex = latex_args(fmt, caption, label, digits, siunitx)
    if value is not None and layout != "wide":
        raise InvalidArgument("--value picks the quantity of a wide table; add --layout wide "
                              "or drop --value.", argument="value")
    if name == "phase-transition":
        if 0 in generations:
            raise InvalidArgument(f"--generations includes 0; {NO_GEN0}. Pass generations >= 1.",
                                  argument="generations")
        rates = rate or [Fraction(1, 4)]
        df = _threshold(rates, generations, floor, const or 1, n or 1, exact, fmt,
                        "table phase-transition", convention)
        title = f"R6 phase transition, r = {_title(rates)}, {convention}"
    elif name == "growth":
        rates = rate or [Fraction(1, 4)]
        check_rows(len(generations) * len(rates), fmt)
        df = growth_table(generations, eps, [_model("power-law", r, const) for r in rates])
        title = f"R2 sample growth, r = {_title(rates)}, eps = {eps}"
    else:
        if layout == "wide":
            raise InvalidArgument("table schedules is already wide (a column per schedule); "
                                  "drop --layout.", argument="layout")
        if rate is not None and len(rate) > 1:
            raise InvalidArgument("table schedules takes one --rate (with --n); got "
                                  f"{len(rate)}. Pass one rate.", argument="rate")
        if alpha == 0:
            raise InvalidArgument("--alpha must lie in (0, 1] for the constant-real column; got "
                                  "0. Pass e.g. --alpha 1/2.", argument="alpha")
        check_rows(len(generations), fmt)
        in_units = delta is None and rate is None and n is None
        source = {"delta": 1} if in_units else _source(delta, rate and rate[0], n, const)
        schedules = [SCHEDULE_REGISTRY.build(s, alpha=alpha if s in ("constant-real",) else None,
                                             lam=lam if s == "fixed-ratio" else None)
                     for s in SCHEDULE_REGISTRY.names(aliases=False)]
        df = schedule_table(schedules, generations, **source)
        title = "R1 bounds by schedule" + (" (units of delta)" if in_units else "")
    if layout == "wide":
        df = wide(df, value or WIDE_VALUE[name])
    emit(df, fmt, title, **latex)


@app.command()
def schema() -> None:
    """The JSON contract: its schema_version and, per command, the keys of each object."""
    from boundkit.tables import JSON_CONTRACT, SCHEMA_VERSION

    click.echo(json.dumps({"schema_version": SCHEMA_VERSION, "commands": JSON_CONTRACT},
                          indent=2))


def main(argv: list[str] | None = None) -> int:
    """Run the app and return the exit code (the console script passes it to sys.exit).

    The command line shares the machine with whatever else runs: OpenMP threads (torch's
    intra-op pool in the simulation commands) wait passively instead of spinning, unless
    the user set ``OMP_WAIT_POLICY`` (measured in ``benchmarks/bench_threads.py``).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return run_command(app, argv, "boundkit")
