"""The Gaussian-mixture models a loop trains, batched over replicates.

Each model's ``fit_batched(data, streams)`` fits R models to data of shape
(R, n, d) at once and returns a :class:`~simulations.laws.BatchedMixture`;
``fit(data)`` is R = 1 of the same code and returns a single
:class:`~simulations.distributions.GaussianMixture`.

* :class:`GaussianMLEModel`: N(mean, diag var) with the 1/n (MLE) or 1/(n−1) variance
  (E5; docs/theory.md §5: full synthetic, E[σ̂_k²] = σ0² ((n−1)/n)^k with 1/n).
* :class:`KDEModel`: Gaussian kernel, bandwidth fixed, Scott, Silverman (recomputed
  each round, docs/theory.md §5) or leave-one-out cross-validated; sampling is exact (a
  training point plus h·N(0, I)).

Coordinates with no spread at all (constant pixels) get 1e-3 of the largest
coordinate's scale; a data set with no spread anywhere is a collapsed model, which
the loop reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from boundkit._checks import check_choice, check_instance, to_float
from boundkit.errors import InvalidArgument
from simulations.distributions import GaussianMixture
from simulations.laws import BatchedMixture
from simulations.streams import Streams

BANDWIDTHS = ("silverman", "scott", "cv")
#: Points used to choose the cross-validated bandwidth (evenly spaced beyond this).
CV_POINTS = 2000
#: Multipliers of the Scott rule searched by cross-validation.
CV_GRID = torch.logspace(-1.5, 0.7, 45, dtype=torch.float64)
#: Largest |x| a model is fitted to: beyond it variances overflow within a round or two.
MAX_ABS = 1e100
#: A coordinate with no spread gets this fraction of the largest coordinate's scale.
DEGENERATE_FLOOR = 1e-3


def check_data(data: torch.Tensor, minimum: int = 2) -> torch.Tensor:
    """Data of shape (n, d) for a single fit: finite, |x| ≤ 1e100, n ≥ ``minimum``."""
    check_instance(data, torch.Tensor, "data", "p0.sample(100, generator)")
    if data.ndim != 2 or data.shape[0] < minimum:
        raise InvalidArgument(f"data must have shape (n, d) with n >= {minimum}; got "
                              f"{tuple(data.shape)}.", argument="data")
    check_values(data)
    return data


def check_values(data: torch.Tensor) -> None:
    """Finite with |x| ≤ 1e100, else the loop has diverged (one host sync)."""
    if not bool(torch.all(torch.isfinite(data))) or float(data.abs().max()) > MAX_ABS:
        raise InvalidArgument(f"data must be finite with |x| <= {MAX_ABS:g}; the loop has "
                              f"diverged (synthetic data left float64's safe range). Use fewer "
                              f"rounds or milder settings.", argument="data")


def floor_degenerate(scale: torch.Tensor) -> torch.Tensor:
    """Scales (R, d) with zeros floored at 1e-3 of the replicate's largest (no host sync).

    A replicate whose scales are all zero stays at zero: the loop reports it collapsed.
    """
    return scale.clamp_min(DEGENERATE_FLOOR * scale.amax(-1, keepdim=True))


def single(model, data: torch.Tensor):
    """``model.fit`` for one data set: R = 1 of ``fit_batched`` (streams from the model seed)."""
    data = check_data(data)
    law = model.fit_batched(data[None], Streams.single(getattr(model, "seed", 0),
                                                       data.device))
    if isinstance(law, BatchedMixture):
        if not bool(torch.all(law.scales > 0)):
            raise InvalidArgument("every coordinate has zero spread (all points equal): the "
                                  "model collapsed.", argument="data")
        return law.replicate(0)
    return law


def _cv_multiplier(data: torch.Tensor, base: torch.Tensor) -> float:
    """argmax_c of the leave-one-out log-likelihood of the KDE with h = c · base (one replicate)."""
    x = data[torch.linspace(0, data.shape[0] - 1, min(CV_POINTS, data.shape[0])).long()]
    z = x / base
    sq = torch.cdist(z, z) ** 2
    sq.fill_diagonal_(float("inf"))  # leave each point out of its own estimate
    m, d = x.shape
    grid = CV_GRID.to(data.device)
    scores = torch.stack([torch.logsumexp(-0.5 * sq / c**2, dim=1).mean() - d * torch.log(c)
                          for c in grid]) - math.log(m - 1)
    return grid[scores.argmax()]


@dataclass(frozen=True)
class GaussianMLEModel:
    """Gaussian maximum likelihood: fit N(x̄, diag σ̂²) to each round's data.

    Parameters
    ----------
    unbiased : bool
        False (default) is the MLE (1/n); True uses 1/(n − 1).
    covariance : {"diagonal", "full"}
        A diagonal covariance (default: a one-component mixture) or the full sample
        covariance ([BatchedGaussian][simulations.gaussian_full.BatchedGaussian]),
        set by ``model_params={"covariance": "full"}``.
    name : str
        The registry name.

    References
    ----------
    docs/theory.md §3 (E5, rate 1/2), §5 (E σ̂² = σ0² ((n−1)/n)^k under full synthetic),
    §9 (R9: E log det Σ̂ in d dimensions).
    """

    unbiased: bool = False
    covariance: str = "diagonal"
    name: str = "gaussian-mle"

    def __post_init__(self):
        if not isinstance(self.unbiased, bool):
            raise TypeError(f"unbiased must be True or False; got {self.unbiased!r}.")
        check_choice(self.covariance, ("diagonal", "full"), "covariance")

    def fit_batched(self, data: torch.Tensor, streams: Streams):
        """R fits to data (R, n, d): one-component mixtures, or full-covariance Gaussians."""
        if self.covariance == "full":
            from simulations.gaussian_full import BatchedGaussian

            return BatchedGaussian.fit(data, self.unbiased)
        mean = data.mean(1)
        sd = floor_degenerate(data.var(1, correction=1 if self.unbiased else 0).sqrt())
        weights = torch.ones(data.shape[0], 1, dtype=data.dtype, device=data.device)
        return BatchedMixture(mean[:, None], sd[:, None], weights)

    def fit(self, data: torch.Tensor) -> GaussianMixture:
        return single(self, data)


@dataclass(frozen=True)
class KDEModel:
    """Gaussian kernel density estimation.

    Parameters
    ----------
    bandwidth : float or str
        A number (fixed h), ``"silverman"``, ``"scott"`` or ``"cv"``.
    name : str
        The registry name.

    Notes
    -----
    Silverman (per coordinate): h_j = (4/(d+2))^{1/(d+4)} n^{-1/(d+4)} σ̂_j; Scott:
    h_j = n^{-1/(d+4)} σ̂_j; ``"cv"``: c · Scott with c maximising the exact
    leave-one-out log-likelihood over 45 log-spaced values in [0.03, 5] (on at most 2,000
    evenly spaced points of the data).

    References
    ----------
    docs/theory.md §3 (E4, rate 2/5 in 1-D), §5 (KDE draws and mean densities).
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
        """The bandwidths h (R, d) for data (R, n, d) (or (d,) for one data set (n, d))."""
        if data.ndim == 2:
            return self.bandwidths(data[None])[0]
        reps, n, d = data.shape
        if not isinstance(self.bandwidth, str):
            return torch.full((reps, d), float(self.bandwidth), dtype=data.dtype,
                              device=data.device)
        factor = n ** (-1.0 / (d + 4))
        if self.bandwidth == "silverman":
            factor *= (4.0 / (d + 2)) ** (1.0 / (d + 4))
        base = factor * data.std(1, correction=1)
        if self.bandwidth == "cv":
            base = floor_degenerate(base)
            return base * torch.stack([_cv_multiplier(x, b) for x, b in zip(data, base,
                                                                            strict=True)])[:, None]
        return base

    def fit_batched(self, data: torch.Tensor, streams: Streams) -> BatchedMixture:
        """R KDEs of data (R, n, d): n equal-weight components with equal scales."""
        reps, n, _ = data.shape
        h = floor_degenerate(self.bandwidths(data))
        weights = torch.full((reps, n), 1.0 / n, dtype=data.dtype, device=data.device)
        return BatchedMixture(data, h[:, None, :].expand_as(data).contiguous(), weights,
                              equal_scales=True)

    def fit(self, data: torch.Tensor) -> GaussianMixture:
        return single(self, data)
