"""MLP scores trained with Adam: the architecture-sensitivity check (docs/theory.md §6), batched.

s(x, t) = MLP([x, t/T, log σ_t]) / σ_t (depth 2–4, SiLU), trained on the same
σ_t²-weighted denoising score-matching loss as the random-feature score,
E‖σ_t s(x_t, t) + Z‖². R replicates train at once: the weights carry a leading
replicate axis, the loss is the sum of the replicates' losses, so each replicate's
gradient (and Adam's elementwise update) is its own. Initialisation and minibatches
come from each replicate's random stream. The divergence for the PF-ODE density is
exact (autograd, one pass per coordinate: meant for low d).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from boundkit._checks import check_choice, to_float
from boundkit.errors import InvalidArgument
from simulations._device import DTYPE, check_counts
from simulations.diffusion import OUSDE, BatchedPFODE, PFODEDistribution
from simulations.models import single
from simulations.pf_ode import TOL, check_ode
from simulations.streams import Streams


class MLPScore:
    """s_r(x, t) = MLP_r([x, t/T, log σ_t]) / σ_t with weights (R, out, in) as plain tensors."""

    def __init__(self, layers: list[tuple[torch.Tensor, torch.Tensor]], sde: OUSDE):
        self.layers, self.sde = layers, sde

    @staticmethod
    def init(d: int, width: int, depth: int, streams: Streams) -> list:
        """Weights U(−1/√fan_in, 1/√fan_in) per replicate (PyTorch's default rule)."""
        sizes = [d + 2] + [width] * depth + [d]
        layers = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            bound = 1 / math.sqrt(fan_in)
            w = (streams.uniform(fan_out, fan_in) * 2 - 1) * bound
            b = (streams.uniform(fan_out) * 2 - 1) * bound
            layers.append((w.requires_grad_(True), b.requires_grad_(True)))
        return layers

    def parameters(self):
        return [p for layer in self.layers for p in layer]

    def select(self, r: int) -> MLPScore:
        """Replicate r's score (a batch of one)."""
        return MLPScore([(w[r:r + 1], b[r:r + 1]) for w, b in self.layers], self.sde)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Scores at x (R, N, d), times t (R, N)."""
        std = torch.sqrt(-torch.expm1(-2 * t))
        h = torch.cat([x, (t / self.sde.T)[..., None], torch.log(std)[..., None]], dim=-1)
        for k, (w, b) in enumerate(self.layers):
            h = torch.baddbmm(b[:, None, :], h, w.transpose(1, 2))
            if k < len(self.layers) - 1:
                h = torch.nn.functional.silu(h)
        return h / std[..., None]

    def at_time(self, x: torch.Tensor, t: float, with_divergence: bool):
        """(s (R, N, d), ∇·s (R, N) or None) at one time t, the PF-ODE's interface."""
        tt = torch.full(x.shape[:2], t, dtype=DTYPE, device=x.device)
        if not with_divergence:
            with torch.no_grad():
                return self(x, tt), None
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            s = self(xg, tt)
            div = torch.zeros(x.shape[:2], dtype=DTYPE, device=x.device)
            for c in range(x.shape[-1]):
                div = div + torch.autograd.grad(s[..., c].sum(), xg, retain_graph=True)[0][
                    ..., c]
        return s.detach(), div.detach()


@dataclass(frozen=True)
class MLPDiffusionModel:
    """Diffusion with an MLP score trained by Adam for ``steps`` minibatch steps."""

    depth: int = 3
    width: int = 64
    steps: int = 1500
    batch: int = 256
    lr: float = 3e-3
    ode_steps: int | None = None
    ode_tol: float = TOL
    seed: int = 0
    T: float = 6.0
    t0: float = 1e-3
    sampler: str = "ode"
    name: str = "diffusion-mlp"

    def __post_init__(self):
        if isinstance(self.depth, bool) or self.depth not in (2, 3, 4):
            raise InvalidArgument(f"depth must be 2, 3 or 4; got {self.depth!r}.",
                                  argument="depth")
        check_counts(width=self.width, steps=self.steps, batch=self.batch)
        steps, tol = check_ode(self.ode_steps, self.ode_tol)
        object.__setattr__(self, "ode_steps", steps)
        object.__setattr__(self, "ode_tol", tol)
        check_choice(self.sampler, ("ode", "sde"), "sampler")
        lr = to_float(self.lr, "lr")
        if not 0 < lr <= 10:
            raise InvalidArgument(f"lr must lie in (0, 10]; got {self.lr}. Pass e.g. lr=3e-3.",
                                  argument="lr")
        object.__setattr__(self, "lr", lr)
        OUSDE(self.T, self.t0)

    @property
    def sde(self) -> OUSDE:
        return OUSDE(self.T, self.t0)

    def fit(self, data: torch.Tensor) -> PFODEDistribution:
        return single(self, data).replicate(0)

    def fit_batched(self, data: torch.Tensor, streams: Streams, round_: int = 0) -> BatchedPFODE:
        """R MLP scores trained on data (R, n, d) at once."""
        reps, _, d = data.shape
        sde = self.sde
        score = MLPScore(MLPScore.init(d, self.width, self.depth, streams), sde)
        opt = torch.optim.Adam(score.parameters(), lr=self.lr)
        rows = torch.arange(reps, device=data.device)[:, None]
        with torch.enable_grad():  # training needs gradients whatever the caller's mode
            self._train(score, opt, data, rows, streams)
        for p in score.parameters():
            p.requires_grad_(False)
        return BatchedPFODE(score, sde, self.ode_steps, data, self.sampler, self.width,
                            float(self.steps), self.ode_tol)

    def _train(self, score: MLPScore, opt, data: torch.Tensor, rows, streams: Streams) -> None:
        """Adam on the σ_t²-weighted DSM loss, ``steps`` minibatches per replicate."""
        n, d = data.shape[1], data.shape[2]
        sde = score.sde
        for _ in range(self.steps):
            x0 = data[rows, streams.integers(n, self.batch)]
            t = sde.t0 + (sde.T - sde.t0) * streams.uniform(self.batch)
            z = streams.normal(self.batch, d)
            mean, std = sde.marginal_prob(x0, t)
            out = score(mean + std[..., None] * z, t)
            loss = ((std[..., None] * out + z) ** 2).sum(-1).mean(1).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
