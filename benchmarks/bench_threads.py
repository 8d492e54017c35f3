"""Two concurrent ``boundkit verify --quick`` runs against one alone (goal: <= 2.5x).

On 2 cores, two copies of a CPU-bound job can at best take 2x the wall time of one
(each gets one core). torch's intra-op threads that spin while waiting make it far
worse under load (measured earlier: 1,855 s against 864 s with one thread at a load
average of 12). The CLI's verify and every sweep worker run torch with one intra-op
thread when they share the machine; this benchmark times

- A: one ``verify --quick`` alone (wall and CPU seconds),
- B: two started together (the wall time of the slower),

and prints B / A against the 2.5x goal, with the cost model: the CPU seconds of one
copy, and the wall time two copies need on ``os.cpu_count()`` cores if nothing spins,
max(A, 2 * cpu(A) / cores).

Run from the repository root: ``python benchmarks/bench_threads.py [--experiments V3 P1]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time


def launch(out: str, experiments: list[str], policy: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "boundkit", "verify", *experiments,
                             "--quick", "--out", out], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_WAIT_POLICY": policy})


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(experiments: list[str], policy: str, tmp: str) -> tuple[float, float, float]:
    """(one alone: wall, CPU; two at once: wall) under an OpenMP wait policy."""
    cpu0, t0 = cpu_of_children(), time.perf_counter()
    if launch(os.path.join(tmp, f"{policy}-a"), experiments, policy).wait() != 0:
        raise SystemExit("verify --quick failed")
    alone, cpu_alone = time.perf_counter() - t0, cpu_of_children() - cpu0
    t0 = time.perf_counter()
    pair = [launch(os.path.join(tmp, f"{policy}-{k}"), experiments, policy) for k in "bc"]
    if any(p.wait() != 0 for p in pair):
        raise SystemExit("a concurrent verify --quick failed")
    return alone, cpu_alone, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", nargs="*", default=[],
                        help="verify experiment names (default: all)")
    parser.add_argument("--baseline", action="store_true",
                        help="also time OMP_WAIT_POLICY=ACTIVE (spinning threads)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    policies = ["PASSIVE", "ACTIVE"] if args.baseline else ["PASSIVE"]
    with tempfile.TemporaryDirectory() as tmp:
        for policy in policies:
            alone, cpu_alone, both = measure(args.experiments, policy, tmp)
            ideal = max(alone, 2 * cpu_alone / cores)
            tag = " (boundkit's default)" if policy == "PASSIVE" else " (spinning)"
            print(f"[OMP_WAIT_POLICY={policy}{tag}]")
            print(f"  one verify --quick alone: {alone:.1f} s wall, {cpu_alone:.1f} CPU-s")
            print(f"  two at once:              {both:.1f} s wall")
            print(f"  cost model (no spinning, {cores} cores): two need >= {ideal:.1f} s wall")
            print(f"  ratio two/one: {both / alone:.2f}x (goal <= 2.5x); against the cost "
                  f"model: {both / ideal:.2f}x")


if __name__ == "__main__":
    main()
