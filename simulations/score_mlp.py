"""MLP score networks trained with Adam: the architecture-sensitivity check (THEORY.md §6).

s(x, t) = MLP([x, t/T, log σ_t]) / σ_t (depth 2–4, SiLU), trained on the same
σ_t²-weighted denoising score-matching loss as the random-feature score, i.e.
E‖σ_t s(x_t, t) + Z‖². Initialisation and minibatches come from the model's seed,
so a fit is reproducible on CPU. The divergence for the PF-ODE density is exact
(autograd, one pass per coordinate: meant for low d).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch

from boundkit._checks import check_choice
from boundkit.errors import InvalidArgument
from simulations._device import DTYPE, check_counts, make_generator
from simulations.diffusion import OUSDE, PFODEDistribution


class MLPScore:
    """s(x, t) = MLP([x, t/T, log σ_t]) / σ_t, weights as plain tensors (no nn.Module)."""

    def __init__(self, layers: list[tuple[torch.Tensor, torch.Tensor]], sde: OUSDE):
        self.layers, self.sde = layers, sde

    @staticmethod
    def init(d: int, width: int, depth: int, generator, device) -> list:
        """Weights U(−1/√fan_in, 1/√fan_in) from ``generator`` (PyTorch's default rule)."""
        sizes = [d + 2] + [width] * depth + [d]
        layers = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            bound = 1 / math.sqrt(fan_in)
            w = (torch.rand((fan_out, fan_in), dtype=DTYPE, device=device, generator=generator)
                 * 2 - 1) * bound
            b = (torch.rand(fan_out, dtype=DTYPE, device=device, generator=generator)
                 * 2 - 1) * bound
            layers.append((w.requires_grad_(True), b.requires_grad_(True)))
        return layers

    def parameters(self):
        return [p for layer in self.layers for p in layer]

    def _std(self, t: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(-torch.expm1(-2 * t))

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        std = self._std(t)
        h = torch.cat([x, (t / self.sde.T)[:, None], torch.log(std)[:, None]], dim=1)
        for k, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if k < len(self.layers) - 1:
                h = torch.nn.functional.silu(h)
        return h / std[:, None]

    def at_time(self, x: torch.Tensor, t: float, with_divergence: bool):
        """(s, ∇·s or None) at one time t, the PF-ODE's interface."""
        tt = torch.full((x.shape[0],), t, dtype=DTYPE, device=x.device)
        if not with_divergence:
            with torch.no_grad():
                return self(x, tt), None
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            s = self(xg, tt)
            div = torch.zeros(x.shape[0], dtype=DTYPE, device=x.device)
            for c in range(x.shape[1]):
                div = div + torch.autograd.grad(s[:, c].sum(), xg, retain_graph=True)[0][:, c]
        return s.detach(), div.detach()


@dataclass(frozen=True)
class MLPDiffusionModel:
    """Diffusion with an MLP score trained by Adam for ``steps`` minibatch steps."""

    depth: int = 3
    width: int = 64
    steps: int = 1500
    batch: int = 256
    lr: float = 3e-3
    ode_steps: int = 64
    seed: int = 0
    sde: OUSDE = field(default_factory=OUSDE)
    sampler: str = "ode"
    name: str = "diffusion-mlp"

    def __post_init__(self):
        if isinstance(self.depth, bool) or self.depth not in (2, 3, 4):
            raise InvalidArgument(f"depth must be 2, 3 or 4; got {self.depth!r}.")
        check_counts(width=self.width, steps=self.steps, batch=self.batch,
                     ode_steps=self.ode_steps)
        check_choice(self.sampler, ("ode", "sde"), "sampler")
        if not self.lr > 0:
            raise InvalidArgument(f"lr must be > 0; got {self.lr}. Pass e.g. lr=3e-3.")

    def fit(self, data: torch.Tensor) -> PFODEDistribution:
        if data.ndim != 2 or data.shape[0] < 2 or not torch.all(torch.isfinite(data)):
            raise InvalidArgument(f"data must be finite with shape (n >= 2, d); got "
                             f"{tuple(data.shape)}.")
        gen = make_generator(self.seed, data.device)
        score = MLPScore(MLPScore.init(data.shape[1], self.width, self.depth, gen, data.device),
                         self.sde)
        opt = torch.optim.Adam(score.parameters(), lr=self.lr)
        sde = self.sde
        for _ in range(self.steps):
            idx = torch.randint(data.shape[0], (self.batch,), generator=gen, device=data.device)
            x0 = data[idx]
            t = sde.t0 + (sde.T - sde.t0) * torch.rand(self.batch, dtype=DTYPE,
                                                       device=data.device, generator=gen)
            z = torch.randn(x0.shape, dtype=DTYPE, device=data.device, generator=gen)
            mean, std = sde.marginal_prob(x0, t)
            loss = ((std[:, None] * score(mean + std[:, None] * z, t) + z) ** 2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        for p in score.parameters():
            p.requires_grad_(False)
        return PFODEDistribution(score, self.sde, self.ode_steps, data, self.sampler)
