"""The simulation-side commands of ``boundkit``: simulate, sweep and results.

They import :mod:`simulations` (and torch) only when they run, so that the bound
commands stay light. ``sweep`` runs a TOML grid of loop configurations on local
processes, Dask or Slurm into a results store; ``results`` lists, shows and exports
what a store holds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from boundkit._cli_common import console as _console
from boundkit._cli_common import emit, format_option, spell
from boundkit._parse import NONNEGATIVE, POSITIVE, SHARE, Names, integer
from boundkit.errors import InvalidArgument
from boundkit.registry import SCHEDULE_REGISTRY
from boundkit.tables import records


def _sim_names(which: str):
    def load() -> tuple[str, ...]:
        from simulations import registry

        return getattr(registry, which).names()
    return load


@click.command()
@click.argument("model", type=Names(_sim_names("MODEL_REGISTRY"), "model"))
@click.option("--data", type=Names(_sim_names("DATA_REGISTRY"), "data set"), default="gaussian",
              help="gaussian, mixture, ring8, grid25, unequal, two-modes, laplace; without "
              "density: moons, circles, swiss-roll, digits.")
@click.option("--schedule", type=click.Choice(SCHEDULE_REGISTRY.names()), default="replace",
              help="A boundkit schedule or an alias: replace; accumulate and accumulate-subsample "
              "keep every generation's data (Gerstgrasser, Kazdan); accumulate-fresh draws "
              "(i+1)n fresh points.")
@click.option("--alpha", type=SHARE, default=None,
              help="Real share: constant-real (default 1/2) or final-rescue (default R3's "
              "(i-1)/i).")
@click.option("--lambda", "lam", type=NONNEGATIVE, default=None,
              help="Synthetic-to-real ratio (fixed-ratio; default 1).")
@click.option("--rounds", type=integer(1, 100_000), default="10",
              help="Rounds (generations 0..rounds-1).")
@click.option("--n", type=integer(2, 10**12), default="500", help="Samples per round (round 0).")
@click.option("--growth", type=NONNEGATIVE, default="0", help="n_i = n (i+1)^P.")
@click.option("--replicates", type=integer(1, 100_000), default="1", help="Independent loops.")
@click.option("--seed", type=integer(0, 2**63 - 1), default="0",
              help="Seed (the same seed gives the same numbers on CPU).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu",
              help="auto, cpu or cuda.")
@click.option("--temperature", type=POSITIVE, default=None,
              help="Biased sampling: synthetic variance x T (gaussian-mle, kde, gmm).")
@click.option("--self-correct", "self_correct", type=SHARE, default=None,
              help="Self-correction strength in [0, 1] toward p0's moments (gaussian-mle, kde, "
              "gmm).")
@click.option("--dim", type=integer(1, 10_000), default=None,
              help="Dimension (--data gaussian or mixture).")
@click.option("--real-data", "real_data", type=click.Choice(["fresh", "pool"]), default="fresh",
              help="fresh (new real draws each round) or pool (the round-0 data only).")
@click.option("--convention", type=click.Choice(["scaled", "fixed-real"]), default=None,
              help="fixed-ratio's round 0: scaled ((1+lambda) n real points, default) or "
              "fixed-real (the n real points alone; later rounds those n plus lambda n).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default="simulation-out", help="Folder for frame.csv and errors.png/pdf.")
@format_option
def simulate(model, data, schedule, alpha, lam, rounds, n, growth, replicates, seed, device,
             temperature, self_correct, real_data, convention, dim, out, fmt) -> None:
    """Train a self-consuming loop and check V1/V2 each round.

    MODEL: gaussian-mle, kde, gmm, diffusion-rf or diffusion-mlp.
    """
    from rich.progress import Progress

    from simulations.report import prepare

    SCHEDULE_REGISTRY.check_options(schedule, {"alpha": alpha, "lam": lam}, spell, "--schedule")
    if convention is not None and schedule != "fixed-ratio":
        raise InvalidArgument(f"--convention applies to --schedule fixed-ratio only (R6's round "
                              f"0); got --schedule {schedule}. Drop --convention.",
                              argument="convention")
    job = prepare(model, data, schedule, rounds=rounds, n=n, growth=float(growth),
                  replicates=replicates, seed=seed, device=device, alpha=alpha, lam=lam,
                  convention=convention or "scaled", temperature=temperature,
                  self_correct=self_correct, real_data=real_data, dim=dim, out=out,
                  spell=spell)
    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("rounds", total=None)
        result = job(progress=lambda done, total: bar.update(task, completed=done, total=total))
    emit(result["summary"], fmt, f"{model} on {data}, {schedule}")
    where = f"frame: {result['frame']}\nfigures: {', '.join(result['figures'])}"
    if fmt == "table":
        _console().print(where)
    else:  # stdout holds the machine format alone
        Console(stderr=True).print(where)




@click.command()
@click.argument("config_file", metavar="CONFIG.toml",
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--store", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The SQLite results store (created if missing; finished runs are skipped).")
@click.option("--workers", type=integer(1, 4096), default=None,
              help="Local worker processes (default: one per core), or the size of --dask "
              "local.")
@click.option("--dask", "dask_address", default=None,
              help="A Dask scheduler address, or 'local' for a LocalCluster of --workers.")
@click.option("--slurm", "partition", default=None, help="A Slurm partition (via submitit).")
def sweep(config_file, store, workers, dask_address, partition) -> int:
    """Run a grid of loop configurations (a TOML sweep file) into a results store."""
    from simulations.store import ResultStore
    from simulations.sweeps import cluster_executor, load
    from simulations.sweeps import sweep as run_sweep

    if dask_address is not None and partition is not None:
        raise InvalidArgument("pass one of --dask and --slurm, not both.", argument="dask")
    if partition is not None and workers is not None:
        raise InvalidArgument("--workers applies to local processes and --dask local; a "
                              "Slurm partition decides its own. Drop --workers.",
                              argument="workers")
    configs = load(config_file)
    size = workers
    executor, close = cluster_executor(dask_address, partition, workers, Path(store).parent)
    try:
        db = ResultStore(store)
    except BaseException:
        if close is not None:
            close()
        raise
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    console = Console(stderr=True)
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("sweep", total=None)

            def progress(finished, running, failed, todo):
                bar.update(task, completed=finished + failed, total=todo,
                           description=f"finished {finished}, running {running}, "
                           f"failed {failed}")

            result = run_sweep(configs, executor=executor, store=db, workers=size,
                               progress=progress)
    finally:
        if close is not None:
            close()
        db.close()
    _console().print(f"{result.total} runs: {result.skipped} already in {store}, "
                    f"{result.finished} finished, {result.failed} failed"
                    + (" (see boundkit results list --status failed)" if result.failed else ""))
    if result.interrupted:
        console.print("interrupted: every finished run is in the store; run the same sweep "
                      "again to resume.")
        return 130
    return 0


@click.group()
def results() -> None:
    """List, show and export the runs in a results store."""


def _open(store: Path):
    """An existing store (refused, and nothing created, when missing or not a store)."""
    from simulations.store import ResultStore

    return ResultStore(store, create=False)


STORE = click.option("--store", type=click.Path(dir_okay=False, path_type=Path), required=True,
                     help="The SQLite results store.")


@results.command("list")
@STORE
@click.option("--status", type=click.Choice(["finished", "failed", "all"]), default="finished")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              help="table (rich), json (one object per run) or csv.")
def list_runs(store, status, fmt) -> None:
    """One line per run: config hash, model, data, schedule, n, seed, wall time, ..."""
    from simulations.store import SUMMARY

    with _open(store) as db:
        runs = db.runs(None if status == "all" else status)[SUMMARY]
    if fmt == "table":
        shown = runs[["config_hash", "model", "data", "schedule", "n", "seed", "status",
                      "wall_s"]].assign(config_hash=runs["config_hash"].str[:12])
        emit(shown, "table", f"{len(runs)} {status} runs in {store}")
    elif fmt == "json":
        sys.stdout.write(json.dumps(records(runs), indent=2, allow_nan=False) + "\n")
    else:
        sys.stdout.write(runs.to_csv(index=False))


@results.command("show")
@click.argument("config_hash", metavar="HASH")
@STORE
@format_option
def show(config_hash, store, fmt) -> None:
    """One run: its config, versions, timing, and e, δ per generation (means).

    With ``--format json|csv|latex|markdown`` only the per-generation means are printed.
    """
    with _open(store) as db:
        run = db.find(config_hash)
        frame = db.frame(run["key"])
    summary = (frame.pivot_table(index="generation", columns="metric", values="value",
                                 aggfunc="mean").reset_index().rename_axis(columns=None)
               if not frame.empty else None)
    if fmt != "table":
        if summary is None:
            raise InvalidArgument(f"run {run['config_hash'][:12]} has no rows (status "
                                  f"{run['status']}); drop --format to see its record.",
                                  argument="format")
        emit(summary, fmt, "")
        return
    console = _console()
    wall = "?" if run["wall_s"] is None else f"{run['wall_s']:.2f}"
    console.print(f"run {run['config_hash']}  ({run['status']}, boundkit {run['version']}, "
                  f"{wall} s, {run['started']} to {run['ended']})")
    console.print(f"versions: {run['versions']}")
    if run["error"]:
        console.print(f"error: {run['error']}")
    console.print_json(run["config"])
    if summary is not None:
        emit(summary, "table", "means over replicates")


@results.command("export")
@STORE
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The file to write.")
def export_runs(store, fmt, output) -> None:
    """The tidy frame of every finished run, with its config columns."""
    from boundkit._paths import check_output_file, sqlite_files

    with _open(store) as db:
        check_output_file(output, protected=sqlite_files(store))
        frame = db.export()
    if fmt == "parquet":
        frame.to_parquet(output, index=False)
    else:
        frame.to_csv(output, index=False)
    _console().print(f"{len(frame):,} rows of {frame['config_hash'].nunique()} runs: {output}")
