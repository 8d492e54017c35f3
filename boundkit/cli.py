"""The ``boundkit`` command line: threshold, growth, bound and table.

Human output is a rich table; ``--format json`` is the stable machine contract
(a JSON array, one object per generation; see the README). Bad arguments exit
with code 2 and one line naming the argument and the fix, never a traceback.
"""

from __future__ import annotations

import sys

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from boundkit._parse import (
    parse_generations,
    parse_nonnegative,
    parse_positive,
    parse_rate,
    parse_share,
)
from boundkit.early_stopping import LiDiffusion
from boundkit.error_models import KDE, Fu2024Diffusion, GaussianMLE, PowerLaw
from boundkit.schedules import (
    SCHEDULES,
    Balanced,
    ConstantRealShare,
    FinalRoundRescue,
    FixedRatio,
    FullSynthetic,
    make_schedule,
)
from boundkit.tables import (
    FORMATS,
    bound_table,
    export,
    growth_table,
    phase_transition_table,
    schedule_table,
)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Bounds for self-consuming generative models (Fu et al., ICML 2024). "
    "Generation i is the model p_{i+1} produced by round i.",
)
@click.version_option(package_name="boundkit")
def app() -> None:
    """The boundkit command group."""

MODELS = ("power-law", "fu2024", "li2023", "kde", "gaussian-mle")
GEN_HELP = "N (that generation), A..B, or a comma list; generation i is the model of round i."
FMT_HELP = "table (rich, default), json, csv, latex or markdown."
TABLES = ("phase-transition", "growth", "schedules")
#: Short column captions for the rich table (the JSON keys stay the contract).
HEADERS = {
    "generation": "i",
    "rate": "r",
    "x_critical": "x'",
    "lambda_critical": "λ'",
    "lambda_break_even": "λ⁼",
    "ratio_at_peak": "B(λ')/B(0)",
    "certified": "certified",
    "lambda_critical_exact": "λ' exact",
    "n_required": "n required",
}


def _emit(df: pd.DataFrame, fmt: str, title: str) -> None:
    if fmt == "table":
        table = Table(title=title)
        for col in df.columns:
            table.add_column(HEADERS.get(col, col), justify="right")
        for row in df.itertuples(index=False):
            table.add_row(*[_cell(v) for v in row])
        Console().print(table)
    else:
        sys.stdout.write(export(df, fmt).rstrip("\n") + "\n")


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _check_format(fmt: str) -> str:
    if fmt not in ("table", *FORMATS):
        known = ", ".join(("table", *FORMATS))
        raise ValueError(f"--format={fmt!r} is not known. Pass one of: {known}.")
    return fmt


def _model(name: str, rate: str | None, const: str):
    if name not in MODELS:
        raise ValueError(f"--model={name!r} is not known. Pass one of: {', '.join(MODELS)}.")
    if name == "power-law":
        return PowerLaw(parse_rate(rate or "1/4"), parse_positive(const, "--const"))
    if rate is not None:
        raise ValueError(
            f"--rate applies to --model power-law only; {name} derives its own rate. "
            f"Drop --rate or pass --model power-law."
        )
    return {"fu2024": Fu2024Diffusion, "li2023": LiDiffusion, "kde": KDE,
            "gaussian-mle": GaussianMLE}[name]()


def _threshold_df(rate, generations, floor, const, n, exact):
    return phase_transition_table(
        parse_rate(rate), parse_generations(generations),
        const=parse_positive(const, "--const"), n=parse_positive(n, "--n", "10000"),
        floor=parse_nonnegative(floor, "--floor"), exact=exact,
    )


def _format_option(f):
    return click.option("--format", "fmt", default="table", help=FMT_HELP)(f)


@app.command()
@click.option("--rate", default="1/4", help="TV rate r in (0, 1), e.g. 1/4 or 0.25.")
@click.option("--generations", default="1..10", help=GEN_HELP)
@click.option("--floor", default="0", help="Floor C0 of the per-round error (R6 with a floor).")
@click.option("--const", default="1", help="Constant C of the power law.")
@click.option("--n", default="1", help="Real samples per round (matters only with a floor).")
@click.option("--exact", is_flag=True, help="Add the exact algebraic lambda' (sympy).")
@_format_option
def threshold(rate, generations, floor, const, n, exact, fmt) -> None:
    """R6: the critical synthetic-to-real ratio lambda' and the break-even ratio."""
    _check_format(fmt)
    df = _threshold_df(rate, generations, floor, const, n, exact)
    _emit(df, fmt, f"R6 phase transition, r = {rate}")


@app.command()
@click.option("--eps", default="1/10", help="Target TV bound epsilon > 0.")
@click.option("--rate", default=None, help="TV rate r in (0, 1) (power law; default 1/4).")
@click.option("--generations", default="1..10", help=GEN_HELP)
@click.option("--const", default="1", help="Constant C of the power law.")
@click.option("--model", default="power-law", help="power-law, fu2024, li2023, kde, gaussian-mle.")
@_format_option
def growth(eps, rate, generations, const, model, fmt) -> None:
    """R2: samples per round needed to keep generation i within eps (full synthetic)."""
    _check_format(fmt)
    m = _model(model, rate, const)
    df = growth_table(parse_generations(generations), parse_positive(eps, "--eps", "0.1"), m)
    _emit(df, fmt, f"R2 sample growth, {model}, eps = {eps}")


def _schedule(name: str, alpha: str | None, lam: str | None):
    if name not in SCHEDULES:
        raise ValueError(f"--schedule={name!r} is not known. Pass one of: {', '.join(SCHEDULES)}.")
    if alpha is not None and name not in ("constant-real", "final-rescue"):
        raise ValueError(f"--alpha applies to constant-real and final-rescue, not {name}.")
    if lam is not None and name != "fixed-ratio":
        raise ValueError(f"--lambda applies to fixed-ratio, not {name}.")
    share = None if alpha is None else parse_share(alpha, "--alpha",
                                                   allow_zero=name != "constant-real")
    ratio = None if lam is None else parse_nonnegative(lam, "--lambda", "1")
    return make_schedule(name, share, ratio)


def _source(delta, rate, n, const) -> dict:
    if delta is not None:
        if rate is not None or n is not None:
            raise ValueError("pass --delta D, or --rate R --n N [--const C]; not both.")
        return {"delta": parse_positive(delta, "--delta", "0.01")}
    if rate is None or n is None:
        raise ValueError("pass --delta D (per-round error), or --rate R --n N [--const C].")
    return {"model": PowerLaw(parse_rate(rate), parse_positive(const, "--const")),
            "n": float(parse_positive(n, "--n", "10000"))}


@app.command()
@click.option("--schedule", required=True, help=", ".join(SCHEDULES))
@click.option("--generations", default="1..10", help=GEN_HELP)
@click.option("--alpha", default=None, help="Real share (constant-real; final-rescue).")
@click.option("--lambda", "lam", default=None, help="Synthetic-to-real ratio (fixed-ratio).")
@click.option("--delta", default=None, help="Per-round error delta.")
@click.option("--rate", default=None, help="Power-law rate r (with --n).")
@click.option("--n", default=None, help="Real samples per round (with --rate).")
@click.option("--const", default="1", help="Power-law constant C.")
@_format_option
def bound(schedule, generations, alpha, lam, delta, rate, n, const, fmt) -> None:
    """R1: the bound on e_{i+1} = TV(p_{i+1}, p0) for one schedule."""
    _check_format(fmt)
    s = _schedule(schedule, alpha, lam)
    df = bound_table([s], parse_generations(generations), **_source(delta, rate, n, const))
    _emit(df, fmt, f"R1 bound, {schedule}")


@app.command()
@click.argument("name")
@click.option("--rate", default=None, help="TV rate r in (0, 1) (default 1/4).")
@click.option("--generations", default="1..10", help=GEN_HELP)
@click.option("--eps", default="1/10", help="growth: target epsilon.")
@click.option("--floor", default="0", help="phase-transition: floor C0.")
@click.option("--const", default="1", help="Power-law constant C.")
@click.option("--n", default=None, help="Samples per round.")
@click.option("--delta", default=None, help="schedules: per-round error (default 1).")
@click.option("--alpha", default="1/2", help="schedules: real share (constant-real).")
@click.option("--lambda", "lam", default="1", help="schedules: ratio (fixed-ratio).")
@click.option("--exact", is_flag=True, help="phase-transition: add the exact lambda'.")
@_format_option
def table(name, rate, generations, eps, floor, const, n, delta, alpha, lam, exact, fmt) -> None:
    """Paper-ready tables. NAME: phase-transition (R6), growth (R2), schedules (R1)."""
    _check_format(fmt)
    if name == "phase-transition":
        df = _threshold_df(rate or "1/4", generations, floor, const, n or "1", exact)
        title = f"R6 phase transition, r = {rate or '1/4'}"
    elif name == "growth":
        m = _model("power-law", rate, const)
        df = growth_table(parse_generations(generations), parse_positive(eps, "--eps", "0.1"), m)
        title = f"R2 sample growth, r = {rate or '1/4'}, eps = {eps}"
    elif name == "schedules":
        df, title = _schedules_df(generations, alpha, lam, delta, rate, n, const)
    else:
        raise ValueError(f"table {name!r} is not known. Pass one of: {', '.join(TABLES)}.")
    _emit(df, fmt, title)


@app.command()
@click.argument("model")
@click.option("--data", default="gaussian", help="gaussian, mixture, ring8, grid25, unequal, "
              "two-modes, laplace; without density: moons, circles, swiss-roll, digits.")
@click.option("--schedule", default="replace",
              help="replace, accumulate, accumulate-subsample or a boundkit schedule.")
@click.option("--alpha", default=None, help="Real share (constant-real; final-rescue).")
@click.option("--lambda", "lam", default=None, help="Synthetic-to-real ratio (fixed-ratio).")
@click.option("--rounds", default="10", help="Rounds (generations 0..rounds-1).")
@click.option("--n", default="500", help="Samples per round (round 0).")
@click.option("--growth", default="0", help="n_i = n (i+1)^P.")
@click.option("--replicates", default="1", help="Independent loops.")
@click.option("--seed", default="0", help="Seed (the same seed gives the same numbers on CPU).")
@click.option("--device", default="cpu", help="auto, cpu or cuda.")
@click.option("--temperature", default="1", help="Biased sampling: synthetic variance x T.")
@click.option("--self-correct", "self_correct", default="0",
              help="Self-correction strength in [0, 1] toward p0's moments.")
@click.option("--dim", default="1", help="Dimension for --data gaussian or mixture.")
@click.option("--real-data", "real_data", default="fresh",
              help="fresh (new real draws each round) or pool (the round-0 data only).")
@click.option("--out", default="simulation-out", help="Folder for frame.csv and errors.png.")
def simulate(model, data, schedule, alpha, lam, rounds, n, growth, replicates, seed, device,
             temperature, self_correct, real_data, dim, out) -> None:
    """Train a self-consuming loop and check V1/V2 each round.

    MODEL: gaussian-mle, kde, gmm, diffusion-rf or diffusion-mlp.
    """
    from rich.progress import Progress

    from simulations.report import build_model, build_schedule, make_p0
    from simulations.report import simulate as run

    args = {
        "rounds": _integer(rounds, "--rounds", 1), "n": _integer(n, "--n", 1),
        "growth": float(parse_nonnegative(growth, "--growth", "4")),
        "replicates": _integer(replicates, "--replicates", 1),
        "seed": _integer(seed, "--seed", 0), "device": device, "out": out,
        "alpha": None if alpha is None else parse_share(alpha, "--alpha"),
        "lam": None if lam is None else parse_nonnegative(lam, "--lambda", "1"),
        "temperature": float(parse_positive(temperature, "--temperature", "0.8")),
        "self_correct": float(parse_share(self_correct, "--self-correct")),
        "real_data": real_data,
        "dim": _integer(dim, "--dim", 1),
    }
    if real_data not in ("fresh", "pool"):
        raise ValueError(f"--real-data={real_data!r} is not known. Pass fresh or pool.")
    # refuse bad names before the progress bar draws anything (errors stay one line)
    build_model(model)
    build_schedule(schedule, args["alpha"], args["lam"])
    make_p0(data, device=device, dim=args["dim"])
    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("rounds", total=None)
        result = run(model, data, schedule,
                     progress=lambda done, total: bar.update(task, completed=done, total=total),
                     **args)
    summary = result["summary"]
    _emit(summary, "table", f"{model} on {data}, {schedule}")
    Console().print(f"frame: {result['frame']}\nfigure: {result['figure']}")


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

    return proofs_main(list(args), prog="boundkit prove")


def _integer(text: str, option: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{option}={text!r} is not an integer. Pass e.g. {option} 10.") from None
    if value < minimum:
        raise ValueError(f"{option} must be >= {minimum}; got {value}.")
    return value


def _schedules_df(generations, alpha, lam, delta, rate, n, const):
    """All five named schedules side by side; in units of δ unless a source is given."""
    schedules = [
        FullSynthetic(),
        Balanced(),
        ConstantRealShare(parse_share(alpha, "--alpha", allow_zero=False)),
        FixedRatio(parse_nonnegative(lam, "--lambda", "1")),
        FinalRoundRescue(),
    ]
    in_units = delta is None and rate is None and n is None
    source = {"delta": 1} if in_units else _source(delta, rate, n, const)
    df = schedule_table(schedules, parse_generations(generations), **source)
    return df, "R1 bounds by schedule" + (" (units of delta)" if in_units else "")


def main(argv: list[str] | None = None) -> int:
    """Run the app and return the exit code (the console script passes it to sys.exit).

    User errors print one line, ``boundkit: error: ...``, and return 2.
    """
    return run_command(app, argv, "boundkit", (ValueError, ZeroDivisionError, OverflowError))


def run_command(command: click.Command, argv: list[str] | None, prog: str,
                user_errors: tuple[type[Exception], ...]) -> int:
    """Run a click command; usage errors and ``user_errors`` print one line and return 2."""
    try:
        result = command.main(args=argv, prog_name=prog, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.UsageError as exc:
        return _fail(prog, exc.format_message())
    except click.exceptions.Abort:
        return _fail(prog, "aborted.")
    except user_errors as exc:
        return _fail(prog, str(exc))
    return result if isinstance(result, int) else 0


def _fail(prog: str, message: str) -> int:
    sys.stderr.write(f"{prog}: error: " + " ".join(str(message).split()) + "\n")
    return 2
