"""The verification report: ``verdicts.json``, ``report.md``, figures (PNG + PDF) and LaTeX
tables (booktabs; ``report.tex`` compiles them with pdflatex)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from boundkit.errors import InvalidArgument
from boundkit.latex import escape as _tex
from simulations.report import save_figure
from simulations.verify.rules import RULE_TEXT

LOG_X = {"V3", "D1", "P2"}
CLAIMS = {
    "C1": "metric consistency (R1 with measured delta, Pinsker)",
    "V3": "rate of round 0's error delta(n)",
    "V4": "R1's bound calibrated with V3's fit",
    "V5": "R8 linear-response prediction",
    "P1": "control by real data",
    "P2": "phase transition at fixed real n",
    "P3": "growth (exponent at constant n; sizes needed)",
    "P4": "final-round rescue",
    "P5": "balanced drift like H_i",
    "D1": "diffusion rate E2 vs E3; KL against tau",
}


def write_report(study, out: Path, order: list[str], timings: dict, wall: float) -> None:
    """Write every artefact of one verification into ``out``."""
    verdicts = [v.as_dict() for v in study.verdicts]
    (out / "verdicts.json").write_text(json.dumps(verdicts, indent=2, allow_nan=False) + "\n")
    summary = (pd.concat(study.summaries, ignore_index=True) if study.summaries
               else pd.DataFrame(columns=["experiment"]))
    summary.to_csv(out / "summary.csv", index=False)
    figures = _figures(summary, out)
    _latex(study, verdicts, out)
    _markdown(study, verdicts, summary, figures, out, order, timings, wall)


def _group(experiment: str) -> str:
    return experiment.split()[0]


def _figures(summary: pd.DataFrame, out: Path) -> dict[str, str]:
    """One figure per experiment group (PNG + PDF); the file names by group."""
    made = {}
    if summary.empty:
        return made
    for group in dict.fromkeys(summary.experiment.map(_group)):
        save_figure(experiment_figure(summary, group), out / f"fig_{group}")
        made[group] = f"fig_{group}.png"
    return made


def experiment_figure(summary: pd.DataFrame, group: str) -> Figure:
    """The figure of one experiment group (``"V3"``, ``"P2"``, ...): a panel per (variant,
    model, data) with the measured mean and its 95 % interval, the bound and the fit or
    R8 prediction where the experiment has them.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``summary.csv`` of a verification (columns experiment, model, data, series, x,
        mean, lo, hi, bound, predicted).
    group : str
        The experiment group: the first word of ``experiment``.

    Returns
    -------
    matplotlib.figure.Figure
        A figure of its own (no pyplot state): save it with ``fig.savefig(path)``.
    """
    part = summary[summary.experiment.map(_group) == group]
    if part.empty:
        raise InvalidArgument(f"group={group!r} has no rows in this summary; its groups are "
                              f"{', '.join(dict.fromkeys(summary.experiment.map(_group)))}.",
                              argument="group")
    panels = list(part.groupby(["experiment", "model", "data"], sort=False))
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(3.6 * cols, 2.9 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, ((exp, model, data), p) in zip(axes.flat, panels, strict=False):
        for series, s in p.groupby("series", sort=False):
            ax.plot(s.x, s["mean"], "o-", ms=3, label=f"{series} (mean, 95% CI)")
            ax.fill_between(s.x, s.lo, s.hi, alpha=0.25)
            if s.bound.notna().any():
                ax.plot(s.x, s.bound, "k--", lw=1, label="bound")
            if s.predicted.notna().any():
                ax.plot(s.x, s.predicted, ":", color="tab:red", lw=1.5,
                        label="R8" if group != "V3" and group != "D1" else "fit")
        if group in LOG_X and (p.x > 0).all():
            ax.set_xscale("log")
        ax.set_title(f"{exp}: {model}, {data}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def _num(x) -> str:
    return "--" if x is None or not math.isfinite(x) else f"{x:.3g}"


def _latex(study, verdicts: list[dict], out: Path) -> None:
    rows = [" & ".join([_tex(v["claim"]), _tex(v["kind"]), _tex(v["model"]), _tex(v["data"]),
                        _tex(v["verdict"]), _num(v["statistic"])]) + r" \\" for v in verdicts]
    head = ("claim & kind & model & data & verdict & statistic \\\\\n")
    (out / "verdicts.tex").write_text(  # a longtable breaks across pages: every row shows
        "\\begin{longtable}{llllll}\n\\toprule\n" + head + "\\midrule\n\\endhead\n"
        "\\bottomrule\n\\endfoot\n" + "\n".join(rows) + "\n\\end{longtable}\n")
    fits = [" & ".join([_tex(m), _tex(d), _num(f.rate), f"[{_num(f.rate_lo)}, {_num(f.rate_hi)}]",
                        _num(f.const), _num(f.floor)]) + r" \\"
            for (m, d), f in study.fits.items()]
    (out / "fits.tex").write_text(
        "\\begin{tabular}{llrlrr}\n\\toprule\nmodel & data & $\\hat r$ & 95\\% CI & $\\hat C$ & "
        "$\\hat C_0$ \\\\\n\\midrule\n" + "\n".join(fits) + "\n\\bottomrule\n\\end{tabular}\n")
    (out / "report.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{longtable}\n"
        "\\usepackage[margin=2cm]{geometry}\n\\begin{document}\n"
        "\\section*{boundkit verify}\n\\subsection*{Verdicts}\n"
        "{\\small\\setlength{\\LTleft}{0pt}\\input{verdicts.tex}}\n"
        "\\subsection*{V3 fits}\n\\input{fits.tex}\n\\end{document}\n")


def _markdown(study, verdicts, summary, figures, out, order, timings, wall) -> None:
    sc = study.scale
    lines = ["# boundkit verify: the paper's claims on trained loops", "",
             f"Scale **{sc.name}**: R = {sc.reps} replicates (2-D: {sc.reps_2d}), n = {sc.n}, "
             f"{sc.rounds} rounds, V3 sizes {list(sc.sizes)}, long horizon {sc.long_rounds} "
             f"rounds; {study.runner.loops} loops in {wall:.0f} s; seed {study.seed}. "
             "Generation i is the model of round i (the paper's p_(i+1)).", "",
             "## Verdict rule", "", RULE_TEXT, "",
             "## Verdicts", "", "| claim | kind | model | data | verdict | statistic | detail |",
             "|---|---|---|---|---|---|---|"]
    claims = [v for v in verdicts if v["kind"] != "check"]
    checks = [v for v in verdicts if v["kind"] == "check"]
    for v in claims:
        lines.append(f"| {v['claim']} | {v['kind']} | {v['model']} | {v['data']} | "
                     f"**{v['verdict']}** | {_num(v['statistic'])} | "
                     f"{v['detail'].replace('|', '/')} |")
    counts = pd.Series([v["verdict"] for v in claims], dtype=object).value_counts().to_dict()
    lines += ["", "Totals: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())), "",
              "## Metric checks (C1)", "",
              "R1 with the measured δ and Pinsker's inequality on every replicate-round: a "
              "margin certified below 0 is a bug in the metrics, not a finding about the "
              "paper, so these rows are not counted among the verdicts.", "",
              "| model | data | check | smallest margin | detail |", "|---|---|---|---|---|"]
    lines += [f"| {v['model']} | {v['data']} | **{v['verdict']}** | {_num(v['statistic'])} | "
              f"{v['detail'].replace('|', '/')} |" for v in checks]
    lines += ["", "## Claims", ""]
    lines += [f"- **{k}**: {t}" for k, t in CLAIMS.items()]
    lines += ["", "## Figures", "",
              "Measured means with 95 % t intervals (bands), the bound (dashed) and R8's "
              "prediction or the fit (dotted). Each figure is also saved as PDF.", ""]
    for group, path in figures.items():
        lines += [f"### {group}", "", f"![{group}]({path})", ""]
    lines += ["## Artefacts", "",
              "`verdicts.json` (one object per verdict: claim, kind, model, data, verdict, "
              "statistic, detail), `summary.csv` (every plotted point), `verdicts.tex`, "
              "`fits.tex` and `report.tex` (booktabs; `pdflatex report.tex`).", "",
              "Time per experiment: " + ", ".join(f"{k} {timings[k]:.1f} s" for k in order), ""]
    (out / "report.md").write_text("\n".join(lines))
