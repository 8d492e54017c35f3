"""Quadrature rules for TV on explicit densities: composite Simpson with an error estimate.

One home for the quadrature weights (docs/theory.md §6). A :class:`Rule` holds nodes
and two weight vectors on the same nodes: Simpson's rule (``fine``) and Simpson's
rule on every other node (``coarse``); |fine − coarse| estimates the error from one
evaluation of the integrand.

:func:`composite_rule` builds a rule from *pieces*, the intervals where each mixture
component holds all but a tail of its mass together with its scale: the line is
cut where pieces start and end, and each stretch gets a step of at most its
smallest scale / ``per_scale``. Far-apart components (N(0, 1) against N(10^10, 1))
are then each resolved, and no node is spent on the empty space between them.

:func:`tv_on_rule` turns density values into an :class:`~simulations.metrics.Estimate`
whose interval accounts for the mass the nodes do not see: if ∫p over the rule is
I_p, the mass outside is m_p = 1 − I_p, and TV = ½∫_in|p − q| + ½∫_out|p − q| with
the outside term in [½|m_p − m_q|, ½(m_p + m_q)].
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from boundkit.errors import InvalidArgument

#: Nodes per unit of a piece's scale (step = scale / PER_SCALE); Simpson on |p − q| is
#: O(step²) at the crossings, so this keeps the error below ~1e-7 for unit-scale kinks.
PER_SCALE = 512
#: Most nodes of a 1-D rule (the step grows beyond it, and the error estimate with it).
BUDGET_1D = 2**14


def simpson_weights(m: int, h: float) -> np.ndarray:
    """Simpson weights h/3 · (1, 4, 2, …, 4, 1) for m (odd, ≥ 3) equally spaced nodes."""
    w = np.ones(m)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w * h / 3.0


@dataclass(frozen=True)
class Rule:
    """Nodes with Simpson weights (``fine``) and half-resolution weights (``coarse``);
    ``segments`` lists the uniform stretches as (first node, node count, step)."""

    nodes: np.ndarray
    fine: np.ndarray
    coarse: np.ndarray
    segments: tuple = ()

    def integrate(self, values: np.ndarray) -> tuple[float, float]:
        """(∫ f, error estimate) for f sampled at the nodes (last axis)."""
        fine = values @ self.fine
        return fine, np.abs(fine - values @ self.coarse)


def uniform_rule(lo: float, hi: float, points: int) -> Rule:
    """Simpson on ``points`` = 4k + 1 (≥ 5) equally spaced nodes of [lo, hi]."""
    if points < 5 or points % 4 != 1:
        raise InvalidArgument(f"points must be 4k + 1 and >= 5 (Simpson on every other node "
                              f"needs it); got {points}. Pass e.g. 4097.", argument="points")
    x = np.linspace(lo, hi, points)
    h = (hi - lo) / (points - 1)
    coarse = np.zeros(points)
    coarse[::2] = simpson_weights(points // 2 + 1, 2 * h)
    return Rule(x, simpson_weights(points, h), coarse, ((0, points, h),))


def _stretches(lo: np.ndarray, hi: np.ndarray, scale: np.ndarray):
    """Maximal stretches [a, b] covered by pieces, each with the smallest covering scale.

    A sweep over the sorted piece ends with a heap of active scales (lazy deletion),
    O(K log K); adjacent stretches with the same scale are merged.
    """
    order = np.argsort(lo, kind="stable")
    events = np.unique(np.concatenate([lo, hi]))
    out: list[list[float]] = []
    heap: list[tuple[float, float]] = []  # (scale, end)
    k = 0
    for a, b in itertools.pairwise(events):
        while k < order.size and lo[order[k]] <= a:
            heapq.heappush(heap, (float(scale[order[k]]), float(hi[order[k]])))
            k += 1
        while heap and heap[0][1] <= a:
            heapq.heappop(heap)
        if not heap:
            continue  # a gap: no piece here, its mass is counted as missed
        s = heap[0][0]
        if out and out[-1][1] == a and out[-1][2] == s:
            out[-1][1] = float(b)
        else:
            out.append([float(a), float(b), s])
    return out


def composite_rule(lo, hi, scale, budget: int = BUDGET_1D, per_scale: int = PER_SCALE) -> Rule:
    """A composite Simpson rule over the union of pieces [lo_j, hi_j] with scales s_j.

    Each stretch gets 4k + 1 nodes (≥ 5, so that every other node is again a Simpson
    rule) with step ≤ s / per_scale, scaled down uniformly when the total would exceed
    ``budget``.
    """
    lo, hi, scale = (np.asarray(v, dtype=np.float64).ravel() for v in (lo, hi, scale))
    stretches = _stretches(lo, hi, scale)
    want = np.array([max(4.0, (b - a) / s * per_scale) for a, b, s in stretches])
    shrink = min(1.0, (budget - 5 * len(stretches)) / max(want.sum(), 1.0))
    nodes, fine, coarse, segments, start = [], [], [], [], 0
    for (a, b, _), m in zip(stretches, want, strict=True):
        count = max(5, 4 * math.ceil(m * max(shrink, 0.0) / 4) + 1)
        part = uniform_rule(a, b, count)
        nodes.append(part.nodes)
        fine.append(part.fine)
        coarse.append(part.coarse)
        segments.append((start, count, part.segments[0][2]))
        start += count
    return Rule(np.concatenate(nodes), np.concatenate(fine), np.concatenate(coarse),
                tuple(segments))


def _panel_abs(f0, f1, f2):
    """∫_0^2 |P(u)| du for the quadratics P through (0, f0), (1, f1), (2, f2), elementwise;
    also whether P changes sign inside the panel."""
    a = (f0 - 2 * f1 + f2) / 2  # P(u) = a u² + b u + c on u ∈ [0, 2] (units of step)
    b = (-3 * f0 + 4 * f1 - f2) / 2
    c = f0

    def antider(u):
        return u * (c + u * (b / 2 + u * a / 3))

    disc = (b * b - 4 * a * c).clamp_min(0.0)
    q = -0.5 * (b + torch.copysign(disc.sqrt(), b))
    flat = a.abs() <= 1e-14 * (b.abs() + c.abs() + 1e-300)
    safe_a = torch.where(flat, 1.0, a)
    safe_q = torch.where(q == 0, 1.0, q)
    r1 = torch.where(flat, -c / torch.where(b == 0, 1.0, b), q / safe_a)
    r2 = torch.where(flat | (q == 0), r1, c / safe_q)
    r1, r2 = r1.nan_to_num(0.0).clamp(0.0, 2.0), r2.nan_to_num(0.0).clamp(0.0, 2.0)
    lo, hi = torch.minimum(r1, r2), torch.maximum(r1, r2)
    total = ((antider(lo) - antider(torch.zeros_like(lo))).abs()
             + (antider(hi) - antider(lo)).abs() + (antider(torch.full_like(hi, 2.0))
                                                    - antider(hi)).abs())
    crossing = ((lo > 0) & (lo < 2)) | ((hi > 0) & (hi < 2))
    return total, crossing


def _candidates(f0, f1, f2):
    """Panels whose quadratic may change sign: a sign change at the nodes, or a vertex
    inside the panel on the other side of zero (a cheap, conservative screen)."""
    a = (f0 - 2 * f1 + f2) / 2
    b = (-3 * f0 + 4 * f1 - f2) / 2
    mixed = ((f0 > 0) != (f1 > 0)) | ((f1 > 0) != (f2 > 0))
    u = -b / torch.where(a == 0, 1.0, 2 * a)
    vertex = f0 + u * (b + u * a)
    dip = (a != 0) & (u > 0) & (u < 2) & ((vertex > 0) != (f0 > 0))
    return mixed | dip


def abs_simpson(f: torch.Tensor, step: float, kinks: bool = False):
    """∫|f| over equally spaced nodes (last axis, 2k+1 of them) as Σ_panels ∫|P₂|.

    P₂ is Simpson's quadratic through a panel's three values, integrated in absolute
    value exactly (split at its roots in the panel). Without a sign change this is
    Simpson's rule; with one, |∫|f| − ∫|P₂|| ≤ ∫|f − P₂| = O(h⁴): the kink where f
    crosses zero costs no order, unlike Simpson on |f| (O(h²) there). On such a panel
    the O(h³) interpolation error no longer integrates away, so with ``kinks=True`` the
    function also returns Σ over sign-changing panels of 2 · h|Δ³f|/12, twice the
    estimate ∫|P₃ − P₂| (P₃ the cubic through the next node: P₃ − P₂ = Δ³f/6 ·
    u(u−1)(u−2), whose |·| integrates to 1/2 over the panel).

    On the CPU only the screened panels (:func:`_candidates`) get the exact form and
    the rest Simpson's rule on |f|, which is the same value there; on a GPU every panel
    takes the exact form (no host synchronisation).
    """
    f0, f1, f2 = f[..., 0:-1:2], f[..., 1::2], f[..., 2::2]
    if f.device.type == "cpu":
        total = (f0.abs() + 4 * f1.abs() + f2.abs()) / 3
        crossing = torch.zeros_like(total, dtype=torch.bool)
        pick = _candidates(f0, f1, f2)
        exact, cross = _panel_abs(f0[pick], f1[pick], f2[pick])
        total[pick], crossing[pick] = exact, cross
    else:
        total, crossing = _panel_abs(f0, f1, f2)
    value = step * total.sum(-1)
    if not kinks:
        return value
    third = f[..., 3::2] - 3 * f[..., 2:-1:2] + 3 * f[..., 1:-2:2] - f[..., 0:-3:2]
    if third.shape[-1] == 0:  # a single panel has no fourth node: assume the worst
        third = 4 * f.abs().amax(-1, keepdim=True)
    third = torch.cat([third, third[..., -1:]], -1)  # the last panel borrows its neighbour's
    return value, step * (crossing * third.abs()).sum(-1) / 6


def abs_integral(f: torch.Tensor, axes: list, segments: list | None = None):
    """(∫|f|, error estimate) for f (R, m) in 1-D or (R, mx, my) in 2-D at the nodes.

    1-D: :func:`abs_simpson` per uniform segment (``segments``: (start, count, step)
    triples of 4k+1 nodes; one segment when None) at full and half resolution; the
    estimate is their difference. 2-D: the same along the second axis, then Simpson
    along the first (fine and half-resolution weights from the axis rules).
    """
    if f.dim() == 2:
        segs = segments or [(0, f.shape[1], float(axes[0][1] - axes[0][0]))]
        parts = [abs_simpson(f[:, i:i + m], h, kinks=True) for i, m, h in segs]
        fine = sum(p[0] for p in parts)
        coarse = sum(abs_simpson(f[:, i:i + m:2], 2 * h) for i, m, h in segs)
        span = sum(m * h for _, m, h in segs)
        return fine, (fine - coarse).abs() + sum(p[1] for p in parts) + _roundoff(f, span)
    hy = float(axes[1][1] - axes[1][0])
    rows_fine, rows_kinks = abs_simpson(f, hy, kinks=True)  # (R, mx)
    rows_coarse = abs_simpson(f[..., ::2], 2 * hy)
    rule = uniform_rule(float(axes[0][0]), float(axes[0][-1]), f.shape[1])
    wf = torch.as_tensor(rule.fine, dtype=f.dtype, device=f.device)
    wc = torch.as_tensor(rule.coarse, dtype=f.dtype, device=f.device)
    fine = rows_fine @ wf
    volume = float(axes[0][-1] - axes[0][0]) * float(axes[1][-1] - axes[1][0])
    return fine, (fine - rows_coarse @ wc).abs() + rows_kinks @ wf + _roundoff(f, volume)


def _roundoff(f: torch.Tensor, volume: float) -> torch.Tensor:
    """Rounding in a sum of G terms: 4 · G · ε · max|f| · volume (per replicate)."""
    nodes = f[0].numel()
    return 4 * nodes * torch.finfo(f.dtype).eps * f.abs().flatten(1).amax(1) * volume


def tv_bounds(diff_in, err, mass_p, mass_q):
    """(value, lo, hi) of TV from ½∫_in|p − q| (with its error) and the rule's masses.

    ``mass_p`` is (∫p over the rule, its error estimate); the mass outside the nodes
    is 1 − ∫p, and it bounds the outside part of TV between ½|m_p − m_q| and
    ½(m_p + m_q). Works elementwise on torch tensors (batched replicates) or floats.
    """
    t = torch.as_tensor
    diff_in, err = t(diff_in, dtype=torch.float64), t(err, dtype=torch.float64)
    (ip, ep), (iq, eq) = [(t(a, dtype=torch.float64), t(b, dtype=torch.float64))
                          for a, b in (mass_p, mass_q)]
    miss_p, miss_q = (1.0 - ip).clamp_min(0.0), (1.0 - iq).clamp_min(0.0)
    miss_p_hi, miss_q_hi = (1.0 - ip + ep).clamp_min(0.0), (1.0 - iq + eq).clamp_min(0.0)
    gap = (miss_p - miss_q).abs()
    outside_lo = (0.5 * (gap - ep - eq)).clamp_min(0.0)
    outside_mid = 0.25 * (gap + miss_p + miss_q)
    lo = (diff_in - err + outside_lo).clamp(0.0, 1.0)
    hi = (diff_in + err + 0.5 * (miss_p_hi + miss_q_hi)).clamp(0.0, 1.0)
    value = torch.minimum(torch.maximum(diff_in + outside_mid, lo), hi)
    return value, lo, hi
