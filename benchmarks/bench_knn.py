"""Benchmark k-NN precision/recall in 1-D (issue 17): sorted sliding window vs ``cdist``.

Baseline: the O(n²) form (chunked ``torch.cdist`` for the k-th-neighbour radii of both
sets and for the coverage of each set by the other's balls), as the metric ran before.
boundkit: :func:`simulations.knn.knn_precision_recall`, which in 1-D sorts the points
(radii from k + 1 sliding windows) and tests coverage with ``searchsorted`` against the
running maximum of the balls' right ends, O(n log n); with the real radii cached (the
held-out data do not change between rounds) only the generated set's radii are computed.

Cost model: the baseline computes 4 n² distances (2 radii passes, 2 coverage passes) of
~3 flops each plus a k-th-value selection per row; the sorted form does 2 sorts and
2 searchsorted (≈ 4 n log2 n comparisons) plus 2(k + 1) n vector operations. Both results
must agree exactly (printed). Best of five calls each.

Run: ``.venv/bin/python benchmarks/bench_knn.py [--n 1000]``.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from simulations.knn import knn_precision_recall, knn_radii


def baseline(real: torch.Tensor, fake: torch.Tensor, k: int = 3, chunk: int = 1024):
    """The O(n²) cdist form."""
    def radii(x):
        return torch.cat([torch.cdist(x[s:s + chunk], x).kthvalue(k + 1, dim=1).values
                          for s in range(0, x.shape[0], chunk)])

    def coverage(points, centres, r):
        hit = [(torch.cdist(points[s:s + chunk], centres) <= r[None]).any(1)
               for s in range(0, points.shape[0], chunk)]
        return float(torch.cat(hit).double().mean())

    return coverage(fake, real, radii(real)), coverage(real, fake, radii(fake))


def best(f, reps: int = 5) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    n = ap.parse_args().n
    g = torch.Generator().manual_seed(0)
    real = torch.randn(n, 1, generator=g, dtype=torch.float64)
    fake = 0.8 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    cached = knn_radii(real)
    t_base = best(lambda: baseline(real, fake))
    t_new = best(lambda: knn_precision_recall(real, fake))
    t_cached = best(lambda: knn_precision_recall(real, fake, real_radii=cached))
    print(f"n = {n}: results baseline {baseline(real, fake)}, sorted "
          f"{knn_precision_recall(real, fake)}")
    print(f"cost model: baseline {4 * n * n:.3g} distances; sorted "
          f"{4 * n * math.log2(n):.3g} comparisons + {8 * n:.3g} vector ops")
    print(f"cdist baseline      {t_base * 1e3:9.3f} ms")
    print(f"sorted              {t_new * 1e3:9.3f} ms   ratio {t_base / t_new:6.1f}x")
    print(f"sorted, real cached {t_cached * 1e3:9.3f} ms   ratio {t_base / t_cached:6.1f}x")


if __name__ == "__main__":
    main()
