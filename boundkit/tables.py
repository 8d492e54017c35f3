"""Paper-ready tables as pandas DataFrames, exportable as LaTeX, Markdown, CSV and JSON.

One row per generation (generation i is the model p_{i+1} of round i; docs/theory.md §1), in
*long* layout: one column per quantity, plus ``rate``/``convention`` columns when a table
covers several rates or both R6 conventions. :func:`wide` pivots any of them (one column
per rate and convention) for a paper's table.

Rates are kept exact: the ``rate`` column holds the rate as text (``"1/4"``), next to
``rate_float`` (0.25), so JSON keeps ``"1/4"`` beside the float and LaTeX prints
``\frac{1}{4}``. Absent values (no phase transition with a floor, no break-even ratio
under fixed-real, ε below a floor) are NaN/None in the frame, ``null`` in JSON and an em
dash with a footnote in LaTeX; no NaN or inf ever reaches a JSON document.

Examples
--------
>>> from boundkit.tables import phase_transition_table, wide
>>> df = phase_transition_table(["1/4", "1/5"], [1, 2], convention="both")
>>> list(df.columns[:3]), len(df)
(['generation', 'rate', 'rate_float'], 8)
>>> list(wide(df, "lambda_critical").columns)[:2]
['generation', 'lambda_critical[1/4, scaled]']
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from fractions import Fraction

import numpy as np
import pandas as pd
import sympy as sp

from boundkit import latex as _latex
from boundkit._checks import (
    check_choice,
    check_generations,
    check_instance,
    check_rate,
    rate_text,
)
from boundkit.error_models import ErrorModel
from boundkit.errors import InvalidArgument
from boundkit.growth import growth_rows
from boundkit.phase import CONVENTIONS, lambda_critical_exact, phase_transition
from boundkit.recursion import bound_values, round_deltas
from boundkit.schedules import Schedule

FORMATS = ("json", "csv", "latex", "markdown")
LAYOUTS = ("long", "wide")

#: Version of the JSON contract below (2: ``certified`` added to the growth rows; 3:
#: ``convention`` added to the R6 rows, ``lambda_break_even`` null under fixed-real;
#: 4: ``rate`` is the exact rate as text ("1/4") and ``rate_float`` the float beside it).
SCHEMA_VERSION = 4
_PHASE_KEYS = ["generation", "rate", "rate_float", "convention", "x_critical",
               "lambda_critical", "lambda_break_even", "ratio_at_peak", "certified"]
_GROWTH_KEYS = ["generation", "rate", "rate_float", "eps", "n_required", "exponent",
                "certified"]
#: The JSON contract: for each command, the keys of every object of its array.
JSON_CONTRACT = {
    "threshold": _PHASE_KEYS,
    "table phase-transition": _PHASE_KEYS,
    "growth": _GROWTH_KEYS,
    "table growth": _GROWTH_KEYS,
    "bound": ["generation", "schedule", "bound"],
    "table schedules": ["generation", "full-synthetic", "balanced", "constant-real",
                        "fixed-ratio", "final-rescue"],
    "results list": ["config_hash", "model", "data", "schedule", "n", "rounds", "replicates",
                     "seed", "device", "status", "wall_s", "started", "ended", "version",
                     "error"],
}

#: Column captions for LaTeX.
CAPTIONS = {
    "generation": "$i$",
    "rate": "$r$",
    "x_critical": "$x'_i$",
    "lambda_critical": r"$\lambda'_i$",
    "lambda_critical_exact": r"$\lambda'_i$ (exact)",
    "lambda_break_even": r"$\lambda^{=}_i$",
    "ratio_at_peak": r"$B_i(\lambda'_i)/B_i(0)$",
    "convention": "round 0",
    "certified": "certified",
    "eps": r"$\varepsilon$",
    "n_required": "$n$ required",
    "exponent": "growth exponent",
    "bound": "bound",
    "schedule": "schedule",
}
#: Why a cell of a column can be absent: the footnote under a LaTeX table.
ABSENT = {
    "lambda_break_even": "no break-even ratio: none exists under the fixed-real convention "
                         "(B_i(λ) > B_i(0) for every λ > 0), and with a floor B_i may never "
                         "return to B_i(0)",
    "lambda_critical": "no phase transition: with a floor B_i has no interior maximum",
    "x_critical": "no phase transition: with a floor B_i has no interior maximum",
    "ratio_at_peak": "no phase transition: with a floor B_i has no interior maximum",
    "n_required": "ε is at or below the model's floor: no round size reaches it",
    "exponent": "the model's rate is 0: no polynomial growth keeps the error below ε",
}


def _rates(rate) -> list[Fraction]:
    if isinstance(rate, str | bytes | Fraction | int | float | sp.Basic) or not isinstance(
            rate, Iterable):
        items = [rate]
    else:
        items = list(rate)
        if not items:
            raise InvalidArgument("rate is an empty list; pass one rate or a list of rates, "
                                  "e.g. ['1/4', '1/5'].", argument="rate")
    out = [check_rate(r) for r in items]
    if len(set(out)) != len(out):
        raise InvalidArgument(f"rate lists a rate twice: {[rate_text(r) for r in out]}. "
                              f"Pass each rate once.", argument="rate")
    return out


def _conventions(convention) -> list[str]:
    if isinstance(convention, str) and convention == "both":
        return list(CONVENTIONS)
    items = [convention] if isinstance(convention, str) else list(convention)
    return [check_choice(c, CONVENTIONS, "convention") for c in items]


def phase_transition_table(
    rate, generations, *, const=1, n=1, floor=0, exact: bool = False, lam_max=1e12,
    convention="scaled",
) -> pd.DataFrame:
    r"""R6 table of λ'_i, λ⁼_i and the peak ratio, for one or several rates and conventions.

    Parameters
    ----------
    rate : rate or list of rates
        TV rates r in (0, 1), e.g. ``"1/4"`` or ``["1/4", "1/5", "2/5"]``; kept exact.
    generations : int, range or list of int
        Generations i ≥ 1 (generation i is the model p_{i+1} of round i).
    const, n, floor : number
        E1's C, the real sample size and the floor C0 (λ' depends on C and n only
        through a floor).
    exact : bool
        Add ``lambda_critical_exact``, the algebraic λ'_i (a sympy expression: radicals
        for i ≤ 2, else a ``CRootOf``); no floor allowed.
    lam_max : float
        The largest λ searched with a floor.
    convention : str or list of str
        ``"scaled"``, ``"fixed-real"``, a list of them, or ``"both"``.

    Returns
    -------
    pandas.DataFrame
        One row per (rate, convention, generation): ``generation``, ``rate`` (exact text),
        ``rate_float``, ``convention``, ``x_critical``, ``lambda_critical``,
        ``lambda_break_even`` (NaN where none exists), ``ratio_at_peak``, ``certified``.

    Notes
    -----
    .. math::
        B_i(\lambda) = C n^{-r} (1+\lambda)^{1-r} (1 - x^{i+1}),\quad x = rac{\lambda}{1+\lambda}

    (scaled convention; fixed-real: B_i = C n^{-r}[x^i + (1+λ)^{1−r}(1 − x^i)]).

    References
    ----------
    docs/theory.md §4, R6 (the project docs' "Theory" page).

    Examples
    --------
    >>> df = phase_transition_table("1/4", [1, 2])
    >>> df[["generation", "rate", "lambda_critical"]].round(4).values.tolist()
    [[1, '1/4', 1.5], [2, '1/4', 3.3028]]
    """
    rates = _rates(rate)
    conventions = _conventions(convention)
    if exact and floor:
        raise InvalidArgument(
            "exact=True gives the algebraic lambda' of the pure power law; with a floor "
            "there is none. Drop exact or pass floor=0.", argument="exact")
    frames = []
    for q in rates:
        for conv in conventions:
            points = phase_transition(q, generations, const=const, n=n, floor=floor,
                                      lam_max=lam_max, convention=conv)
            df = pd.DataFrame([p.as_dict() for p in points])
            if exact:
                df["lambda_critical_exact"] = [
                    lambda_critical_exact(p.generation, q, convention=conv) for p in points]
            frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    for column in ("x_critical", "lambda_critical", "lambda_break_even", "ratio_at_peak"):
        out[column] = out[column].astype(np.float64)
    return out


def growth_table(generations, eps, model) -> pd.DataFrame:
    r"""R2 table: the round size that keeps generation i within ε (full synthetic).

    Parameters
    ----------
    generations : int, range or list of int
        Generations i ≥ 0.
    eps : number
        Target TV bound ε > 0.
    model : ErrorModel or list of ErrorModel
        Per-round error models (E1–E5), e.g. ``[PowerLaw("1/4"), PowerLaw("1/5")]`` for
        the E2-against-E3 table; one row block per model.

    Returns
    -------
    pandas.DataFrame
        ``generation``, ``rate`` (exact text), ``rate_float``, ``eps``, ``n_required``
        (None when ε is below the model's floor), ``exponent`` (1/r), ``certified``.

    Notes
    -----
    With δ = C n^{-r} and equal rounds, e_{i+1} ≤ (i+1) δ ≤ ε needs

    .. math::
        n \ge \left(\frac{C (i+1)}{\varepsilon}\right)^{1/r}

    (quartic at r = 1/4).

    References
    ----------
    docs/theory.md §4, R2.

    Examples
    --------
    >>> from boundkit import PowerLaw
    >>> growth_table([1, 2], "1/10", PowerLaw("1/4"))["n_required"].tolist()
    [160000, 810000]
    """
    models = [model] if isinstance(model, ErrorModel) else list(model) if isinstance(
        model, list | tuple) else [model]
    if not models:
        raise InvalidArgument("model is an empty list; pass an ErrorModel or a list of them, "
                              "e.g. PowerLaw('1/4').", argument="model")
    frames = []
    for m in models:
        check_instance(m, ErrorModel, "model", "PowerLaw('1/4')")
        frames.append(pd.DataFrame([row.as_dict() for row in growth_rows(generations, eps, m)]))
    df = pd.concat(frames, ignore_index=True)
    df["n_required"] = df["n_required"].astype("object")
    return df


def bound_table(
    schedules: list[Schedule], generations, *, delta=None, model=None, n=None
) -> pd.DataFrame:
    r"""R1 bounds in long layout: ``generation``, ``schedule``, ``bound``.

    Parameters
    ----------
    schedules : list of Schedule
        The mixing schedules (docs/theory.md §4).
    generations : int, range or list of int
        Generations i ≥ 0.
    delta : number, optional
        A constant per-round error δ (give either ``delta`` or ``model`` and ``n``).
    model : ErrorModel, optional
        The per-round error model, evaluated at the round sizes ``n``.
    n : number or callable, optional
        Real samples per round, or a function of the round index.

    Returns
    -------
    pandas.DataFrame
        One row per (schedule, generation); ``bound`` is b_{i+1} of R1.

    Notes
    -----
    .. math::
        b_1 = \delta_0,\qquad b_{i+1} = \delta_i + \sum_k \beta_{i,k} b_k

    References
    ----------
    docs/theory.md §2, R1; §4 for each schedule's closed form.

    Examples
    --------
    >>> from boundkit import FullSynthetic
    >>> bound_table([FullSynthetic()], [0, 1, 2], delta=0.1)["bound"].round(3).tolist()
    [0.1, 0.2, 0.3]
    """
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
    """R1 bounds in wide layout: one column per schedule (for papers).

    Takes the arguments of :func:`bound_table`; the same numbers, pivoted.

    Examples
    --------
    >>> from boundkit import Balanced, FullSynthetic
    >>> schedule_table([FullSynthetic(), Balanced()], [1, 3], delta=1).round(4).values.tolist()
    [[1.0, 2.0, 1.5], [3.0, 4.0, 2.0833]]
    """
    long = bound_table(schedules, generations, **source)
    return wide(long, "bound", columns=("schedule",), names="plain")


def wide(df: pd.DataFrame, values: str, *, columns=None, index: str = "generation",
         names: str = "bracket") -> pd.DataFrame:
    """Pivot a long table: one row per ``index``, one column per value of ``columns``.

    Parameters
    ----------
    df : pandas.DataFrame
        A long table (:func:`phase_transition_table`, :func:`growth_table`,
        :func:`bound_table`).
    values : str
        The quantity to spread, e.g. ``"lambda_critical"``.
    columns : tuple of str, optional
        The columns whose values become column headers; default those of ``rate``,
        ``convention`` and ``schedule`` that take more than one value (or ``rate``).
    index : str
        The row key (``"generation"``).
    names : {"bracket", "plain"}
        ``"bracket"`` names a column ``values[a, b]`` (``lambda_critical[1/4, scaled]``);
        ``"plain"`` names it by the column values alone (``balanced``).

    Returns
    -------
    pandas.DataFrame
        Flat string column names (so CSV, JSON, parquet and LaTeX all take it), in the
        order the values first appear.
    """
    check_instance(df, pd.DataFrame, "df", "phase_transition_table('1/4', range(1, 11))")
    for name in (values, index):
        if name not in df.columns:
            raise InvalidArgument(f"{name!r} is not a column of this table; its columns are "
                                  f"{', '.join(map(str, df.columns))}.", argument="values")
    names = check_choice(names, ("bracket", "plain"), "names")
    if columns is None:
        columns = tuple(c for c in ("rate", "convention", "schedule")
                        if c in df.columns and df[c].nunique() > 1) or (
            ("rate",) if "rate" in df.columns else ())
    columns = tuple(columns)
    if not columns:
        raise InvalidArgument("this table has no rate, convention or schedule column to "
                              "spread; pass columns=(...).", argument="columns")
    for c in columns:
        if c not in df.columns:
            raise InvalidArgument(f"{c!r} is not a column of this table; its columns are "
                                  f"{', '.join(map(str, df.columns))}.", argument="columns")
    keys = list(dict.fromkeys(zip(*(df[c] for c in columns), strict=True)))
    out = pd.DataFrame({index: list(dict.fromkeys(df[index]))})
    for key in keys:
        mask = np.logical_and.reduce([df[c] == k for c, k in zip(columns, key, strict=True)])
        part = df.loc[mask, [index, values]].drop_duplicates(index)
        label = ", ".join(map(str, key))
        name = label if names == "plain" else f"{values}[{label}]"
        out = out.merge(part.rename(columns={values: name}), on=index, how="left")
    return out


def _clean(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Fraction | sp.Basic):
        return str(value)
    return value


def _flat(df: pd.DataFrame) -> pd.DataFrame:
    """Tuple column names (a pandas pivot) as ``first[rest, ...]`` strings."""
    if not any(isinstance(c, tuple) for c in df.columns):
        return df
    def name(c):
        if not isinstance(c, tuple):
            return str(c)
        parts = [str(p) for p in c if str(p) != ""]
        return parts[0] if len(parts) == 1 else f"{parts[0]}[{', '.join(parts[1:])}]"
    out = df.copy()
    out.columns = [name(c) for c in df.columns]
    return out


def records(df: pd.DataFrame) -> list[dict]:
    """Rows as plain-Python dicts, NaN and inf replaced by None (the JSON contract);
    exact values (fractions, sympy expressions) as text."""
    return [{k: _clean(v) for k, v in row.items()} for row in _flat(df).to_dict(orient="records")]


_BRACKET = re.compile(r"^(\w+)\[(.*)\]$")


def _captions(df: pd.DataFrame) -> dict[str, str]:
    out = {}
    for c in map(str, df.columns):
        m = _BRACKET.match(c)
        if c in CAPTIONS:
            out[c] = CAPTIONS[c]
        elif m and m.group(1) in CAPTIONS:
            parts = [rf"$r = \frac{{{p.split('/')[0]}}}{{{p.split('/')[1]}}}$"
                     if re.fullmatch(r"\d+/\d+", p) else _latex.escape(p)
                     for p in m.group(2).split(", ")]
            out[c] = f"{CAPTIONS[m.group(1)]} ({', '.join(parts)})"
    return out


def export(df: pd.DataFrame, fmt: str, *, caption: str | None = None, label: str | None = None,
           digits: int = 6, siunitx: bool = False) -> str:
    r"""The table as ``json`` (array of objects), ``csv``, ``latex`` (booktabs) or ``markdown``.

    Parameters
    ----------
    df : pandas.DataFrame
        Any boundkit table, long or wide; a frame pivoted by pandas (tuple column names)
        is flattened to ``first[rest]`` names.
    fmt : {"json", "csv", "latex", "markdown"}
        The output format.
    caption, label : str, optional
        LaTeX only: wrap the tabular in a ``table`` float with ``\caption``/``\label``.
    digits : int
        LaTeX only: significant digits of floats.
    siunitx : bool
        LaTeX only: numbers as ``\num{...}`` for siunitx.

    Returns
    -------
    str
        The document. In LaTeX every cell is valid LaTeX (see :mod:`boundkit.latex`):
        rates as ``\frac{1}{4}``, exact values through ``sympy.latex``, absent values as
        an em dash with a footnote.

    Examples
    --------
    >>> print(export(phase_transition_table("1/4", [1])[["generation", "rate",
    ...       "lambda_critical"]], "latex"))  # doctest: +NORMALIZE_WHITESPACE
    \begin{tabular}{rrr}
    \toprule
    $i$ & $r$ & $\lambda'_i$ \\
    \midrule
    1 & $\frac{1}{4}$ & 1.5 \\
    \bottomrule
    \end{tabular}
    """
    check_instance(df, pd.DataFrame, "df", "phase_transition_table('1/4', range(1, 11))")
    fmt = check_choice(fmt, FORMATS, "format")
    if fmt != "latex" and (caption is not None or label is not None or siunitx):
        raise InvalidArgument("caption, label and siunitx apply to the latex format only; "
                              "pass fmt='latex' or drop them.", argument="caption")
    flat = _flat(df)
    if fmt == "json":
        return json.dumps(records(flat), indent=2, allow_nan=False)
    if fmt == "csv":
        return flat.to_csv(index=False)
    if fmt == "markdown":
        shown = flat.map(lambda v: str(v) if isinstance(v, Fraction | sp.Basic) else v)
        return shown.to_markdown(index=False, floatfmt=".6g")
    shown = flat.drop(columns=[c for c in ("rate_float",) if c in flat.columns])
    if "rate" in shown.columns:
        shown = shown.assign(rate=[_exact_rate(v) for v in shown["rate"]])
    notes = {}
    for c in map(str, shown.columns):
        m = _BRACKET.match(c)
        key = m.group(1) if m else c
        if key in ABSENT:
            notes[c] = ABSENT[key]
    return _latex.to_latex(shown, captions=_captions(shown), notes=notes, caption=caption,
                           label=label, digits=digits, siunitx=siunitx)


def _exact_rate(value):
    """A rate's text as a Fraction for LaTeX (``"1/4"`` → 1/4); other text unchanged."""
    if isinstance(value, str) and re.fullmatch(r"\d+/\d+", value):
        return Fraction(value)
    return value
