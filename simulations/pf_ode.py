r"""The probability-flow ODE of a fitted diffusion model: sampling, log-density, step count.

docs/theory.md §6. With the OU forward process the fitted model is the law p_{t0} of
the PF-ODE dx/dt = −x − s(x, t) run from the prior at T back to t0. Sampling runs it
backwards from prior draws; the log-density runs it forwards from the query points,

.. math::
    \log p_{t_0}(x) = \log p_T(x_T) + \int_{t_0}^{T} \nabla\!\cdot v(x_t, t)\, dt,
    \qquad v = -x - s,

with the exact divergence (the instantaneous change of variables), both by classic
RK4 on a geometric time grid (the score is steep near t0).

**Step count by an error estimate.** ``steps=None`` (the default of the models) picks
the number K of RK4 steps per law: K = 8, 16, 32, … until the two last densities
differ by at most ``tol`` in L1, ∫|p_K − p_{K/2}| ≤ tol (on the run's grid when the
density is wanted there, else a Monte Carlo estimate at the law's own training
points, mean |p_K/p_{K/2} − 1|), capped at :data:`MAX_STEPS`. The difference is the
error estimate the law carries: its grid density holds |p_K − p_{K/2}| per node as
``abs_error`` (and |log p_K − log p_{K/2}| as log bounds), so TV and KL intervals
widen by it. It bounds p_K's own error when the scheme has entered its asymptotic
regime at any order ≥ 1 (RK4 meets kinks of the ReLU score, so its order there is
lower than 4): an estimate, not a certificate; the report states K and the estimate.
"""

from __future__ import annotations

import itertools
import math

import torch

from boundkit._checks import check_choice, check_int, to_float
from boundkit.errors import InvalidArgument
from simulations._device import DTYPE, make_generator
from simulations.distributions import Distribution
from simulations.grid import OnGrid
from simulations.streams import Streams

#: First and largest step counts of the doubling search; the default tolerance (L1).
FIRST_STEPS, MAX_STEPS, TOL = 8, 1024, 2e-4


def check_ode(steps, tol) -> tuple[int | None, float]:
    """Validated (ode_steps, ode_tol): steps None (chosen by the estimate) or an int in
    [1, MAX_STEPS]; tol in (0, 0.1]."""
    if steps is not None:
        steps = check_int(steps, "ode_steps", 1, MAX_STEPS, "None (chosen within ode_tol) "
                          "or 64")
    tol = to_float(tol, "ode_tol")
    if not 0 < tol <= 0.1:
        raise InvalidArgument(f"ode_tol must lie in (0, 0.1] (an L1 error of the density); "
                              f"got {tol}. Pass e.g. ode_tol={TOL}.", argument="ode_tol")
    return steps, tol


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
        if forward:
            acc = acc + h / 6 * (d1 + 2 * d2 + 2 * d3 + d4)
    return x, acc


class BatchedPFODE:
    """R fitted diffusion models p_{t0}: sampled and evaluated by the same PF-ODE.

    ``steps`` an RK4 step count, or None to choose it by the error estimate (module
    docstring) within ``tol``; after the choice ``steps_used`` and ``ode_error`` (the
    largest L1 estimate over the replicates) say what was used.
    """

    def __init__(self, score, sde, steps: int | None, reference: torch.Tensor,
                 sampler: str = "ode", width: int = 0, tau: float = 0.0,
                 tol: float = TOL, tau_ratio: float = math.nan):
        self.score, self.sde, self.steps, self.tol = score, sde, steps, tol
        self.sampler = check_choice(sampler, ("ode", "sde"), "sampler")
        self.reference = reference  # the training data (R, n, d), for support boxes
        self.width, self.tau, self.tau_ratio = width, tau, tau_ratio
        self.dim = reference.shape[-1]
        self.steps_used = steps
        self.ode_error = math.nan
        self.steps_integrated = 0  # RK4 steps run so far, per point (cost accounting)

    @property
    def replicates(self) -> int:
        return self.reference.shape[0]

    def _velocity(self, x, t, with_divergence: bool):
        s, div = self.score.at_time(x, float(t), with_divergence)
        return -x - s, (-x.shape[-1] - div) if with_divergence else 0.0

    def _flow(self, x: torch.Tensor, forward: bool, steps: int):
        self.steps_integrated += steps
        return integrate_pf_ode(self._velocity, x, self._grid(steps, x.device), forward)

    def _grid(self, steps: int, device) -> torch.Tensor:
        return self.sde.time_grid(steps, device, getattr(self.score, "time_offset", 0.0))

    def _log_prob(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        z, integral = self._flow(x, True, steps)
        out = self.sde.prior_logp(z) + integral
        if not bool(torch.isfinite(out).all()):
            raise InvalidArgument(f"the PF-ODE's log-density is not finite at {steps} RK4 "
                                  f"steps: the fitted score drives paths out of float64's "
                                  f"range (an untrained or diverged score). Train longer "
                                  f"(more steps) or use fewer rounds.", argument="model")
        return out

    def _search(self, x: torch.Tensor, l1) -> tuple[torch.Tensor, torch.Tensor]:
        """Double K until ``l1(log p_K, log p_{K/2})`` (R,) ≤ tol: (log p_K, log p_{K/2})."""
        steps, errors = FIRST_STEPS, []
        coarse = self._log_prob(x, steps)
        while True:
            target = self._next_steps(steps, errors)
            if target > 2 * steps:  # skip ahead: only K/2 and K are needed
                coarse = self._log_prob(x, target // 2)
            steps = target
            fine = self._log_prob(x, steps)
            errors.append(float(l1(fine, coarse).max()))
            if errors[-1] <= self.tol or steps >= MAX_STEPS:
                self.steps_used, self.ode_error = steps, errors[-1]
                return fine, coarse
            coarse = fine

    def _next_steps(self, steps: int, errors: list[float]) -> int:
        """Double K; after two estimates jump to the K their observed order p (clamped to
        [1, 4]) predicts to meet tol: K · (err/tol)^(1/p), a power of two."""
        if len(errors) < 2 or errors[-1] <= 0:
            return 2 * steps
        order = min(4.0, max(1.0, math.log2(max(errors[-2], 1e-300) / errors[-1])))
        need = steps * (errors[-1] / self.tol) ** (1 / order)
        return int(min(MAX_STEPS, max(2 * steps, 2 ** math.ceil(math.log2(need)))))

    def resolve_steps(self) -> int:
        """The step count, chosen now (at the training points) if not yet chosen."""
        if self.steps_used is None:
            self._search(self.reference, _mean_relative)
        return self.steps_used

    def transport(self, z: torch.Tensor, noise=None) -> torch.Tensor:
        """Prior draws z (R, m, d) to model draws: the PF-ODE, or the reverse SDE
        dx = [−x − 2 s(x, t)] dt + √2 dW̄ (Euler–Maruyama, ``noise(shape)`` per step).

        The two share their law only when s is the exact score of the forward marginals;
        for a learned score only the PF-ODE is the law that :meth:`log_prob` evaluates.
        """
        steps = self.resolve_steps()
        if self.sampler == "ode":
            return self._flow(z, False, steps)[0]
        grid = self._grid(steps, z.device).flip(0)
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
        return self._log_prob(x, self.resolve_steps())

    def grid_density(self, grid) -> OnGrid:
        """Density at the grid's nodes (R, G) with the step count's error estimate:
        |p_K − p_{K/2}| per node (``abs_error``), its integral (``l1_error``) and
        log p_K ± |log p_K − log p_{K/2}| (log bounds)."""
        nodes = grid.nodes[None].expand(self.replicates, -1, -1).contiguous()

        def l1(fine, coarse):
            diff = (torch.exp(fine) - torch.exp(coarse)).abs()  # inf − inf: abs_exp_diff
            return grid.integrate(torch.where(diff.isnan(), abs_exp_diff(fine, coarse),
                                              diff))[0]

        if self.steps_used is None:
            fine, coarse = self._search(nodes, l1)
        else:
            fine = self._log_prob(nodes, self.steps_used)
            coarse = self._log_prob(nodes, max(1, self.steps_used // 2))
        gap = (fine - coarse).abs()
        values = torch.exp(fine)
        # p_K (e^gap − 1); where p_K underflows to 0 it is e^(log p_K + gap), not 0 · inf:
        # +inf where the coarse path diverged (the TV and KL intervals then say nothing)
        err = torch.where(values > 0, values * torch.expm1(gap), torch.exp(fine + gap))
        return OnGrid(values, grid.integrate(err)[0], err, fine - gap, fine + gap)

    def replicate(self, r: int) -> PFODEDistribution:
        """Replicate r as a single :class:`PFODEDistribution` (the batch's step count)."""
        law = BatchedPFODE(self.score.select(r), self.sde, self.steps_used,
                           self.reference[r:r + 1], self.sampler, self.width, self.tau,
                           self.tol, self.tau_ratio)
        return PFODEDistribution(law)


def abs_exp_diff(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|e^a − e^b| = e^{max(a, b)} (1 − e^{−|a − b|}) elementwise: 0 where a = b, +inf
    where e^{max} overflows, never NaN (the naive difference gives inf − inf and, through
    p (e^gap − 1), 0 · inf)."""
    top, gap = torch.maximum(a, b), (a - b).abs()
    return torch.where(gap > 0, torch.exp(top) * -torch.expm1(-gap), 0.0)


def _mean_relative(fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
    """Mean |p_K/p_{K/2} − 1| over the points (R,): ∫|p_K − p_{K/2}| when they are p-draws."""
    return torch.expm1((fine - coarse).abs()).mean(-1)


class PFODEDistribution(Distribution):
    """One fitted diffusion model as a :class:`~simulations.distributions.Distribution`."""

    def __init__(self, law: BatchedPFODE):
        self.law = law
        self.score, self.sde = law.score, law.sde
        self.device = law.reference.device
        self.dim = law.dim

    @property
    def steps(self) -> int:
        return self.law.resolve_steps()

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
