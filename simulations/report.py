"""Run a named simulation and write its frame (CSV) and figure (PNG) with the R1 bound.

The overlay is the R1 recursion b = (I − B)^{-1} δ̄ evaluated with the measured
per-round δ_i (mean over replicates): the bound the master inequality gives for
the errors actually incurred.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from boundkit import SCHEDULE_REGISTRY, bound_values
from boundkit._paths import check_output_dir
from simulations.config import LoopConfig
from simulations.engine import check_memory, run
from simulations.registry import DATA_REGISTRY, MODEL_REGISTRY

#: The x axis of every per-generation figure (docs/theory.md §1's convention).
GENERATION_LABEL = r"generation $i$ (model $p_{i+1}$ of round $i$)"


def save_figure(fig, path: Path) -> list[str]:
    """Save a matplotlib figure as PNG and PDF (``path`` without its suffix matters)."""
    out = []
    for suffix in (".png", ".pdf"):
        target = path.with_suffix(suffix)
        fig.savefig(target)
        out.append(str(target))
    return out


def prepare(model: str, data: str, schedule: str, *, rounds: int, n: int, growth: float = 0.0,
            replicates: int = 1, seed: int = 0, device: str = "cpu", alpha=None, lam=None,
            convention: str = "scaled", temperature=None, self_correct=None,
            real_data: str = "fresh", dim=None, out: str | Path = "simulation-out",
            spell: Callable[[str], str] = str) -> Callable[..., dict]:
    """Check every argument of a simulation and its memory, create ``out``; return the job.

    Builds the :class:`~simulations.config.LoopConfig` (which validates everything);
    options that do not apply to the chosen model, data set or schedule are refused
    (``spell`` names them as the user typed them). Nothing is trained before the
    returned function is called with an optional ``progress`` callback.
    """
    MODEL_REGISTRY.check_options(model, {"temperature": temperature,
                                         "self_correct": self_correct}, spell, "MODEL")
    DATA_REGISTRY.check_options(data, {"dim": dim}, spell, "--data")
    SCHEDULE_REGISTRY.check_options(schedule, {"alpha": alpha, "lam": lam}, spell, "--schedule")
    config = LoopConfig(model=model, data=data, data_params={"dim": dim} if dim else None,
                        schedule=schedule, alpha=alpha, lam=lam, convention=convention, n=n,
                        growth=growth, rounds=rounds, replicates=replicates, seed=seed,
                        real_data=real_data, device=device,
                        temperature=1.0 if temperature is None else temperature,
                        self_correct=0.0 if self_correct is None else self_correct)
    check_memory(config)
    path = check_output_dir(out)

    def job(progress=None) -> dict:
        frame = run(config, progress)
        return write(frame, config.schedule_obj, f"{model} on {data}, {schedule}", path)

    return job


def simulate(model: str, data: str, schedule: str, *, out: str | Path = "simulation-out",
             progress=None, **options) -> dict:
    """Run the loop and write ``frame.csv`` and ``errors.png`` under ``out``."""
    return prepare(model, data, schedule, out=out, **options)(progress=progress)


def write(frame: pd.DataFrame, schedule, title: str, out: Path) -> dict:
    """Write ``frame.csv`` and ``errors.png`` (with the R1 bound when TV was measured)."""
    frame.to_csv(out / "frame.csv", index=False)
    if "e" in set(frame["metric"]):
        summary = _summary(frame, schedule)
        save_figure(errors_figure(summary, title), out / "errors")
    else:
        summary = _summary_density_free(frame)
        save_figure(quality_figure(summary, title), out / "errors")
    return {"frame": str(out / "frame.csv"), "figure": str(out / "errors.png"),
            "figures": [str(out / "errors.png"), str(out / "errors.pdf")], "summary": summary}


def _summary(frame: pd.DataFrame, schedule) -> pd.DataFrame:
    wide = frame.pivot_table(index=["replicate", "generation"], columns="metric", values="value")
    by_gen = wide.groupby(level="generation")
    summary = pd.DataFrame({
        "e_mean": by_gen["e"].mean(),
        "e_min": by_gen["e"].min(),
        "e_max": by_gen["e"].max(),
        "delta_mean": by_gen["delta"].mean(),
        "v1_ok": by_gen["v1_margin"].min() >= 0,
        "v2_ok": by_gen["v2_margin"].min() >= 0,
    })
    summary["r1_bound"] = bound_values(schedule, summary["delta_mean"].to_numpy())
    return _sizes(frame).join(summary).reset_index()


def _sizes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per generation: n (the round's training-set size n_i) and real_share (α_i)."""
    return frame.groupby("generation")[["n", "real_share"]].first()


def _summary_density_free(frame: pd.DataFrame) -> pd.DataFrame:
    wide = frame.pivot_table(index=["replicate", "generation"], columns="metric", values="value")
    by_gen = wide.groupby(level="generation")
    means = pd.DataFrame({key: by_gen[key].mean() for key in ("precision", "recall", "nll")})
    return _sizes(frame).join(means).reset_index()


def quality_figure(summary: pd.DataFrame, title: str = "") -> Figure:
    """k-NN precision and recall by generation, for data sets without a density.

    Parameters
    ----------
    summary : pandas.DataFrame
        Columns ``generation``, ``precision``, ``recall`` (the ``summary`` a density-free
        :func:`simulate` returns).
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        A figure of its own (no pyplot state): save it with ``fig.savefig(path)``.
    """
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(6, 4), dpi=120)
    ax = fig.subplots()
    g = summary["generation"].to_numpy()
    ax.plot(g, summary["precision"], "o-", label="k-NN precision, mean")
    ax.plot(g, summary["recall"], "s--", label="k-NN recall, mean")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(GENERATION_LABEL)
    ax.set_ylabel("precision, recall")
    ax.set_ylim(0, 1.05)
    ax.set_title(title + " (no density: no TV bound)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def errors_figure(summary: pd.DataFrame, title: str = "") -> Figure:
    r"""The loop's error by generation: e_{i+1} = TV(p_{i+1}, p0) (mean and range over
    replicates), δ_i = TV(p_{i+1}, π_i), and R1's bound from the measured δ.

    Parameters
    ----------
    summary : pandas.DataFrame
        Columns ``generation``, ``e_mean``, ``e_min``, ``e_max``, ``delta_mean``,
        ``r1_bound`` (the ``summary`` that :func:`simulate` returns).
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        A figure of its own (no pyplot state): save it with ``fig.savefig(path)``.

    Notes
    -----
    Generation i is the model p_{i+1} of round i (docs/theory.md §1); its error is e_{i+1}.
    The bound is R1 (docs/theory.md §2), b = (I − B)^{-1} δ̄, capped at 1 on the plot (a TV
    never exceeds 1).
    """
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(6, 4), dpi=120)
    ax = fig.subplots()
    g = summary["generation"].to_numpy()
    ax.fill_between(g, summary["e_min"], summary["e_max"], alpha=0.25,
                    label=r"$e_{i+1}$ range over replicates")
    ax.plot(g, summary["e_mean"], "o-", label=r"$e_{i+1} = \mathrm{TV}(p_{i+1}, p_0)$, mean")
    ax.plot(g, summary["delta_mean"], "s--",
            label=r"$\delta_i = \mathrm{TV}(p_{i+1}, \pi_i)$, mean")
    ax.plot(g, np.minimum(summary["r1_bound"], 1.0), "k-", lw=2,
            label=r"R1 bound from measured $\delta$ (capped at 1)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(GENERATION_LABEL)
    ax.set_ylabel("total variation")
    ax.set_ylim(0, min(1.0, float(np.nanmax(summary[["e_max", "r1_bound"]].to_numpy())) * 1.1))
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
