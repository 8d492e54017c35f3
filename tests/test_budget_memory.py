"""The memory budget (simulations.budget): estimates against measured peaks, and runs split
into chunks of replicates that fit, with the same numbers as one pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from simulations import LoopConfig, run
from simulations.budget import ALLOCATOR_SLACK, estimate_bytes, replicate_chunk

KDE = {"model": "kde", "model_params": {"bandwidth": "silverman"}}

#: Measure the peak resident memory a run adds over the process before it (a fresh
#: interpreter per run, so one run's pools do not hide another's). The peak is VmHWM, which
#: belongs to the new address space; getrusage's ru_maxrss survives execve on Linux, so a
#: child of a large test process (an xdist worker) would report its parent's size.
PEAK = """
import json, sys
from simulations import LoopConfig, run
cfg = LoopConfig(**json.loads(sys.argv[1]))
with open("/proc/self/statm") as f:
    base = int(f.read().split()[1]) * 4096
run(cfg)
with open("/proc/self/status") as f:
    hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print(hwm * 1024 - base)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/statm (Linux)")
@pytest.mark.parametrize("params", [
    {**KDE, "data": "gaussian", "n": 100, "growth": 3, "rounds": 12, "replicates": 25},
    {**KDE, "data": "gaussian", "n": 20000, "rounds": 3, "replicates": 200},
    {**KDE, "data": "ring8", "n": 20000, "rounds": 3, "replicates": 16},
    {"model": "gaussian-mle", "data": "unequal", "n": 200000, "rounds": 3, "replicates": 100},
], ids=["kde-growth", "kde-fresh", "kde-2d", "mle-mixture"])
def test_estimate_is_within_25_percent_of_the_measured_peak(params):
    config = LoopConfig(**params)
    # a fixed mmap threshold: freed arrays leave, so the peak is the live arrays' (the
    # estimate's subject; budget.ALLOCATOR_SLACK covers what a default glibc keeps)
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    out = subprocess.run([sys.executable, "-c", PEAK, json.dumps(params)], check=True,
                         capture_output=True, text=True, env=env)
    peak = int(out.stdout.strip().splitlines()[-1])
    assert peak > 2**27  # runs large enough for the budget to matter (> 0.125 GiB)
    assert abs(estimate_bytes(config) - peak) <= 0.25 * peak, (estimate_bytes(config), peak)


def test_runs_above_the_budget_go_in_chunks_with_the_same_numbers(monkeypatch):
    config = LoopConfig(**KDE, data="gaussian", n=300, rounds=3, replicates=5, seed=7)
    whole = run(config)
    monkeypatch.setenv("BOUNDKIT_MEMORY_GB", str(
        estimate_bytes(config.replace(replicates=2)) * ALLOCATOR_SLACK / 2**30))
    assert replicate_chunk(config) == 2
    calls = []
    chunked = run(config, lambda done, total: calls.append((done, total)))
    # the FFT's length follows the batch's widest kernel, so a KDE's density in its far
    # tails (round-off) differs between batches: KL's intervals overlap (both hold the
    # truth) and Pinsker's margin follows; every other number agrees exactly
    tails = chunked.metric.isin(["kl", "v2_margin"])  # v2 = sqrt(kl_hi / 2) - delta_lo
    pd.testing.assert_frame_equal(chunked[~tails], whole[~tails])
    pd.testing.assert_frame_equal(chunked[tails].drop(columns=["value", "lo", "hi"]),
                                  whole[tails].drop(columns=["value", "lo", "hi"]))
    a, b = chunked[chunked.metric == "kl"], whole[whole.metric == "kl"]
    assert (a.lo.to_numpy() <= b.hi.to_numpy()).all() and (b.lo.to_numpy() <= a.hi.to_numpy()).all()
    assert (abs(a.value.to_numpy() - b.value.to_numpy()) <= (a.hi - a.lo).to_numpy() + 1e-15).all()
    assert chunked.attrs["config_hash"] == config.config_hash
    assert calls == [(k, 9) for k in range(1, 10)]  # 3 chunks (2, 2, 1) of 3 rounds
