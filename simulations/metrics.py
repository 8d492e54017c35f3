"""TV, KL and W2 between explicit distributions (docs/theory.md §5–6).

* 1-D: composite Simpson quadrature of ½|p − q| (:mod:`simulations.quadrature`) over
  the pieces of both distributions, each resolved on its own scale; the interval
  adds the error estimate (Simpson on every other node) and the mass the nodes
  miss, so it holds even when a model drifts far from p0.
* 2-D: the same on a product of per-axis composite rules.
* d-D: the bounded estimator TV = E_{x∼(p+q)/2}[|p − q|/(p + q)], each term in
  [0, 1], so Hoeffding's inequality gives an interval at any confidence.
* KL(π ‖ q) by Monte Carlo with its standard error; W2 closed forms for Gaussians.

Every TV comes back as an :class:`Estimate` with 0 ≤ lo ≤ value ≤ hi ≤ 1 (an
interval that holds the truth: up to the quadrature's error estimate, or at the
stated confidence for MC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from boundkit._checks import check_confidence, check_instance, check_int, to_float
from boundkit.errors import InvalidArgument
from simulations._device import DTYPE
from simulations.distributions import Distribution
from simulations.knn import ball_coverage, knn_precision_recall, knn_radii  # noqa: F401 (re-exported)
from simulations.quadrature import (
    BUDGET_1D,
    Rule,
    abs_integral,
    abs_simpson,
    composite_rule,
    tv_bounds,
)


@dataclass(frozen=True)
class Estimate:
    """A measured TV distance with an interval that holds it.

    Attributes
    ----------
    value : float
        The point estimate.
    lo, hi : float
        The interval, 0 ≤ lo ≤ value ≤ hi ≤ 1.
    method : str
        How it was measured (quadrature, grid, Monte Carlo with its bound).
    """

    value: float
    lo: float
    hi: float
    method: str

    def __post_init__(self):
        v = (self.value, self.lo, self.hi)
        if not all(math.isfinite(x) for x in v) or not 0 <= self.lo <= self.value <= self.hi <= 1:
            raise RuntimeError(f"invalid TV estimate {self}: a metric must return finite "
                               f"0 <= lo <= value <= hi <= 1 (a bug in the metric).")


def _check_same_space(p: Distribution, q: Distribution, dims: tuple[int, ...] | None) -> None:
    check_instance(p, Distribution, "p", "make_distribution('gaussian')")
    check_instance(q, Distribution, "q", "make_distribution('gaussian')")
    if p.dim != q.dim:
        raise InvalidArgument(f"p and q live in different dimensions ({p.dim} and {q.dim}).",
                              argument="q")
    if dims is not None and p.dim not in dims:
        raise InvalidArgument(f"this estimator is for dimension {dims}; got {p.dim}. Use "
                              f"tv_monte_carlo for higher dimensions.", argument="p")


def axis_rule(dists, axis: int, budget: int) -> Rule:
    """The composite rule along one coordinate, from the pieces of every distribution."""
    parts = [d.pieces() for d in dists]
    lo = np.concatenate([p[0][:, axis] for p in parts])
    hi = np.concatenate([p[1][:, axis] for p in parts])
    scale = np.concatenate([p[2][:, axis] for p in parts])
    return composite_rule(lo, hi, scale, budget)


def _density(dist: Distribution, points: np.ndarray, device) -> np.ndarray:
    x = torch.as_tensor(points, dtype=DTYPE, device=device)
    return torch.exp(dist.log_prob(x)).cpu().numpy()


def tv_quadrature_1d(p: Distribution, q: Distribution, points: int = BUDGET_1D) -> Estimate:
    """TV(p, q) = ½∫|p − q| in 1-D by composite Simpson.

    Parameters
    ----------
    p, q : Distribution
        Two laws on R.
    points : int
        At most this many nodes (default 16,384).

    Returns
    -------
    Estimate
        The interval adds the error estimate and the mass outside the nodes.

    References
    ----------
    docs/theory.md §6.
    """
    _check_same_space(p, q, (1,))
    points = check_int(points, "points", 64, 2**24, "65537")
    rule = axis_rule([p, q], 0, points)
    fp = _density(p, rule.nodes[:, None], p.device)
    fq = _density(q, rule.nodes[:, None], p.device)
    diff, err = abs_integral(torch.as_tensor(fp - fq)[None], [rule.nodes], list(rule.segments))
    value, lo, hi = tv_bounds(0.5 * diff[0], 0.5 * err[0], rule.integrate(fp),
                              rule.integrate(fq))
    return Estimate(float(value), float(lo), float(hi), "quadrature-1d")


def tv_grid_2d(p: Distribution, q: Distribution, points: int = 513) -> Estimate:
    """TV(p, q) in 2-D by composite Simpson on a product of per-axis rules.

    Parameters
    ----------
    p, q : Distribution
        Two laws on R².
    points : int
        At most this many nodes per axis (default 513).

    Returns
    -------
    Estimate
        With an interval that adds the error estimate and the mass outside the box.

    References
    ----------
    docs/theory.md §6.
    """
    _check_same_space(p, q, (2,))
    points = check_int(points, "points", 16, 4097, "513")
    rx, ry = axis_rule([p, q], 0, points), axis_rule([p, q], 1, points)
    gx, gy = np.meshgrid(rx.nodes, ry.nodes, indexing="ij")
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    shape = (rx.nodes.size, ry.nodes.size)
    fp = _density(p, pts, p.device).reshape(shape)
    fq = _density(q, pts, p.device).reshape(shape)

    def integrate(f):
        fine = float(rx.fine @ f @ ry.fine)
        return fine, abs(fine - float(rx.coarse @ f @ ry.coarse))

    diff, err = _abs_product(torch.as_tensor(fp - fq), rx, ry)
    value, lo, hi = tv_bounds(0.5 * diff, 0.5 * err, integrate(fp), integrate(fq))
    return Estimate(float(value), float(lo), float(hi), "grid-2d")


def _abs_product(f: torch.Tensor, rx: Rule, ry: Rule) -> tuple[float, float]:
    """∫∫|f| on a product of composite rules: |P₂| rule along y per row, Simpson along x."""
    rows, row_err = abs_integral(f, [ry.nodes], list(ry.segments))
    fine = float(rows @ torch.as_tensor(rx.fine))
    coarse_rows = sum(abs_simpson(f[:, i:i + m:2], 2 * h) for i, m, h in ry.segments)
    coarse = float(coarse_rows @ torch.as_tensor(rx.coarse))
    return fine, abs(fine - coarse) + float(row_err @ torch.as_tensor(np.abs(rx.fine)))


def tv_monte_carlo(p: Distribution, q: Distribution, n: int, generator: torch.Generator,
                   confidence: float = 0.95) -> Estimate:
    """TV by the bounded estimator with a Hoeffding interval (any dimension).

    Parameters
    ----------
    p, q : Distribution
        The two laws.
    n : int
        Total draws (half from p, half from q).
    generator : torch.Generator
        The seeded stream.
    confidence : float
        The interval's level.

    Returns
    -------
    Estimate

    Notes
    -----
    Each term |p − q|/(p + q) at x ~ (p + q)/2 lies in [0, 1], so the mean of the 2m
    independent terms is within sqrt(log(2/(1 − confidence)) / (4m)) of TV with the
    stated probability.

    References
    ----------
    docs/theory.md §6.
    """
    _check_same_space(p, q, None)
    confidence = check_confidence(confidence)
    n = check_int(n, "n", 2, 10**9, "200000")
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
    """TV(p, q) by the best method for the dimension, with an interval that holds.

    Parameters
    ----------
    p, q : Distribution
        The two laws.
    generator : torch.Generator, optional
        Needed for Monte Carlo (d ≥ 3).
    mc_samples : int
        Monte Carlo draws (d ≥ 3).
    confidence : float
        The interval's level for Monte Carlo.

    Returns
    -------
    Estimate
        Quadrature in 1-D, a grid in 2-D, the bounded Monte Carlo estimator beyond.

    References
    ----------
    docs/theory.md §6.
    """
    _check_same_space(p, q, None)
    confidence = check_confidence(confidence)
    if p.dim == 1:
        return tv_quadrature_1d(p, q)
    if p.dim == 2:
        return tv_grid_2d(p, q)
    if generator is None:
        raise InvalidArgument("TV in dimension > 2 is Monte Carlo: pass a seeded generator.",
                              argument="generator")
    return tv_monte_carlo(p, q, mc_samples, generator, confidence)


def kl_monte_carlo(pi: Distribution, q: Distribution, n: int,
                   generator: torch.Generator) -> tuple[float, float]:
    """KL(π ‖ q) = E_π[log π − log q] by Monte Carlo.

    Parameters
    ----------
    pi, q : Distribution
        The two laws (q must have a density wherever π has mass).
    n : int
        Draws from π.
    generator : torch.Generator
        The seeded stream.

    Returns
    -------
    tuple of float
        (estimate, standard error).

    References
    ----------
    docs/theory.md §6.
    """
    _check_same_space(pi, q, None)
    n = check_int(n, "n", 2, 10**9, "20000")
    x = pi.sample(n, generator)
    d = (pi.log_prob(x) - q.log_prob(x)).cpu().numpy()
    if not np.all(np.isfinite(d)):
        raise InvalidArgument("KL(pi || q) is infinite in float64: the model has (numerically) "
                              "zero density where the training mixture has mass, so the loop "
                              "has diverged. Use fewer rounds or milder settings.", argument="q")
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf


def gaussian_tv(m1, v1, m2, v2) -> torch.Tensor:
    """TV(N(m1, v1), N(m2, v2)) elementwise, exactly (torch; the one Gaussian TV).

    Parameters
    ----------
    m1, v1, m2, v2 : torch.Tensor or number
        Means and variances (broadcast together).

    Returns
    -------
    torch.Tensor
        The TV distances, float64.

    Notes
    -----
    Computed after the affine map x ↦ (x − m2)/s2 (TV is invariant under it), i.e. for
    N(m, s²) against N(0, 1), from the two crossing points of the densities (one when
    s = 1); separations beyond 1e150 standard deviations give 1. Equal means reduce to
    2|Φ(x*/a) − Φ(x*/b)| with x*² = 2a²b² ln(b/a)/(b² − a²).

    References
    ----------
    docs/theory.md §5.
    """
    tensors = []
    for value, name in ((m1, "m1"), (v1, "v1"), (m2, "m2"), (v2, "v2")):
        if isinstance(value, str | bytes | bool) or value is None:
            raise TypeError(f"{name} must be a number or a tensor; got {value!r}.")
        try:
            t = torch.as_tensor(value, dtype=DTYPE)
        except (TypeError, ValueError, RuntimeError, OverflowError):
            raise TypeError(f"{name} must be a number or a tensor; got {value!r}.") from None
        if not bool(torch.all(torch.isfinite(t))) or (name[0] == "v" and bool(torch.any(t <= 0))):
            raise InvalidArgument(f"{name} must be finite{' and > 0' if name[0] == 'v' else ''}"
                                  f"; got {value!r}.", argument=name)
        tensors.append(t)
    return gaussian_tv_unchecked(*tensors)


def gaussian_tv_unchecked(m1, v1, m2, v2) -> torch.Tensor:
    """:func:`gaussian_tv` for float64 tensors already checked (finite, variances > 0)."""
    m1, v1, m2, v2 = torch.broadcast_tensors(m1, v1, m2, v2)
    s2 = v2.sqrt()
    m, s = (m1 - m2) / s2, (v1 / v2).sqrt()
    # TV is invariant under x ↦ (x − m)/s, which swaps the roles: work with s ≤ 1 (the
    # narrower law against N(0, 1)), where the crossing points are well conditioned.
    wide = s > 1
    m, s = torch.where(wide, -m / s, m), torch.where(wide, 1 / s, s)
    far = ~torch.isfinite(m) | (m.abs() > 1e150) | (s <= 1e-300)
    m, s = torch.where(far, 0.0, m), torch.where(far, 0.5, s)
    equal = s == 1.0
    s_safe = torch.where(equal, 0.5, s)
    # In u = (x − m)/s the densities cross where A u² + B u + C = 0 with A = 1 − s²,
    # B = −2ms, C = 2 log s − m²; the discriminant 4(m² − 2A log s) is a sum of two
    # non-negative terms (no cancellation, even at s = 1e-150).
    a = (1 - s_safe) * (1 + s_safe)
    b = -2 * m * s_safe
    c = 2 * torch.log(s_safe) - m * m
    root = 2 * (m * m - 2 * a * torch.log(s_safe)).clamp_min(0).sqrt()
    q = -0.5 * (b + torch.copysign(root, b))
    q_safe = torch.where(q == 0, -1.0, q)
    u1, u2 = q_safe / a, c / q_safe
    lo, hi = torch.minimum(u1, u2), torch.maximum(u1, u2)
    phi = torch.special.ndtr
    # between the crossings the narrow law is the larger one
    two = ((phi(hi) - phi(lo)) - (phi(m + s_safe * hi) - phi(m + s_safe * lo))).abs()
    one = 2 * phi(m.abs() / 2) - 1
    return torch.where(far, 1.0, torch.where(equal, one, two)).clamp(0.0, 1.0)


def tv_gaussian_1d(m1: float, s1: float, m2: float, s2: float) -> float:
    """TV(N(m1, s1²), N(m2, s2²)) for scalars, exactly.

    Parameters
    ----------
    m1, s1, m2, s2 : float
        Means and standard deviations (s > 0).

    Returns
    -------
    float

    References
    ----------
    docs/theory.md §5.

    Examples
    --------
    >>> round(tv_gaussian_1d(0.0, 1.0, 1.0, 1.0), 6)  # 2Φ(1/2) − 1
    0.382925
    """
    m1, s1, m2, s2 = (to_float(v, k) for v, k in ((m1, "m1"), (s1, "s1"), (m2, "m2"),
                                                   (s2, "s2")))
    if s1 <= 0 or s2 <= 0:
        raise InvalidArgument(f"standard deviations must be > 0; got {s1}, {s2}.",
                              argument="s1" if s1 <= 0 else "s2")
    shift = (m1 - m2) / s2  # TV is invariant under x ↦ (x − m2)/s2
    if not math.isfinite(shift):
        return 1.0
    ratio = s1 / s2
    return float(gaussian_tv(shift, ratio * ratio, 0.0, 1.0))


def w2_gaussian(m1, v1, m2, v2) -> float:
    """W2 between Gaussians with diagonal covariances.

    Parameters
    ----------
    m1, v1, m2, v2 : array_like
        Means and per-coordinate variances.

    Returns
    -------
    float
        sqrt(‖m1 − m2‖² + Σ(√v1 − √v2)²).

    Examples
    --------
    >>> round(w2_gaussian([0.0], [1.0], [1.0], [4.0]), 6)  # sqrt(1 + 1)
    1.414214
    """
    arrays = []
    for value, name in ((m1, "m1"), (v1, "v1"), (m2, "m2"), (v2, "v2")):
        try:
            a = np.atleast_1d(np.asarray(value, dtype=np.float64))
        except OverflowError:
            a = np.array([np.inf])
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a number or an array of numbers; got "
                            f"{value!r}.") from None
        if a.size == 0 or not np.all(np.isfinite(a)) or np.any(np.abs(a) > 1e150):
            raise InvalidArgument(f"{name} must be finite (|x| <= 1e150) and non-empty; got "
                                  f"{value!r}.", argument=name)
        arrays.append(a)
    m1, v1, m2, v2 = arrays
    if np.any(v1 < 0) or np.any(v2 < 0):
        raise InvalidArgument("variances must be >= 0.", argument="v1")
    return float(math.sqrt(np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)))


def w2_1d(p: Distribution, q: Distribution, points: int = 2**14) -> float | None:
    """W2 in 1-D: sqrt(∫_0^1 (F_p^{-1}(u) − F_q^{-1}(u))² du) from the densities, or None.

    The CDFs are cumulative trapezoid sums on the composite nodes of both
    distributions (each resolved on its own scale); the quantile functions are their
    interpolated inverses on a midpoint grid in u. None when a density is invisible
    on the nodes (its CDF does not rise).
    """
    _check_same_space(p, q, (1,))
    xs = axis_rule([p, q], 0, points).nodes
    quantiles = []
    for dist in (p, q):
        dens = _density(dist, xs[:, None], p.device)
        cdf = np.concatenate(([0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(xs))))
        if not cdf[-1] > 0:
            return None
        cdf /= cdf[-1]
        u = (np.arange(xs.size) + 0.5) / xs.size
        keep = np.concatenate(([True], np.diff(cdf) > 0))  # strictly increasing for interp
        quantiles.append(np.interp(u, cdf[keep], xs[keep]))
    w2 = float(np.sqrt(np.mean((quantiles[0] - quantiles[1]) ** 2)))
    return w2 if math.isfinite(w2) else None
