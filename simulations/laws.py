"""Batched Gaussian-mixture laws: R fitted models of one family at once (docs/theory.md §1, §5).

A :class:`BatchedMixture` holds means and scales (R, K, d) and weights (R, K): a
Gaussian MLE is K = 1, a KDE K = n with equal scales within a replicate, a GMM
K = k. It samples exactly (a component per draw, then a Gaussian draw), gives
log-densities at points, its density on a shared grid (exact, or FFT binning for
KDEs: :meth:`simulations.grid.Grid.kde_density`), its moments, the biased or
self-corrected law the next round samples from (:mod:`simulations.sampling`), and
the union of several laws with mixing weights (π_i's synthetic part).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from simulations._device import DTYPE
from simulations.distributions import GaussianMixture, mixture_log_prob
from simulations.grid import OnGrid

#: A law with at least this many equal-scale components has its grid density by FFT.
FFT_COMPONENTS = 64
#: Grid steps a component's scale must span for the grid to resolve it.
RESOLVE = 2.0


@dataclass(frozen=True)
class BatchedMixture:
    """R Gaussian mixtures Σ_j w_rj N(μ_rj, diag s_rj²); ``equal_scales`` marks KDEs."""

    means: torch.Tensor
    scales: torch.Tensor
    weights: torch.Tensor
    equal_scales: bool = False

    @property
    def replicates(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[2]

    def sample(self, streams, m: int) -> torch.Tensor:
        """m exact draws per replicate, shape (R, m, d): a component, then its Gaussian."""
        idx = streams.categorical(self.weights, m)
        pick = idx[..., None].expand(-1, -1, self.dim)
        mu = torch.gather(self.means, 1, pick)
        s = torch.gather(self.scales, 1, pick)
        return mu + s * streams.normal(m, self.dim)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p_r(x_rj) for x of shape (R, N, d): shape (R, N)."""
        return mixture_log_prob(x, self.means, self.scales, torch.log(self.weights),
                                _gauss_log_kernel)

    def grid_density(self, grid) -> OnGrid:
        """Density on the grid's nodes (R, G): FFT binning for KDEs, exact otherwise."""
        if self.equal_scales and self.means.shape[1] >= FFT_COMPONENTS and grid.dim <= 2:
            return grid.kde_density(self.means, self.scales[:, 0, :], self.weights)
        nodes = grid.nodes[None].expand(self.replicates, -1, -1)
        # a component narrower than RESOLVE grid steps is not resolved: the quadrature's
        # error estimate means nothing there, so its replicate's L1 error is unbounded
        # (TV intervals widen to [0, 1]; exact Gaussian forms replace them where they exist)
        steps = torch.as_tensor(grid.steps, dtype=DTYPE, device=nodes.device)
        narrow = ((self.scales < RESOLVE * steps) & (self.weights[..., None] > 0)).flatten(1)
        error = torch.where(narrow.any(1), torch.inf, 0.0).to(DTYPE)
        return OnGrid(torch.exp(self.log_prob(nodes)), error)

    def mean(self) -> torch.Tensor:
        """Mean vectors, shape (R, d)."""
        return (self.weights[..., None] * self.means).sum(1)

    def variance(self) -> torch.Tensor:
        """Per-coordinate variances, shape (R, d): Σ_j w_j (s_j² + (μ_j − μ̄)²), centred, so
        that a collapsed fit (s ≪ |μ|) keeps its variance to full relative precision."""
        centred = self.means - self.mean()[:, None, :]
        return (self.weights[..., None] * (self.scales**2 + centred**2)).sum(1)

    def transformed(self, temperature: float, self_correct: float, mu0: torch.Tensor,
                    sd0: torch.Tensor) -> BatchedMixture:
        """The law synthetic data are drawn from (:class:`~simulations.sampling.SyntheticSampling`).

        Temperature T multiplies every component's variance by T; self-correction γ moves
        each draw by x ↦ (1−γ) x + γ (μ0 + (σ0/σ)(x − μ)) (exact for mixtures).
        """
        if temperature == 1.0 and self_correct == 0.0:
            return self
        law = BatchedMixture(self.means, self.scales * temperature**0.5, self.weights,
                             self.equal_scales)
        if self_correct == 0.0:
            return law
        g = self_correct
        mu, sd = law.mean()[:, None, :], law.variance().sqrt()[:, None, :]
        ratio = sd0 / sd
        means = (1 - g) * law.means + g * (mu0 + ratio * (law.means - mu))
        return BatchedMixture(means, ((1 - g) + g * ratio) * law.scales, law.weights,
                              self.equal_scales)

    def replicate(self, r: int) -> GaussianMixture:
        """Replicate r as a single :class:`~simulations.distributions.GaussianMixture`."""
        return GaussianMixture(self.means[r], self.scales[r], self.weights[r],
                               device=self.means.device)


def union(laws: list[BatchedMixture], mix: list[float]) -> BatchedMixture:
    """Σ_k mix_k · law_k as one mixture (components concatenated), for sampling π_i's
    synthetic part in O(n) however many laws there are."""
    keep = [(law, w) for law, w in zip(laws, mix, strict=True) if w > 0]
    total = sum(w for _, w in keep)
    return BatchedMixture(torch.cat([law.means for law, _ in keep], 1),
                          torch.cat([law.scales for law, _ in keep], 1),
                          torch.cat([law.weights * (w / total) for law, w in keep], 1))


def _gauss_log_kernel(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * z * z - 0.5 * torch.log(torch.tensor(2 * torch.pi, dtype=DTYPE,
                                                       device=z.device))
