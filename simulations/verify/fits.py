"""Fits that feed the symbolic layer: V3's δ(n) = C n^{-r} (+ C0) and R8's calibration.

* :func:`fit_rate` fits round 0's TV error over a geometric grid of n by weighted least
  squares on log δ̄(n) (weights 1/se², se of log δ̄ by the delta method), with a floor
  C0 ≥ 0 kept only when a likelihood-ratio test selects it (LR = RSS(no floor) −
  RSS(floor), p = ½ P(χ²₁ > LR) for the boundary C0 = 0, level 5 %; at least 4 sizes;
  the bootstrap quantile rule it replaces kept a 1e-16 floor every time); bootstrap over
  replicates (200 resamples) gives the CI and standard error of r̂ and the fit's draws,
  from which fitted bounds get their own standard errors.
* :func:`calibrate` is R8's calibration (docs/theory.md §8): a(n) = TV(p̄_1, p0), p̄_1 the mean
  density over replicates, and s(n) solving E|a + sZ| = mean e_1; each fitted as a power
  law in n.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import brentq, least_squares
from scipy.stats import chi2

from boundkit import folded_normal_mean
from simulations.config import LoopConfig
from simulations.grid import OnGrid

BOOT = 200
#: Level of the likelihood-ratio test that keeps a floor C0 > 0.
FLOOR_ALPHA = 0.05


@dataclass(frozen=True)
class RateFit:
    """δ(n) ≈ C n^{-r} + C0, with r̂'s bootstrap CI and standard error."""

    const: float
    rate: float
    floor: float
    rate_lo: float
    rate_hi: float
    rate_se: float
    draws: tuple = ()  # bootstrap (C, r, C0) triples, for the uncertainty of fitted bounds
    floor_p: float = 1.0  # the likelihood-ratio test's p-value for a floor C0 > 0

    @property
    def e1_rate(self) -> float:
        """r̂ clipped into [0.01, 0.99], where E1 (and R6's solvers) are defined."""
        return float(np.clip(self.rate, 0.01, 0.99))

    def delta(self, n) -> np.ndarray:
        return self.const * np.asarray(n, float) ** (-self.rate) + self.floor


def _fit_once(sizes: np.ndarray, means: np.ndarray, with_floor: bool,
              weights: np.ndarray | None = None) -> tuple[float, ...]:
    """(C, r, C0, weighted RSS) of log δ̄(n) ≈ log(C n^{-r} + C0)."""
    x, y = np.log(sizes), np.log(means)
    w = np.ones_like(y) if weights is None else weights
    slope, icpt = np.polyfit(x, y, 1, w=np.sqrt(w))
    if not with_floor:
        rss = float(np.sum(w * (y - (icpt + slope * x)) ** 2))
        return float(np.exp(icpt)), float(-slope), 0.0, rss

    def resid(p):
        return np.sqrt(w) * (np.log(np.exp(p[0]) * sizes ** (-p[1]) + p[2]) - y)

    start = [icpt, max(-slope, 0.05), 0.0]
    # C0 may exceed the smallest mean (a noisy mean below the floor), never the largest
    sol = least_squares(resid, start, bounds=([-50, 0.0, 0.0], [50, 3.0, float(means.max())]))
    return float(np.exp(sol.x[0])), float(sol.x[1]), float(sol.x[2]), float(np.sum(sol.fun**2))


def floor_test(sizes, values: list[np.ndarray]) -> float:
    """p-value of the likelihood-ratio test of C0 = 0 against C0 > 0 (1 with < 4 sizes)."""
    sizes = np.asarray(sizes, dtype=np.float64)
    if sizes.size < 4:
        return 1.0
    means = np.array([v.mean() for v in values])
    se_log = np.array([v.std(ddof=1) / np.sqrt(v.size) for v in values]) / means
    w = 1.0 / np.maximum(se_log, 1e-12) ** 2
    lr = max(_fit_once(sizes, means, False, w)[3] - _fit_once(sizes, means, True, w)[3], 0.0)
    return float(0.5 * chi2.sf(lr, 1)) if lr > 0 else 1.0


def fit_rate(sizes, values: list[np.ndarray], seed: int = 0) -> RateFit:
    """Fit δ(n) from per-size replicate values (one array per size)."""
    sizes = np.asarray(sizes, dtype=np.float64)
    for v in values:
        if not np.all(np.isfinite(v)) or np.any(np.asarray(v) <= 0):
            raise ValueError("fit_rate needs finite, positive TV values at every size; a NaN "
                             "or zero is refused.")
    rng = np.random.default_rng(seed)
    means = np.array([v.mean() for v in values])
    se_log = np.array([v.std(ddof=1) / np.sqrt(v.size) for v in values]) / means
    w = 1.0 / np.maximum(se_log, 1e-12) ** 2
    floor_p = floor_test(sizes, values)
    use_floor = floor_p <= FLOOR_ALPHA
    c, r, c0, _ = _fit_once(sizes, means, use_floor, w)
    boot = [np.array([rng.choice(v, v.size).mean() for v in values]) for _ in range(BOOT)]
    draws = tuple(_fit_once(sizes, b, use_floor, w)[:3] for b in boot)
    rates = np.array([d[1] for d in draws])
    return RateFit(c, r, c0, float(np.quantile(rates, 0.025)), float(np.quantile(rates, 0.975)),
                   float(rates.std(ddof=1)), draws, floor_p)


@dataclass(frozen=True)
class Calibration:
    """R8's a(n) = A n^{-ra} and s(n) = S n^{-rs}, with the measured values per size."""

    sizes: tuple
    bias: tuple
    noise: tuple
    a_const: float
    a_rate: float
    s_const: float
    s_rate: float

    def a(self, n) -> np.ndarray:
        return self.a_const * np.asarray(n, float) ** (-self.a_rate)

    def s(self, n) -> np.ndarray:
        return self.s_const * np.asarray(n, float) ** (-self.s_rate)


def _noise_for(a: float, e: float) -> float:
    """s ≥ 0 with E|a + sZ| = e (0 when e ≤ a: no noise is needed to explain the mean)."""
    if e <= a:
        return 0.0
    hi = max(e, 1e-12) * 4
    return brentq(lambda s: float(folded_normal_mean(a, s)) - e, 0.0, hi, xtol=1e-14)


def round0_bias_and_error(config: LoopConfig) -> tuple[float, float]:
    """(a, mean e_1) of round 0 at the config's size: TV of the mean density, mean TV."""
    from simulations.engine import _Context, _fit
    from simulations.grid import Grid

    ctx = _Context(config)
    # the run itself may need no grid (closed forms); the mean density needs one
    grid = ctx.grid or Grid.around(*ctx.p0.support_box(), config.grid_points, ctx.device)
    p0_grid = grid.density(ctx.p0)
    with torch.no_grad():
        data = ctx.streams.sample(ctx.p0, config.sizes[0])
        f = _fit(ctx, data, 0).grid_density(grid)
        mean = OnGrid(f.values.mean(0, keepdim=True), f.l1_error.mean().reshape(1))
        a = float(grid.tv(mean, p0_grid)[0][0])
        e = float(grid.tv(f, p0_grid)[0].mean())
    return a, e


def calibrate(base: LoopConfig, sizes) -> Calibration:
    """R8's calibration on round 0 over ``sizes`` (the config's model and data)."""
    a_vals, s_vals = [], []
    for n in sizes:
        cfg = LoopConfig.from_dict({**base.to_dict(), "n": int(n), "rounds": 1,
                                    "schedule": "full-synthetic", "seed": base.seed + 7919})
        a, e = round0_bias_and_error(cfg)
        a_vals.append(a)
        s_vals.append(_noise_for(a, e))
    x = np.log(np.asarray(sizes, float))
    fits = []
    for vals in (a_vals, s_vals):
        v = np.maximum(np.asarray(vals), 1e-12)
        slope, icpt = np.polyfit(x, np.log(v), 1)
        fits.append((float(np.exp(icpt)), float(-slope)))
    return Calibration(tuple(int(n) for n in sizes), tuple(a_vals), tuple(s_vals),
                       fits[0][0], fits[0][1], fits[1][0], fits[1][1])
