"""TV, KL and W2 between explicit distributions (THEORY.md §5–6).

* 1-D: Simpson quadrature of ½|p − q| on the union of the support boxes, with an
  error estimate (Simpson at N and N/2 points, plus the tail mass left out).
* 2-D: Simpson on a product grid, the same way.
* d-D: the bounded estimator TV = E_{x∼(p+q)/2}[|p − q|/(p + q)], each term in
  [0, 1], so Hoeffding's inequality gives an interval at any confidence.
* KL(π ‖ q) by Monte Carlo with its standard error; W2 closed forms for Gaussians.

Every TV comes back as an :class:`Estimate` (value and an interval that holds
the truth: deterministically for quadrature, at the stated confidence for MC).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import ndtr

from simulations._device import DTYPE
from simulations.distributions import TAIL, Distribution


@dataclass(frozen=True)
class Estimate:
    """A measured quantity with an interval [lo, hi] that holds it."""

    value: float
    lo: float
    hi: float
    method: str

    def __post_init__(self):
        if not all(math.isfinite(v) for v in (self.value, self.lo, self.hi)):
            raise ValueError(f"non-finite estimate {self}: a metric must never return NaN or inf.")


def _simpson_weights(n: int, h: float) -> np.ndarray:
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w * h / 3.0


def _check_same_space(p: Distribution, q: Distribution, dims: tuple[int, ...]) -> None:
    if p.dim != q.dim:
        raise ValueError(f"p and q live in different dimensions ({p.dim} and {q.dim}).")
    if p.dim not in dims:
        raise ValueError(f"this estimator is for dimension {dims}; got {p.dim}. Use "
                         f"tv_monte_carlo for higher dimensions.")


def _box(p: Distribution, q: Distribution):
    lo_p, hi_p = p.support_box()
    lo_q, hi_q = q.support_box()
    return np.minimum(lo_p, lo_q), np.maximum(hi_p, hi_q)


def tv_quadrature_1d(p: Distribution, q: Distribution, points: int = 2**15 + 1) -> Estimate:
    """TV(p, q) = ½∫|p − q| in 1-D by Simpson's rule; the interval adds the error estimate."""
    _check_same_space(p, q, (1,))
    if points < 5 or points % 2 == 0:
        raise ValueError(f"points must be odd and >= 5; got {points}. Pass e.g. 2**15 + 1.")
    lo, hi = _box(p, q)
    x = torch.linspace(float(lo[0]), float(hi[0]), points, dtype=DTYPE, device=p.device)
    diff = (torch.exp(p.log_prob(x[:, None])) - torch.exp(q.log_prob(x[:, None]))).abs()
    f = diff.cpu().numpy()
    h = float(x[1] - x[0])
    fine = 0.5 * float(_simpson_weights(points, h) @ f)
    coarse = 0.5 * float(_simpson_weights(points // 2 + 1, 2 * h) @ f[::2])
    err = abs(fine - coarse) + 2 * TAIL
    return Estimate(fine, max(0.0, fine - err), min(1.0, fine + err), "quadrature-1d")


def tv_grid_2d(p: Distribution, q: Distribution, points: int = 513) -> Estimate:
    """TV(p, q) in 2-D by Simpson's rule on a product grid (error from the half grid)."""
    _check_same_space(p, q, (2,))
    if points < 5 or points % 2 == 0:
        raise ValueError(f"points must be odd and >= 5; got {points}. Pass e.g. 513.")
    lo, hi = _box(p, q)
    xs = [torch.linspace(float(lo[j]), float(hi[j]), points, dtype=DTYPE, device=p.device)
          for j in range(2)]
    gx, gy = torch.meshgrid(xs[0], xs[1], indexing="ij")
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    f = (torch.exp(p.log_prob(pts)) - torch.exp(q.log_prob(pts))).abs().reshape(points, points)
    f = f.cpu().numpy()
    hx, hy = float(xs[0][1] - xs[0][0]), float(xs[1][1] - xs[1][0])
    fine = 0.5 * float(_simpson_weights(points, hx) @ f @ _simpson_weights(points, hy))
    sub = f[::2, ::2]
    m = points // 2 + 1
    coarse = 0.5 * float(_simpson_weights(m, 2 * hx) @ sub @ _simpson_weights(m, 2 * hy))
    err = abs(fine - coarse) + 2 * TAIL
    return Estimate(fine, max(0.0, fine - err), min(1.0, fine + err), "grid-2d")


def tv_monte_carlo(p: Distribution, q: Distribution, n: int, generator: torch.Generator,
                   confidence: float = 0.95) -> Estimate:
    """The bounded estimator with a Hoeffding interval at ``confidence`` (any dimension).

    Half the draws come from p and half from q; each term |p − q|/(p + q) lies in
    [0, 1], so the mean of the 2m independent terms is within
    sqrt(log(2/(1 − confidence)) / (4m)) of TV with the stated probability.
    """
    _check_same_space(p, q, tuple(range(1, 10_000)))
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}. Pass e.g. 0.95.")
    m = max(1, n // 2)
    x = torch.cat([p.sample(m, generator), q.sample(m, generator)])
    lp, lq = p.log_prob(x), q.log_prob(x)
    # |p − q|/(p + q) = |tanh((log p − log q)/2)|, stable in log space
    terms = torch.tanh(0.5 * (lp - lq)).abs()
    value = float(terms.mean())
    half = math.sqrt(math.log(2 / (1 - confidence)) / (4 * m))
    return Estimate(value, max(0.0, value - half), min(1.0, value + half),
                    f"monte-carlo-{confidence:g}")


def tv(p: Distribution, q: Distribution, generator: torch.Generator | None = None,
       mc_samples: int = 200_000, confidence: float = 0.95) -> Estimate:
    """TV by the best method for the dimension: quadrature (1-D), grid (2-D), else MC."""
    if p.dim == 1:
        return tv_quadrature_1d(p, q)
    if p.dim == 2:
        return tv_grid_2d(p, q)
    if generator is None:
        raise ValueError("TV in dimension > 2 is Monte Carlo: pass a seeded generator.")
    return tv_monte_carlo(p, q, mc_samples, generator, confidence)


def kl_monte_carlo(pi: Distribution, q: Distribution, n: int,
                   generator: torch.Generator) -> tuple[float, float]:
    """KL(π ‖ q) = E_π[log π − log q] by Monte Carlo: (estimate, standard error)."""
    x = pi.sample(n, generator)
    d = (pi.log_prob(x) - q.log_prob(x)).cpu().numpy()
    if not np.all(np.isfinite(d)):
        raise ValueError("KL is infinite: q has no mass where pi does.")
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf


def tv_gaussian_1d(m1: float, s1: float, m2: float, s2: float) -> float:
    """TV(N(m1, s1²), N(m2, s2²)) in closed form, from the crossing points of the densities.

    Equal means reduce to THEORY.md §5: 2|Φ(x*/a) − Φ(x*/b)|, x*² = 2a²b² ln(b/a)/(b² − a²).
    """
    if s1 <= 0 or s2 <= 0:
        raise ValueError(f"standard deviations must be > 0; got {s1}, {s2}.")
    if math.isclose(s1, s2, rel_tol=0, abs_tol=0):
        return float(2 * ndtr(abs(m1 - m2) / (2 * s1)) - 1)
    # log N1 − log N2 = 0 is a quadratic a x² + b x + c = 0
    a = 1 / (2 * s2**2) - 1 / (2 * s1**2)
    b = m1 / s1**2 - m2 / s2**2
    c = m2**2 / (2 * s2**2) - m1**2 / (2 * s1**2) + math.log(s2 / s1)
    disc = b * b - 4 * a * c
    roots = sorted([(-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)])
    edges = [-math.inf, *roots, math.inf]
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        p = ndtr((hi - m1) / s1) - ndtr((lo - m1) / s1)
        q = ndtr((hi - m2) / s2) - ndtr((lo - m2) / s2)
        total += abs(p - q)
    return 0.5 * total


def w2_gaussian(m1, v1, m2, v2) -> float:
    """W2 between Gaussians with diagonal covariances: sqrt(‖m1 − m2‖² + Σ(√v1 − √v2)²)."""
    m1, v1, m2, v2 = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (m1, v1, m2, v2))
    return float(math.sqrt(np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)))


def w2_1d(p: Distribution, q: Distribution, points: int = 2**14 + 1) -> float:
    """W2 in 1-D: sqrt(∫_0^1 (F_p^{-1}(u) − F_q^{-1}(u))² du) from the densities on a grid.

    The CDFs are cumulative trapezoid sums on the union of the support boxes; the
    quantile functions are their interpolated inverses on a midpoint grid in u.
    """
    _check_same_space(p, q, (1,))
    lo, hi = _box(p, q)
    x = torch.linspace(float(lo[0]), float(hi[0]), points, dtype=DTYPE, device=p.device)
    xs = x.cpu().numpy()
    quantiles = []
    for dist in (p, q):
        dens = torch.exp(dist.log_prob(x[:, None])).cpu().numpy()
        cdf = np.concatenate(([0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(xs))))
        cdf /= cdf[-1]
        u = (np.arange(points) + 0.5) / points
        keep = np.concatenate(([True], np.diff(cdf) > 0))  # strictly increasing for interp
        quantiles.append(np.interp(u, cdf[keep], xs[keep]))
    return float(np.sqrt(np.mean((quantiles[0] - quantiles[1]) ** 2)))


def knn_precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3,
                         chunk: int = 1024) -> tuple[float, float]:
    """k-NN precision and recall (Kynkäänniemi et al., 2019).

    Each point's ball reaches its k-th nearest neighbour in its own set; precision is
    the share of generated points inside some real ball, recall the share of real
    points inside some generated ball.
    """
    if real.shape[0] <= k or fake.shape[0] <= k:
        raise ValueError(f"need more than k={k} points in each set; got {real.shape[0]} and "
                         f"{fake.shape[0]}.")

    def radii(x):
        out = []
        for s in range(0, x.shape[0], chunk):
            d = torch.cdist(x[s:s + chunk], x)
            out.append(d.kthvalue(k + 1, dim=1).values)  # +1: the point itself is at 0
        return torch.cat(out)

    def coverage(points, centres, r):
        hit = []
        for s in range(0, points.shape[0], chunk):
            d = torch.cdist(points[s:s + chunk], centres)
            hit.append((d <= r[None]).any(1))
        return float(torch.cat(hit).to(DTYPE).mean())

    return (coverage(fake, real, radii(real)), coverage(real, fake, radii(fake)))
