"""Gaussian mixture models fitted by EM (diagonal covariances), R replicates at once.

Initialisation: k-means++ seeding of the means from each replicate's own random
stream, the data variance for every component, equal weights. A variance floor of
1e-6 times the data variance keeps components from collapsing onto single points.
The EM log-likelihood never decreases (:meth:`GMMModel.fit_with_trace`). Replicates
that have converged (relative gain below ``tol``) stop moving; convergence is
checked every 25 iterations, so that a GPU run synchronises with the host rarely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from simulations._device import DTYPE, check_counts
from simulations.distributions import GaussianMixture
from simulations.laws import BatchedMixture
from simulations.models import check_data, single
from simulations.streams import Streams

CHECK_EVERY = 25


@dataclass(frozen=True)
class GMMModel:
    """k-component diagonal GMM; EM stops after ``iters`` or a relative gain below ``tol``."""

    k: int = 3
    iters: int = 300
    tol: float = 1e-10
    seed: int = 0
    name: str = "gmm"

    def __post_init__(self):
        check_counts(k=self.k, iters=self.iters)

    def fit(self, data: torch.Tensor) -> GaussianMixture:
        check_data(data, minimum=self.k + 1)
        return single(self, data)

    def fit_with_trace(self, data: torch.Tensor) -> tuple[GaussianMixture, list[float]]:
        """The fitted mixture and the mean log-likelihood after each EM iteration (one data set)."""
        x = check_data(data, minimum=self.k + 1)
        law, trace = self._em(x[None], Streams.single(self.seed, x.device), trace=True)
        return law.replicate(0), trace

    def fit_batched(self, data: torch.Tensor, streams: Streams) -> BatchedMixture:
        """R mixtures fitted to data (R, n, d)."""
        return self._em(data, streams)[0]

    def _em(self, x: torch.Tensor, streams: Streams, trace: bool = False):
        reps, n, _d = x.shape
        floor = 1e-6 * x.var(1, correction=0).clamp_min(1e-300)[:, None, :]
        means = _kmeanspp(x, self.k, streams)
        var = x.var(1, correction=0)[:, None, :].repeat(1, self.k, 1)
        logw = torch.full((reps, self.k), -math.log(self.k), dtype=DTYPE, device=x.device)
        done = torch.zeros(reps, dtype=torch.bool, device=x.device)
        previous = torch.full((reps,), -math.inf, dtype=DTYPE, device=x.device)
        history: list[float] = []
        for it in range(self.iters):
            comp = (-0.5 * ((x[:, :, None, :] - means[:, None]) ** 2 / var[:, None]
                            + torch.log(2 * math.pi * var[:, None])).sum(-1) + logw[:, None])
            total = torch.logsumexp(comp, dim=2)
            loglik = total.mean(1)
            if trace:
                history.append(float(loglik[0]))
            done = done | ((loglik - previous) <= self.tol * loglik.abs())
            previous = loglik
            resp = torch.exp(comp - total[..., None])  # E step
            mass = resp.sum(1).clamp_min(1e-300)  # M step
            keep = done[:, None]
            new_logw = torch.log(mass / n)
            new_means = (resp.transpose(1, 2) @ x) / mass[..., None]
            new_var = torch.maximum((resp.transpose(1, 2) @ (x * x)) / mass[..., None]
                                    - new_means**2, floor)
            logw = torch.where(keep, logw, new_logw)
            means = torch.where(keep[..., None], means, new_means)
            var = torch.where(keep[..., None], var, new_var)
            if (it + 1) % CHECK_EVERY == 0 and bool(done.all()):
                break
        weights = torch.exp(logw)
        return BatchedMixture(means, var.sqrt(), weights / weights.sum(1, keepdim=True)), history


def _kmeanspp(x: torch.Tensor, k: int, streams: Streams) -> torch.Tensor:
    """k-means++ seeds (R, k, d): each next centre with probability ∝ squared distance."""
    reps, n, _ = x.shape
    rows = torch.arange(reps, device=x.device)
    first = streams.integers(n, 1)[:, 0]
    centres = [x[rows, first]]
    for _ in range(1, k):
        dist = torch.stack([((x - c[:, None]) ** 2).sum(-1) for c in centres]).amin(0)
        total = dist.sum(1, keepdim=True)
        probs = torch.where(total > 0, dist / total.clamp_min(1e-300), 1.0 / n)
        pick = streams.categorical(probs, 1)[:, 0]
        centres.append(x[rows, pick])
    return torch.stack(centres, 1)
