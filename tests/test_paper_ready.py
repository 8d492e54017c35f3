"""Paper-ready outputs: LaTeX tables, exact rates, pivots, figures, scalars, layering.

Each test is one example of the "paper-ready by default" issue, checked as a user would
see it (the cell text, the JSON value, the exit code), plus the compile check of every
table kind with pdflatex where it is installed.
"""

from __future__ import annotations

import ast
import io
import json
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy as sp

import boundkit as bk
from boundkit.cli import main
from boundkit.errors import InvalidArgument
from boundkit.latex import escape, latex_cell, to_latex
from boundkit.tables import (
    export,
    growth_table,
    phase_transition_table,
    schedule_table,
    wide,
)

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


# --- LaTeX cells ------------------------------------------------------------------------


def test_fixed_real_latex_has_an_em_dash_with_a_footnote_never_none():
    code, out, _ = cli("table", "phase-transition", "--convention", "fixed-real", "--format",
                       "latex", "--generations", "1..3")
    assert code == 0
    assert "None" not in out and "nan" not in out.lower()
    rows = [line for line in out.splitlines() if line.endswith(r"\\") and "---" in line]
    assert len(rows) == 3  # one absent break-even ratio per generation
    assert all("---$^{\\mathrm{a}}$" in row for row in rows)
    assert "$^{\\mathrm{a}}$ no break-even ratio" in out


def test_exact_column_is_latex_and_rates_are_fractions():
    code, out, _ = cli("table", "phase-transition", "--rate", "1/5", "--exact", "--format",
                       "latex", "--generations", "1..3", "--convention", "fixed-real")
    assert code == 0
    assert "CRootOf(" not in out and "**" not in out and "0.2 " not in out
    assert r"\operatorname{CRootOf}" in out
    assert r"$\frac{1}{5}$" in out
    # λ'_1 fixed-real at r = 1/5 is r^{-1/(1-r)} - 1 = 5^{5/4} - 1 = -1 + 5 \sqrt[4]{5}
    assert r"$-1 + 5 \sqrt[4]{5}$" in out


def test_json_keeps_the_exact_rate_beside_the_float():
    for args in (("threshold", "--rate", "1/4"), ("growth", "--rate", "1/5"),
                 ("table", "phase-transition", "--rate", "1/4,1/5")):
        code, out, _ = cli(*args, "--generations", "1", "--format", "json")
        assert code == 0
        for row in json.loads(out):
            assert Fraction(row["rate"]) == Fraction(row["rate_float"]).limit_denominator(100)
            assert "/" in row["rate"]


def test_a_pandas_pivot_exports_in_every_format():
    df = phase_transition_table(["1/4", "1/5"], [1, 2], convention="both")
    pivot = df.pivot(index="generation", columns=["rate", "convention"],
                     values="lambda_critical").reset_index()
    for fmt in ("latex", "markdown", "csv", "json"):
        text = export(pivot, fmt)
        assert "1/4[fixed-real]" in text or r"1/4[fixed-real]" in text.replace("\\", "")
    rows = json.loads(export(pivot, "json"))
    assert rows[0]["1/4[scaled]"] == pytest.approx(1.5, rel=1e-12)


def test_several_rates_and_both_conventions_long_and_wide():
    df = phase_transition_table(["1/4", "1/5"], [1, 2, 3], convention="both")
    assert len(df) == 2 * 2 * 3
    assert set(zip(df.rate, df.convention, strict=True)) == {
        ("1/4", "scaled"), ("1/4", "fixed-real"), ("1/5", "scaled"), ("1/5", "fixed-real")}
    w = wide(df, "lambda_critical")
    assert list(w.columns) == ["generation", "lambda_critical[1/4, scaled]",
                               "lambda_critical[1/4, fixed-real]",
                               "lambda_critical[1/5, scaled]",
                               "lambda_critical[1/5, fixed-real]"]
    # λ'_1 = (1 - r)/(2r): 3/2 at 1/4 and 2 at 1/5 (scaled)
    assert w["lambda_critical[1/4, scaled]"].iloc[0] == pytest.approx(1.5, rel=1e-12)
    assert w["lambda_critical[1/5, scaled]"].iloc[0] == pytest.approx(2.0, rel=1e-12)
    tex = export(w, "latex", caption="Critical ratios", label="tab:lc")
    assert r"\caption{Critical ratios}" in tex and r"\label{tab:lc}" in tex
    assert r"$r = \frac{1}{5}$, fixed-real" in tex


def test_growth_over_rates_is_quartic_against_quintic():
    df = growth_table([1, 2], "1/10", [bk.PowerLaw("1/4"), bk.PowerLaw("1/5")])
    w = wide(df, "n_required")
    # n = ((i+1)/ε)^{1/r}: 20^4 = 160000 and 20^5 = 3200000 at generation 1
    assert w["n_required[1/4]"].tolist() == [160000, 810000]
    assert w["n_required[1/5]"].tolist() == [3200000, 24300000]


def test_latex_cells_and_escaping():
    assert latex_cell(Fraction(1, 4)) == r"$\frac{1}{4}$"
    assert latex_cell(1.5e-9, digits=3) == r"$1.5 \times 10^{-9}$"
    assert latex_cell(1.5e-9, siunitx=True) == r"\num{1.5e-09}"
    assert latex_cell(float("nan")) is None and latex_cell(None) is None
    assert latex_cell(sp.sqrt(13) / 2) == r"$\frac{\sqrt{13}}{2}$"
    assert escape("a_b & 50% <= 1") == r"a\_b \& 50\% $\le$ 1"
    with pytest.raises(InvalidArgument, match="label may hold"):
        to_latex(pd.DataFrame({"a": [1]}), label="bad label}")
    with pytest.raises(InvalidArgument, match="caption, label and siunitx apply to the latex"):
        export(pd.DataFrame({"a": [1]}), "csv", caption="x")


def test_proofs_appendix_writes_inequalities_as_math():
    from proofs.report import latex_text

    assert latex_text("e <= 2 delta, n >= 1") == r"e $\le$ 2 delta, n $\ge$ 1"
    assert latex_text("a < b") == "a $<$ b" and latex_text("a > b") == "a $>$ b"


TABLES = {
    "phase-transition, fixed-real, exact, caption": (
        "table", "phase-transition", "--convention", "fixed-real", "--exact",
        "--generations", "1..3", "--caption", "Critical ratios & more", "--label", "tab:pt"),
    "phase-transition, wide, both": (
        "table", "phase-transition", "--rate", "1/4,1/5", "--convention", "both", "--layout",
        "wide", "--value", "lambda_break_even", "--generations", "1..4"),
    "phase-transition with a floor": (
        "threshold", "--floor", "0.999", "--rate", "0.9999999999", "--const", "1e-300",
        "--n", "1e300", "--generations", "1..2"),
    "growth, wide, siunitx": ("table", "growth", "--rate", "1/4,1/5", "--layout", "wide",
                              "--siunitx"),
    "growth with a floor": ("growth", "--model", "gaussian-mle", "--eps", "1/1000"),
    "schedules": ("table", "schedules", "--generations", "1..5"),
    "bound": ("bound", "--schedule", "balanced", "--delta", "0.1"),
}


@pytest.mark.parametrize("name", list(TABLES))
def test_every_table_kind_compiles_with_pdflatex(name, tmp_path):
    code, body, err = cli(*TABLES[name], "--format", "latex")
    assert code == 0, err
    assert "None" not in body and "nan" not in body
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip("pdflatex is not installed (apt-get install texlive-latex-recommended)")
    siunitx = r"\usepackage{siunitx}" if "--siunitx" in TABLES[name] else ""
    if siunitx and subprocess.run(["kpsewhich", "siunitx.sty"], capture_output=True,
                                  text=True).stdout.strip() == "":
        body = body.replace(r"\num{", "{")  # the cells stay valid without the package
        siunitx = ""
    (tmp_path / "t.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs,amsmath}\n" + siunitx
        + "\n\\begin{document}\n" + body + "\n\\end{document}\n", encoding="utf-8")
    run = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000


# --- scalars, public types, submodules ----------------------------------------------


def test_scalar_in_scalar_out():
    value = bk.lambda_critical(1, "1/4")
    assert isinstance(value, float) and value == pytest.approx(1.5, rel=1e-14)
    arr = bk.lambda_critical([1], "1/4")
    assert isinstance(arr, np.ndarray) and arr.shape == (1,)
    assert isinstance(bk.lambda_critical(np.int64(2), "1/4", convention="fixed-real"), float)
    assert bk.bounds(bk.FullSynthetic(), 1, delta=0.1) == pytest.approx(0.2, rel=1e-14)
    assert isinstance(bk.bounds(bk.FullSynthetic(), [1], delta=0.1), np.ndarray)
    assert isinstance(bk.folded_normal_mean(0.0, 1.0), float)
    assert bk.folded_normal_mean([0.0], [1.0]).shape == (1,)
    assert isinstance(bk.risk(1, 0.5, "1/4"), float)


def test_public_types_and_submodules():
    from boundkit.phase import Enclosure, PhasePoint

    e = bk.lambda_critical_certified(1, "1/4")
    assert isinstance(e, Enclosure) and type(e).__module__ == "boundkit.phase"
    assert bk.Enclosure is Enclosure and PhasePoint.__module__ == "boundkit.phase"
    assert bk.tables.wide is wide and bk.latex.escape is escape
    import simulations
    import simulations.sweeps

    assert type(simulations.sweeps).__name__ == "module" and callable(simulations.sweep)
    assert simulations.report.errors_figure and simulations.verify.verify
    import proofs

    assert proofs.report.latex_text("a") == "a"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_boundkit_never_imports_the_upper_floors():
    for path in (ROOT / "boundkit").glob("*.py"):
        bad = {m for m in _imports(path) if m.split(".")[0] in ("simulations", "proofs", "torch")}
        assert not bad, f"{path.name} imports {bad}"


def test_the_phase_modules_do_not_import_each_other_in_a_circle():
    for name in ("phase_fixed", "phase_floor", "_phase_core", "_phase_arb", "_phase_float"):
        imported = _imports(ROOT / "boundkit" / f"{name}.py")
        assert "boundkit.phase" not in imported, name
    assert "boundkit.phase_floor" not in _imports(ROOT / "boundkit" / "phase_fixed.py")
    assert "boundkit.phase_fixed" not in _imports(ROOT / "boundkit" / "phase_floor.py")


def test_proofs_cli_does_not_import_the_boundkit_cli():
    assert "boundkit.cli" not in _imports(ROOT / "proofs" / "cli.py")


# --- CLI conventions ----------------------------------------------------------------


def test_help_shows_defaults():
    code, out, _ = cli("threshold", "--help")
    assert code == 0 and "[default: 1/4]" in out and "[default: scaled]" in out
    code, out, _ = cli("bound", "--help")
    assert "constant-real (default 1/2)" in out
    code, out, _ = cli("simulate", "--help")
    assert "[default: 500]" in out and "--format" in out


def test_refusals_name_options_as_typed():
    code, _, err = cli("table", "growth", "--floor", "0.1")
    assert code == 2 and "--format" in err and "--fmt" not in err
    code, _, err = cli("growth", "--rate", "1/4", "--model", "li2023")
    assert code == 2 and "--rate does not apply to model li2023" in err


def test_simulate_takes_format(tmp_path):
    code, out, _ = cli("simulate", "gaussian-mle", "--rounds", "2", "--n", "50",
                       "--schedule", "fixed-ratio", "--lambda", "3", "--format", "json",
                       "--out", str(tmp_path / "o"))
    assert code == 0
    rows = json.loads(out)  # stdout holds the JSON alone
    # n is the round's training-set size (1+λ)n; real_share says why: α = 1/(1+λ)
    assert [r["n"] for r in rows] == [200, 200]
    assert [r["real_share"] for r in rows] == [1.0, 0.25]


def test_rich_tables_are_not_cut_when_piped(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "boundkit", "threshold", "--rate", "1/4,1/5",
                           "--convention", "fixed-real", "--generations", "1..3", "--exact"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout and "CRootOf(8*y**7 - 5*y**4 - 8*y**3 + 2, 1)" in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) > 80


def test_unreachable_dask_and_missing_slurm_are_user_errors(tmp_path, monkeypatch):
    spec = tmp_path / "s.toml"
    spec.write_text('model = "gaussian-mle"\ndata = "gaussian"\nn = 20\nrounds = 2\n')
    code, _, err = cli("sweep", str(spec), "--store", str(tmp_path / "s.db"), "--dask",
                       "tcp://127.0.0.1:9")
    assert code == 2 and "--dask='tcp://127.0.0.1:9'" in err and "--dask local" in err
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no srun
    code, _, err = cli("sweep", str(spec), "--store", str(tmp_path / "s.db"), "--slurm", "p")
    assert code == 2 and "--slurm='p' needs Slurm" in err
    assert not (tmp_path / "s.db").exists()  # a refusal creates nothing


# --- data interfaces ----------------------------------------------------------------


def test_store_export_uses_plain_names_and_round_trips_through_parquet(tmp_path):
    from simulations import LoopConfig, ResultStore, sweep

    configs = [LoopConfig(model="gaussian-mle", data="gaussian", n=20, rounds=2, seed=s)
               for s in (0, 1)]
    with ResultStore(tmp_path / "s.db") as db:
        assert sweep(configs, store=db, workers=1).finished == 2
        runs, frame = db.runs(), db.export()
    for column in ("model", "data", "schedule", "n", "alpha", "seed", "n_round", "real_share"):
        assert column in frame.columns
    assert not [c for c in frame.columns if c.startswith("config.")]
    assert set(frame["model"]) == set(runs["model"]) == {"gaussian-mle"}
    assert frame["alpha"].map(lambda v: v is None).all()
    frame.to_parquet(tmp_path / "x.parquet", index=False)
    back = pd.read_parquet(tmp_path / "x.parquet")
    assert back["alpha"].map(lambda v: v is None).all()  # None, not NaN
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_plots_return_matplotlib_figures(tmp_path):
    from matplotlib.figure import Figure

    from simulations.report import errors_figure, simulate

    result = simulate("gaussian-mle", "gaussian", "replace", rounds=3, n=50, out=tmp_path)
    fig = errors_figure(result["summary"], "t")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("generation") and ax.get_ylabel() == "total variation"
    assert {"n", "real_share"} <= set(result["summary"].columns)


def test_sweep_workers_run_one_intra_op_thread():
    import concurrent.futures as cf

    from simulations import LoopConfig, sweep

    class Recording(cf.Executor):
        def __init__(self):
            self.threads = []

        def submit(self, fn, *args):
            self.threads.append(args[1])
            future = cf.Future()
            future.set_result({"error": "not run", "meta": {}})
            return future

    pool = Recording()
    sweep([LoopConfig(model="gaussian-mle", data="gaussian", n=20, rounds=1)], executor=pool,
          store=":memory:")
    assert pool.threads == [1]


def test_schedule_table_is_wide_by_schedule():
    df = schedule_table([bk.FullSynthetic(), bk.Balanced()], [1, 3], delta=1)
    assert list(df.columns) == ["generation", "full-synthetic", "balanced"]
    assert df["balanced"].tolist() == pytest.approx([1.5, 25 / 12], rel=1e-14)  # H_2, H_4


def test_docs_build_serves_mathjax_and_shows_no_raw_markup(tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run([str(Path(sys.executable).parent / "mkdocs"), "build", "--strict",
                           "-q", "-d", str(site)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (site / "javascripts" / "mathjax" / "tex-chtml.js").stat().st_size > 100_000
    fonts = list((site / "javascripts" / "mathjax" / "output" / "chtml" / "fonts").rglob("*"))
    assert fonts
    pages = list(site.rglob("*.html"))
    assert len(pages) > 20
    raw = re.compile(r":(mod|func|class|meth|attr|data):`|\.\. math::|Sentinel\.UNSET")
    for page in pages:
        text = page.read_text(encoding="utf-8")
        scripts = re.findall(r'<script[^>]+src="([^"]+)"', text)
        assert not [s for s in scripts if s.startswith(("http:", "https:", "//"))], page
        assert "unpkg" not in text and "jsdelivr" not in text, page
        assert not raw.search(text), (page, raw.search(text))
        # every \( ... \) sits inside an arithmatex span that MathJax renders
        outside = re.sub(r'<span class="arithmatex">.*?</span>', "", text, flags=re.S)
        outside = re.sub(r"<(pre|code)[^>]*>.*?</\1>", "", outside, flags=re.S)
        assert "\\(" not in outside, page


def _public_objects():
    import inspect

    import proofs
    import simulations

    for module in (bk, simulations, proofs):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield f"{module.__name__}.{name}", obj


# ids from the names only: an object's repr carries its address, which differs between
# the xdist workers' collections
@pytest.mark.parametrize("name, obj", list(_public_objects()),
                         ids=[name for name, _ in _public_objects()])
def test_every_public_object_has_a_numpydoc_docstring(name, obj):
    import inspect

    doc = inspect.getdoc(obj) or ""
    lines = doc.splitlines()
    assert lines and lines[0].strip(), f"{name}: no summary line"

    def section(title: str) -> bool:
        return any(line.strip() == title and k + 1 < len(lines)
                   and set(lines[k + 1].strip()) == {"-"} for k, line in enumerate(lines))

    if inspect.isclass(obj):
        try:
            params = inspect.signature(obj).parameters
        except ValueError:  # a builtin-derived exception: no signature, its message is all
            params = {}
        fields = [p for p in params if p not in ("args", "kwargs")]
        if fields:
            assert section("Parameters") or section("Attributes"), name
    else:
        if [p for p in inspect.signature(obj).parameters if p not in ("args", "kwargs")]:
            assert section("Parameters"), f"{name}: no Parameters section"
        assert section("Returns"), f"{name}: no Returns section"
