"""Models the loop trains: each ``fit(data)`` returns a fitted :class:`Distribution`.

* :class:`GaussianMLEModel`: N(mean, diag var) with the 1/n (MLE) or 1/(n−1) variance
  (E5; THEORY.md §5: full synthetic, E[σ̂_k²] = σ0² ((n−1)/n)^k with 1/n).
* :class:`KDEModel`: Gaussian kernel, bandwidth fixed, Scott or Silverman (recomputed
  each round, THEORY.md §5); sampling is exact (a training point plus h·N(0, I)).

Coordinates with no spread at all (constant pixels) get 1e-3 of the largest
coordinate's scale; a data set with no spread anywhere is refused as collapsed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from boundkit._checks import check_instance, to_float
from boundkit.errors import InvalidArgument
from simulations.distributions import GaussianMixture

BANDWIDTHS = ("silverman", "scott", "cv")
#: Points used to choose the cross-validated bandwidth (a random subset beyond this).
CV_POINTS = 2000
#: Multipliers of the Scott rule searched by cross-validation.
CV_GRID = torch.logspace(-1.5, 0.7, 45, dtype=torch.float64)


def _check_data(data: torch.Tensor, minimum: int = 2) -> torch.Tensor:
    check_instance(data, torch.Tensor, "data", "p0.sample(100, generator)")
    if data.ndim != 2 or data.shape[0] < minimum:
        raise InvalidArgument(f"data must have shape (n, d) with n >= {minimum}; got "
                              f"{tuple(data.shape)}.", argument="data")
    if not torch.all(torch.isfinite(data)) or float(data.abs().max()) > MAX_ABS:
        raise InvalidArgument(f"data must be finite with |x| <= {MAX_ABS:g}; the loop has "
                              f"diverged (synthetic data left float64's safe range). Use fewer "
                              f"rounds or milder settings.", argument="data")
    return data


#: Largest |x| a model is fitted to: beyond it variances overflow within a round or two.
MAX_ABS = 1e100
#: A coordinate with no spread gets this fraction of the largest coordinate's scale.
DEGENERATE_FLOOR = 1e-3


def _floor_degenerate(scale: torch.Tensor) -> torch.Tensor:
    """Per-coordinate scales with zeros floored (constant pixels of digits, say).

    All zero means every point is equal: the model collapsed, and that is refused.
    """
    top = float(scale.max())
    if not top > 0:
        raise InvalidArgument("every coordinate has zero spread (all points equal): the model "
                              "collapsed.", argument="data")
    return scale.clamp_min(DEGENERATE_FLOOR * top)


def _cv_multiplier(data: torch.Tensor, base: torch.Tensor) -> float:
    """argmax_c of the leave-one-out log-likelihood of the KDE with h = c · base."""
    x = data[torch.linspace(0, data.shape[0] - 1, min(CV_POINTS, data.shape[0])).long()]
    base = _floor_degenerate(base)
    z = x / base
    sq = torch.cdist(z, z) ** 2
    sq.fill_diagonal_(float("inf"))  # leave each point out of its own estimate
    m, d = x.shape
    scores = []
    for c in CV_GRID.tolist():
        loo = torch.logsumexp(-0.5 * sq / c**2, dim=1) - math.log(m - 1)
        scores.append(float(loo.mean()) - d * math.log(c))
    return float(CV_GRID[int(torch.tensor(scores).argmax())])


@dataclass(frozen=True)
class GaussianMLEModel:
    """Fit N(x̄, diag σ̂²): ``unbiased=False`` is the MLE (1/n), True uses 1/(n−1)."""

    unbiased: bool = False
    name: str = "gaussian-mle"

    def __post_init__(self):
        if not isinstance(self.unbiased, bool):
            raise TypeError(f"unbiased must be True or False; got {self.unbiased!r}.")

    def fit(self, data: torch.Tensor) -> GaussianMixture:
        data = _check_data(data)
        mean = data.mean(0)
        var = _floor_degenerate(data.var(0, correction=1 if self.unbiased else 0) ** 0.5) ** 2
        return GaussianMixture(mean[None], var.sqrt()[None], device=data.device)


@dataclass(frozen=True)
class KDEModel:
    """Gaussian KDE; ``bandwidth`` is a number (fixed h), ``"silverman"``, ``"scott"`` or ``"cv"``.

    Silverman (per coordinate): h_j = (4/(d+2))^{1/(d+4)} n^{-1/(d+4)} σ̂_j;
    Scott: h_j = n^{-1/(d+4)} σ̂_j; ``"cv"``: c · Scott with c maximising the exact
    leave-one-out log-likelihood over 45 log-spaced values in [0.03, 5] (on at most
    2,000 evenly spaced points of the data).
    """

    bandwidth: float | str = "silverman"
    name: str = "kde"

    def __post_init__(self):
        bw = self.bandwidth
        if isinstance(bw, str):
            if bw not in BANDWIDTHS:
                raise InvalidArgument(f"bandwidth={bw!r} is not known. Pass a number in "
                                      f"[1e-100, 1e100] or one of {', '.join(BANDWIDTHS)}.",
                                      argument="bandwidth")
            return
        h = to_float(bw, "bandwidth")
        if not 1e-100 <= h <= 1e100:
            raise InvalidArgument(f"bandwidth must lie in [1e-100, 1e100] (beyond it the "
                                  f"samples leave float64's range within a few rounds) or be "
                                  f"a rule name; got {bw!r}. Pass e.g. 0.1.",
                                  argument="bandwidth")
        object.__setattr__(self, "bandwidth", h)

    def bandwidths(self, data: torch.Tensor) -> torch.Tensor:
        """The per-coordinate bandwidths h_j for this data set."""
        n, d = data.shape
        if not isinstance(self.bandwidth, str):
            return torch.full((d,), float(self.bandwidth), dtype=data.dtype, device=data.device)
        sigma = data.std(0, correction=1)
        factor = n ** (-1.0 / (d + 4))
        if self.bandwidth == "silverman":
            factor *= (4.0 / (d + 2)) ** (1.0 / (d + 4))
        if self.bandwidth == "cv":
            return _floor_degenerate(factor * sigma) * _cv_multiplier(data, factor * sigma)
        return factor * sigma

    def fit(self, data: torch.Tensor) -> GaussianMixture:
        data = _check_data(data)
        h = _floor_degenerate(self.bandwidths(data))
        return GaussianMixture(data, h[None].expand_as(data), device=data.device)

