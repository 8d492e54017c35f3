r"""LaTeX for papers: every cell of a boundkit table as valid LaTeX.

:func:`boundkit.tables.export` with ``fmt="latex"`` calls :func:`to_latex`. The rules:

- exact values (sympy expressions, rational rates) go through ``sympy.latex``: the rate
  1/4 prints as ``$\frac{1}{4}$``, an exact λ' as its algebraic form, never as sympy's
  plain text;
- floats print with ``digits`` significant digits, in scientific notation as
  ``$1.23 \times 10^{5}$``, or as ``\num{1.23e5}`` with ``siunitx=True`` (load
  ``\usepackage{siunitx}``);
- an absent value (no break-even ratio under fixed-real, no phase transition with a floor,
  ε below a floor) prints as an em dash ``---`` with a footnote mark, and the reason is
  written under the table, never ``None`` or ``nan``;
- ``caption``/``label`` wrap the tabular in a floating ``table`` environment.

The output needs ``\usepackage{booktabs}`` (and ``amsmath`` for ``\operatorname`` in
exact roots, siunitx with ``siunitx=True``).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pandas as pd
import sympy as sp

from boundkit._checks import check_instance
from boundkit.errors import InvalidArgument

__all__ = ["escape", "latex_cell", "to_latex"]

#: LaTeX's special characters in text and their escapes ("<" and ">" print as ¡ and ¿ in
#: LaTeX's default OT1 text font, so they become math).
_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
            "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
            "^": r"\textasciicircum{}", "<=": r"$\le$", ">=": r"$\ge$", "<": "$<$",
            ">": "$>$"}
_SPECIAL_RE = re.compile("|".join(re.escape(k) for k in sorted(_SPECIAL, key=len,
                                                               reverse=True)))
#: Unicode in boundkit's text (titles, notes, rule text) as ASCII LaTeX.
_UNICODE = {
    "δ": r"$\delta$", "ε": r"$\varepsilon$", "λ": r"$\lambda$", "α": r"$\alpha$",
    "β": r"$\beta$", "π": r"$\pi$", "τ": r"$\tau$", "σ": r"$\sigma$", "μ": r"$\mu$",
    "η": r"$\eta$", "γ": r"$\gamma$", "Σ": r"$\Sigma$", "Θ": r"$\Theta$", "≤": r"$\le$",
    "≥": r"$\ge$", "≍": r"$\asymp$", "∝": r"$\propto$", "→": r"$\to$", "∈": r"$\in$",
    "−": "-", "–": "--", "—": "---", "…": r"\ldots{}", "·": r"$\cdot$",
    "²": r"\textsuperscript{2}", "⁴": r"\textsuperscript{4}", "⁵": r"\textsuperscript{5}",
    "√": r"$\surd$", "§": r"\S{}", "’": "'", "′": "'", "±": r"$\pm$", "≈": r"$\approx$",
    "∞": r"$\infty$", "⁼": r"$^{=}$", "×": r"$\times$", "ψ": r"$\psi$", "ρ": r"$\rho$",
}
MARKS = "abcdefghijklmnopqrstuvwxyz"


def escape(text: object) -> str:
    r"""Plain text as pure-ASCII LaTeX: special characters escaped, ``<=``/``>=``/``<``/``>``
    and Greek letters as math; any other non-ASCII character becomes ``?``.

    Examples
    --------
    >>> print(escape("λ <= 1 & 50%"))
    $\lambda$ $\le$ 1 \& 50\%
    """
    out = _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group(0)], str(text))
    return "".join(_UNICODE.get(ch, ch if ord(ch) < 128 else "?") for ch in out)


def _number(value: float, digits: int, siunitx: bool) -> str:
    text = f"{value:.{digits}g}"
    if siunitx:
        return rf"\num{{{text}}}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = f"10^{{{int(exponent)}}}"
    return f"${power}$" if mantissa in ("1", "1.0") else rf"${mantissa} \times {power}$"


def latex_cell(value: object, *, digits: int = 6, siunitx: bool = False) -> str | None:
    """One cell as LaTeX, or None for an absent value (the caller prints the em dash).

    Examples
    --------
    >>> print(latex_cell(Fraction(1, 4)))
    $\\frac{1}{4}$
    >>> print(latex_cell(123456789.0, digits=3))
    $1.23 \\times 10^{8}$
    >>> latex_cell(None) is None
    True
    """
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, Fraction):
        value = sp.Rational(value.numerator, value.denominator)
    if isinstance(value, sp.Basic):
        return f"${sp.latex(value)}$"
    if isinstance(value, int | np.integer):
        return _big_int(int(value), digits, siunitx) if abs(int(value)) >= 10**15 \
            else str(int(value))
    if isinstance(value, float | np.floating):
        if not math.isfinite(float(value)):
            return None
        return _number(float(value), digits, siunitx)
    return escape(value)


def _big_int(value: int, digits: int, siunitx: bool) -> str:
    """An integer of any size in scientific notation, from its digits (no float)."""
    text = str(abs(value))
    mantissa = text[0] + ("." + text[1:digits].rstrip("0") if text[1:digits].strip("0") else "")
    sign = "-" if value < 0 else ""
    if siunitx:
        return rf"\num{{{sign}{mantissa}e{len(text) - 1}}}"
    return rf"${sign}{mantissa} \times 10^{{{len(text) - 1}}}$"


def _header(column: object, captions: dict[str, str]) -> str:
    if isinstance(column, tuple):
        return ", ".join(_header(part, captions) for part in column if str(part) != "")
    return captions.get(str(column), escape(str(column).replace("_", " ")))


def to_latex(df: pd.DataFrame, *, captions: dict[str, str] | None = None,
             notes: dict[str, str] | None = None, caption: str | None = None,
             label: str | None = None, digits: int = 6, siunitx: bool = False) -> str:
    r"""A booktabs ``tabular`` (in a ``table`` float when ``caption`` or ``label`` is given).

    Parameters
    ----------
    df : pandas.DataFrame
        The table; MultiIndex columns (a pivoted frame) become "a, b" headers.
    captions : dict, optional
        Column name → LaTeX header (e.g. ``{"lambda_critical": r"$\lambda'_i$"}``).
    notes : dict, optional
        Column name → why a value of that column can be absent; printed as a footnote
        under the table when the column has an absent cell.
    caption, label : str, optional
        ``\caption{...}`` (escaped as text) and ``\label{...}``.
    digits : int
        Significant digits of floats (1–17).
    siunitx : bool
        Numbers as ``\num{...}`` (needs ``\usepackage{siunitx}``).

    Returns
    -------
    str
        LaTeX source that compiles with ``booktabs`` and ``amsmath`` loaded.
    """
    check_instance(df, pd.DataFrame, "df", "phase_transition_table('1/4', range(1, 11))")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 17:
        raise InvalidArgument(f"digits must be an integer in 1..17; got {digits!r}. Pass e.g. "
                              f"digits=6.", argument="digits")
    if label is not None and not re.fullmatch(r"[A-Za-z0-9:._-]+", str(label)):
        raise InvalidArgument(f"label may hold letters, digits and ':._-' only; got {label!r}. "
                              f"Pass e.g. label='tab:phase'.", argument="label")
    captions, notes = captions or {}, notes or {}
    used: dict[str, str] = {}
    body = []
    for row in df.itertuples(index=False, name=None):
        cells = []
        for column, value in zip(df.columns, row, strict=True):
            text = latex_cell(value, digits=digits, siunitx=siunitx)
            if text is None:
                key = column[0] if isinstance(column, tuple) else column
                reason = notes.get(str(key), "not defined or not computed here")
                mark = used.setdefault(reason, MARKS[len(used) % len(MARKS)])
                text = f"---$^{{\\mathrm{{{mark}}}}}$"
            cells.append(text)
        body.append(" & ".join(cells) + r" \\")
    head = " & ".join(_header(c, captions) for c in df.columns) + r" \\"
    lines = [rf"\begin{{tabular}}{{{'r' * max(df.shape[1], 1)}}}", r"\toprule", head,
             r"\midrule", *body, r"\bottomrule", r"\end{tabular}"]
    for reason, mark in used.items():
        lines.append(rf"\par\smallskip{{\footnotesize $^{{\mathrm{{{mark}}}}}$ "
                     rf"{escape(reason)}}}")
    if caption is None and label is None:
        return "\n".join(lines) + "\n"
    wrapped = [r"\begin{table}[htbp]", r"\centering"]
    if caption is not None:
        wrapped.append(rf"\caption{{{escape(caption)}}}")
    if label is not None:
        wrapped.append(rf"\label{{{label}}}")
    return "\n".join([*wrapped, *lines, r"\end{table}"]) + "\n"
