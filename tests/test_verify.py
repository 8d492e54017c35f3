"""boundkit verify: verdict rules, fits, the report's artefacts, the CLI and the --full path."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from boundkit.cli import main
from boundkit.errors import InvalidArgument
from simulations.verify import Scale, resolve, verify
from simulations.verify.fits import _noise_for, fit_rate
from simulations.verify.rules import (
    WORDS,
    bound_verdict,
    equivalence_verdict,
    holm_rejects,
    monotone_verdict,
    peak_verdict,
    u_shape_verdict,
)

TINY = Scale("tiny", reps=6, reps_2d=2, sizes=(100, 200, 400), n=100, rounds=3, long_rounds=4,
             diffusion_sizes=(32, 64, 128), diffusion_reps=2, mlp_steps=20,
             diffusion_models=())
KEYS = {"claim", "kind", "model", "data", "verdict", "statistic", "detail", "setting",
        "schedule", "convention", "scale", "replicates", "replicates_needed"}


def test_holm_step_down():
    # sorted p: .01 <= .05/3, .02 <= .05/2, .04 <= .05/1: all rejected
    assert holm_rejects([0.04, 0.01, 0.02]).tolist() == [True, True, True]
    # .03 > .05/2 stops the procedure: only the smallest is rejected
    assert holm_rejects([0.01, 0.03, 0.04]).tolist() == [True, False, False]


def _around(means, spread, reps=30, seed=0):
    """Replicate values (reps, k) with exactly the given column means."""
    z = np.random.default_rng(seed).standard_normal((reps, len(means)))
    z = (z - z.mean(0)) / z.std(0, ddof=1)
    return np.asarray(means, float) + np.asarray(spread, float) * z


def test_bound_rule_three_ways():
    b = np.array([1.0, 1.0])
    assert bound_verdict(_around([0.5, 0.6], 0.05), b)[0] == "holds"
    assert bound_verdict(_around([0.5, 1.3], 0.05), b)[0] == "violated"
    assert bound_verdict(_around([0.5, 1.01], 0.05), b)[0] == "inconclusive"
    # an excess below the 2 % minimum effect is never called a violation
    assert bound_verdict(_around([1.015], 1e-6), [1.0])[0] == "inconclusive"
    # a fitted bound's own uncertainty can make a clear pass inconclusive
    assert bound_verdict(_around([0.9], 0.01), [1.0], bound_se=[0.2])[0] == "inconclusive"


def test_rules_refuse_nan():
    values = _around([0.5, 0.6], 0.05)
    values[3, 1] = np.nan
    with pytest.raises(InvalidArgument, match="NaN"):
        bound_verdict(values, [1.0, 1.0])
    with pytest.raises(InvalidArgument, match="NaN"):
        holm_rejects([0.01, np.nan])
    with pytest.raises(InvalidArgument, match="estimates"):
        equivalence_verdict(np.nan, 0.01, 0.4, 0.05)


def test_equivalence_rule_three_ways():
    assert equivalence_verdict(0.41, 0.01, 0.4, 0.05) == "holds"
    assert equivalence_verdict(0.60, 0.01, 0.4, 0.05) == "violated"
    assert equivalence_verdict(0.46, 0.05, 0.4, 0.05) == "inconclusive"
    # violated needs the better one-sided p doubled below α: z = 1.8 is not enough
    assert equivalence_verdict(0.4 + 0.05 + 1.8 * 0.01, 0.01, 0.4, 0.05) == "inconclusive"


def test_u_shape_rule_three_ways():
    spread = [0.01] * 5
    assert u_shape_verdict(_around([0.5, 0.3, 0.1, 0.2, 0.4], spread), 2) == "holds"
    assert u_shape_verdict(_around([0.5, 0.4, 0.3, 0.2, 0.1], spread), 2) == "violated"
    # the data's minimum at an end, but not monotone: no verdict either way
    assert u_shape_verdict(_around([0.5, 0.3, 0.35, 0.2, 0.1], [0.3] * 5), 2) == \
        "inconclusive"
    with pytest.raises(ValueError, match="interior"):
        u_shape_verdict(_around([0.5, 0.4, 0.3], [0.01] * 3), 0)


def test_peak_and_monotone_rules():
    window = [False, False, True, True, False]
    peak = _around([0.20, 0.21, 0.26, 0.24, 0.2], [0.02] * 5)
    assert peak_verdict(peak, window)[0] == "holds"
    falling = _around([0.20, 0.18, 0.16, 0.15, 0.14], [0.02] * 5)
    assert peak_verdict(falling, window)[0] == "violated"
    assert monotone_verdict(falling) == "holds"
    assert monotone_verdict(peak) == "violated"


def test_fit_recovers_a_power_law():
    rng = np.random.default_rng(3)
    sizes = (100, 200, 400, 800, 1600)
    values = [0.7 * n**-0.4 * (1 + 0.02 * rng.standard_normal(50)) for n in sizes]
    fit = fit_rate(sizes, values)
    assert fit.rate_lo <= 0.4 <= fit.rate_hi
    assert abs(fit.rate - 0.4) < 0.02 and abs(fit.const - 0.7) < 0.1


def test_the_floor_may_exceed_a_noisy_smallest_mean():
    # δ = 6.2/n + 0.053 at six sizes; at the seventh the sample mean fell to 0.0525, under
    # the floor. The floor is a parameter of the law, not of one mean: the fit must not
    # clamp C0 to the smallest mean (it did, which biased r̂ and widened its interval)
    rng = np.random.default_rng(5)
    sizes = (64, 128, 256, 512, 1024, 2048, 4096)
    means = [6.2 / n + 0.053 for n in sizes[:-1]] + [0.0525]
    # tight means at the six sizes, a noisy one (spread 30 %, R = 20) at the seventh
    values = [m * (1 + c * rng.standard_normal(r)) for m, c, r in
              zip(means, [0.01] * 6 + [0.3], [400] * 6 + [20], strict=True)]
    values = [v - v.mean() + m for v, m in zip(values, means, strict=True)]  # exact means
    fit = fit_rate(sizes, values)
    assert fit.floor_p < 0.05 and fit.floor > 0.0525
    assert abs(fit.floor - 0.053) < 0.001 and abs(fit.rate - 1.0) < 0.05


def test_r8_noise_inverts_the_folded_normal():
    from boundkit import folded_normal_mean

    s = _noise_for(0.01, 0.05)
    assert float(folded_normal_mean(0.01, s)) == pytest.approx(0.05, rel=1e-10)
    assert _noise_for(0.05, 0.04) == 0.0


def test_resolve_names():
    assert resolve(["P5", "V3"]) == ["V3", "V4", "C1"]
    assert resolve([])[-1] == "C1"


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("verify")
    verdicts = verify(["V3", "V4", "P4", "P2"], out=out, scale=TINY, seed=1)
    return out, verdicts


def test_report_artefacts(tiny_report):
    out, _ = tiny_report
    doc = json.loads((out / "verdicts.json").read_text())
    assert doc["schema_version"] == 2 and doc["scale"] == "tiny" and doc["failures"] == []
    assert doc["device"] == "cpu" and doc["complete"] is True
    assert doc["experiments_done"] == ["V3", "V4", "P2", "P4", "C1"]
    assert set(doc["timings_s"]) == set(doc["experiments_done"])
    rows = doc["verdicts"]
    assert rows and all(set(r) == KEYS for r in rows)
    assert all(r["scale"] == "tiny" and r["setting"] for r in rows)
    v4 = [r for r in rows if r["claim"] == "V4" and r["data"] == "gaussian"]
    assert {r["schedule"] for r in v4} == {"full-synthetic", "balanced", "constant-real 1/2"}
    assert {r["convention"] for r in rows if r["claim"] == "P2"} == {"scaled", "fixed-real"}
    assert all(r["replicates"] == 6 for r in v4)
    claims = [r for r in rows if r["kind"] != "check"]
    assert {r["verdict"] for r in claims} <= set(WORDS)
    assert {r["verdict"] for r in rows if r["kind"] == "check"} <= {"passed", "failed"}
    assert {r["claim"] for r in rows} == {"V3", "V4", "V5", "P2", "P3", "P4", "P5", "C1"}
    assert {(r["claim"], r["kind"]) for r in rows} >= {("V4", "bound"), ("P2", "shape"),
                                                       ("V5", "prediction"),
                                                       ("C1", "check")}
    for group in ("V3", "V4", "P2", "P4"):
        assert (out / f"fig_{group}.png").stat().st_size > 0
        assert (out / f"fig_{group}.pdf").read_bytes()[:4] == b"%PDF"
    md = (out / "report.md").read_text()
    assert "Holm" in md and md.count("| **") == len(rows)
    for name in ("verdicts.tex", "fits.tex", "summary.tex"):
        tex = (out / name).read_text()
        assert "\\toprule" in tex and "\\bottomrule" in tex
        text = re.sub(r"\$[^$]*\$", "", tex)  # math mode may use _
        assert not re.search(r"(?<!\\)_", text), "unescaped underscore outside math"
    assert "\\usepackage{booktabs}" in (out / "report.tex").read_text()


def test_c1_holds_for_the_r1_margin(tiny_report):
    _, verdicts = tiny_report
    c1 = [v for v in verdicts if v.claim == "C1"]
    assert c1 and all("R1 with measured delta 0" in v.detail for v in c1)


def test_full_mode_resumes_from_the_store(tmp_path):
    store = tmp_path / "results.sqlite"
    first = verify(["P4"], out=tmp_path / "a", scale=TINY, store=store, workers=1, seed=2)
    second = verify(["P4"], out=tmp_path / "b", scale=TINY, store=store, workers=1, seed=2)
    assert [v.as_dict() for v in first] == [v.as_dict() for v in second]
    from simulations.store import ResultStore

    with ResultStore(store) as db:
        assert len(db.runs()) == 8  # 2 models x (3 V3 sizes + 1 rescue loop), each once


def test_a_resumed_run_reads_r8s_calibration_from_the_store(tmp_path, monkeypatch):
    # calibrate() runs in the verify process, outside the sweep: with a store its result
    # is kept there, so a resumed run neither repeats it nor gets other numbers
    import simulations.verify.study as study_mod

    store = tmp_path / "results.sqlite"
    first = verify(["V4"], out=tmp_path / "a", scale=TINY, store=store, workers=1, seed=2)

    def refuse(*args, **kwargs):
        raise AssertionError("calibrate() ran again on a resumed run")

    monkeypatch.setattr(study_mod, "calibrate", refuse)
    second = verify(["V4"], out=tmp_path / "b", scale=TINY, store=store, workers=1, seed=2)
    assert [v.as_dict() for v in first] == [v.as_dict() for v in second]
    assert any(v.claim == "V5" and v.verdict != "not applicable" for v in second)


@pytest.mark.parametrize("args, word", [
    (["verify", "NOPE"], "no experiment"),
    (["verify", "--store", "x.db"], "--scale"),
    (["verify", "--scale", "standard", "--quick"], "--scale"),
    (["verify", "--out", "/proc/boundkit-no"], "--out"),
    (["verify", "--full", "--dask", "local", "--slurm", "p"], "--dask"),
])
def test_cli_refuses_before_work(args, word, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert word in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_missing_gpu_is_refused_before_work(monkeypatch, tmp_path, capsys):
    # --device cuda where there is none: exit 2, one line, and nothing written
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "never"
    assert main(["verify", "V4", "--device", "cuda", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no CUDA device" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(InvalidArgument, match="no CUDA device"):
        verify(["V4"], out=out, scale=TINY, device="cuda")
    assert not out.exists()


def test_rules_decide_on_replicates_without_spread():
    """Every replicate equal (a TV of exactly 1 after collapse): a finite, clean verdict."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bound_verdict(np.full((10, 1), 0.5), [1.0])[0] == "holds"
        assert bound_verdict(np.full((10, 1), 1.0), [0.5])[0] == "violated"
        # values whose mean is not a float64 exactly (0.05 · 24 rounds): the rounding of
        # the mean once made a zero spread look like noise and flipped both tests
        for reps in (3, 24, 101):
            assert bound_verdict(np.full((reps, 1), 0.05), [0.051])[0] == "holds"
            assert bound_verdict(np.full((reps, 1), 0.05), [0.049])[0] == "violated"
            assert bound_verdict(np.full((reps, 1), 0.05), [0.05])[0] == "inconclusive"


def test_the_cli_styles_every_verdict_word():
    from simulations.verify.cli import STYLE

    assert set(WORDS) | {"passed", "failed"} <= set(STYLE)


def test_summary_table_has_one_row_per_claim(tiny_report):
    from simulations.verify.report import summary_table

    out, verdicts = tiny_report
    rows = [v.as_dict() for v in verdicts]
    table, cells = summary_table(rows)
    claims = [r["claim"] for r in table]
    assert claims == list(dict.fromkeys(r["claim"] for r in rows if r["kind"] != "check"))
    assert "C1" not in claims and cells == ["MLE gaussian", "MLE unequal", "MLE ring8",
                                            "KDE gaussian", "KDE unequal", "KDE ring8"]
    v4 = next(r for r in table if r["claim"] == "V4")
    n = sum(1 for r in rows if r["claim"] == "V4" and r["model"] == "gaussian-mle"
            and r["data"] == "gaussian")
    counts = [int(x) for x in re.findall(r"(?:holds|violated|inconclusive) (\d+)",
                                          v4["MLE gaussian"])]
    assert sum(counts) == n == 3
    md = (out / "report.md").read_text()
    assert md.index("## Summary") < md.index("## Verdict rule") < md.index("## Verdicts")


def test_figures_label_axes_and_cap_vacuous_bounds():
    import pandas as pd

    from simulations.verify.report import experiment_figure

    rows = []
    for series in ("e", "variance"):
        rows.append(pd.DataFrame({"experiment": "long", "model": "kde", "data": "gaussian",
                                  "series": series, "x": [1.0, 2.0, 3.0],
                                  "mean": [0.1, 0.2, 0.3], "lo": [0.05, 0.1, 0.2],
                                  "hi": [0.2, 0.3, 0.4],
                                  "bound": [0.5, 1.5, 3.0] if series == "e" else np.nan,
                                  "predicted": np.nan}))
    fig = experiment_figure(pd.concat(rows, ignore_index=True), "long")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 2  # one quantity per axis
    assert {ax.get_ylabel() for ax in axes} == {"TV e = TV(p, p0)",
                                                "variance of p (first coord.)"}
    assert all(ax.get_xlabel() == "generation i + 1" for ax in axes)
    tv = next(ax for ax in axes if ax.get_ylabel().startswith("TV"))
    bound = next(line for line in tv.get_lines() if line.get_label().startswith("bound (capped"))
    assert list(bound.get_ydata()) == [0.5, 1.0, 1.0]
    marks = next(line for line in tv.get_lines() if "vacuous" in line.get_label())
    assert list(marks.get_xdata()) == [2.0, 3.0]


def test_replicates_for_is_the_normal_power_formula():
    from scipy import stats

    from simulations.verify.rules import replicates_for

    z = stats.norm.ppf(0.95) + stats.norm.ppf(0.90)
    assert replicates_for(0.2, 0.05) == pytest.approx((z * 0.2 / 0.05) ** 2, rel=1e-12)
    z3 = stats.norm.ppf(1 - 0.05 / 3) + stats.norm.ppf(0.90)
    assert replicates_for([0.1, 0.2, 0.1], [0.05, 0.05, 0.01], tests=3) == pytest.approx(
        (z3 * 0.1 / 0.01) ** 2, rel=1e-12)
    zeq = stats.norm.ppf(0.95) + stats.norm.ppf(0.95)
    assert replicates_for(0.3, 0.1, two_sided_power=True) == pytest.approx(
        (zeq * 0.3 / 0.1) ** 2, rel=1e-12)
    # the design's R gives the stated power: a bound 10 % above the mean, R sized from a
    # pilot of 12 (its sd at the 80 % upper limit), 400 pilot + final pairs
    rng = np.random.default_rng(0)
    sd, b, hits = 0.02, 0.1, 0
    for _ in range(400):
        reps = bound_verdict(rng.normal(b * 0.9, sd, (12, 1)), [b])[0].needs
        reps = max(reps, 12)
        hits += bound_verdict(rng.normal(b * 0.9, sd, (reps, 1)), [b])[0] == "holds"
    assert hits / 400 >= 0.85  # 90 % power; 400 trials put the 99.9 % floor near 0.85


def test_the_design_runs_a_final_stage_at_the_replicates_its_verdicts_need(tmp_path):
    designed = Scale("tiny-design", reps=6, reps_2d=2, sizes=(100, 200, 400), n=100,
                     rounds=3, long_rounds=4, diffusion_sizes=(32, 64, 128),
                     diffusion_reps=2, mlp_steps=20, max_reps=40, max_reps_2d=4,
                     diffusion_models=())
    lines = []
    verdicts = verify(["P4"], out=tmp_path, scale=designed, seed=3, progress=lines.append)
    p4 = [v for v in verdicts if v.claim == "P4"]
    pilot = verify(["P4"], out=tmp_path / "pilot", scale=TINY, seed=3)
    need = max(v.replicates_needed / v.replicates for v in pilot if v.claim == "P4"
               and v.replicates_needed)
    want = int(min(max(6, np.ceil(6 * need)), 40))
    assert {v.replicates for v in p4} == {want} and want > 6
    assert any("final stage at R = " in line for line in lines)
    assert all(re.match(r"experiment \d+ of \d+ \(\w+\)", line) for line in lines)
    assert any(re.search(r"loops \d+/\d+, elapsed .*, ETA", line) for line in lines)
    for v in p4:
        if v.verdict == "inconclusive" and v.replicates_needed > v.replicates:
            assert f"needs R ≈ {v.replicates_needed:,}" in v.detail


def test_a_failed_loop_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    import simulations.verify.runner as runner

    real = runner.run

    def flaky(config):
        if config.schedule == "final-rescue":
            raise RuntimeError("simulated worker crash")
        return real(config)

    monkeypatch.setattr(runner, "run", flaky)
    verdicts = verify(["P4", "P1"], out=tmp_path, scale=TINY, seed=4)
    doc = json.loads((tmp_path / "verdicts.json").read_text())
    assert doc["failures"] and doc["failures"][0]["experiment"] == "P4"
    assert "simulated worker crash" in doc["failures"][0]["error"]
    assert {v.claim for v in verdicts} >= {"P1"} and "P4" not in {v.claim for v in verdicts}
    assert "## Failed loops" in (tmp_path / "report.md").read_text()


def test_report_tex_compiles_with_every_verdict_visible(tiny_report, tmp_path):
    import shutil
    import subprocess

    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip("pdflatex is not installed (apt-get install texlive-latex-recommended)")
    out, _ = tiny_report
    for name in ("report.tex", "verdicts.tex", "summary.tex", "fits.tex"):
        shutil.copy(out / name, tmp_path / name)
    subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=120)
    log = (tmp_path / "report.log").read_text(errors="replace")
    assert "Overfull \\hbox" not in log  # nothing runs off the page
    assert "Output written on report.pdf" in log


def test_snapshot_refreshes_a_docs_page_from_a_report(tiny_report, tmp_path):
    from simulations.verify.snapshot import MARK, refresh

    out, verdicts = tiny_report
    page = tmp_path / "page.md"
    page.write_text(f"# Head kept\n\nhand-written\n\n{MARK}\n\nold text\n", encoding="utf-8")
    refresh(out, page, "Tiny run")
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Head kept\n\nhand-written") and "old text" not in text
    assert text.index("### Summary") < text.index("### Verdicts") < text.index("## Figures")
    assert text.count("| **") == len(verdicts)  # every verdict and check row
    assert (tmp_path / "page" / "fig_V3.png").stat().st_size > 0
    assert "](page/fig_V3.png)" in text


DIFFUSION_TINY = Scale("tiny-diffusion", reps=3, reps_2d=2, sizes=(100, 200, 400), n=100,
                       rounds=3, long_rounds=4, diffusion_sizes=(32, 64, 128, 256),
                       diffusion_reps=3, mlp_steps=20, diffusion_cap=2,
                       diffusion_long_rounds=3, ode_tol=1e-2)


def test_diffusion_joins_the_experiments_and_states_its_regime(tmp_path):
    # issue 18: random-feature diffusion (m = n, tau = tau*) in V3, V4/V5/P3/P5, P2 (both
    # conventions, on the Gaussian and the unequal mixture) and D1, each verdict with its
    # width, flow time, RK4 steps and their error (the MLP and the other experiments run
    # in verify --quick: too slow here)
    scale = Scale(**{**DIFFUSION_TINY.__dict__, "diffusion_models": ("diffusion-rf",)})
    verdicts = verify(["V4", "P2", "D1"], out=tmp_path, scale=scale, seed=5)
    got = {(v.claim, v.kind, v.model, v.data, v.convention) for v in verdicts}
    model = "diffusion-rf"
    for data in ("gaussian", "unequal"):
        for claim, kind in (("V4", "bound"), ("V5", "prediction"), ("P3", "shape"),
                            ("P5", "shape")):
            assert any(g[:4] == (claim, kind, model, data) for g in got), (claim, data)
    for conv in ("scaled", "fixed-real"):
        for data in ("gaussian", "unequal"):  # diffusion meets P2 on both 1-D data sets
            assert ("P2", "bound", model, data, conv) in got, (data, conv)
            assert ("P2", "shape", model, data, conv) in got, (data, conv)
        # ... MLE and KDE on the Gaussian only
        assert ("P2", "bound", "kde", "gaussian", conv) in got
        assert not any(g[0] == "P2" and g[2] == "kde" and g[3] != "gaussian" for g in got)
    # a P2 row not applicable names the setting its verdict would have had
    assert {v.setting for v in verdicts if v.claim == "P2" and v.kind == "shape"} == {
        "peak of e_T near lambda'"}
    d1 = [v for v in verdicts if v.claim == "D1"]
    assert len(d1) == 3  # the rate and the U-shape at two sizes
    assert "E3 (r = 1/5" in d1[0].detail and "follows" in d1[0].detail
    assert {v.setting for v in d1[1:]} == {"KL against tau at n = m = 64",
                                           "KL against tau at n = m = 128"}
    for v in verdicts:
        if v.model == model and v.claim != "C1" and v.verdict != "not applicable":
            assert "regime: width m = " in v.detail and "RK4 steps" in v.detail, v
            assert "ODE L1 error <= " in v.detail
            if "KL against tau" not in v.setting:
                assert "tau/tau* = 1," in v.detail, v.detail
            else:  # the U-shape's own batch: its five flow times, at one width
                assert "tau/tau* = 0.0625–16," in v.detail
                assert ("width m = 64," in v.detail) != ("width m = 128," in v.detail)
    # the diffusion loops passed C1 with the solver's error inside their intervals
    c1 = [v for v in verdicts if v.claim == "C1" and v.model == model]
    assert len(c1) == 2 and all(v.verdict == "passed" for v in c1)


def test_d1_adds_replicates_where_its_rate_is_too_wide(tmp_path, monkeypatch):
    # issue 18: D1's design. The pilot (R = 3 at each size) is far wider than ±0.05, so
    # replicates are added where d1_design.allocate puts them (capped at 7 per size): the
    # pilot's kept (the same loops' further replicates R, R + 1, …), and the detail says
    # what was added and why
    from dataclasses import replace

    from simulations.verify import study as study_mod

    scale = replace(DIFFUSION_TINY, diffusion_models=(), d1_halfwidth=0.05, d1_cap=7)
    seen = []
    original = study_mod.Study.loops

    def spy(self, configs):
        seen.extend(configs)
        return original(self, configs)

    monkeypatch.setattr(study_mod.Study, "loops", spy)
    verdicts = verify(["D1"], out=tmp_path, scale=scale, seed=4)
    rate = next(v for v in verdicts if v.claim == "D1" and "r̂" in v.detail)
    extra = [c for c in seen if c.first_replicate > 0]
    assert extra and all(c.rounds == 1 and c.first_replicate >= 3 for c in extra)
    totals = {n: 3 for n in scale.diffusion_sizes}
    for c in extra:  # each top-up starts where the replicates of its size stopped
        assert c.first_replicate == totals[c.n]
        totals[c.n] += c.replicates
    assert max(totals.values()) <= 7
    assert f"R = {[totals[n] for n in scale.diffusion_sizes]}" in rate.detail
    assert "design: half-width" in rate.detail and "> 0.05" in rate.detail


def test_a_run_stopped_midway_keeps_the_verdicts_it_finished(tmp_path, monkeypatch):
    # verdicts.json is written after each experiment: a run killed in the second keeps
    # the first one's verdicts, marked incomplete
    from simulations import verify as verify_mod

    def stopped(study):
        raise KeyboardInterrupt

    monkeypatch.setitem(verify_mod.EXPERIMENTS, "P4", stopped)
    with pytest.raises(KeyboardInterrupt):
        verify(["V4", "P4"], out=tmp_path, scale=TINY, seed=1)
    doc = json.loads((tmp_path / "verdicts.json").read_text())
    assert doc["complete"] is False and doc["experiments_done"] == ["V4"]
    assert {v["claim"] for v in doc["verdicts"]} == {"V4", "V5", "P3", "P5"}  # V4 run
    assert not (tmp_path / "report.md").exists()



def test_together_runs_independent_cases_as_one_batch_and_judges_each_on_its_frames():
    from simulations.verify.case import Case, batched, together

    seen = []
    first = Case(["a", "b"], lambda study, c, f: seen.append(("first", c, f)))
    empty = Case((), lambda study, c, f: seen.append(("empty", c, f)))
    last = Case(["c"], lambda study, c, f: seen.append(("last", c, f)))
    both = together([first, empty, last])
    assert both.configs == ("a", "b", "c")
    both.judge(None, list(both.configs), ["fa", "fb", "fc"])
    assert seen == [("first", ["a", "b"], ["fa", "fb"]), ("empty", [], []),
                    ("last", ["c"], ["fc"])]

    made = []

    @batched
    def cases(study):
        for k in range(3):
            made.append(k)
            yield Case([k], lambda study, c, f: None)

    (one,) = list(cases(None))
    assert one.configs == (0, 1, 2) and made == [0, 1, 2]
