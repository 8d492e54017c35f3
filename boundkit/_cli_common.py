"""Pieces every ``boundkit`` subcommand shares: option spellings, refusals, output."""

from __future__ import annotations

import os
import sys
import traceback

import click
import pandas as pd
from click.core import ParameterSource
from rich.console import Console
from rich.table import Table

from boundkit.errors import InvalidArgument, NotCertified
from boundkit.tables import FORMATS, export

#: Most rows printed as a rich table, LaTeX or Markdown (JSON and CSV have no limit).
MAX_TABLE_ROWS = 10_000
#: ``--exact`` (sympy CRootOf) limits: generations per call, and the largest one.
MAX_EXACT_ROWS = 100

GEN_HELP = "N (that generation), A..B, or a comma list; generation i is the model of round i."
FMT_HELP = "table (rich, default), json, csv, latex or markdown."
NO_GEN0 = "R6: round 0 trains on real data only, so it has no phase transition"
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
#: Python parameter names to the options as typed.
OPTION = {"alpha": "--alpha", "lam": "--lambda", "rate": "--rate", "const": "--const",
          "floor": "--floor", "n": "--n", "temperature": "--temperature",
          "self_correct": "--self-correct", "dim": "--dim", "fmt": "--format"}


def spell(name: str) -> str:
    return OPTION.get(name, "--" + name.replace("_", "-"))


def given(*names: str) -> dict[str, bool]:
    """Which options the user typed (not defaults)."""
    ctx = click.get_current_context()
    return {n: ctx.get_parameter_source(n) in (ParameterSource.COMMANDLINE,
                                               ParameterSource.ENVIRONMENT) for n in names}


def refuse_unless(allowed: set[str], context: str, **typed: bool) -> None:
    """Refuse typed options outside ``allowed``, saying which ones apply."""
    for name, was_typed in typed.items():
        if was_typed and name not in allowed:
            ok = ", ".join(spell(a) for a in sorted(allowed)) or "none"
            raise InvalidArgument(f"{spell(name)} does not apply to {context}; the options that "
                                  f"do: {ok}. Drop {spell(name)}.", argument=name)


def check_rows(count: int, fmt: str) -> None:
    if fmt in ("table", "latex", "markdown") and count > MAX_TABLE_ROWS:
        raise InvalidArgument(f"{count:,} rows are too many for --format {fmt} (limit "
                              f"{MAX_TABLE_ROWS:,}). Use --format json or csv for more rows, "
                              f"or pass fewer --generations.", argument="format")


def console() -> Console:
    """A rich console that is as wide as the terminal, and never cuts a table when the
    output is piped or redirected (rich's default there is 80 columns)."""
    return Console(width=None if sys.stdout.isatty() else 10_000)


def emit(df: pd.DataFrame, fmt: str, title: str, **latex) -> None:
    """Print a table as rich (``fmt="table"``) or export it; ``latex`` holds caption,
    label, digits and siunitx for ``--format latex``."""
    if fmt == "table":
        df = df.drop(columns=[c for c in ("rate_float",) if c in df.columns])
        table = Table(title=title)
        for col in df.columns:
            table.add_column(HEADERS.get(col, str(col)), justify="right")
        for row in df.itertuples(index=False):
            table.add_row(*[cell(v) for v in row])
        console().print(table)
    else:
        sys.stdout.write(export(df, fmt, **latex).rstrip("\n") + "\n")


def cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_option(f):
    return click.option("--format", "fmt", type=click.Choice(["table", *FORMATS]),
                        default="table", show_default=True, help=FMT_HELP)(f)


def latex_options(f):
    """--caption, --label, --digits and --siunitx (``--format latex`` only)."""
    f = click.option("--siunitx", is_flag=True,
                     help="latex: numbers as \\num{...} (load siunitx).")(f)
    f = click.option("--digits", type=click.IntRange(1, 17), default=6, show_default=True,
                     help="latex: significant digits of floats.")(f)
    f = click.option("--label", default=None, help="latex: \\label{...} (e.g. tab:phase).")(f)
    return click.option("--caption", default=None,
                        help="latex: wrap the tabular in a table float with this caption.")(f)


def latex_args(fmt: str, caption, label, digits, siunitx) -> dict:
    """The LaTeX options as export() keywords, refused for other formats."""
    typed = given("caption", "label", "digits", "siunitx")
    if fmt != "latex":
        refuse_unless(set(), f"--format {fmt} (they shape LaTeX output)", **typed)
        return {}
    return {"caption": caption, "label": label, "digits": digits, "siunitx": siunitx}


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
