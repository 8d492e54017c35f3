"""Tables and exports; the import contract (boundkit never imports torch)."""

import json
import math
import subprocess
import sys
from fractions import Fraction

import pandas as pd
import pytest
import sympy as sp

from boundkit import Balanced, FullSynthetic, PowerLaw
from boundkit.errors import InvalidArgument
from boundkit.tables import (
    bound_table,
    export,
    growth_table,
    phase_transition_table,
    records,
    schedule_table,
)


def test_phase_table_columns_and_values():
    df = phase_transition_table(Fraction(1, 4), range(1, 11), exact=True)
    assert list(df.columns) == ["generation", "rate", "rate_float", "convention", "x_critical",
                                "lambda_critical",
                                "lambda_break_even", "ratio_at_peak", "certified",
                                "lambda_critical_exact"]
    assert df["certified"].all()
    assert df.loc[0, "lambda_critical_exact"] == sp.Rational(3, 2)
    assert df.loc[0, "rate"] == "1/4" and df.loc[0, "rate_float"] == 0.25
    assert df["lambda_critical"].is_monotonic_increasing


def test_json_has_no_nan_and_uses_null():
    df = growth_table([1, 10], Fraction(1, 10), PowerLaw(Fraction(1, 4), 1, Fraction(1, 50)))
    text = export(df, "json")
    assert "NaN" not in text and "Infinity" not in text
    rows = json.loads(text)
    # 2(n^{-1/4} + 1/50) ≤ 1/10  ⇔  n ≥ (100/3)^4 = 1234567.9…; 11/50 > 1/10: unreachable
    assert rows[0]["n_required"] == 1234568
    assert rows[1]["n_required"] is None
    assert rows[0]["exponent"] is None
    assert records(pd.DataFrame({"a": [math.nan, math.inf, 1.0]})) == [
        {"a": None}, {"a": None}, {"a": 1.0}]


def test_long_and_wide_schedule_tables_agree():
    long = bound_table([FullSynthetic(), Balanced()], [1, 2, 3], delta=0.5)
    wide = schedule_table([FullSynthetic(), Balanced()], [1, 2, 3], delta=0.5)
    assert wide["full-synthetic"].tolist() == [1.0, 1.5, 2.0]
    assert wide["balanced"].tolist() == long[long.schedule == "balanced"]["bound"].tolist()


def test_latex_is_booktabs_and_markdown_has_header():
    df = phase_transition_table(Fraction(1, 4), [1, 2])
    tex = export(df, "latex")
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "1.5 " in tex and "yes" in tex
    md = export(df, "markdown")
    assert md.splitlines()[0].startswith("|") and "3.30278" in md
    csv = export(df, "csv")
    assert csv.splitlines()[0].startswith("generation,rate,rate_float,convention,x_critical")
    with pytest.raises(InvalidArgument, match="format='xlsx' is not known"):
        export(df, "xlsx")


def test_exact_with_floor_is_refused():
    with pytest.raises(InvalidArgument, match="Drop exact or pass floor=0"):
        phase_transition_table(Fraction(1, 4), [1], floor=0.1, exact=True)


def test_import_does_not_pull_torch():
    code = "import sys, boundkit, boundkit.tables, boundkit.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False"
