"""``boundkit verify``: the paper's claims on trained loops (docs/theory.md §7; simulations.verify).

``--scale quick`` (the default; ``make demo``) runs every experiment at small sizes in
this process (about 25 minutes on 2 cores, most of it the diffusion loops); ``--scale
standard`` sizes the replicates by a pilot stage for 90 % power (capped) and decides what
is decidable (not yet timed whole with diffusion: V3 took 8 min, V4 over 23 min
before it was stopped, D1 alone 30 min);
``--scale full`` (``--full``) is the paper-scale run, executed through the sweep runner
and a results store (``--store``, default DIR/results.sqlite) so that it resumes, on
local workers, ``--dask`` or ``--slurm``.
"""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd
from rich.table import Table

from boundkit._cli_common import console, emit, format_option
from boundkit._parse import integer
from boundkit._paths import check_output_dir
from boundkit.errors import InvalidArgument

STYLE = {"holds": "green", "violated": "red", "inconclusive": "yellow",
         "not applicable": "dim", "passed": "green", "failed": "bold red"}


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default="verify-out",
              show_default=True, help="Directory for report.md, verdicts.json, figures, LaTeX.")
@click.option("--scale", "scale_name", type=click.Choice(["quick", "standard", "full"]),
              default=None, help="quick (default; about 25 minutes), standard (replicates "
              "sized by a pilot for 90 % power; D1 alone 30 minutes) or full (paper scale, via "
              "the store).")
@click.option("--quick/--full", default=None, help="Shorthands for --scale quick / full.")
@click.option("--store", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="standard, full: the results store (full's default DIR/results.sqlite).")
@click.option("--workers", type=integer(1, 4096), default=None,
              help="With a store: local worker processes, or the size of --dask local.")
@click.option("--dask", "dask_address", default=None, help="With a store: a Dask scheduler "
              "or 'local'.")
@click.option("--slurm", "partition", default=None, help="With a store: a Slurm partition.")
@click.option("--seed", type=integer(0, 2**63 - 1), default="0", show_default=True,
              help="Seed of every loop.")
@click.option("--claim", "claim_files", multiple=True, type=click.Path(path_type=Path),
              help="A claim of your own (TOML; docs/howto-claims.md), repeatable. Alone, "
              "only these claims run (and C1 on their loops).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu",
              show_default=True, help="Where every loop runs (cuda: the GPU; other numbers "
              "than cpu's for the same seed).")
@format_option
def verify(names, out, scale_name, quick, store, workers, dask_address, partition, seed,
           claim_files, device, fmt) -> None:
    """Confront the paper's claims (C1 V3 V4 V5 P1 P2 P3 P4 P5 D1; long, MLP), and your
    own (--claim), with trained loops and write verdicts, figures and a report. NAME:
    experiments (default all, or none with --claim). Progress goes to stderr as plain
    lines."""
    from simulations._device import resolve_device
    from simulations.verify import SCALES, resolve, user_claims
    from simulations.verify import verify as run_verify

    resolve(names)  # unknown names refused before any work
    resolve_device(device)  # a missing GPU refused before any work
    claims = user_claims(claim_files)  # read and checked before any work
    if quick is not None and scale_name is not None and scale_name != (
            "quick" if quick else "full"):
        raise InvalidArgument(f"--scale {scale_name} contradicts --{'quick' if quick else 'full'}"
                              "; pass one of them.", argument="scale")
    name = scale_name or ("full" if quick is False else "quick")
    if name == "quick" and any(v is not None for v in (store, workers, dask_address,
                                                       partition)):
        raise InvalidArgument("--store, --workers, --dask and --slurm apply to --scale "
                              "standard or full only; add --scale or drop them.",
                              argument="scale")
    if dask_address is not None and partition is not None:
        raise InvalidArgument("pass one of --dask and --slurm, not both.", argument="dask")
    executor, close = None, None
    if name == "full" or store is not None:  # connect first: a refusal creates nothing
        from simulations.sweeps import cluster_executor

        store = store or Path(out) / "results.sqlite"
        executor, close = cluster_executor(dask_address, partition, workers, Path(store).parent)
    try:
        out = check_output_dir(out)
    except InvalidArgument:
        if close is not None:
            close()
        raise
    try:
        verdicts = run_verify(names, out, SCALES[name], claims=claims, store=store,
                              executor=executor,
                              workers=workers, seed=seed, device=device,
                              progress=lambda line: click.echo(f"verify: {line}", err=True))
    finally:
        if close is not None:
            close()
    if fmt != "table":  # the verdicts in a machine format on stdout (verdicts.json has all)
        frame = pd.DataFrame([{k: v.as_dict()[k] for k in
                               ("claim", "kind", "model", "data", "verdict", "statistic")}
                              for v in verdicts])
        emit(frame, fmt, "")
        return
    table = Table(title=f"boundkit verify ({name}): {out}/report.md")
    for col in ("claim", "kind", "model", "data", "verdict", "statistic"):
        table.add_column(col)
    for v in verdicts:
        stat = "—" if v.statistic is None else f"{v.statistic:.3g}"
        table.add_row(v.claim, v.kind, v.model, v.data,
                      f"[{STYLE[v.verdict]}]{v.verdict}[/]", stat)
    console().print(table)
