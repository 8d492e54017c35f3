"""Benchmark the certificate layer: the whole proof report against its 60 s budget.

Goal (issue "proofs/"): every derivation (R1–R7, E3, E4) with every wrong
variant, checked and reported, in under 60 s on 2 cores. Two timings, taken in
the same run: ``python -m proofs`` as a user runs it (a fresh interpreter,
imports included) and the checks alone, in process, per result. The baseline
is the budget itself; the ratio printed is budget / measured (headroom).

Run: ``.venv/bin/python benchmarks/bench_proofs.py`` (or ``make bench``).
"""

from __future__ import annotations

import subprocess
import sys
import time

BUDGET_S = 60.0


def main() -> int:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "proofs"], capture_output=True, text=True,
                          check=False)
    cli_s = time.perf_counter() - t0
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    print(f"python -m proofs (fresh interpreter): {cli_s:6.1f} s, exit {done.returncode}")
    print(f"  {last}")

    import proofs

    per = {}
    t0 = time.perf_counter()
    for name in proofs.PROOFS:
        t1 = time.perf_counter()
        report = proofs.check([name])
        per[name] = (time.perf_counter() - t1, report.ok, len(report.results))
    total = time.perf_counter() - t0
    print("in process, per result (steps + wrong variants):")
    for name, (secs, ok, rows) in per.items():
        print(f"  {name:3s} {secs:6.2f} s  {rows:3d} rows  {'ok' if ok else 'FAILED'}")
    print(f"  all {total:6.2f} s")
    print(f"budget {BUDGET_S:.0f} s / measured {cli_s:.1f} s = {BUDGET_S / cli_s:.1f}x headroom"
          f" -> {'goal met' if cli_s < BUDGET_S and done.returncode == 0 else 'GOAL MISSED'}")
    return 0 if done.returncode == 0 and all(ok for _, ok, _ in per.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
