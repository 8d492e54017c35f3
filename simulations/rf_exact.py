r"""The 1-D random-feature score evaluated exactly by sorting its kinks (docs/theory.md §6).

In one dimension each feature σ(w_j x + b_j(t)), b_j(t) = u_j0 + u_j1 t/T, is a ramp
that switches on at the kink c_j = −b_j/w_j: for w_j > 0 when x > c_j, for w_j < 0
when x < c_j. So at a fixed time t the score of replicate r is piecewise linear in x,

.. math::
    s_r(x, t) = \frac1m \sum_{j\ \mathrm{active}} A_{rj} (w_j x + b_j)
              = g^w_{r,k}\, x + g^b_{r,k},
    \qquad \nabla\!\cdot s_r = g^w_{r,k},

where k = #{c_j < x} is the number of kinks left of x (one ``searchsorted`` in the
replicate's kinks, sorted once per time: each replicate draws its own frozen (w, u))
and g_{r,k} sums A_rj (w_j, b_j)/m over the features active on the k-th piece: the
rising ramps among the first k kinks plus the falling ramps among the rest (prefix
sums). One table costs R sorts of m kinks and 2R prefix sums of length m; one
evaluation costs O(R N log m) comparisons and two gathers instead of the matmul's
2 R N m multiply-adds and its (R, N, m) feature block. The values are the same sums in
another order (tests: within 1e-12 of the matmul, divergence included).

A kink exactly at x contributes w_j x + b_j = 0 to s either way; only the divergence
at that measure-zero point depends on the side (the matmul path counts the feature
inactive, as here).
"""

from __future__ import annotations

import torch

#: Memory the per-time tables may keep between calls (sampling and density of a round
#: use the same time nodes); above it only the last time's tables are kept.
CACHE_BYTES = 128 * 2**20


class KinkTables:
    """Per-time tables (sorted kinks (Rw, m), g^w and g^b (R, m + 1)) of one score, for
    features w (Rw, m, 1), u (Rw, m, 2) per replicate (Rw = R) or shared (Rw = 1)."""

    def __init__(self, w: torch.Tensor, u: torch.Tensor, a: torch.Tensor, T: float):
        self.w, self.u0, self.u1, self.T = w[..., 0], u[..., 0], u[..., 1], T
        self.a = a[:, 0, :]  # (R, m): the score's only output coordinate
        self.m = w.shape[1]
        per_time = (2 * self.a.shape[0] + self.w.shape[0]) * (self.m + 1) * 8
        self.keep = max(1, CACHE_BYTES // per_time)
        self._cache: dict[float, tuple] = {}

    def at(self, t: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(kinks sorted, g^w, g^b) at time t, cached (the last ``keep`` times)."""
        hit = self._cache.get(t)
        if hit is None:
            if len(self._cache) >= self.keep:
                self._cache.pop(next(iter(self._cache)))
            hit = self._cache[t] = self._build(t)
        return hit

    def _build(self, t: float):
        w = self.w
        b = self.u0 + self.u1 * (t / self.T)
        flat = w == 0  # never with continuous draws; a constant feature if it happens
        kinks = torch.where(flat, torch.inf, -b / torch.where(flat, 1.0, w))
        kinks, order = torch.sort(kinks, dim=1)
        ws, bs = torch.gather(w, 1, order), torch.gather(b, 1, order)
        a = torch.gather(self.a, 1, order.expand_as(self.a))
        rising, falling = (ws > 0).to(a.dtype), (ws < 0).to(a.dtype)
        constant = (a * (torch.relu(bs) * (ws == 0))).sum(1, keepdim=True)

        def table(coef: torch.Tensor) -> torch.Tensor:
            zero = torch.zeros_like(a[:, :1])
            up = torch.cat([zero, torch.cumsum(a * coef * rising, 1)], 1)
            down = torch.cat([zero, torch.cumsum(a * coef * falling, 1)], 1)
            return (up + (down[:, -1:] - down)) / self.m

        return kinks.contiguous(), table(ws), table(bs) + constant / self.m

    def evaluate(self, x: torch.Tensor, t: float, with_divergence: bool):
        """(s (R, N, 1), ∇·s (R, N) or None) at x (R, N, 1) and time t."""
        kinks, gw, gb = self.at(t)
        xs = x[..., 0]
        # shared kinks: one sorted row for every replicate; else each replicate's own
        k = torch.searchsorted(kinks[0] if kinks.shape[0] == 1 else kinks, xs.contiguous())
        slope = torch.gather(gw, 1, k)
        s = torch.addcmul(torch.gather(gb, 1, k), xs, slope)
        return s[..., None], (slope if with_divergence else None)
