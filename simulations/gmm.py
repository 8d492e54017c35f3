"""Gaussian mixture model fitted by EM (diagonal covariances), on any device.

Initialisation: k-means++ seeding of the means (from the model's own seed), the data
variance for every component, equal weights. A variance floor of 1e-6 times the data
variance keeps components from collapsing onto single points. The EM log-likelihood
never decreases (``GMMModel.fit_with_trace`` returns it per iteration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from simulations._device import DTYPE, check_counts, make_generator
from simulations.distributions import GaussianMixture
from simulations.models import _check_data


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
        return self.fit_with_trace(data)[0]

    def fit_with_trace(self, data: torch.Tensor) -> tuple[GaussianMixture, list[float]]:
        """The fitted mixture and the mean log-likelihood after each EM iteration."""
        x = _check_data(data, minimum=self.k + 1)
        n, _d = x.shape
        floor = 1e-6 * x.var(0, correction=0).clamp_min(1e-300)
        means = self._kmeanspp(x)
        var = x.var(0, correction=0)[None].repeat(self.k, 1)
        logw = torch.full((self.k,), -math.log(self.k), dtype=DTYPE, device=x.device)
        trace: list[float] = []
        for _ in range(self.iters):
            comp = (-0.5 * ((x[:, None, :] - means[None]) ** 2 / var[None]
                            + torch.log(2 * math.pi * var[None])).sum(-1) + logw[None])
            total = torch.logsumexp(comp, dim=1)
            trace.append(float(total.mean()))
            resp = torch.exp(comp - total[:, None])  # E step
            mass = resp.sum(0).clamp_min(1e-300)  # M step
            logw = torch.log(mass / n)
            means = (resp.T @ x) / mass[:, None]
            var = torch.maximum((resp.T @ (x * x)) / mass[:, None] - means**2, floor[None])
            if len(trace) > 1 and trace[-1] - trace[-2] <= self.tol * abs(trace[-1]):
                break
        weights = torch.exp(logw)
        return GaussianMixture(means, var.sqrt(), weights / weights.sum(), device=x.device), trace

    def _kmeanspp(self, x: torch.Tensor) -> torch.Tensor:
        gen = make_generator(self.seed, x.device)
        first = torch.randint(x.shape[0], (1,), generator=gen, device=x.device)
        centres = [x[first[0]]]
        for _ in range(1, self.k):
            dist = torch.stack([((x - c) ** 2).sum(1) for c in centres]).min(0).values
            probs = dist / dist.sum() if float(dist.sum()) > 0 else torch.ones_like(dist)
            centres.append(x[torch.multinomial(probs, 1, generator=gen)[0]])
        return torch.stack(centres)
