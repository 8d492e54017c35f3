"""Pieces every ``boundkit`` subcommand shares: option spellings, refusals, output."""

from __future__ import annotations

import sys

import click
import pandas as pd
from click.core import ParameterSource
from rich.console import Console
from rich.table import Table

from boundkit.errors import InvalidArgument
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
          "self_correct": "--self-correct", "dim": "--dim"}


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


def emit(df: pd.DataFrame, fmt: str, title: str) -> None:
    if fmt == "table":
        table = Table(title=title)
        for col in df.columns:
            table.add_column(HEADERS.get(col, col), justify="right")
        for row in df.itertuples(index=False):
            table.add_row(*[cell(v) for v in row])
        Console().print(table)
    else:
        sys.stdout.write(export(df, fmt).rstrip("\n") + "\n")


def cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_option(f):
    return click.option("--format", "fmt", type=click.Choice(["table", *FORMATS]),
                        default="table", help=FMT_HELP)(f)


