"""Run a named simulation and write its frame (CSV) and figure (PNG) with the R1 bound.

The overlay is the R1 recursion b = (I − B)^{-1} δ̄ evaluated with the measured
per-round δ_i (mean over replicates): the bound the master inequality gives for
the errors actually incurred.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from boundkit import SCHEDULE_REGISTRY, bound_values
from boundkit.errors import InvalidArgument
from simulations.loop import run_loop
from simulations.registry import DATA_REGISTRY, MODEL_REGISTRY, has_density
from simulations.sampling import SyntheticSampling

#: Default memory budget of one simulation (override with BOUNDKIT_MEMORY_GB).
MEMORY_GB = 8.0


def check_output_dir(out: str | Path, option: str = "--out") -> Path:
    """Create ``out`` (a folder) and prove it writable, before any work."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".boundkit-write-test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise InvalidArgument(f"{option}={str(out)!r} cannot be created or written "
                              f"({exc.strerror or exc}). Pass a writable folder.",
                              argument="out") from None
    return path


def estimate_bytes(model: str, dim: int, sizes: list[int], replicates: int, rounds: int,
                   density: bool, width: int = 256) -> int:
    """Approximate peak memory of :func:`run_loop` for these settings (bytes).

    The dominant terms: the round's data and the stored models (KDE keeps its data),
    the chunked mixture density (4,096 points × components × d), the Monte Carlo TV
    draws in d > 2, the random-feature matrices, and the tidy frame.
    """
    n_max, total = max(sizes), sum(sizes)
    data = 8 * dim * (6 * n_max + (2 * total if model == "kde" else 0))
    components = {"kde": n_max, "gmm": 3, "gaussian-mle": 1}.get(model, 1)
    density_chunk = 3 * 8 * 4096 * components * dim
    grids = 8 * 6 * (513**2 if dim == 2 else 2**16)
    mc = 4 * 8 * 200_000 * dim if density and dim > 2 else 0
    rf = 3 * 8 * (2 * n_max * width + width * width) if model == "diffusion-rf" else 0
    frame = 200 * 13 * rounds * replicates
    return int(data + density_chunk + grids + mc + rf + frame)


def prepare(model: str, data: str, schedule: str, *, rounds: int, n: int, growth: float = 0.0,
            replicates: int = 1, seed: int = 0, device: str = "cpu", alpha=None, lam=None,
            temperature=None, self_correct=None, real_data: str = "fresh", dim=None,
            out: str | Path = "simulation-out",
            spell: Callable[[str], str] = str) -> Callable[..., dict]:
    """Check every argument of a simulation and its memory, create ``out``; return the job.

    Options that do not apply to the chosen model, data set or schedule are refused
    (``spell`` names them as the user typed them). Nothing is trained before the
    returned function is called with an optional ``progress`` callback.
    """
    MODEL_REGISTRY.check_options(model, {"temperature": temperature,
                                         "self_correct": self_correct}, spell, "MODEL")
    DATA_REGISTRY.check_options(data, {"dim": dim}, spell, "--data")
    entry = SCHEDULE_REGISTRY.check_options(schedule, {"alpha": alpha, "lam": lam}, spell,
                                            "--schedule")
    sched = SCHEDULE_REGISTRY.build(schedule, "--schedule", alpha=alpha, lam=lam)
    if growth < 0:
        raise InvalidArgument(f"--growth must be >= 0; got {growth}. Pass e.g. --growth 4.",
                              argument="growth")
    power = float(growth) + (1 if entry.accumulate else 0)
    factor = float(sched.size_factor)
    log_sizes = [math.log(n) + power * math.log(i + 1) + math.log(factor) for i in range(rounds)]
    if max(log_sizes) > math.log(1e12):
        last = int(np.argmax(log_sizes))
        digits = max(log_sizes) / math.log(10)
        raise InvalidArgument(f"round {last} would train on about 10^{digits:.3g} points (n (i+1)^P"
                              f" with --growth {growth}); the limit is 10^12. Pass a smaller "
                              f"--growth, --n or --rounds.", argument="growth")
    sizes = [round(math.exp(v)) for v in log_sizes]
    dimension = dim or 1
    budget = float(os.environ.get("BOUNDKIT_MEMORY_GB", MEMORY_GB)) * 2**30
    need = estimate_bytes(model, dimension if data in ("gaussian", "mixture") else 2,
                          sizes, replicates, rounds, has_density(data))
    if need > budget:
        raise InvalidArgument(
            f"this simulation needs about {need / 2**30:,.1f} GiB (limit {budget / 2**30:g} GiB; "
            f"largest round {max(sizes):,} points in {dimension} dimension(s), {replicates} "
            f"replicate(s), {rounds} rounds). Pass a smaller --n, --growth, --dim, --rounds or "
            f"--replicates, or raise BOUNDKIT_MEMORY_GB.", argument="n")
    path = check_output_dir(out)
    p0 = DATA_REGISTRY.build(data, "--data", dim=dim, device=device)
    mdl = MODEL_REGISTRY.build(model, "MODEL")
    sampling = SyntheticSampling(1.0 if temperature is None else temperature,
                                 0.0 if self_correct is None else self_correct)

    def job(progress=None) -> dict:
        frame = run_loop(mdl, p0, sched, rounds, lambda i: n * (i + 1) ** power,
                         replicates=replicates, seed=seed, device=device, progress=progress,
                         sampling=sampling, real_data=real_data)
        return write(frame, sched, f"{model} on {data}, {schedule}", path)

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
        _figure(summary, title, out / "errors.png")
    else:
        summary = _summary_density_free(frame)
        _figure_density_free(summary, title, out / "errors.png")
    return {"frame": str(out / "frame.csv"), "figure": str(out / "errors.png"),
            "summary": summary}


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
    return summary.reset_index()


def _summary_density_free(frame: pd.DataFrame) -> pd.DataFrame:
    wide = frame.pivot_table(index=["replicate", "generation"], columns="metric", values="value")
    by_gen = wide.groupby(level="generation")
    return pd.DataFrame({key: by_gen[key].mean() for key in ("precision", "recall", "nll")
                         }).reset_index()


def _figure_density_free(summary: pd.DataFrame, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    g = summary["generation"].to_numpy()
    ax.plot(g, summary["precision"], "o-", label="k-NN precision, mean")
    ax.plot(g, summary["recall"], "s--", label="k-NN recall, mean")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(r"generation $i$ (model $p_{i+1}$ of round $i$)")
    ax.set_ylim(0, 1.05)
    ax.set_title(title + " (no density: no TV bound)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _figure(summary: pd.DataFrame, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    g = summary["generation"].to_numpy()
    ax.fill_between(g, summary["e_min"], summary["e_max"], alpha=0.25, label="e_i range")
    ax.plot(g, summary["e_mean"], "o-", label=r"$e_{i+1} = \mathrm{TV}(p_{i+1}, p_0)$, mean")
    delta_label = r"$\delta_i = \mathrm{TV}(p_{i+1}, \pi_i)$, mean"
    ax.plot(g, summary["delta_mean"], "s--", label=delta_label)
    ax.plot(g, summary["r1_bound"], "k-", lw=2, label=r"R1 bound from measured $\delta$")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(r"generation $i$ (model $p_{i+1}$ of round $i$)")
    ax.set_ylabel("total variation")
    ax.set_ylim(0, min(1.0, float(np.nanmax(summary[["e_max", "r1_bound"]].to_numpy())) * 1.1))
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
