"""Full-covariance Gaussian laws, batched over replicates (Gaussian MLE with
``model_params={"covariance": "full"}``).

A fit is N(μ̂_r, Σ̂_r) per replicate r, kept as the mean and the Cholesky factor L_r
(Σ̂ = L Lᵀ). Sampling draws μ + L z; the log-density solves with L (no inverse). The
fit's own summaries are the metrics of docs/theory.md §9 in d dimensions: ``logdet``
(log det Σ̂), ``trace`` (tr Σ̂) and ``mean_sq`` (‖μ̂ − μ0‖²), exact from the parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from simulations.grid import OnGrid

DTYPE = torch.float64
#: Relative jitter added to a singular sample covariance (all points on a hyperplane).
JITTER = 1e-12


@dataclass(frozen=True)
class BatchedGaussian:
    """R full-covariance Gaussians N(means[r], chol[r] chol[r]ᵀ).

    Attributes
    ----------
    means : torch.Tensor
        Shape (R, d).
    chol : torch.Tensor
        Lower-triangular Cholesky factors, shape (R, d, d).
    """

    means: torch.Tensor
    chol: torch.Tensor

    @classmethod
    def fit(cls, data: torch.Tensor, unbiased: bool = False) -> BatchedGaussian:
        """The MLE (1/n, or 1/(n − 1) when ``unbiased``) of data (R, n, d)."""
        n = data.shape[1]
        mean = data.mean(1)
        centred = data - mean[:, None, :]
        cov = centred.transpose(1, 2) @ centred / (n - 1 if unbiased else n)
        chol, info = torch.linalg.cholesky_ex(cov)
        if bool(torch.any(info != 0)):  # degenerate data: the smallest jitter that works
            eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
            scale = cov.diagonal(dim1=1, dim2=2).mean(1).clamp_min(1e-300)[:, None, None]
            chol = torch.linalg.cholesky(cov + JITTER * scale * eye)
        return cls(mean, chol)

    @property
    def replicates(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, streams, m: int) -> torch.Tensor:
        """m draws per replicate, shape (R, m, d)."""
        z = streams.normal(m, self.dim)
        return self.means[:, None, :] + z @ self.chol.transpose(1, 2)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x; μ_r, Σ_r) for x of shape (R, N, d): shape (R, N)."""
        diff = (x - self.means[:, None, :]).transpose(1, 2)  # (R, d, N)
        z = torch.linalg.solve_triangular(self.chol, diff, upper=False)
        half_logdet = torch.log(self.chol.diagonal(dim1=1, dim2=2)).sum(1)
        return (-0.5 * (z * z).sum(1) - half_logdet[:, None]
                - 0.5 * self.dim * math.log(2 * math.pi))

    def grid_density(self, grid) -> OnGrid:
        """The exact density on the grid's nodes (d ≤ 2)."""
        nodes = grid.nodes[None].expand(self.replicates, -1, -1)
        return OnGrid(torch.exp(self.log_prob(nodes)),
                      torch.zeros(self.replicates, dtype=DTYPE, device=nodes.device))

    def covariance(self) -> torch.Tensor:
        return self.chol @ self.chol.transpose(1, 2)

    def mean(self) -> torch.Tensor:
        return self.means

    def variance(self) -> torch.Tensor:
        """Per-coordinate variances, shape (R, d)."""
        return (self.chol * self.chol).sum(2)

    def logdet(self) -> torch.Tensor:
        """log det Σ̂ per replicate, shape (R,)."""
        return 2 * torch.log(self.chol.diagonal(dim1=1, dim2=2)).sum(1)

    def trace(self) -> torch.Tensor:
        return self.variance().sum(1)
