"""k-NN precision and recall (Kynkäänniemi et al., 2019), exact and O(n log n) in 1-D.

Split from :mod:`simulations.metrics` (which re-exports these names): the k-th-neighbour
radii (sorted sliding windows in 1-D, chunked ``cdist`` otherwise) and the share of
points inside a union of balls (intervals against the running maximum of their right
ends in 1-D).
"""

from __future__ import annotations

import math

import torch

from boundkit.errors import InvalidArgument
from simulations._device import DTYPE


def knn_radii(x: torch.Tensor, k: int = 3, chunk: int = 1024) -> torch.Tensor:
    """Distance from each point of ``x`` (N, d) to its k-th nearest neighbour in ``x``.

    1-D: O(N log N) and exact, from the sorted points. The k neighbours of a point and the
    point itself are k + 1 consecutive sorted points, so the radius is the smallest, over the
    k + 1 windows of that length containing the point, of the larger distance to the
    window's ends. Otherwise chunked ``cdist`` (O(N² d)).
    """
    if x.shape[1] == 1:
        xs, order = torch.sort(x[:, 0])
        n = xs.shape[0]
        pad = torch.full((k,), math.inf, dtype=xs.dtype, device=xs.device)
        ext = torch.cat([-pad, xs, pad])
        best = torch.full_like(xs, math.inf)
        for t in range(k + 1):  # window [i − k + t, i + t]
            left, right = ext[t:t + n], ext[k + t:k + t + n]
            best = torch.minimum(best, torch.maximum(xs - left, right - xs))
        out = torch.empty_like(best)
        out[order] = best
        return out
    out = []
    for s in range(0, x.shape[0], chunk):
        d = torch.cdist(x[s:s + chunk], x)
        out.append(d.kthvalue(k + 1, dim=1).values)  # +1: the point itself is at 0
    return torch.cat(out)


def ball_coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                  chunk: int = 1024) -> float:
    """Share of ``points`` inside some closed ball (centre, radius).

    1-D: O((N + M) log M) and exact: the balls are intervals, sorted by their left ends with
    the running maximum of their right ends; a point is covered when the running maximum up
    to the last interval starting at or before it reaches it.
    """
    if points.shape[1] == 1:
        lo, order = torch.sort(centres[:, 0] - radii)
        reach = torch.cummax((centres[:, 0] + radii)[order], 0).values
        y = points[:, 0].contiguous()
        idx = torch.searchsorted(lo, y, right=True) - 1
        hit = (idx >= 0) & (reach[idx.clamp_min(0)] >= y)
        return float(hit.to(DTYPE).mean())
    hit = []
    for s in range(0, points.shape[0], chunk):
        d = torch.cdist(points[s:s + chunk], centres)
        hit.append((d <= radii[None]).any(1))
    return float(torch.cat(hit).to(DTYPE).mean())


def knn_precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3,
                         chunk: int = 1024, real_radii: torch.Tensor | None = None
                         ) -> tuple[float, float]:
    """k-NN precision and recall (Kynkäänniemi et al., 2019).

    Each point's ball reaches its k-th nearest neighbour in its own set (:func:`knn_radii`);
    precision is the share of generated points inside some real ball, recall the share of
    real points inside some generated ball. ``real_radii`` reuses the real set's radii
    (the held-out real data do not change between rounds). Exact and O(n log n) in 1-D.
    """
    if real.shape[0] <= k or fake.shape[0] <= k:
        raise InvalidArgument(f"need more than k={k} points in each set; got {real.shape[0]} and "
                         f"{fake.shape[0]}.")
    if real_radii is None:
        real_radii = knn_radii(real, k, chunk)
    return (ball_coverage(fake, real, real_radii, chunk),
            ball_coverage(real, fake, knn_radii(fake, k, chunk), chunk))
