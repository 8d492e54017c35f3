"""Replicates batched in one tensor program (THEORY.md §5): Gaussian MLE and 1-D KDE.

:func:`gaussian_mle_chains` trains R independent 1-D Gaussian-MLE loops at once:
each round really draws n_i points per replicate from π_i = α p0 + (1 − α) p_i
(the latest model) and refits mean and variance. This covers full synthetic
(α = 0), constant real share α and fixed real + λ synthetic (α = 1/(1+λ),
n_i = (1+λ) n). :func:`tv_gaussian_1d_batch` gives every e_k in closed form.

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
        f"Use simulations.run_loop for it."
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


def tv_gaussian_1d_batch(m1: torch.Tensor, v1: torch.Tensor, m2: float, v2: float):
    """TV(N(m1, v1), N(m2, v2)) elementwise, from the crossing points of the densities."""
    s1, s2 = v1.sqrt(), math.sqrt(v2)
    normal = torch.distributions.Normal(torch.zeros((), dtype=m1.dtype, device=m1.device), 1.0)
    a = 1 / (2 * v2) - 1 / (2 * v1)
    b = m1 / v1 - m2 / v2
    c = m2**2 / (2 * v2) - m1**2 / (2 * v1) + torch.log(torch.as_tensor(s2) / s1)
    equal = a.abs() < 1e-14 * (1 / v1)
    safe_a = torch.where(equal, torch.ones_like(a), a)
    disc = (b * b - 4 * safe_a * c).clamp_min(0).sqrt()
    r1 = (-b - disc) / (2 * safe_a)
    r2 = (-b + disc) / (2 * safe_a)
    lo, hi = torch.minimum(r1, r2), torch.maximum(r1, r2)
    cdf1 = [normal.cdf((t - m1) / s1) for t in (lo, hi)]
    cdf2 = [normal.cdf((t - m2) / s2) for t in (lo, hi)]
    # three intervals (−∞, lo), (lo, hi), (hi, ∞)
    two_roots = 0.5 * ((cdf1[0] - cdf2[0]).abs() + ((cdf1[1] - cdf1[0]) - (cdf2[1] - cdf2[0])).abs()
                       + ((1 - cdf1[1]) - (1 - cdf2[1])).abs())
    one_root = (2 * normal.cdf((m1 - m2).abs() / (2 * s1)) - 1)
    return torch.where(equal, one_root, two_roots)


def kde_chains(
    schedule: Schedule,
    rounds: int,
    n: int,
    replicates: int,
    *,
    bandwidth: float | str = "silverman",
    sigma0: float = 1.0,
    grid_points: int = 4097,
    seed: int = 0,
    device="cpu",
) -> torch.Tensor:
    """e_i = TV(p_{i+1}, N(0, σ0²)) for R independent 1-D KDE loops at once: (R, rounds).

    Each round draws n points per replicate from α p0 + (1 − α) p_i (exact KDE sampling:
    a training point plus h·N(0, 1)), refits the bandwidth (``"silverman"``) or keeps
    it fixed, and measures TV on a grid of ±(8σ0 + 8 max h) by FFT binning (Simpson).
    """
    dev = resolve_device(device)
    check_counts(rounds=rounds, n=n, replicates=replicates, grid_points=grid_points)
    if grid_points % 2 == 0 or grid_points < 5:
        raise InvalidArgument(f"grid_points must be odd and >= 5; got {grid_points}.")
    if not (bandwidth == "silverman" or (isinstance(bandwidth, int | float) and bandwidth > 0)):
        raise InvalidArgument(f"bandwidth must be 'silverman' or a number > 0; got {bandwidth!r}.")
    alpha, size = _latest_mix(schedule, n)
    gen = make_generator(seed, dev)
    errors = torch.empty((replicates, rounds), dtype=DTYPE, device=dev)
    data = sigma0 * torch.randn((replicates, size), dtype=DTYPE, device=dev, generator=gen)
    for i in range(rounds):
        if bandwidth == "silverman":
            h = 0.9 * data.std(1, keepdim=True) * size ** -0.2  # 1-D Silverman
        else:
            h = torch.full((replicates, 1), float(bandwidth), dtype=DTYPE, device=dev)
        errors[:, i] = _tv_to_normal(data, h, sigma0, grid_points)
        if i == rounds - 1:
            break
        idx = torch.randint(size, (replicates, size), generator=gen, device=dev)
        z = torch.randn((replicates, size), dtype=DTYPE, device=dev, generator=gen)
        synthetic = torch.gather(data, 1, idx) + h * z
        if alpha > 0:
            real = torch.rand((replicates, size), dtype=DTYPE, device=dev, generator=gen) < alpha
            fresh = sigma0 * torch.randn((replicates, size), dtype=DTYPE, device=dev,
                                         generator=gen)
            synthetic = torch.where(real, fresh, synthetic)
        data = synthetic
    return errors


def _tv_to_normal(data: torch.Tensor, h: torch.Tensor, sigma0: float, points: int):
    """TV(KDE_r, N(0, σ0²)) per replicate r: batched linear binning + FFT + Simpson."""
    reps, size = data.shape
    reach = 8 * sigma0 + float(data.abs().max()) + 8 * float(h.max())
    grid = torch.linspace(-reach, reach, points, dtype=DTYPE, device=data.device)
    step = float(grid[1] - grid[0])
    pos = (data - grid[0]) / step
    left = torch.floor(pos)
    frac = pos - left
    counts = torch.zeros(reps * points, dtype=DTYPE, device=data.device)
    base = (torch.arange(reps, device=data.device) * points)[:, None]
    for idx, w in ((left, 1 - frac), (left + 1, frac)):
        keep = (idx >= 0) & (idx < points)
        counts.index_add_(0, (idx.long() + base)[keep], w[keep])
    counts = counts.reshape(reps, points)
    half = min(points - 1, math.ceil(8 * float(h.max()) / step))  # the kernel's ±8h reach
    offsets = torch.arange(-half, half + 1, dtype=DTYPE, device=data.device) * step
    kernel = torch.exp(-0.5 * (offsets[None] / h) ** 2) / (h * math.sqrt(2 * math.pi))
    fft_len = 1 << (points + kernel.shape[1] - 2).bit_length()
    dens = torch.fft.irfft(torch.fft.rfft(counts, fft_len) * torch.fft.rfft(kernel, fft_len),
                           fft_len)[:, half:half + points] / size
    normal = torch.exp(-0.5 * (grid / sigma0) ** 2) / (sigma0 * math.sqrt(2 * math.pi))
    w = torch.ones(points, dtype=DTYPE, device=data.device)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return 0.5 * ((dens - normal[None]).abs() @ w) * step / 3
