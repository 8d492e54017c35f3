r"""Diffusion models: OU forward SDE, the paper's random-feature score, exact gradient flow.

docs/theory.md §6. Forward process (score_sde style, :class:`OUSDE`):
dX = −X dt + √2 dW, so X_t = e^{−t} X_0 + σ_t Z with σ_t² = 1 − e^{−2t}, prior N(0, I).

Score network (Fu et al., after Li et al. 2023): s(x, t) = (1/m) A σ(W x + U e(t)),
ReLU σ, W and U random and frozen with ‖w_j‖₁ + ‖u_j‖₁ = 1, e(t) = (1, t/T); only A
is trained, by gradient flow for time τ on the weighted denoising score-matching loss

.. math::
    L(A) = \mathbb{E}\,\sigma_t^2 \,\| A f(x_t, t) + Z/\sigma_t \|^2
         = \operatorname{tr}(A \Sigma_{ff} A^\top) - 2 \operatorname{tr}(A \Sigma_{fy}) + c,

f = σ(·)/m. From A(0) = 0 the flow dA/dτ = −∇L = −2(A Σ_ff − Σ_yf) has the closed form
A(τ) = Σ_yf V diag((1 − e^{−2τμ})/μ) Vᵀ with Σ_ff = V diag(μ) Vᵀ: early stopping is an
exact spectral filter (:func:`gradient_flow`).

Everything is batched over R replicates that share the frozen features (W, U) of
a round: (Σ_ff, Σ_yf) per replicate, one batched eigendecomposition, a PF-ODE on
(R, N, d) tensors. A single fit is R = 1 of the same code. The fitted model is the
probability-flow ODE dx/dt = −x − s(x, t) run from T to t0; :class:`BatchedPFODE`
samples it and evaluates its log-density by the instantaneous change of variables
with the exact divergence, on the same time grid.

Width and training time (R7's regime, docs/theory.md §3 E3): ``width`` m fixed, or
``width_factor`` with m = width_factor · n_i; ``tau`` fixed, None for 16 m² (the flow's
time scale: f carries 1/m, so Σ_ff ~ 1/m²), or ``"star"`` for m² · τ*(n_i, m_i), R7's
optimal stopping time converted to this parameterisation's time unit m².
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from boundkit import tau_star
from boundkit._checks import check_choice, to_float
from boundkit.errors import InvalidArgument
from simulations._device import DTYPE, check_counts, make_generator
from simulations.distributions import Distribution
from simulations.grid import OnGrid
from simulations.models import single
from simulations.streams import Streams

#: Elements of one (R, chunk, m) feature block.
BLOCK = 2**24


@dataclass(frozen=True)
class OUSDE:
    """The Ornstein–Uhlenbeck forward process on [t0, T]."""

    T: float = 6.0
    t0: float = 1e-3

    def __post_init__(self):
        if not 0 < self.t0 < self.T:
            raise InvalidArgument(f"need 0 < t0 < T; got t0={self.t0}, T={self.T}.",
                                  argument="t0")

    def sde(self, x: torch.Tensor, t: float):
        """(drift, diffusion) = (−x, √2)."""
        return -x, math.sqrt(2.0)

    def marginal_prob(self, x0: torch.Tensor, t: torch.Tensor):
        """(mean, std) of X_t | X_0 = x0: (e^{−t} x0, sqrt(1 − e^{−2t})); t broadcasts over x0."""
        return torch.exp(-t)[..., None] * x0, torch.sqrt(-torch.expm1(-2 * t))

    def prior_sampling(self, shape, generator, device) -> torch.Tensor:
        """Draws from the prior N(0, I)."""
        return torch.randn(shape, dtype=DTYPE, device=device, generator=generator)

    def prior_logp(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; 0, I) over the last axis."""
        return -0.5 * (z * z).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)

    def time_grid(self, steps: int, device) -> torch.Tensor:
        """Geometric grid t0 = t_0 < … < t_K = T (the score is steep near t0)."""
        return torch.as_tensor(np.geomspace(self.t0, self.T, steps + 1), dtype=DTYPE,
                               device=device)


def draw_features(m: int, d: int, generator, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Random frozen (W (m, d), U (m, 2)) with ‖w_j‖₁ + ‖u_j‖₁ = 1."""
    raw = torch.randn((m, d + 2), dtype=DTYPE, device=device, generator=generator)
    raw = raw / raw.abs().sum(1, keepdim=True)
    return raw[:, :d].contiguous(), raw[:, d:].contiguous()


class RandomFeatureScore:
    """s_r(x, t) = (1/m) A_r σ(W x + U e(t)): shared frozen (W, U), A of shape (R, d, m)."""

    def __init__(self, W: torch.Tensor, U: torch.Tensor, A: torch.Tensor, T: float):
        self.W, self.U, self.T = W, U, T
        self.A = A if A.dim() == 3 else A[None]
        self.m = W.shape[0]
        self.diag = (W[None] * self.A.transpose(1, 2)).sum(-1)  # (R, m): (W A_r)_{jj}

    def select(self, r: int) -> RandomFeatureScore:
        """Replicate r's score (a batch of one)."""
        return RandomFeatureScore(self.W, self.U, self.A[r:r + 1], self.T)

    def features(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """f(x, t) = σ(W x + U e(t)) / m for x (..., d), t (...): shape (..., m)."""
        e = torch.stack([torch.ones_like(t), t / self.T], dim=-1)
        return torch.relu(x @ self.W.T + e @ self.U.T) / self.m

    def at_time(self, x: torch.Tensor, t: float, with_divergence: bool):
        """(s (R, N, d), ∇·s (R, N) or None) at one time t: the ODE's hot loop (chunked)."""
        bias = self.U[:, 0] + self.U[:, 1] * (t / self.T)
        reps, count, _ = x.shape
        chunk = max(1, BLOCK // max(1, reps * self.m))
        s = torch.empty_like(x)
        div = torch.empty(x.shape[:2], dtype=DTYPE, device=x.device) if with_divergence else None
        for start in range(0, count, chunk):
            pre = x[:, start:start + chunk] @ self.W.T + bias
            if with_divergence:
                div[:, start:start + chunk] = ((pre > 0).to(DTYPE) @ self.diag[..., None])[
                    ..., 0] / self.m
            s[:, start:start + chunk] = torch.relu_(pre) @ self.A.transpose(1, 2) / self.m
        return s, div


def dsm_statistics(w: torch.Tensor, u: torch.Tensor, data: torch.Tensor, sde: OUSDE,
                   draws: int, streams: Streams) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ_ff (R, m, m), Σ_yf (R, d, m)) of the σ_t²-weighted DSM loss for data (R, n, d),
    empirical over the data × ``draws`` (t, Z) pairs per point (drawn per replicate)."""
    reps, n, d = data.shape
    m = w.shape[0]
    count = n * draws
    t = sde.t0 + (sde.T - sde.t0) * streams.uniform(count)
    z = streams.normal(count, d)
    std = torch.sqrt(-torch.expm1(-2 * t))
    s_ff = torch.zeros((reps, m, m), dtype=DTYPE, device=data.device)
    s_yf = torch.zeros((reps, d, m), dtype=DTYPE, device=data.device)
    score = RandomFeatureScore(w, u, torch.zeros((1, d, m), dtype=DTYPE, device=data.device),
                               sde.T)
    chunk = max(1, BLOCK // max(1, reps * m))
    for start in range(0, count, chunk):
        sl = slice(start, start + chunk)
        x0 = data[:, torch.arange(start, min(start + chunk, count), device=data.device) % n]
        xt = torch.exp(-t[:, sl])[..., None] * x0 + std[:, sl, None] * z[:, sl]
        f = score.features(xt, t[:, sl])
        # weight σ_t², target y = −z/σ_t: λ f fᵀ and λ y fᵀ = −σ_t z fᵀ
        s_ff += (f * (std[:, sl] ** 2)[..., None]).transpose(1, 2) @ f
        s_yf += (-(std[:, sl, None] * z[:, sl])).transpose(1, 2) @ f
    return s_ff / count, s_yf / count


def gradient_flow(s_ff: torch.Tensor, s_yf: torch.Tensor, tau: float) -> torch.Tensor:
    """A(τ) from A(0) = 0 under dA/dτ = −2(A Σ_ff − Σ_yf), exactly (spectral filter).

    Batched over any leading axes (one eigendecomposition per replicate).
    """
    if not tau > 0:
        raise InvalidArgument(f"tau must be > 0; got {tau}. Pass a training time such as "
                              f"tau=100.", argument="tau")
    mu, v = torch.linalg.eigh(s_ff)
    mu = mu.clamp_min(0.0)
    safe = torch.where(mu > 0, mu, torch.ones_like(mu))
    gain = torch.where(mu * tau > 1e-12, -torch.expm1(-2 * tau * mu) / safe,
                       2 * tau * torch.ones_like(mu))
    return ((s_yf @ v) * gain[..., None, :]) @ v.transpose(-1, -2)


def euler_flow(s_ff: torch.Tensor, s_yf: torch.Tensor, tau: float, steps: int) -> torch.Tensor:
    """The same flow by explicit Euler steps (the reference for :func:`gradient_flow`)."""
    a = torch.zeros_like(s_yf)
    h = tau / steps
    for _ in range(steps):
        a = a - h * 2 * (a @ s_ff - s_yf)
    return a


def integrate_pf_ode(velocity, x: torch.Tensor, grid: torch.Tensor, forward: bool):
    """Classic RK4 for dx/dt = v along ``grid`` (reversed unless ``forward``), carrying
    ∫ div v dt alongside when ``forward``: returns (x at the end, the integral)."""
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


class BatchedPFODE:
    """R fitted diffusion models p_{t0}: sampled and evaluated by the same PF-ODE."""

    def __init__(self, score, sde: OUSDE, steps: int, reference: torch.Tensor,
                 sampler: str = "ode", width: int = 0, tau: float = 0.0):
        self.score, self.sde, self.steps = score, sde, steps
        self.sampler = check_choice(sampler, ("ode", "sde"), "sampler")
        self.reference = reference  # the training data (R, n, d), for support boxes
        self.width, self.tau = width, tau
        self.dim = reference.shape[-1]

    @property
    def replicates(self) -> int:
        return self.reference.shape[0]

    def _velocity(self, x, t, with_divergence: bool):
        s, div = self.score.at_time(x, float(t), with_divergence)
        return -x - s, (-x.shape[-1] - div) if with_divergence else 0.0

    def _flow(self, x: torch.Tensor, forward: bool):
        return integrate_pf_ode(self._velocity, x, self.sde.time_grid(self.steps, x.device),
                                forward)

    def transport(self, z: torch.Tensor, noise=None) -> torch.Tensor:
        """Prior draws z (R, m, d) to model draws: the PF-ODE, or the reverse SDE
        dx = [−x − 2 s(x, t)] dt + √2 dW̄ (Euler–Maruyama, ``noise(shape)`` per step).

        The two share their law only when s is the exact score of the forward marginals;
        for a learned score only the PF-ODE is the law that :meth:`log_prob` evaluates.
        """
        if self.sampler == "ode":
            return self._flow(z, forward=False)[0]
        grid = self.sde.time_grid(self.steps, z.device).flip(0)
        x = z
        for b, a in itertools.pairwise(grid.tolist()):
            h = b - a
            s, _ = self.score.at_time(x, b, False)
            x = x + h * (x + 2 * s) + math.sqrt(2 * h) * noise(x.shape)
        return x

    def sample(self, streams: Streams, m: int) -> torch.Tensor:
        """m draws per replicate, shape (R, m, d)."""
        z = streams.normal(m, self.dim)
        return self.transport(z, lambda shape: streams.normal(*shape[1:]))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p_r(x_rj) for x (R, N, d): log p_T(x_T) + ∫_{t0}^{T} div v dt."""
        z, integral = self._flow(x, forward=True)
        return self.sde.prior_logp(z) + integral

    def grid_density(self, grid) -> OnGrid:
        """Density at the grid's nodes (R, G) from the PF-ODE's log-density."""
        nodes = grid.nodes[None].expand(self.replicates, -1, -1).contiguous()
        return OnGrid(torch.exp(self.log_prob(nodes)),
                      torch.zeros(self.replicates, dtype=DTYPE, device=nodes.device))

    def replicate(self, r: int) -> PFODEDistribution:
        """Replicate r as a single :class:`PFODEDistribution`."""
        law = BatchedPFODE(self.score.select(r), self.sde, self.steps,
                           self.reference[r:r + 1], self.sampler, self.width, self.tau)
        return PFODEDistribution(law)


class PFODEDistribution(Distribution):
    """One fitted diffusion model as a :class:`~simulations.distributions.Distribution`."""

    def __init__(self, law: BatchedPFODE):
        self.law = law
        self.score, self.sde, self.steps = law.score, law.sde, law.steps
        self.device = law.reference.device
        self.dim = law.dim

    def sample(self, n, generator):
        z = self.sde.prior_sampling((1, n, self.dim), generator, self.device)
        return self.law.transport(z, lambda shape: torch.randn(
            shape, dtype=DTYPE, device=self.device, generator=generator))[0]

    def log_prob(self, x):
        x = torch.as_tensor(x, dtype=DTYPE, device=self.device).reshape(1, -1, self.dim)
        return self.law.log_prob(x)[0]

    def support_box(self, tail=1e-13):
        """Box from the training data ± 8 standard deviations (an approximation)."""
        ref = self.law.reference[0]
        s = ref.std(0).clamp_min(1e-3)
        return ((ref.min(0).values - 8 * s).cpu().numpy(),
                (ref.max(0).values + 8 * s).cpu().numpy())

    def _moments(self):
        xs = self.sample(20_000, make_generator(0, self.device))
        return xs.mean(0), xs.var(0)

    def mean(self):
        """Monte Carlo mean from 20,000 PF-ODE samples (seed 0)."""
        return self._moments()[0]

    def variance(self):
        """Monte Carlo variance from 20,000 PF-ODE samples (seed 0)."""
        return self._moments()[1]


def round_generator(seed: int, round_: int, device) -> torch.Generator:
    """The generator of a round's shared frozen features: keyed by (model seed, round)."""
    state = np.random.SeedSequence(seed, spawn_key=(1_000_003, round_)).generate_state(1)
    return make_generator(int(state[0]), device)


@dataclass(frozen=True)
class RFDiffusionModel:
    """The paper's random-feature score, fitted by the exact gradient flow (module docstring).

    ``width`` (m) or ``width_factor`` (m = width_factor · n); ``tau`` a flow time, None
    for 16 m², or ``"star"`` for m² τ*(n, m) (R7). ``draws`` (t, Z) pairs per point;
    ``seed`` keys the frozen features of each round; ``T``, ``t0`` the forward process.
    """

    width: int = 256
    width_factor: float | None = None
    tau: float | str | None = None
    draws: int = 2
    ode_steps: int = 64
    seed: int = 0
    T: float = 6.0
    t0: float = 1e-3
    sampler: str = "ode"
    name: str = "diffusion-rf"

    def __post_init__(self):
        check_counts(width=self.width, draws=self.draws, ode_steps=self.ode_steps)
        check_choice(self.sampler, ("ode", "sde"), "sampler")
        if self.width_factor is not None:
            factor = to_float(self.width_factor, "width_factor")
            if not 1e-6 <= factor <= 1e3:
                raise InvalidArgument(f"width_factor must lie in [1e-6, 1000] (m = "
                                      f"width_factor * n); got {self.width_factor}.",
                                      argument="width_factor")
            object.__setattr__(self, "width_factor", factor)
        if isinstance(self.tau, str):
            check_choice(self.tau, ("star",), "tau")
        elif self.tau is not None:
            tau = to_float(self.tau, "tau")
            if not tau > 0:
                raise InvalidArgument(f"tau must be > 0; got {self.tau}. Pass None for 16 * "
                                      f"width**2 or 'star' for R7's tau*.", argument="tau")
            object.__setattr__(self, "tau", tau)
        OUSDE(self.T, self.t0)

    @property
    def sde(self) -> OUSDE:
        return OUSDE(self.T, self.t0)

    def width_for(self, n: int) -> int:
        """m for a round of n points."""
        if self.width_factor is None:
            return self.width
        return max(8, round(self.width_factor * n))

    def tau_for(self, n: int, m: int) -> float:
        """The flow time for a round of n points and width m."""
        if self.tau is None:
            return 16.0 * m**2
        if self.tau == "star":
            return m**2 * tau_star(n, m)
        return float(self.tau)

    def fit(self, data: torch.Tensor) -> PFODEDistribution:
        return single(self, data).replicate(0)

    def fit_batched(self, data: torch.Tensor, streams: Streams, round_: int = 0) -> BatchedPFODE:
        """R models fitted to data (R, n, d), sharing the round's frozen features."""
        n, d = data.shape[1], data.shape[2]
        m = self.width_for(n)
        w, u = draw_features(m, d, round_generator(self.seed, round_, data.device), data.device)
        s_ff, s_yf = dsm_statistics(w, u, data, self.sde, self.draws, streams)
        tau = self.tau_for(n, m)
        score = RandomFeatureScore(w, u, gradient_flow(s_ff, s_yf, tau), self.T)
        return BatchedPFODE(score, self.sde, self.ode_steps, data, self.sampler, m, tau)
