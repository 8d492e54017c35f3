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
from simulations.verify.runner import clock

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


#: Version of verdicts.json (2: an object with the run's scale, seed, replicates and failures
#: around the verdicts, each with setting, schedule, convention, scale, replicates and
#: replicates_needed; 1 was a bare list of claim, kind, model, data, verdict, statistic,
#: detail).
SCHEMA_VERSION = 2
#: The quantity on each series' y axis (one quantity per axis).
QUANTITY = {"delta": "δ = TV(p, π) at round 0", "variance": "variance of p (first coord.)",
            "recall": "k-NN recall", "KL by tau/tau*": "KL(π ‖ p)"}
XLABEL = {"V3": "n (training points)", "V4": "generation i + 1", "P1": "real share α",
          "P2": "λ (synthetic points per real point)", "P3": "growth exponent p",
          "P4": "generation i + 1", "long": "generation i + 1", "MLP": "generation i + 1",
          "D1 rate": "n = m (points = random features)", "D1 tau": "τ / τ*"}


def write_verdicts(study, out: Path, done: list[str], timings: dict, wall: float,
                   complete: bool) -> list[dict]:
    """Write ``verdicts.json``: after each experiment (``complete`` false: a run stopped
    midway keeps the verdicts of the experiments it finished), and at the end."""
    verdicts = [v.as_dict() for v in study.verdicts]
    sc = study.scale
    doc = {"schema_version": SCHEMA_VERSION, "scale": sc.name, "seed": study.seed,
           "device": study.device, "complete": complete, "experiments_done": list(done),
           "timings_s": {k: round(timings[k], 1) for k in done},
           "replicates": {"pilot": sc.reps, "pilot_2d": sc.reps_2d, "cap": sc.max_reps,
                          "cap_2d": sc.max_reps_2d, "diffusion": sc.diffusion_reps,
                          "diffusion_cap": sc.diffusion_cap},
           "wall_s": round(wall, 1), "loops": study.runner.loops,
           "failures": [{"experiment": e, "error": m} for e, m in study.failures],
           "verdicts": verdicts}
    tmp = out / "verdicts.json.tmp"  # replaced whole: a reader never sees half a file
    tmp.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    tmp.replace(out / "verdicts.json")
    return verdicts


def write_report(study, out: Path, order: list[str], timings: dict, wall: float) -> None:
    """Write every artefact of one verification into ``out``."""
    verdicts = write_verdicts(study, out, order, timings, wall, complete=True)
    summary = (pd.concat(study.summaries, ignore_index=True) if study.summaries
               else pd.DataFrame(columns=["experiment"]))
    summary.to_csv(out / "summary.csv", index=False)
    extra = getattr(study, "claims", {})  # users' claims: their statement and axis
    figures = _figures(summary, out, extra)
    _latex(study, verdicts, out)
    _markdown(study, verdicts, summary, figures, out, order, timings, wall)


def _group(experiment: str) -> str:
    return experiment.split()[0]


def _figures(summary: pd.DataFrame, out: Path, extra: dict) -> dict[str, str]:
    """One figure per experiment group (PNG + PDF); the file names by group."""
    made = {}
    if summary.empty:
        return made
    for group in dict.fromkeys(summary.experiment.map(_group)):
        claim = extra.get(group)
        save_figure(experiment_figure(summary, group,
                                      xlabel=None if claim is None else claim.xlabel,
                                      log_x=None if claim is None else claim.log_x),
                    out / f"fig_{group}")
        made[group] = f"fig_{group}.png"
    return made


def experiment_figure(summary: pd.DataFrame, group: str, xlabel: str | None = None,
                      log_x: bool | None = None) -> Figure:
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
    xlabel, log_x : optional
        The x axis's label and scale (a user's claim states them; the built-in
        experiments' are known).

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
    part = part.assign(quantity=part.series.map(lambda x: QUANTITY.get(x, "TV e = TV(p, p0)")))
    panels = list(part.groupby(["experiment", "model", "data", "quantity"], sort=False))
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(3.6 * cols, 3.0 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, ((exp, model, data, quantity), p) in zip(axes.flat, panels, strict=False):
        for series, s in p.groupby("series", sort=False):
            ax.plot(s.x, s["mean"], "o-", ms=3, label=f"{series} (mean, 95% CI)")
            ax.fill_between(s.x, s.lo, s.hi, alpha=0.25)
            if s.bound.notna().any():
                _bound(ax, s.x.to_numpy(), s.bound.to_numpy(), quantity)
            if s.predicted.notna().any():
                ax.plot(s.x, s.predicted, ":", color="tab:red", lw=1.5,
                        label="R8" if group != "V3" and group != "D1" else "fit")
        if (group in LOG_X if log_x is None else log_x) and (p.x > 0).all():
            ax.set_xscale("log")
        ax.set_title(f"{exp}: {model}, {data}", fontsize=8)
        ax.set_xlabel(xlabel or XLABEL.get(exp, XLABEL.get(" ".join(exp.split()[:2]),
                                                 XLABEL.get(group, "x"))), fontsize=7)
        ax.set_ylabel(quantity, fontsize=7)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def _bound(ax, x, bound, quantity: str) -> None:
    """The bound, capped at 1 for a TV (a bound above 1 says nothing: vacuous, marked)."""
    import numpy as np

    if quantity.startswith(("TV", "δ")):
        vacuous = bound > 1
        ax.plot(x, np.minimum(bound, 1.0), "k--", lw=1, label="bound (capped at 1)"
                if vacuous.any() else "bound")
        if vacuous.any():
            ax.plot(x[vacuous], np.ones(vacuous.sum()), "kx", ms=5, label="bound > 1: vacuous")
    else:
        ax.plot(x, bound, "k--", lw=1, label="bound")


def _num(x) -> str:
    return "--" if x is None or not math.isfinite(x) else f"{x:.3g}"


def _latex(study, verdicts: list[dict], out: Path) -> None:
    rows = [" & ".join([_tex(v["claim"]), _tex(v["kind"]), _tex(v["model"]), _tex(v["data"]),
                        _tex(v["setting"]), _tex(v["verdict"]), _num(v["statistic"]),
                        _num(v["replicates"])]) + r" \\" for v in verdicts]
    head = "claim & kind & model & data & setting & verdict & statistic & $R$ \\\\\n"
    (out / "verdicts.tex").write_text(  # a longtable breaks across pages: every row shows
        "\\begin{longtable}{@{}llp{2.1cm}lp{4.6cm}lrr@{}}\n\\toprule\n" + head +
        "\\midrule\n\\endhead\n\\bottomrule\n\\endfoot\n" + "\n".join(rows) +
        "\n\\end{longtable}\n")
    table, cells = summary_table(verdicts, _statements(study))
    srows = [" & ".join([_tex(r["claim"]), _tex(r["words"])] + [_tex(r[c]) for c in cells])
             + r" \\" for r in table]
    spec = ("@{}l>{\\raggedright\\arraybackslash}p{3.2cm}"
            + ">{\\raggedright\\arraybackslash}p{2.1cm}" * len(cells) + "@{}")
    (out / "summary.tex").write_text(
        f"\\begin{{longtable}}{{{spec}}}\n\\toprule\n"
        + " & ".join(["claim", "in words"] + [_tex(c) for c in cells]) + " \\\\\n"
        "\\midrule\n\\endhead\n\\bottomrule\n\\endfoot\n" + "\n".join(srows)
        + "\n\\end{longtable}\n")
    fits = [" & ".join([_tex(m), _tex(d), _num(f.rate), f"[{_num(f.rate_lo)}, {_num(f.rate_hi)}]",
                        _num(f.const), _num(f.floor)]) + r" \\"
            for (m, d), f in study.fits.items()]
    (out / "fits.tex").write_text(
        "\\begin{tabular}{llrlrr}\n\\toprule\nmodel & data & $\\hat r$ & 95\\% CI & $\\hat C$ & "
        "$\\hat C_0$ \\\\\n\\midrule\n" + "\n".join(fits) + "\n\\bottomrule\n\\end{tabular}\n")
    (out / "report.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{longtable}\n"
        "\\usepackage{array}\n"
        "\\usepackage[utf8]{inputenc}\n"
        "\\usepackage[margin=1.5cm,landscape]{geometry}\n\\begin{document}\n"
        "\\section*{boundkit verify}\n\\subsection*{Summary: one row per claim}\n"
        "{\\scriptsize\\setlength{\\LTleft}{0pt}\\input{summary.tex}}\n"
        "\\subsection*{Verdicts}\n"
        "{\\scriptsize\\setlength{\\LTleft}{0pt}\\input{verdicts.tex}}\n"
        "\\subsection*{V3 fits}\n\\input{fits.tex}\n\\end{document}\n")


#: Short names of the (model, data) columns of the summary table.
SHORT = {"gaussian-mle": "MLE", "kde": "KDE", "diffusion-rf": "RF diff.",
         "diffusion-mlp": "MLP diff."}


def _statements(study) -> dict:
    """Users' claims: name → statement (the built-in ones are in CLAIMS)."""
    return {k: c.statement for k, c in getattr(study, "claims", {}).items()}


def summary_table(verdicts: list[dict], statements: dict | None = None
                  ) -> tuple[list[dict], list[str]]:
    """The leading table: one row per claim (not the C1 checks), its statement in words,
    and per model × data the verdict words with counts and the decisive number (the
    statistic of the row, or the range over rows)."""
    claims = [v for v in verdicts if v["kind"] != "check"]
    cells = list(dict.fromkeys(f"{SHORT.get(v['model'], v['model'])} {v['data']}"
                               for v in claims))
    table = []
    for claim in dict.fromkeys(v["claim"] for v in claims):
        row = {"claim": claim, "words": {**CLAIMS, **(statements or {})}.get(claim, "")}
        for cell in cells:
            part = [v for v in claims if v["claim"] == claim
                    and f"{SHORT.get(v['model'], v['model'])} {v['data']}" == cell]
            if not part:
                row[cell] = "—"
                continue
            counts = pd.Series([v["verdict"] for v in part]).value_counts()
            words = ", ".join(f"{w} {n}" if len(part) > 1 else w for w, n in counts.items())
            stats = [v["statistic"] for v in part if v["statistic"] is not None]
            number = ("" if not stats else f" ({_num(stats[0])})" if len(stats) == 1 else
                      f" ({_num(min(stats))}..{_num(max(stats))})")
            row[cell] = words + number
        table.append(row)
    return table, cells


def _markdown(study, verdicts, summary, figures, out, order, timings, wall) -> None:
    sc = study.scale
    design = (f"replicates by design: pilot R = {sc.reps} (2-D: {sc.reps_2d}), final stage "
              f"capped at {sc.max_reps} (2-D: {sc.max_reps_2d})" if sc.design else
              f"R = {sc.reps} replicates (2-D: {sc.reps_2d})")
    lines = ["# boundkit verify: the paper's claims on trained loops", "",
             f"Scale **{sc.name}**: {design}, n = {sc.n}, {sc.rounds} rounds, V3 sizes "
             f"{list(sc.sizes)}, long horizon {sc.long_rounds} rounds; diffusion models "
             f"{', '.join(sc.diffusion_models) or 'none'} in every experiment on the 1-D data "
             f"(R ≤ {sc.diffusion_cap}, long horizon {sc.diffusion_long_rounds} rounds; each "
             f"diffusion verdict states its regime: width, τ/τ*, RK4 steps and their L1 "
             f"error), D1 sizes {list(sc.diffusion_sizes)} with R = {sc.diffusion_reps}; "
             f"{study.runner.loops} loops in {clock(wall)} on {study.device}; seed {study.seed}. "
             "Generation i is the model of round i (the paper's p_(i+1)).", "",
             "## Summary", "",
             "One row per claim of the paper: the verdict words on each model × data (with "
             "counts where a claim has several settings) and the decisive statistic (its "
             "range over settings); the detail follows below.", ""]
    table, cells = summary_table(verdicts, _statements(study))
    lines += ["| claim | in words | " + " | ".join(cells) + " |",
              "|---|---|" + "---|" * len(cells)]
    lines += [f"| {r['claim']} | {r['words']} | " + " | ".join(r[c] for c in cells) + " |"
              for r in table]
    claims = [v for v in verdicts if v["kind"] != "check"]
    checks = [v for v in verdicts if v["kind"] == "check"]
    counts = pd.Series([v["verdict"] for v in claims], dtype=object).value_counts().to_dict()
    lines += ["", "Totals: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())), ""]
    if study.failures:
        lines += ["## Failed loops", "",
                  "These experiments lost loops and give no verdicts; the rest of the run "
                  "went on. Rerun with the same store to retry only the failed loops.", ""]
        lines += [f"- **{e}**: {m}" for e, m in study.failures]
        lines += [""]
    lines += ["## Verdict rule", "", RULE_TEXT, "",
              "## Verdicts", "",
              "| claim | kind | model | data | setting | verdict | statistic | R | R needed "
              "| detail |", "|---|---|---|---|---|---|---|---|---|---|"]
    for v in claims:
        lines.append(f"| {v['claim']} | {v['kind']} | {v['model']} | {v['data']} | "
                     f"{v['setting']} | **{v['verdict']}** | {_num(v['statistic'])} | "
                     f"{v['replicates'] or '—'} | {v['replicates_needed'] or '—'} | "
                     f"{v['detail'].replace('|', '/')} |")
    lines += ["", "## Metric checks (C1)", "",
              "R1 with the measured δ and Pinsker's inequality on every replicate-round: a "
              "margin certified below 0 is a bug in the metrics, not a finding about the "
              "paper, so these rows are not counted among the verdicts.", "",
              "| model | data | check | smallest margin | detail |", "|---|---|---|---|---|"]
    lines += [f"| {v['model']} | {v['data']} | **{v['verdict']}** | {_num(v['statistic'])} | "
              f"{v['detail'].replace('|', '/')} |" for v in checks]
    lines += ["", "## Claims", ""]
    lines += [f"- **{k}**: {t}" for k, t in {**CLAIMS, **_statements(study)}.items()]
    lines += ["", "## Figures", "",
              "Measured means with 95 % t intervals (bands), the bound (dashed; for a TV "
              "capped at 1, with × where it exceeds 1 and says nothing) and R8's prediction "
              "or the fit (dotted); one quantity per axis. Each figure is also saved as PDF.",
              ""]
    for group, path in figures.items():
        lines += [f"### {group}", "", f"![{group}]({path})", ""]
    lines += ["## Artefacts", "",
              f"`verdicts.json` (schema version {SCHEMA_VERSION}: the run's scale, seed, "
              "device, whether it is complete (it is written after each experiment), the "
              "experiments done and their times, replicates and failures, and one object "
              "per verdict with claim, kind, model, data, setting, schedule, convention, "
              "scale, replicates, replicates_needed, verdict, statistic, detail), "
              "`summary.csv` (every plotted point), "
              "`summary.tex`, `verdicts.tex`, `fits.tex` and `report.tex` (booktabs, "
              "longtable; `pdflatex report.tex`).", "",
              "Time per experiment: " + ", ".join(f"{k} {clock(timings[k])}" for k in order),
              ""]
    (out / "report.md").write_text("\n".join(lines))

