"""Benchmark R6: λ'_i for all i ≤ 10^6 against per-root baselines, timed in one run.

Goals (issue "boundkit core"): all i ≤ 10^6 in under 1 s; ≥ 35× per root against
``scipy.optimize.brentq`` on h_i; ≥ 50,000× per root against ``sympy.nsolve`` on
dB/dλ (a sample of i); certified enclosures for all i ≤ 10^4 in under 1 s.

Run: ``.venv/bin/python benchmarks/bench_threshold.py`` (or ``make bench``).
Prints the timings, the ratios and the largest disagreement with each baseline.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np
import sympy as sp
from scipy.optimize import brentq

from boundkit import lambda_critical, phase_transition, risk_expr
from boundkit.phase import lam as lam_sym

R = Fraction(1, 4)
N_ALL = 10**6
N_CERT = 10**4


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def h(x: float, i: int, r: float) -> float:
    """h_i(x) = (1−r) Σ_{k≤i} x^k − (i+1) x^i, the geometric sum in closed form."""
    return (1 - r) * (1 - x ** (i + 1)) / (1 - x) - (i + 1) * x**i


def brentq_lambda(i: int, r: float) -> float:
    x = brentq(h, 1e-12, 1 - 1e-15, args=(i, r), xtol=1e-16, rtol=1e-15)
    return x / (1 - x)


def main() -> None:
    r = float(R)
    gens = np.arange(1, N_ALL + 1)
    t_all, lam = best_of(lambda: lambda_critical(gens, R))
    per_root = t_all / N_ALL
    print(f"vectorised float solver: all i <= {N_ALL:,} in {t_all:.3f} s "
          f"({per_root * 1e9:.0f} ns per root)  [goal < 1 s]")

    sample = np.unique(np.geomspace(1, N_ALL, 300).astype(int))
    t0 = time.perf_counter()
    base = np.array([brentq_lambda(int(i), r) for i in sample])
    t_brent = (time.perf_counter() - t0) / sample.size
    diff = np.max(np.abs(base - lam[sample - 1]) / lam[sample - 1])
    print(f"scipy brentq on h_i: {t_brent * 1e6:.1f} us per root over {sample.size} i; "
          f"ratio {t_brent / per_root:,.0f}x  [goal >= 35x]; max rel diff {diff:.1e}")

    dB = sp.diff(risk_expr(1, R), lam_sym)  # warm sympy up
    ns_sample = [1, 2, 5, 10, 20]
    t0 = time.perf_counter()
    ns_vals = []
    for i in ns_sample:
        dB = sp.diff(risk_expr(i, R), lam_sym)
        ns_vals.append(float(sp.nsolve(dB, lam_sym, float(lam[i - 1]) * 1.05)))
    t_ns = (time.perf_counter() - t0) / len(ns_sample)
    diff_ns = max(abs(v - lam[i - 1]) / lam[i - 1] for v, i in zip(ns_vals, ns_sample, strict=True))
    print(f"sympy nsolve on dB/dlambda: {t_ns * 1e3:.1f} ms per root over i={ns_sample}; "
          f"ratio {t_ns / per_root:,.0f}x  [goal >= 50,000x]; max rel diff {diff_ns:.1e}")

    t_cert, pts = best_of(lambda: phase_transition(R, range(1, N_CERT + 1), certify=True), 1)
    n_ok = sum(p.certified for p in pts)
    widest = max((p.enclosure[1] - p.enclosure[0]) / p.lambda_critical for p in pts)
    print(f"certified enclosures (python-flint arb) with break-even and peak ratio, "
          f"i <= {N_CERT:,}: {t_cert:.3f} s, {n_ok:,}/{N_CERT:,} certified, widest relative "
          f"width {widest:.1e}  [goal < 1 s]")
    if not math.isfinite(t_cert) or n_ok != N_CERT:
        raise SystemExit("certification failed")


if __name__ == "__main__":
    main()
