"""Fits that feed the symbolic layer: V3's δ(n) = C n^{-r} (+ C0) and R8's calibration.

* :func:`fit_rate` fits round 0's TV error over a geometric grid of n by least squares on
  log δ̄(n), with a floor C0 ≥ 0 kept only when its bootstrap 2.5 % quantile is > 0;
  bootstrap over replicates (200 resamples) gives the CI and standard error of r̂.
* :func:`calibrate` is R8's calibration (docs/theory.md §8): a(n) = TV(p̄_1, p0), p̄_1 the mean
  density over replicates, and s(n) solving E|a + sZ| = mean e_1; each fitted as a power
  law in n.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import brentq, least_squares

from boundkit import folded_normal_mean
from simulations.config import LoopConfig
from simulations.grid import OnGrid

BOOT = 200


@dataclass(frozen=True)
class RateFit:
    """δ(n) ≈ C n^{-r} + C0, with r̂'s bootstrap CI and standard error."""

    const: float
    rate: float
    floor: float
    rate_lo: float
    rate_hi: float
    rate_se: float

    @property
    def e1_rate(self) -> float:
        """r̂ clipped into [0.01, 0.99], where E1 (and R6's solvers) are defined."""
        return float(np.clip(self.rate, 0.01, 0.99))

    def delta(self, n) -> np.ndarray:
        return self.const * np.asarray(n, float) ** (-self.rate) + self.floor


def _fit_once(sizes: np.ndarray, means: np.ndarray, with_floor: bool) -> tuple[float, ...]:
    x, y = np.log(sizes), np.log(means)
    slope, icpt = np.polyfit(x, y, 1)
    if not with_floor:
        return float(np.exp(icpt)), float(-slope), 0.0

    def resid(p):
        return np.log(np.exp(p[0]) * sizes ** (-p[1]) + p[2]) - y

    start = [icpt, max(-slope, 0.05), 0.0]
    sol = least_squares(resid, start, bounds=([-50, 0.0, 0.0], [50, 3.0, float(means.min())]))
    return float(np.exp(sol.x[0])), float(sol.x[1]), float(sol.x[2])


def fit_rate(sizes, values: list[np.ndarray], seed: int = 0) -> RateFit:
    """Fit δ(n) from per-size replicate values (one array per size)."""
    sizes = np.asarray(sizes, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = np.array([v.mean() for v in values])
    boot = [np.array([rng.choice(v, v.size).mean() for v in values]) for _ in range(BOOT)]
    floors = np.array([_fit_once(sizes, b, True)[2] for b in boot[:50]])
    use_floor = bool(np.quantile(floors, 0.025) > 0)
    c, r, c0 = _fit_once(sizes, means, use_floor)
    rates = np.array([_fit_once(sizes, b, use_floor)[1] for b in boot])
    return RateFit(c, r, c0, float(np.quantile(rates, 0.025)), float(np.quantile(rates, 0.975)),
                   float(rates.std(ddof=1)))


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
