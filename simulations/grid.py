"""The shared grid of a run (1-D or 2-D): densities computed once per generation, and the
metrics that reuse them (docs/theory.md §6).

One uniform grid per run covers p0's support box, widened by a quarter of its width
on each side for the models' drift. Each generation's density is evaluated on it
once (:class:`OnGrid`: values and an L1 error estimate); π_i's density is the
weighted sum of cached grids, and e_i, δ_i, TV(π_i, p0), KL, the masses, moments,
NLL (by interpolation) and 1-D W2 are integrals or lookups on the grid.

Integrals use Simpson weights on every axis (:mod:`simulations.quadrature`), with
the half-resolution rule as the error estimate; TV intervals add the mass the
grid misses (:func:`~simulations.quadrature.tv_bounds`), so they hold when a model
drifts out of the box. KDEs get their grid density by linear binning and FFT
convolution (O(n + G log G)); the binning error is bounded analytically and added
to the intervals (tests check it against the exact sum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from boundkit._checks import check_int
from boundkit.errors import InvalidArgument
from simulations._device import DTYPE
from simulations.quadrature import _roundoff, abs_integral, tv_bounds, uniform_rule

#: Default nodes per axis.
POINTS = {1: 4097, 2: 513}
#: Density floor before logs (a finite stand-in for zero: log 1e-300 = −690.8).
TINY = 1e-300
#: π-mass outside the box above which KL(π ‖ p) has no upper bound on the grid, and the
#: log-ratio allowance per unit of smaller missed mass (|log 1e-300| + |log 1e-12|).
MISSED_MASS = 1e-12
KL_TAIL_LOG = 720.0
#: ∫|φ''| for the standard normal density φ: 4 φ(1).
NORMAL_CURVATURE_L1 = 4 * math.exp(-0.5) / math.sqrt(2 * math.pi)
#: Kernel mass beyond ±8 h (left out when the kernel is truncated): 2 Φ(−8).
KERNEL_TAIL = 1.3e-15


@dataclass(frozen=True)
class OnGrid:
    """Densities of R models at the grid's nodes (R, G), with an L1 error estimate (R,).

    Binned densities (KDEs) also carry ``abs_error`` (R, G), a bound on |value − density|
    at every node, and ``log_lo``, ``log_hi`` (R, G), bounds on the log-density where the
    value minus that bound is not positive (±inf where none is known): KL's interval uses
    them.
    """

    values: torch.Tensor
    l1_error: torch.Tensor
    abs_error: torch.Tensor | None = None
    log_lo: torch.Tensor | None = None
    log_hi: torch.Tensor | None = None

    def mix(self, weight: float, other: OnGrid) -> OnGrid:
        """self + weight · other (for π_i = α p0 + Σ_k β_k q_k)."""
        err = None
        if self.abs_error is not None or other.abs_error is not None:
            err = ((0.0 if self.abs_error is None else self.abs_error)
                   + weight * (0.0 if other.abs_error is None else other.abs_error))
        return OnGrid(self.values + weight * other.values,
                      self.l1_error + weight * other.l1_error, err)

    def log_bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(lower, upper) bounds on the log-density at every node (the upper floored at
        log TINY; the lower −inf where nothing bounds the density away from 0)."""
        floor = math.log(TINY)
        if self.abs_error is None:
            log_v = torch.log(self.values.clamp_min(TINY))
            return log_v, log_v
        err = self.abs_error
        upper = torch.log((self.values + err).clamp_min(TINY))
        lower = torch.log((self.values - err).clamp_min(0.0))  # −inf where not positive
        if self.log_lo is not None:
            lower = torch.maximum(lower, self.log_lo)
            upper = torch.minimum(upper, self.log_hi)
        # no floor below: a lower bound raised to log TINY would cut KL's upper bound
        return lower, upper.clamp_min(floor)


class Grid:
    """A uniform grid on a box in 1-D or 2-D, with Simpson weights per axis."""

    def __init__(self, lo, hi, points: int, device):
        lo, hi = np.atleast_1d(np.asarray(lo, float)), np.atleast_1d(np.asarray(hi, float))
        self.dim = lo.size
        if self.dim not in (1, 2):
            raise InvalidArgument(f"the shared grid is for 1-D and 2-D data; got dimension "
                                  f"{self.dim}. Dimension >= 3 uses Monte Carlo.",
                                  argument="data")
        points = check_int(points, "grid_points", 65, 2**16 + 1, "4097")
        points += (1 - points % 4) % 4  # 4k + 1: every other node is again a Simpson rule
        self.device = device
        self.rules = [uniform_rule(float(a), float(b), points) for a, b in zip(lo, hi,
                                                                            strict=True)]
        self.axes = [torch.as_tensor(r.nodes, dtype=DTYPE, device=device) for r in self.rules]
        self.steps = [float(r.nodes[1] - r.nodes[0]) for r in self.rules]
        self.shape = tuple(a.numel() for a in self.axes)
        self.volume = float(np.prod([b - a for a, b in zip(lo, hi, strict=True)]))
        mesh = torch.meshgrid(*self.axes, indexing="ij")
        self.nodes = torch.stack([m.reshape(-1) for m in mesh], dim=1)  # (G, d)
        self._fine = [torch.as_tensor(r.fine, dtype=DTYPE, device=device) for r in self.rules]
        self._coarse = [torch.as_tensor(r.coarse, dtype=DTYPE, device=device)
                        for r in self.rules]

    @classmethod
    def around(cls, lo, hi, points: int | None, device, widen: float = 0.25) -> Grid:
        """The grid on [lo, hi] widened by ``widen`` of its width on each side."""
        lo, hi = np.atleast_1d(np.asarray(lo, float)), np.atleast_1d(np.asarray(hi, float))
        pad = widen * (hi - lo)
        return cls(lo - pad, hi + pad, points or POINTS[lo.size], device)

    # -- integrals -----------------------------------------------------------------------

    def integrate(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(∫ f, error estimate) for f at the nodes, batched over the leading axis."""
        v = values.reshape(values.shape[0], *self.shape)
        if self.dim == 1:
            fine, coarse = v @ self._fine[0], v @ self._coarse[0]
        else:
            fine = torch.einsum("rij,i,j->r", v, self._fine[0], self._fine[1])
            coarse = torch.einsum("rij,i,j->r", v, self._coarse[0], self._coarse[1])
        return fine, (fine - coarse).abs()

    def tv(self, a: OnGrid, b: OnGrid):
        """TV(a, b) per replicate as (value, lo, hi).

        ∫|a − b| by :func:`~simulations.quadrature.abs_integral` (exact on Simpson's
        interpolant, so the kinks where the densities cross cost no order); the interval
        adds its error estimate, the binning bounds of both and the missed mass.
        """
        f = a.values - b.values
        diff, err = abs_integral(f.reshape(f.shape[0], *self.shape), self.axes)
        err = 0.5 * (err + a.l1_error + b.l1_error)
        return tv_bounds(0.5 * diff, err, self.integrate(a.values), self.integrate(b.values))

    def kl(self, pi: OnGrid, p: OnGrid):
        """KL(π ‖ p) = ∫ π log(π/p) per replicate as (value, lo, hi).

        The interval adds the quadrature error and the mass outside the box: its part of
        KL is at least m_π log(m_π/m_p) (log-sum inequality) and has no upper bound, so
        ``hi`` is float64's largest number where π misses more than :data:`MISSED_MASS`
        (or where either density is not resolved: then ``lo`` is 0 too)."""
        ratio = torch.log(pi.values.clamp_min(TINY)) - torch.log(p.values.clamp_min(TINY))
        integrand = torch.where(pi.values > 0, pi.values * ratio, 0.0)
        inside, err = self.integrate(integrand)
        err = err + _roundoff(integrand, self.volume)
        # binned densities: π and log p are known within pointwise bounds; the integrand
        # π (log π − log p) is bounded below at log p's upper bound (its minimum over π in
        # [a, b] is at π = e^(U − 1) clamped) and above at log p's lower bound (convex in
        # π: an end point)
        lo_part, hi_part = inside - err, inside + err
        if pi.abs_error is not None or p.abs_error is not None:
            lower, upper = p.log_bounds()
            e_pi = 0.0 if pi.abs_error is None else pi.abs_error
            a = (pi.values - e_pi).clamp_min(0.0)
            b = pi.values + e_pi
            low = _entropy_term(torch.minimum(torch.maximum(torch.exp(upper - 1), a), b), upper)
            high = torch.maximum(_entropy_term(a, lower), _entropy_term(b, lower))
            (v_lo, e_lo), (v_hi, e_hi) = self.integrate(low), self.integrate(high)
            lo_part = v_lo - e_lo - _roundoff(low, self.volume)
            hi_part = v_hi + e_hi + _roundoff(high, self.volume)
            hi_part = torch.where(torch.isfinite(hi_part), hi_part, torch.inf)
        # the mass outside the box: by the log-sum inequality its part of KL is at least
        # m_π log(m_π / m_p); above, nothing bounds it (π may sit where p has no mass)
        (mass_pi, err_pi), (mass_p, err_p) = self.integrate(pi.values), self.integrate(p.values)
        out_pi = (1.0 - mass_pi).clamp_min(0.0)
        out_p_hi = (1.0 - mass_p + err_p).clamp_min(TINY)
        outside_lo = torch.where(out_pi > 0, out_pi * torch.log(out_pi.clamp_min(TINY) /
                                                                 out_p_hi), 0.0)
        big = torch.finfo(inside.dtype).max
        lo = (lo_part + outside_lo).clamp_min(0.0)
        missed = (1.0 - mass_pi + err_pi) > MISSED_MASS
        # a density the grid cannot resolve (infinite L1 error) leaves KL unknown: [0, max]
        unresolved = ~torch.isfinite(pi.l1_error + p.l1_error)
        hi = torch.where(missed | unresolved, big,
                         (hi_part + MISSED_MASS * KL_TAIL_LOG).clamp_max(big))
        lo = torch.where(unresolved, 0.0, torch.minimum(lo, hi))
        value = torch.minimum(torch.maximum(inside, lo), hi)
        return value, lo, hi

    def moments(self, f: OnGrid) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance per coordinate (R, d) of the densities on the grid."""
        mass, _ = self.integrate(f.values)
        means, variances = [], []
        for c in range(self.dim):
            x = self.nodes[:, c]
            m1 = self.integrate(f.values * x)[0] / mass
            means.append(m1)
            variances.append(self.integrate(f.values * x * x)[0] / mass - m1 * m1)
        return torch.stack(means, 1), torch.stack(variances, 1)

    def interpolate(self, f: OnGrid, x: torch.Tensor) -> torch.Tensor:
        """Density at points x (R, N, d) by (bi)linear interpolation; 0 outside the box."""
        reps = f.values.shape[0]
        v = f.values.reshape(reps, *self.shape)
        idx, frac, inside = [], [], torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        for c, axis in enumerate(self.axes):
            pos = (x[..., c] - axis[0]) / self.steps[c]
            inside &= (pos >= 0) & (pos <= axis.numel() - 1)
            left = pos.floor().clamp(0, axis.numel() - 2)
            idx.append(left.long())
            frac.append(pos - left)
        rows = torch.arange(reps, device=x.device)[:, None]
        if self.dim == 1:
            out = v[rows, idx[0]] * (1 - frac[0]) + v[rows, idx[0] + 1] * frac[0]
        else:
            out = torch.zeros_like(frac[0])
            for dx in (0, 1):
                for dy in (0, 1):
                    w = (frac[0] if dx else 1 - frac[0]) * (frac[1] if dy else 1 - frac[1])
                    out = out + w * v[rows, idx[0] + dx, idx[1] + dy]
        return torch.where(inside, out, 0.0)

    def w2(self, a: OnGrid, b: OnGrid, levels: int = 4096) -> torch.Tensor:
        """W2 in 1-D from the two densities' quantile functions (R,)."""
        x = self.axes[0]
        qs = []
        for f in (a, b):
            cdf = torch.cumulative_trapezoid(f.values, x, dim=1)
            cdf = torch.cat([torch.zeros_like(cdf[:, :1]), cdf], 1)
            cdf = cdf / cdf[:, -1:].clamp_min(TINY)
            u = ((torch.arange(levels, dtype=DTYPE, device=x.device) + 0.5) / levels).expand(
                cdf.shape[0], -1).contiguous()
            k = torch.searchsorted(cdf.contiguous(), u).clamp(1, x.numel() - 1)
            c0, c1 = cdf.gather(1, k - 1), cdf.gather(1, k)
            t = ((u - c0) / (c1 - c0).clamp_min(TINY)).clamp(0, 1)
            qs.append(x[k - 1] + t * self.steps[0])
        return ((qs[0] - qs[1]) ** 2).mean(1).sqrt()

    # -- densities -----------------------------------------------------------------------

    def density(self, dist) -> OnGrid:
        """A single (unbatched) distribution's density on the nodes, as a batch of one."""
        values = torch.exp(dist.log_prob(self.nodes))[None]
        return OnGrid(values, torch.zeros(1, dtype=DTYPE, device=self.device))

    def kde_density(self, points: torch.Tensor, h: torch.Tensor,
                    weights: torch.Tensor) -> OnGrid:
        """Σ_j w_rj N(x; x_rj, diag h_r²) on the nodes, for R weighted KDEs at once.

        Linear binning onto the grid, then convolution with the Gaussian kernel by FFT
        (per axis). Binning moves a point's mass to its two neighbours keeping mass and
        mean, so the L1 error is at most Σ_c Δ_c²/8 · ∫|K''_{h_c}| = Σ_c 0.968 Δ_c²/(8 h_c²)
        to second order; a factor (1 + Δ_c/h_c) covers the higher orders.
        """
        reps = points.shape[0]
        counts = torch.zeros(reps, int(np.prod(self.shape)), dtype=DTYPE, device=self.device)
        pos = [(points[..., c] - self.axes[c][0]) / self.steps[c] for c in range(self.dim)]
        left = [p.floor() for p in pos]
        frac = [p - lf for p, lf in zip(pos, left, strict=True)]
        rows = (torch.arange(reps, device=self.device) * counts.shape[1])[:, None]
        for corner in range(2**self.dim):
            flat, w, keep = torch.zeros_like(left[0]), weights.clone(), None
            for c in range(self.dim):
                bit = (corner >> c) & 1
                k = left[c] + bit
                w = w * (frac[c] if bit else 1 - frac[c])
                ok = (k >= 0) & (k < self.shape[c])
                keep = ok if keep is None else keep & ok
                flat = flat * self.shape[c] + k
            counts.view(-1).index_add_(0, (flat.long() + rows)[keep], w[keep])
        binned = counts.reshape(reps, *self.shape)
        dens, curv = binned, [binned] * self.dim
        for c in range(self.dim):
            reach = _reach(h[:, c], self.steps[c], self.shape[c])
            dens = _convolve_axis(dens, _gauss(h[:, c]), self.steps[c], c + 1, reach)
            # pointwise binning error (bilinear interpolation of each kernel term in its
            # point's position): <= Σ_c Δ_c²/8 · sup over the cell of |∂²_c K|, the sup of
            # a product bounded by the product of per-axis sups (_curvature_sup, _gauss_sup)
            for a in range(self.dim):
                kern = (_curvature_sup(h[:, c], self.steps[c]) if a == c
                        else _gauss_sup(h[:, c], self.steps[c]))
                curv[a] = _convolve_axis(curv[a], kern, self.steps[c], c + 1, reach)
        dens = dens.reshape(reps, -1).clamp_min(0.0)
        ratio = torch.stack([self.steps[c] / h[:, c] for c in range(self.dim)], 1)
        bound = (NORMAL_CURVATURE_L1 / 8 * ratio**2 * (1 + ratio) + KERNEL_TAIL).sum(1)
        binning = sum(self.steps[a] ** 2 / 8 * curv[a].reshape(reps, -1).clamp_min(0.0)
                      for a in range(self.dim))
        # plus the truncated kernel's tail and the FFTs' round-off (1e-13 of the largest)
        peak = 1.0 / torch.prod(math.sqrt(2 * math.pi) * h, 1)
        noise = (peak * KERNEL_TAIL + 1e-13 * (dens.max(1).values + binning.max(1).values))
        pointwise = binning + noise[:, None]
        need = dens <= 2 * pointwise
        log_lo, log_hi = _log_density_bounds(points, h, weights, self.nodes, need)
        return OnGrid(dens, bound, pointwise, log_lo, log_hi)


def _entropy_term(pi: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """π (log π − log p), 0 where π = 0."""
    return torch.where(pi > 0, pi * (torch.log(pi.clamp_min(TINY)) - log_p), 0.0)


def _log_density_bounds(points: torch.Tensor, h: torch.Tensor, weights: torch.Tensor,
                        nodes: torch.Tensor, need: torch.Tensor, k: int = 16):
    """Bounds on log p(x), p = Σ_j w_j N(x; x_j, diag h²), at the nodes where ``need`` is set
    ((R, G) each; −inf and +inf elsewhere), from the k nearest points in the metric scaled
    by h (a k-d tree per replicate, O((n + G) log n)): p is at least their terms' sum and
    at most that sum plus the other points' weight times the kernel at the k-th distance."""
    from scipy.spatial import cKDTree
    from scipy.special import logsumexp

    lower = torch.full(need.shape, -math.inf, dtype=DTYPE)
    upper = torch.full(need.shape, math.inf, dtype=DTYPE)
    pts, hs, ws = points.cpu().numpy(), h.cpu().numpy(), weights.cpu().numpy()
    xs, mask = nodes.cpu().numpy(), need.cpu().numpy()
    for r in range(pts.shape[0]):
        rows = np.flatnonzero(mask[r])
        keep = ws[r] > 0
        if rows.size == 0 or not keep.any():
            continue
        w = ws[r][keep]
        kk = min(k, w.size)
        dist, j = cKDTree(pts[r][keep] / hs[r]).query(xs[rows] / hs[r], k=kk)
        dist, j = dist.reshape(rows.size, kk), j.reshape(rows.size, kk)
        log_norm = -np.sum(np.log(np.sqrt(2 * np.pi) * hs[r]))
        terms = np.log(w[j]) - 0.5 * dist**2 + log_norm
        near = logsumexp(terms, axis=1)
        rest = float(w.sum()) - np.sum(w[j], axis=1)  # the weight not among them
        far = np.log(np.maximum(rest, 1e-300)) - 0.5 * dist[:, -1] ** 2 + log_norm
        idx = torch.as_tensor(rows)
        lower[r, idx] = torch.as_tensor(near)
        upper[r, idx] = torch.as_tensor(np.where(rest > 0, np.logaddexp(near, far), near))
    return lower.to(need.device), upper.to(need.device)


def _reach(h: torch.Tensor, step: float, m: int) -> int:
    """Kernel half-width in nodes: ±8 h (mass beyond < 1.3e-15) when h is on the host's
    side (CPU), the whole grid on a GPU (sized without a host synchronisation)."""
    if h.device.type != "cpu":
        return m - 1
    return int(min(m - 1, math.ceil(8 * float(h.max()) / step) + 1))


def _normal(v: torch.Tensor, hh: torch.Tensor) -> torch.Tensor:
    """N(v; 0, hh²), broadcast."""
    return torch.exp(-0.5 * (v / hh) ** 2) / (hh * math.sqrt(2 * math.pi))


def _gauss(h: torch.Tensor):
    """The Gaussian kernel of std h_r at offsets u: (R, L)."""
    return lambda u: _normal(u[None], h[:, None])


def _gauss_sup(h: torch.Tensor, step: float):
    """sup of the Gaussian kernel over [u − step, u + step]."""
    return lambda u: _gauss(h)((u.abs() - step).clamp_min(0.0))


def _curvature_sup(h: torch.Tensor, step: float):
    """sup of |K''| over [u − step, u + step], K the Gaussian kernel of std h_r:
    |K''(v)| = K(v) |v²/h² − 1| / h², largest at the window's ends or at 0, ±√3 h inside."""
    hh = h[:, None]

    def curv(v):
        return _normal(v, hh) * ((v / hh) ** 2 - 1).abs() / hh**2

    def kernel(u):
        uu = u[None].expand(h.shape[0], -1)
        best = torch.maximum(curv(uu - step), curv(uu + step))
        for centre in (0.0, math.sqrt(3.0), -math.sqrt(3.0)):
            v = (centre * hh).expand_as(uu)
            best = torch.where((v - uu).abs() <= step, torch.maximum(best, curv(v)), best)
        return best
    return kernel


def _convolve_axis(values: torch.Tensor, kernel, step: float, axis: int, reach: int):
    """Convolve along ``axis`` with ``kernel(offsets)`` (R, 2 reach + 1) per replicate."""
    m = values.shape[axis]
    offsets = torch.arange(-reach, reach + 1, dtype=DTYPE, device=values.device) * step
    kern_values = kernel(offsets)
    length = _fast_length(m + 2 * reach)
    shape = [kern_values.shape[0]] + [1] * (values.dim() - 1)
    shape[axis] = kern_values.shape[1]
    kern = torch.fft.rfft(kern_values.reshape(shape), length, dim=axis)
    conv = torch.fft.irfft(torch.fft.rfft(values, length, dim=axis) * kern, length, dim=axis)
    return conv.narrow(axis, reach, m)


def _fast_length(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (lengths the FFT handles fastest)."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best
