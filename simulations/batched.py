"""Gaussian-MLE chains by sufficient statistics: thousands of long loops in O(R) per round.

:func:`gaussian_mle_chains` trains R independent 1-D Gaussian-MLE loops at once:
each round really draws n_i points per replicate from π_i = α p0 + (1 − α) p_i
(the latest model) and refits mean and variance. This covers full synthetic
(α = 0), constant real share α and fixed real + λ synthetic (α = 1/(1+λ),
n_i = (1+λ) n). :func:`simulations.metrics.gaussian_tv` gives every e_k in closed form.
The general engine (:func:`simulations.engine.run`) draws every point instead; this
sampler is the fast special case for very many rounds.

Two methods give the same distribution of fitted parameters:

* ``"explicit"`` draws all n_i points per replicate and refits;
* ``"sufficient"`` (default) draws what the fit sees, exactly: a component with
  m points has sample mean ~ N(μ, σ²/m) and within sum of squares ~ σ² χ²_{m−1},
  independent (Cochran); the p0 / p_i counts are Binomial(n_i, α), and the pooled
  mean and sum of squares combine them. O(R) work per round instead of O(R n_i).
"""

from __future__ import annotations

import math

import torch

from boundkit import ConstantRealShare, FixedRatio, FullSynthetic, Schedule
from boundkit._checks import check_choice
from boundkit.errors import InvalidArgument
from simulations._device import DTYPE, check_counts, make_generator, resolve_device


def _latest_share(schedule: Schedule) -> float:
    if isinstance(schedule, FullSynthetic):
        return 0.0
    if isinstance(schedule, ConstantRealShare):
        return float(schedule.alpha)
    if isinstance(schedule, FixedRatio):
        return 1.0 / (1.0 + float(schedule.lam))
    raise InvalidArgument(
        f"gaussian_mle_chains batches schedules that mix p0 with the latest model only "
        f"(full-synthetic, constant-real, fixed-ratio); got {type(schedule).__name__}. "
        f"Use simulations.run for it."
    )


def _latest_mix(schedule: Schedule, n: int) -> tuple[float, int]:
    """(real share α, samples per round) for a latest-only schedule; at least 2 samples."""
    size = round(n * float(schedule.size_factor))
    if size < 2:
        raise InvalidArgument(f"each round needs at least 2 samples to fit a model; got {size}.")
    return _latest_share(schedule), size


def gaussian_mle_chains(
    schedule: Schedule,
    rounds: int,
    n: int,
    replicates: int,
    *,
    mu0: float = 0.0,
    sigma0: float = 1.0,
    unbiased: bool = False,
    seed: int = 0,
    device="cpu",
    method: str = "sufficient",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Means and variances of p_1..p_rounds for every replicate: two (R, rounds) tensors.

    Column i is generation i (the model of round i). Round 0 trains on p0.
    """
    dev = resolve_device(device)
    check_counts(rounds=rounds, n=n, replicates=replicates)
    if not (math.isfinite(mu0) and math.isfinite(sigma0) and sigma0 > 0):
        raise InvalidArgument(f"sigma0 must be finite and > 0 (and mu0 finite); got {mu0}, "
                              f"{sigma0}.", argument="sigma0")
    check_choice(method, ("sufficient", "explicit"), "method")
    alpha, size = _latest_mix(schedule, n)
    gen = make_generator(seed, dev)
    means = torch.empty((replicates, rounds), dtype=DTYPE, device=dev)
    variances = torch.empty_like(means)
    mu = torch.full((replicates, 1), mu0, dtype=DTYPE, device=dev)
    sd = torch.full((replicates, 1), sigma0, dtype=DTYPE, device=dev)
    correction = 1 if unbiased else 0
    for i in range(rounds):
        mixed = i > 0 and alpha > 0
        if method == "explicit":
            z = torch.randn((replicates, size), dtype=DTYPE, device=dev, generator=gen)
            x = mu + sd * z  # round 0: mu, sd are p0's own parameters
            if mixed:
                real = torch.rand((replicates, size), dtype=DTYPE, device=dev,
                                  generator=gen) < alpha
                x = torch.where(real, mu0 + sigma0 * z, x)
            mu = x.mean(1, keepdim=True)
            var = x.var(1, correction=correction, keepdim=True)
        else:
            total = torch.full_like(mu, float(size))
            if mixed:
                m_real = torch.binomial(total, torch.full_like(mu, alpha), generator=gen)
                parts = [(torch.full_like(mu, mu0), torch.full_like(sd, sigma0), m_real),
                         (mu, sd, total - m_real)]
            else:
                parts = [(mu, sd, total)]
            stats = [_component_stats(*part, gen) for part in parts]
            pooled = sum(m * xbar for (xbar, _), (_, _, m) in zip(stats, parts, strict=True))
            pooled = pooled / size
            ss = sum(w + m * (xbar - pooled) ** 2
                     for (xbar, w), (_, _, m) in zip(stats, parts, strict=True))
            mu, var = pooled, ss / (size - correction)
        sd = var.sqrt()
        means[:, i] = mu[:, 0]
        variances[:, i] = var[:, 0]
    return means, variances


def _component_stats(mu, sd, m, gen):
    """(sample mean, within sum of squares) of m i.i.d. N(mu, sd²) points, drawn exactly."""
    xbar = mu + sd * torch.randn(mu.shape, dtype=DTYPE, device=mu.device,
                                 generator=gen) / m.clamp_min(1).sqrt()
    df = m - 1
    # χ²_k = 2 Γ(k/2); torch's public Gamma takes no generator, its kernel does.
    chi2 = 2 * torch._standard_gamma(torch.where(df > 0, df / 2, 1.0), generator=gen)
    return xbar, torch.where(df > 0, sd * sd * chi2, torch.zeros_like(chi2))
