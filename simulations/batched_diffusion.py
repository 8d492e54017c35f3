"""Random-feature diffusion loops for R replicates in one tensor program (THEORY.md §6).

All replicates share the frozen features (W, U); each has its own data, its own
empirical DSM statistics (Σ_ff, Σ_yf), batched through ``bmm``, and its own exact
gradient-flow solution A_r(τ) from one batched eigendecomposition. The PF-ODE then
runs on (R, N, d) tensors. :func:`rf_diffusion_chains` measures e_i = TV(p_{i+1}, p0)
per replicate by Simpson quadrature in 1-D.
"""

from __future__ import annotations

import math

import torch

from boundkit import Schedule
from boundkit.errors import InvalidArgument
from simulations._device import DTYPE, check_counts, make_generator, resolve_device
from simulations.batched import _latest_mix
from simulations.diffusion import OUSDE, RandomFeatureScore, integrate_pf_ode
from simulations.distributions import Distribution


def batched_dsm_statistics(w, u, data: torch.Tensor, sde: OUSDE, draws: int, generator):
    """(Σ_ff, Σ_yf) per replicate: shapes (R, m, m) and (R, d, m); data is (R, n, d)."""
    reps, _n, _d = data.shape
    x0 = data.repeat(1, draws, 1)
    count = x0.shape[1]
    t = sde.t0 + (sde.T - sde.t0) * torch.rand((reps, count), dtype=DTYPE, device=data.device,
                                               generator=generator)
    z = torch.randn(x0.shape, dtype=DTYPE, device=data.device, generator=generator)
    std = torch.sqrt(-torch.expm1(-2 * t))
    xt = torch.exp(-t)[..., None] * x0 + std[..., None] * z
    e = torch.stack([torch.ones_like(t), t / sde.T], dim=-1)
    f = torch.relu(xt @ w.T + e @ u.T) / w.shape[0]
    s_ff = (f * (std**2)[..., None]).transpose(1, 2) @ f / count
    s_yf = (-(std[..., None] * z)).transpose(1, 2) @ f / count
    return s_ff, s_yf


def batched_gradient_flow(s_ff: torch.Tensor, s_yf: torch.Tensor, tau: float) -> torch.Tensor:
    """A_r(τ) for every replicate from one batched eigendecomposition (R, d, m)."""
    mu, v = torch.linalg.eigh(s_ff)
    mu = mu.clamp_min(0.0)
    safe = torch.where(mu > 0, mu, torch.ones_like(mu))
    gain = torch.where(mu * tau > 1e-12, -torch.expm1(-2 * tau * mu) / safe,
                       2 * tau * torch.ones_like(mu))
    return ((s_yf @ v) * gain[:, None, :]) @ v.transpose(1, 2)


class BatchedPFODE:
    """R fitted models p_{t0} sharing (W, U): sample (R, n, d) and log_prob (R, N)."""

    def __init__(self, w, u, a, sde: OUSDE, steps: int):
        self.w, self.u, self.a, self.sde, self.steps = w, u, a, sde, steps
        self.m = w.shape[0]
        self.diag = (w[None] * a.transpose(1, 2)).sum(-1)  # (R, m): (W A_r)_{jj}

    def _velocity(self, x, t: float, with_divergence: bool):
        bias = self.u[:, 0] + self.u[:, 1] * (t / self.sde.T)
        pre = x @ self.w.T + bias
        s = torch.relu(pre) @ self.a.transpose(1, 2) / self.m
        if not with_divergence:
            return -x - s, 0.0
        div = ((pre > 0).to(DTYPE) * self.diag[:, None, :]).sum(-1) / self.m
        return -x - s, -x.shape[-1] - div

    def _flow(self, x, forward: bool):
        return integrate_pf_ode(self._velocity, x, self.sde.time_grid(self.steps, x.device),
                                forward)

    def sample(self, n: int, generator) -> torch.Tensor:
        reps, d = self.a.shape[0], self.w.shape[1]
        z = torch.randn((reps, n, d), dtype=DTYPE, device=self.w.device, generator=generator)
        return self._flow(z, forward=False)[0]

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p_r(x_r) for x of shape (R, N, d)."""
        z, integral = self._flow(x, forward=True)
        prior = -0.5 * (z * z).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)
        return prior + integral


def fit_batched(data: torch.Tensor, *, width: int = 256, tau: float | None = None,
                draws: int = 2, ode_steps: int = 64, sde: OUSDE | None = None,
                seed: int = 0) -> BatchedPFODE:
    """Fit R random-feature diffusion models at once to data of shape (R, n, d)."""
    if data.ndim != 3 or data.shape[1] < 2 or not torch.all(torch.isfinite(data)):
        raise InvalidArgument(f"data must be finite with shape (R, n >= 2, d); got "
                         f"{tuple(data.shape)}.")
    sde = OUSDE() if sde is None else sde
    gen = make_generator(seed, data.device)
    w, u = RandomFeatureScore.draw(width, data.shape[2], gen, data.device)
    s_ff, s_yf = batched_dsm_statistics(w, u, data, sde, draws, gen)
    a = batched_gradient_flow(s_ff, s_yf, 16.0 * width**2 if tau is None else tau)
    return BatchedPFODE(w, u, a, sde, ode_steps)


def rf_diffusion_chains(schedule: Schedule, rounds: int, n: int, replicates: int,
                        p0: Distribution, *, width: int = 256, ode_steps: int = 64,
                        grid_points: int = 1025, seed: int = 0, device="cpu") -> torch.Tensor:
    """e_i = TV(p_{i+1}, p0) for R 1-D random-feature diffusion loops at once: (R, rounds)."""
    dev = resolve_device(device)
    check_counts(rounds=rounds, n=n, replicates=replicates)
    if p0.dim != 1:
        raise InvalidArgument(f"rf_diffusion_chains measures TV by 1-D quadrature; p0 has "
                              f"dimension {p0.dim}. Use simulations.run_loop for it.",
                              argument="p0")
    if grid_points % 2 == 0 or grid_points < 5:
        raise InvalidArgument(f"grid_points must be odd and >= 5; got {grid_points}.")
    alpha, size = _latest_mix(schedule, n)
    gen = make_generator(seed, dev)
    data = p0.sample(replicates * size, gen).reshape(replicates, size, 1)
    lo, hi = p0.support_box()
    span = float(hi[0] - lo[0])
    grid = torch.linspace(float(lo[0]) - 0.25 * span, float(hi[0]) + 0.25 * span, grid_points,
                          dtype=DTYPE, device=dev)
    p0_dens = torch.exp(p0.log_prob(grid[:, None]))
    weights = torch.ones(grid_points, dtype=DTYPE, device=dev)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    weights *= float(grid[1] - grid[0]) / 3
    errors = torch.empty((replicates, rounds), dtype=DTYPE, device=dev)
    for i in range(rounds):
        model = fit_batched(data, width=width, ode_steps=ode_steps, seed=seed + i + 1)
        dens = torch.exp(model.log_prob(grid[None, :, None].expand(replicates, -1, 1)))
        errors[:, i] = 0.5 * (dens - p0_dens[None]).abs() @ weights
        if i == rounds - 1:
            break
        synthetic = model.sample(size, gen)
        if alpha > 0:
            real = torch.rand((replicates, size, 1), dtype=DTYPE, device=dev, generator=gen)
            fresh = p0.sample(replicates * size, gen).reshape(replicates, size, 1)
            synthetic = torch.where(real < alpha, fresh, synthetic)
        data = synthetic
    return errors
