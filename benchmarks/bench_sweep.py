"""Benchmark sweeps (issue "Experiments at scale"); baselines and ours timed in one run.

200 small KDE loops (1-D unequal mixture, n = 200, 30 rounds, 4 replicates, seeds
0..199). Sequential is the same sweep on one worker process (start-up, imports and
the store included, as for the others); 2 local worker processes (goal >= 1.8x) and a
Dask LocalCluster of 2 worker processes (goal >= 1.6x) are compared with it. A plain
loop in this already-warm process (``run`` then the store, no start-up) is reported
too, as the lower bound of sequential time. The store's overhead is the time
``ResultStore.record`` takes per run (goal < 5 ms).

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--runs 200]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from simulations import LoopConfig, ResultStore, run, sweep
from simulations.sweeps import dask_executor, execute


def configs(count: int) -> list[LoopConfig]:
    base = LoopConfig(model="kde", data="unequal", n=200, rounds=30, replicates=4)
    return [base.replace(seed=s) for s in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    runs = configs(parser.parse_args().runs)
    folder = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    run(runs[0])  # warm-up (imports, first allocations)

    store = ResultStore(folder / "sequential.db")
    recording = 0.0
    t0 = time.perf_counter()
    for config in runs:
        out = execute(config.to_dict(), threads=2)
        t1 = time.perf_counter()
        store.record(config, out["frame"], out["meta"])
        recording += time.perf_counter() - t1
    sequential = time.perf_counter() - t0
    rows = len(out["frame"])
    store.close()

    t0 = time.perf_counter()
    result = sweep(runs, store=folder / "one.db", workers=1)
    one = time.perf_counter() - t0
    assert result.finished == len(runs)

    t0 = time.perf_counter()
    result = sweep(runs, store=folder / "local.db", workers=2)
    local = time.perf_counter() - t0
    assert result.finished == len(runs)

    t0 = time.perf_counter()
    executor, close = dask_executor("local", 2)
    try:
        result = sweep(runs, executor=executor, store=folder / "dask.db", workers=2)
    finally:
        close()
    dask = time.perf_counter() - t0
    assert result.finished == len(runs)

    print(f"{len(runs)} KDE loops (n = 200, 30 rounds, 4 replicates; {sequential / len(runs):.2f}"
          f" s each): sequential (the sweep on 1 worker) {one:.1f} s; a warm in-process loop "
          f"{sequential:.1f} s")
    print(f"2 local worker processes: {local:.1f} s, {one / local:.2f}x [goal >= 1.8x] "
          f"({sequential / local:.2f}x the warm loop)")
    print(f"Dask LocalCluster, 2 worker processes: {dask:.1f} s, {one / dask:.2f}x "
          f"[goal >= 1.6x] ({sequential / dask:.2f}x the warm loop)")
    print(f"store overhead: {1e3 * recording / len(runs):.2f} ms per run ({rows} rows, one "
          f"transaction each) [goal < 5 ms]")


if __name__ == "__main__":
    main()
