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

Everything is batched over R replicates, each with its own frozen features (W, U) per
round (a replicate is an independent run of the whole experiment, the features' draw
included: at n = m = 64 the variance of mean TV between 8 draws was 37x what the data of
24 replicates explain): (Σ_ff, Σ_yf) per replicate, one batched eigendecomposition, a PF-ODE on
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

import math
from dataclasses import dataclass

import numpy as np
import torch

from boundkit import tau_star
from boundkit._checks import check_choice, to_float
from boundkit.errors import InvalidArgument
from simulations._device import DTYPE, check_counts, make_generator
from simulations.models import single
from simulations.pf_ode import (
    TOL,
    BatchedPFODE,
    PFODEDistribution,
    check_ode,
    integrate_pf_ode,
)
from simulations.rf_exact import KinkTables
from simulations.streams import Streams

__all__ = ["OUSDE", "BatchedPFODE", "PFODEDistribution", "RFDiffusionModel",
           "RandomFeatureScore", "draw_features", "dsm_statistics", "euler_flow",
           "gradient_flow", "integrate_pf_ode", "replicate_features", "round_generator"]

#: Elements of one (R, chunk, m) feature block: 2 MiB, cache-sized (2^24, 128 MiB, was
#: 4.8–10× slower with the same results: every block went through main memory).
BLOCK = 2**18
#: Elements of one (R, chunk, m) feature block of the DSM statistics: large, since each
#: block updates the (R, m, m) accumulator (near the matmul peak at 2^24).
DSM_BLOCK = 2**24


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

    def time_grid(self, steps: int, device, offset: float = 0.0) -> torch.Tensor:
        """t0 = t_0 < … < t_K = T geometric in t + ``offset``: geometric (offset 0) where
        the score is steep near t0 (σ_t → 0), near-uniform for offset ≫ T."""
        nodes = np.geomspace(self.t0 + offset, self.T + offset, steps + 1) - offset
        nodes[0], nodes[-1] = self.t0, self.T
        return torch.as_tensor(nodes, dtype=DTYPE, device=device)


def draw_features(m: int, d: int, generator, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Random frozen (W (m, d), U (m, 2)) with ‖w_j‖₁ + ‖u_j‖₁ = 1."""
    raw = torch.randn((m, d + 2), dtype=DTYPE, device=device, generator=generator)
    raw = raw / raw.abs().sum(1, keepdim=True)
    return raw[:, :d].contiguous(), raw[:, d:].contiguous()


def replicate_features(seed: int, round_: int, streams: Streams, m: int,
                       d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each replicate's frozen (W (R, m, d), U (R, m, 2)) of one round.

    Replicate r's features are keyed by (model seed, round, the streams' seed, r) only, so
    replicate r of a batched run has the features of the one-replicate run with
    ``first_replicate = r`` (runs chunked for memory give the same numbers)."""
    pairs = [draw_features(m, d, round_generator(seed, round_, streams.device,
                                                 (streams.seed, r)), streams.device)
             for r in range(streams.first, streams.first + streams.count)]
    return torch.stack([w for w, _ in pairs]), torch.stack([u for _, u in pairs])


class RandomFeatureScore:
    """s_r(x, t) = (1/m) A_r σ(W_r x + U_r e(t)): frozen (W, U) per replicate (R, m, ·) or
    shared (m, ·), A of shape (R, d, m).

    ``evaluator`` ``"auto"`` evaluates 1-D scores exactly from their sorted kinks
    (:mod:`simulations.rf_exact`, O(log m) per point) and others by chunked matmuls of
    ``chunk`` elements; ``"matmul"`` always takes the matmul.
    """

    def __init__(self, W: torch.Tensor, U: torch.Tensor, A: torch.Tensor, T: float,
                 evaluator: str = "auto", chunk: int = BLOCK):
        # (Rw, m, ·) with Rw = R (each replicate's features) or 1 (shared)
        self.W, self.U = (W, U) if W.dim() == 3 else (W[None], U[None])
        self.T = T
        self.A = A if A.dim() == 3 else A[None]
        self.m = self.W.shape[1]
        self.evaluator = check_choice(evaluator, ("auto", "matmul"), "evaluator")
        self.chunk = chunk
        self.diag = (self.W * self.A.transpose(1, 2)).sum(-1)  # (R, m): (W_r A_r)_{jj}
        self.kinks = (KinkTables(self.W, self.U, self.A, T)
                      if evaluator == "auto" and self.W.shape[2] == 1 else None)

    #: The PF-ODE's time grid is geometric in t + 1 (:meth:`OUSDE.time_grid`): this
    #: score is bounded near t0 (its time input is t/T), and its error comes from the
    #: kinks the paths cross, spread over [t0, T] (5× smaller L1 error than a geometric
    #: grid at the same steps, measured at m = n = 1024).
    time_offset = 1.0

    def select(self, r: int) -> RandomFeatureScore:
        """Replicate r's score (a batch of one)."""
        own = slice(r, r + 1) if self.W.shape[0] > 1 else slice(0, 1)
        return RandomFeatureScore(self.W[own], self.U[own], self.A[r:r + 1], self.T,
                                  self.evaluator, self.chunk)

    def features(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """f(x, t) = σ(W_r x + U_r e(t)) / m for x (R, N, d), t (R, N): shape (R, N, m)."""
        e = torch.stack([torch.ones_like(t), t / self.T], dim=-1)
        return torch.relu(x @ self.W.transpose(1, 2) + e @ self.U.transpose(1, 2)) / self.m

    def at_time(self, x: torch.Tensor, t: float, with_divergence: bool):
        """(s (R, N, d), ∇·s (R, N) or None) at one time t: the ODE's hot loop."""
        if self.kinks is not None:
            return self.kinks.evaluate(x, t, with_divergence)
        bias = self.U[..., 0] + self.U[..., 1] * (t / self.T)  # (Rw, m)
        w_t, shared = self.W.transpose(1, 2), self.W.shape[0] == 1
        reps, count, _ = x.shape
        chunk = max(1, self.chunk // max(1, reps * self.m))
        s = torch.empty_like(x)
        div = torch.empty(x.shape[:2], dtype=DTYPE, device=x.device) if with_divergence else None
        a_t = self.A.transpose(1, 2)
        for start in range(0, count, chunk):
            xc = x[:, start:start + chunk]
            pre = (torch.addmm(bias[0], xc.reshape(-1, x.shape[-1]), w_t[0]).reshape(
                reps, -1, self.m) if shared else torch.baddbmm(bias[:, None], xc, w_t))
            if with_divergence:
                div[:, start:start + chunk] = ((pre > 0).to(DTYPE) @ self.diag[..., None])[
                    ..., 0] / self.m
            s[:, start:start + chunk] = torch.relu_(pre) @ a_t / self.m
        return s, div


def dsm_statistics(w: torch.Tensor, u: torch.Tensor, data: torch.Tensor, sde: OUSDE,
                   draws: int, streams: Streams) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ_ff (R, m, m), Σ_yf (R, d, m)) of the σ_t²-weighted DSM loss for data (R, n, d),
    empirical over the data × ``draws`` (t, Z) pairs per point (drawn per replicate); the
    features w (R, m, d), u (R, m, 2) per replicate, or (m, ·) shared."""
    reps, n, d = data.shape
    if w.dim() == 2:
        w, u = w[None], u[None]
    m = w.shape[1]
    count = n * draws
    t = sde.t0 + (sde.T - sde.t0) * streams.uniform(count)
    z = streams.normal(count, d)
    std = torch.sqrt(-torch.expm1(-2 * t))
    s_ff = torch.zeros((reps, m, m), dtype=DTYPE, device=data.device)
    s_yf = torch.zeros((reps, d, m), dtype=DTYPE, device=data.device)
    chunk = max(1, DSM_BLOCK // max(1, reps * m))
    for start in range(0, count, chunk):
        sl = slice(start, start + chunk)
        x0 = data[:, torch.arange(start, min(start + chunk, count), device=data.device) % n]
        xt = torch.exp(-t[:, sl])[..., None] * x0 + std[:, sl, None] * z[:, sl]
        # g = σ_t f(x_t, t), built in place: weight σ_t² and target y = −z/σ_t give
        # λ f fᵀ = g gᵀ and λ y fᵀ = −z gᵀ
        g = xt @ w.transpose(1, 2)
        g.add_(u[:, None, :, 0]).addcmul_((t[:, sl] / sde.T)[..., None], u[:, None, :, 1])
        g.relu_()
        g.mul_((std[:, sl] / m)[..., None])
        s_ff.baddbmm_(g.transpose(1, 2), g)
        s_yf.baddbmm_(z[:, sl].transpose(1, 2), g, alpha=-1.0)
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


def round_generator(seed: int, round_: int, device, key: tuple = ()) -> torch.Generator:
    """The generator of a round's frozen features: keyed by (model seed, round) and
    ``key`` (:func:`replicate_features`: the streams' seed and the replicate index)."""
    state = np.random.SeedSequence(seed, spawn_key=(1_000_003, round_, *key)).generate_state(1)
    return make_generator(int(state[0]), device)


@dataclass(frozen=True)
class RFDiffusionModel:
    """The paper's random-feature score, fitted by the exact gradient flow (module docstring).

    ``width`` (m) or ``width_factor`` (m = width_factor · n, at most ``max_width`` if
    given: the eigendecomposition costs m³); ``tau`` a flow time, None
    for 16 m², or ``"star"`` for m² τ*(n, m) (R7). ``draws`` (t, Z) pairs per point;
    ``seed`` keys the frozen features of each round (with the loop's seed and the
    replicate: each replicate draws its own); ``T``, ``t0`` the forward process;
    ``ode_steps`` RK4 steps, None to choose them within ``ode_tol`` (L1,
    :mod:`simulations.pf_ode`); ``evaluator`` ``"auto"`` (exact kinks in 1-D) or
    ``"matmul"``.
    """

    width: int = 256
    width_factor: float | None = None
    max_width: int | None = None
    tau: float | str | None = None
    draws: int = 2
    ode_steps: int | None = None
    ode_tol: float = TOL
    seed: int = 0
    T: float = 6.0
    t0: float = 1e-3
    sampler: str = "ode"
    evaluator: str = "auto"
    name: str = "diffusion-rf"

    def __post_init__(self):
        check_counts(width=self.width, draws=self.draws)
        if self.max_width is not None:
            check_counts(max_width=self.max_width)
        steps, tol = check_ode(self.ode_steps, self.ode_tol)
        object.__setattr__(self, "ode_steps", steps)
        object.__setattr__(self, "ode_tol", tol)
        check_choice(self.sampler, ("ode", "sde"), "sampler")
        check_choice(self.evaluator, ("auto", "matmul"), "evaluator")
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
        m = max(8, round(self.width_factor * n))
        return m if self.max_width is None else min(m, self.max_width)

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
        """R models fitted to data (R, n, d), each with its own frozen features of the round."""
        n, d = data.shape[1], data.shape[2]
        m = self.width_for(n)
        w, u = replicate_features(self.seed, round_, streams, m, d)
        s_ff, s_yf = dsm_statistics(w, u, data, self.sde, self.draws, streams)
        tau = self.tau_for(n, m)
        score = RandomFeatureScore(w, u, gradient_flow(s_ff, s_yf, tau), self.T,
                                   self.evaluator)
        return BatchedPFODE(score, self.sde, self.ode_steps, data, self.sampler, m, tau,
                            self.ode_tol, tau / (m**2 * tau_star(n, m)))
