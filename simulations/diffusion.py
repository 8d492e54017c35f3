r"""Diffusion models: OU forward SDE, the paper's random-feature score, exact gradient flow.

THEORY.md §6. Forward process (score_sde style, :class:`OUSDE`):
dX = −X dt + √2 dW, so X_t = e^{−t} X_0 + σ_t Z with σ_t² = 1 − e^{−2t}, prior N(0, I).

Score network (Fu et al., after Li et al. 2023): s(x, t) = (1/m) A σ(W x + U e(t)),
ReLU σ, W and U random and frozen with ‖w_j‖₁ + ‖u_j‖₁ = 1, e(t) = (1, t/T); only A
is trained, by gradient flow for time τ on the weighted denoising score-matching loss

.. math::
    L(A) = \mathbb{E}\,\sigma_t^2 \,\| A f(x_t, t) + Z/\sigma_t \|^2
         = \operatorname{tr}(A \Sigma_{ff} A^\top) - 2 \operatorname{tr}(A \Sigma_{fy}) + c,

f = σ(·)/m. From A(0) = 0 the flow dA/dτ = −∇L = −2(A Σ_ff − Σ_yf) has the closed form
A(τ) = Σ_yf V diag((1 − e^{−2τμ})/μ) Vᵀ with Σ_ff = V diag(μ) Vᵀ: early stopping is an
exact spectral filter (:func:`gradient_flow`). The expectation is the empirical one over
the training set and K (t, Z) draws per point.

The fitted model is the probability-flow ODE dx/dt = −x − s(x, t) run from T to t0;
:class:`PFODEDistribution` samples it and evaluates its log-density by the
instantaneous change of variables with the exact divergence, on the same time grid.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from boundkit._checks import check_choice
from boundkit.errors import InvalidArgument
from simulations._device import DTYPE, check_counts, make_generator
from simulations.distributions import Distribution


@dataclass(frozen=True)
class OUSDE:
    """The Ornstein–Uhlenbeck forward process on [t0, T]."""

    T: float = 6.0
    t0: float = 1e-3

    def __post_init__(self):
        if not 0 < self.t0 < self.T:
            raise InvalidArgument(f"need 0 < t0 < T; got t0={self.t0}, T={self.T}.")

    def sde(self, x: torch.Tensor, t: float):
        """(drift, diffusion) = (−x, √2)."""
        return -x, math.sqrt(2.0)

    def marginal_prob(self, x0: torch.Tensor, t: torch.Tensor):
        """(mean, std) of X_t | X_0 = x0: (e^{−t} x0, sqrt(1 − e^{−2t}))."""
        return torch.exp(-t)[:, None] * x0, torch.sqrt(-torch.expm1(-2 * t))

    def prior_sampling(self, shape, generator, device) -> torch.Tensor:
        """Draws from the prior N(0, I)."""
        return torch.randn(shape, dtype=DTYPE, device=device, generator=generator)

    def prior_logp(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; 0, I)."""
        return -0.5 * (z * z).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)

    def time_grid(self, steps: int, device) -> torch.Tensor:
        """Geometric grid t0 = t_0 < … < t_K = T (the score is steep near t0)."""
        return torch.as_tensor(np.geomspace(self.t0, self.T, steps + 1), dtype=DTYPE,
                               device=device)


class RandomFeatureScore:
    """s(x, t) = (1/m) A σ(W x + U e(t)) with frozen W (m, d), U (m, 2); A (d, m) trained."""

    def __init__(self, W: torch.Tensor, U: torch.Tensor, A: torch.Tensor, T: float):
        self.W, self.U, self.A, self.T = W, U, A, T
        self.m = W.shape[0]

    @staticmethod
    def draw(m: int, d: int, generator, device):
        """Random frozen (W, U) with ‖w_j‖₁ + ‖u_j‖₁ = 1."""
        raw = torch.randn((m, d + 2), dtype=DTYPE, device=device, generator=generator)
        raw = raw / raw.abs().sum(1, keepdim=True)
        return raw[:, :d].contiguous(), raw[:, d:].contiguous()

    def _pre(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        e = torch.stack([torch.ones_like(t), t / self.T], dim=1)
        return x @ self.W.T + e @ self.U.T

    def features(self, x, t):
        """f(x, t) = σ(W x + U e(t)) / m, shape (n, m)."""
        return torch.relu(self._pre(x, t)) / self.m

    def __call__(self, x, t):
        return self.features(x, t) @ self.A.T

    def divergence(self, x, t):
        """∇·s = (1/m) Σ_j 1[pre_j > 0] (W A)_{jj}, exact."""
        return self.score_and_divergence(x, t)[1]

    def score_and_divergence(self, x, t):
        """(s(x, t), ∇·s(x, t)) from one evaluation of the pre-activations."""
        pre = self._pre(x, t)
        diag = (self.W * self.A.T).sum(1)  # (W A)_{jj} = Σ_c W_jc A_cj
        return torch.relu(pre) @ self.A.T / self.m, (pre > 0).to(DTYPE) @ diag / self.m

    def at_time(self, x: torch.Tensor, t: float, with_divergence: bool, chunk: int = 1024):
        """(s, ∇·s or None) at one time t for all x: the ODE's hot loop.

        The time bias U e(t) is formed once, and rows go through in cache-sized chunks
        with a fused addmm and an in-place ReLU (about 8x faster than the plain form).
        """
        bias = self.U[:, 0] + self.U[:, 1] * (t / self.T)
        diag = (self.W * self.A.T).sum(1) if with_divergence else None
        s = torch.empty((x.shape[0], self.A.shape[0]), dtype=DTYPE, device=x.device)
        div = torch.empty(x.shape[0], dtype=DTYPE, device=x.device) if with_divergence else None
        for start in range(0, x.shape[0], chunk):
            pre = torch.addmm(bias[None], x[start:start + chunk], self.W.T)
            if with_divergence:
                div[start:start + chunk] = (pre > 0).to(DTYPE) @ diag / self.m
            s[start:start + chunk] = torch.relu_(pre) @ self.A.T / self.m
        return s, div


def dsm_statistics(score: RandomFeatureScore, data: torch.Tensor, sde: OUSDE, draws: int,
                   generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ_ff, Σ_yf) of the σ_t²-weighted DSM loss, empirical over data × ``draws``."""
    x0 = data.repeat(draws, 1)
    n = x0.shape[0]
    t = sde.t0 + (sde.T - sde.t0) * torch.rand(n, dtype=DTYPE, device=data.device,
                                               generator=generator)
    z = torch.randn(x0.shape, dtype=DTYPE, device=data.device, generator=generator)
    mean, std = sde.marginal_prob(x0, t)
    f = score.features(mean + std[:, None] * z, t)
    # weight σ_t², target y = −z/σ_t: λ f fᵀ and λ y fᵀ = −σ_t z fᵀ
    s_ff = (f * (std**2)[:, None]).T @ f / n
    s_yf = (-(std[:, None] * z)).T @ f / n
    return s_ff, s_yf


def gradient_flow(s_ff: torch.Tensor, s_yf: torch.Tensor, tau: float) -> torch.Tensor:
    """A(τ) from A(0) = 0 under dA/dτ = −2(A Σ_ff − Σ_yf), exactly (spectral filter)."""
    if not tau > 0:
        raise InvalidArgument(f"tau must be > 0; got {tau}. Pass a training time such as tau=100.")
    mu, v = torch.linalg.eigh(s_ff)
    mu = mu.clamp_min(0.0)
    gain = torch.where(mu * tau > 1e-12, -torch.expm1(-2 * tau * mu) / torch.where(
        mu > 0, mu, torch.ones_like(mu)), 2 * tau * torch.ones_like(mu))
    return (s_yf @ v) * gain[None] @ v.T


def euler_flow(s_ff: torch.Tensor, s_yf: torch.Tensor, tau: float, steps: int) -> torch.Tensor:
    """The same flow by explicit Euler steps (the reference for :func:`gradient_flow`)."""
    a = torch.zeros_like(s_yf)
    h = tau / steps
    for _ in range(steps):
        a = a - h * 2 * (a @ s_ff - s_yf)
    return a


def integrate_pf_ode(velocity, x: torch.Tensor, grid: torch.Tensor, forward: bool):
    """Classic RK4 for dx/dt = v along ``grid`` (reversed unless ``forward``), carrying
    ∫ div v dt alongside when ``forward``: returns (x at the end, the integral).

    ``velocity(x, t, with_divergence)`` returns (v, div v or 0). Shared by the single
    and the batched PF-ODE; x may be (N, d) or (R, N, d).
    """
    if not forward:
        grid = grid.flip(0)
    acc = torch.zeros(x.shape[:-1], dtype=DTYPE, device=x.device)
    for a, b in itertools.pairwise(grid.tolist()):
        h = b - a
        k1, d1 = velocity(x, a, forward)
        k2, d2 = velocity(x + h / 2 * k1, a + h / 2, forward)
        k3, d3 = velocity(x + h / 2 * k2, a + h / 2, forward)
        k4, d4 = velocity(x + h * k3, b, forward)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        acc = acc + h / 6 * (d1 + 2 * d2 + 2 * d3 + d4)
    return x, acc


class PFODEDistribution(Distribution):
    """The model p_{t0} of a trained score: sampled and evaluated by the same PF-ODE."""

    def __init__(self, score, sde: OUSDE, steps: int, reference: torch.Tensor,
                 sampler: str = "ode"):
        check_choice(sampler, ("ode", "sde"), "sampler")
        self.score, self.sde, self.steps, self.sampler = score, sde, steps, sampler
        self.device = reference.device
        self.dim = reference.shape[1]
        self._ref = reference  # for the support box only

    def _velocity(self, x, t, with_divergence: bool):
        s, div = self.score.at_time(x, float(t), with_divergence)
        return -x - s, (-self.dim - div) if with_divergence else 0.0

    def _flow(self, x: torch.Tensor, forward: bool):
        """RK4 on (x, ∫ div v dt) along the grid; forward (t0 → T) also integrates div v."""
        return integrate_pf_ode(self._velocity, x, self.sde.time_grid(self.steps, x.device),
                                forward)

    def sample(self, n, generator):
        """PF-ODE samples (default), or reverse-SDE samples with ``sampler='sde'``.

        The reverse SDE dx = [−x − 2 s(x, t)] dt + √2 dW̄ (Euler–Maruyama on the same
        grid) and the PF-ODE share their law only when s is the exact score of the
        forward marginals; for a learned score they differ, and only the PF-ODE is the
        law that :meth:`log_prob` evaluates (hence the default).
        """
        z = self.sde.prior_sampling((n, self.dim), generator, self.device)
        if self.sampler == "ode":
            return self._flow(z, forward=False)[0]
        grid = self.sde.time_grid(self.steps, self.device).flip(0)
        x = z
        for b, a in itertools.pairwise(grid):
            h = float(b - a)
            s, _ = self.score.at_time(x, float(b), False)
            noise = torch.randn(x.shape, dtype=DTYPE, device=x.device, generator=generator)
            x = x + h * (x + 2 * s) + math.sqrt(2 * h) * noise
        return x

    def log_prob(self, x):
        x = torch.as_tensor(x, dtype=DTYPE, device=self.device).reshape(-1, self.dim)
        z, integral = self._flow(x, forward=True)
        # d/dt log p_t(x_t) = −div v, so log p_{t0}(x) = log p_T(x_T) + ∫_{t0}^{T} div v dt
        return self.sde.prior_logp(z) + integral

    def support_box(self, tail=1e-13):
        """Box from the training data ± 8 standard deviations (an approximation)."""
        s = self._ref.std(0).clamp_min(1e-3)
        lo = (self._ref.min(0).values - 8 * s).cpu().numpy()
        hi = (self._ref.max(0).values + 8 * s).cpu().numpy()
        return lo, hi

    def _moments(self):
        xs = self.sample(20_000, make_generator(0, self.device))
        return xs.mean(0), xs.var(0)

    def mean(self):
        """Monte Carlo mean from 20,000 PF-ODE samples (seed 0)."""
        return self._moments()[0]

    def variance(self):
        """Monte Carlo variance from 20,000 PF-ODE samples (seed 0)."""
        return self._moments()[1]


@dataclass(frozen=True)
class RFDiffusionModel:
    """Fit = draw frozen (W, U) from ``seed``, solve the DSM flow for time ``tau`` exactly.

    The features carry the 1/m of s = (1/m) A σ(·), so Σ_ff scales like 1/m² and the
    flow's time scale like m²: ``tau=None`` (default) uses 16 m² (about 10^6 at m = 256).
    ``draws`` (t, Z) pairs per training point form the empirical DSM loss.
    """

    width: int = 256
    tau: float | None = None
    draws: int = 2
    ode_steps: int = 64
    seed: int = 0
    sde: OUSDE = field(default_factory=OUSDE)
    sampler: str = "ode"
    name: str = "diffusion-rf"

    def __post_init__(self):
        check_counts(width=self.width, draws=self.draws, ode_steps=self.ode_steps)
        check_choice(self.sampler, ("ode", "sde"), "sampler")
        if self.tau is not None and not self.tau > 0:
            raise InvalidArgument(f"tau must be > 0; got {self.tau}. Pass None for 16 * width**2.")

    def fit(self, data: torch.Tensor) -> PFODEDistribution:
        if data.ndim != 2 or data.shape[0] < 2 or not torch.all(torch.isfinite(data)):
            raise InvalidArgument(f"data must be finite with shape (n >= 2, d); got "
                             f"{tuple(data.shape)}.")
        gen = make_generator(self.seed, data.device)
        w, u = RandomFeatureScore.draw(self.width, data.shape[1], gen, data.device)
        score = RandomFeatureScore(w, u, torch.zeros((data.shape[1], self.width), dtype=DTYPE,
                                                     device=data.device), self.sde.T)
        s_ff, s_yf = dsm_statistics(score, data, self.sde, self.draws, gen)
        tau = 16.0 * self.width**2 if self.tau is None else self.tau
        score.A = gradient_flow(s_ff, s_yf, tau)
        return PFODEDistribution(score, self.sde, self.ode_steps, data, self.sampler)
