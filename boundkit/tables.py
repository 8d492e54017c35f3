"""Paper-ready tables as pandas DataFrames, exportable as LaTeX, Markdown, CSV and JSON.

One row per generation (generation i is the model p_{i+1} of round i). Missing
values (no phase transition, ε below a floor) are NaN in the frame and ``null``
in JSON; no NaN or inf ever reaches a JSON document.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from boundkit._checks import check_generations, check_instance
from boundkit.error_models import ErrorModel
from boundkit.errors import InvalidArgument
from boundkit.growth import growth_rows
from boundkit.phase import lambda_critical_exact, phase_transition
from boundkit.recursion import bound_values, round_deltas
from boundkit.schedules import Schedule

FORMATS = ("json", "csv", "latex", "markdown")

#: Version of the JSON contract below (2: ``certified`` added to the growth rows; 3:
#: ``convention`` added to the R6 rows, ``lambda_break_even`` null under fixed-real).
SCHEMA_VERSION = 3
#: The JSON contract: for each command, the keys of every object of its array.
JSON_CONTRACT = {
    "threshold": ["generation", "rate", "convention", "x_critical", "lambda_critical",
                  "lambda_break_even", "ratio_at_peak", "certified"],
    "table phase-transition": ["generation", "rate", "convention", "x_critical",
                               "lambda_critical", "lambda_break_even", "ratio_at_peak",
                               "certified"],
    "growth": ["generation", "rate", "eps", "n_required", "exponent", "certified"],
    "table growth": ["generation", "rate", "eps", "n_required", "exponent", "certified"],
    "bound": ["generation", "schedule", "bound"],
    "table schedules": ["generation", "full-synthetic", "balanced", "constant-real",
                        "fixed-ratio", "final-rescue"],
    "results list": ["config_hash", "model", "data", "schedule", "n", "rounds", "replicates",
                     "seed", "device", "status", "wall_s", "started", "ended", "version",
                     "error"],
}

#: Column captions for LaTeX and Markdown.
CAPTIONS = {
    "generation": "$i$",
    "rate": "$r$",
    "x_critical": "$x'_i$",
    "lambda_critical": r"$\lambda'_i$",
    "lambda_break_even": r"$\lambda^{=}_i$",
    "ratio_at_peak": r"$B_i(\lambda')/B_i(0)$",
    "convention": "round 0",
    "certified": "certified",
    "eps": r"$\varepsilon$",
    "n_required": "$n$ required",
    "exponent": "growth exponent",
    "bound": "bound",
    "schedule": "schedule",
}


def phase_transition_table(
    rate, generations, *, const=1, n=1, floor=0, exact: bool = False, lam_max=1e12,
    convention: str = "scaled",
) -> pd.DataFrame:
    """R6 table: generation, rate, convention, x_critical, lambda_critical,
    lambda_break_even (null under fixed-real), ratio_at_peak, certified (and
    ``lambda_critical_exact`` with ``exact=True``)."""
    points = phase_transition(rate, generations, const=const, n=n, floor=floor, lam_max=lam_max,
                              convention=convention)
    df = pd.DataFrame([p.as_dict() for p in points])
    if exact:
        if floor:
            raise InvalidArgument(
                "exact=True gives the algebraic lambda' of the pure power law; with a floor "
                "there is none. Drop exact or pass floor=0.", argument="exact")
        df["lambda_critical_exact"] = [
            str(lambda_critical_exact(p.generation, rate, convention=convention))
            for p in points]
    return df


def growth_table(generations, eps, model: ErrorModel) -> pd.DataFrame:
    """R2 table: generation, rate, eps, n_required, exponent."""
    df = pd.DataFrame([row.as_dict() for row in growth_rows(generations, eps, model)])
    df["n_required"] = df["n_required"].astype("object")
    return df


def bound_table(
    schedules: list[Schedule], generations, *, delta=None, model=None, n=None
) -> pd.DataFrame:
    """R1 bounds, long format: generation, schedule, bound."""
    gens = check_generations(generations, minimum=0)
    idx = np.asarray(gens)
    frames = []
    for s in schedules:
        d = round_deltas(s, max(gens), delta=delta, model=model, n=n)
        frames.append(pd.DataFrame({
            "generation": gens, "schedule": s.name, "bound": bound_values(s, d)[idx],
        }))
    return pd.concat(frames, ignore_index=True)


def schedule_table(schedules: list[Schedule], generations, **source) -> pd.DataFrame:
    """R1 bounds, wide format: one column per schedule (for papers)."""
    long = bound_table(schedules, generations, **source)
    wide = long.pivot(index="generation", columns="schedule", values="bound")
    return wide[[s.name for s in schedules]].reset_index().rename_axis(columns=None)


def _clean(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(df: pd.DataFrame) -> list[dict]:
    """Rows as plain-Python dicts, NaN and inf replaced by None (the JSON contract)."""
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def export(df: pd.DataFrame, fmt: str) -> str:
    """The table as ``json`` (array of objects), ``csv``, ``latex`` (booktabs) or ``markdown``."""
    check_instance(df, pd.DataFrame, "df", "phase_transition_table('1/4', range(1, 11))")
    if fmt not in FORMATS:
        raise InvalidArgument(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}.",
                              argument="format")
    if fmt == "json":
        return json.dumps(records(df), indent=2, allow_nan=False)
    if fmt == "csv":
        return df.to_csv(index=False)
    shown = df.rename(columns={c: CAPTIONS.get(c, c.replace("_", " ")) for c in df.columns})
    if fmt == "markdown":
        return shown.to_markdown(index=False, floatfmt=".6g")
    styler = shown.style.hide(axis="index").format(precision=6, na_rep="--")
    styler = styler.format(_latex_cell)
    return styler.to_latex(hrules=True, column_format="r" * shown.shape[1])


def _latex_cell(value) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return "--" if not math.isfinite(value) else f"{value:.6g}"
    return str(value).replace("_", r"\_")
