"""Exact metrics of Gaussian fits on a Gaussian p0 (docs/theory.md §5, §6, §9).

A Gaussian-MLE loop on a Gaussian p0 needs no grid and no Monte Carlo for most of its
metrics: between two Gaussians

* TV in 1-D follows from the crossing points of the densities
  ([gaussian_tv][simulations.metrics.gaussian_tv]), exact for σ̂ from 1e-150 to 1e150;
* KL(N_a ‖ N_b) = ½ [tr(Σ_b⁻¹Σ_a) + (μ_b − μ_a)ᵀΣ_b⁻¹(μ_b − μ_a) − d + log det Σ_b −
  log det Σ_a] in any dimension (computed with Cholesky factors, no inverse);
* W2 in 1-D is sqrt((μ_a − μ_b)² + (σ_a − σ_b)²); mean, variance and NLL are exact from
  the parameters.

:func:`closed_form_run` decides, before a run starts, whether every asked metric of every
round has a closed form (1-D, and π_i one Gaussian whenever δ, TV(π_i, p0) or KL(π_i ‖ p)
are asked); the engine then skips the grid altogether (:func:`closed_form`). Where π_i is
a mixture the grid measures δ, and :func:`exact_gaussian` still replaces e and any metric
with a closed form, whose grid intervals cannot hold when a collapsing fit is narrower
than the grid's spacing.
"""

from __future__ import annotations

import math

import torch

from simulations.laws import BatchedMixture

#: Round-off allowance of the closed forms (absolute for TV, relative for KL), float64.
EXACT_TOL = 1e-12
#: A KL beyond float64 is reported as the largest float64 (a lower bound of the truth).
KL_MAX = torch.finfo(torch.float64).max


def triple(value, lo=None, hi=None):
    """(value, lo, hi) of a metric: an exact value is its own interval."""
    return (value, value if lo is None else lo, value if hi is None else hi)


def one_gaussian(law) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(mean, variance) — shape (R,), or scalars for p0 — when ``law`` is one 1-D Gaussian
    (per replicate), else None."""
    from simulations.distributions import GaussianMixture
    from simulations.gaussian_full import BatchedGaussian

    if isinstance(law, BatchedMixture) and law.means.shape[1] == 1 and law.dim == 1:
        return law.means[:, 0, 0], law.scales[:, 0, 0] ** 2
    if isinstance(law, BatchedGaussian) and law.dim == 1:
        return law.means[:, 0], law.chol[:, 0, 0] ** 2
    if (type(law) is GaussianMixture and law.means.shape[0] == 1 and law.dim == 1):
        return law.means[0, 0], law.scales[0, 0] ** 2
    return None


def gaussian_params(law, reps: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(means (R, d), Cholesky factors (R, d, d)) when ``law`` is one Gaussian per
    replicate (a full-covariance fit, a one-component mixture, or p0 expanded to R)."""
    from simulations.distributions import GaussianMixture
    from simulations.gaussian_full import BatchedGaussian

    if isinstance(law, BatchedGaussian):
        return law.means, law.chol
    if isinstance(law, BatchedMixture) and law.means.shape[1] == 1:
        return law.means[:, 0, :], torch.diag_embed(law.scales[:, 0, :])
    if type(law) is GaussianMixture and law.means.shape[0] == 1:
        mean = law.means[0].expand(reps, -1)
        return mean, torch.diag_embed(law.scales[0]).expand(reps, -1, -1)
    return None


def gaussian_kl(a, b):
    """KL(N_a ‖ N_b) per replicate, (value, lo, hi), for a, b = (means, Cholesky factors).

    Notes
    -----
    With Σ = L Lᵀ: tr(Σ_b⁻¹Σ_a) = ‖L_b⁻¹L_a‖²_F, the Mahalanobis term ‖L_b⁻¹(μ_a − μ_b)‖²
    and log det Σ_b − log det Σ_a = 2 Σ_c (log L_b,cc − log L_a,cc). A value beyond
    float64 is reported as its largest number (then a lower bound).
    """
    (ma, la), (mb, lb) = a, b
    d = ma.shape[-1]
    x = torch.linalg.solve_triangular(lb, la, upper=False)
    z = torch.linalg.solve_triangular(lb, (ma - mb)[..., None], upper=False)
    logdet = 2 * (torch.log(lb.diagonal(dim1=-2, dim2=-1))
                  - torch.log(la.diagonal(dim1=-2, dim2=-1))).sum(-1)
    terms = (x * x).sum((-2, -1)) + (z * z).sum((-2, -1))
    kl = (0.5 * (terms - d + logdet)).clamp_min(0.0)
    kl = torch.where(torch.isfinite(kl), kl, KL_MAX).clamp_max(KL_MAX)
    tol = EXACT_TOL * (d + terms.nan_to_num(KL_MAX, KL_MAX).clamp_max(KL_MAX) + logdet.abs())
    return kl, (kl - tol).clamp_min(0.0), (kl + tol).clamp_max(KL_MAX)


def tv_triple(m, v, m2, v2):
    """TV(N(m, v), N(m2, v2)) as (value, lo, hi): the closed form ± :data:`EXACT_TOL`."""
    from simulations.metrics import gaussian_tv_unchecked

    value = gaussian_tv_unchecked(m, v, m2, v2).clamp(0.0, 1.0)
    return value, (value - EXACT_TOL).clamp_min(0.0), (value + EXACT_TOL).clamp_max(1.0)


def round_components(config, structure: str) -> list[tuple[list[int], list[float]]]:
    """Per round of ``config``: the laws π_i mixes (0 = p0, k + 1 = generation k's law)
    and their positive weights. ``structure`` is the engine's: ``latest`` schedules keep
    only the last fit."""
    schedule, out = config.schedule_obj, []
    for i in range(config.rounds):
        if i == 0:
            out.append(([0], [1.0]))
            continue
        alpha, beta = schedule.weights(i)
        pairs = [(0, float(alpha))]
        if structure == "latest":
            pairs.append((i, float(beta[-1])))
        else:
            pairs += [(k + 1, float(b)) for k, b in enumerate(beta)]
        pairs = [(k, w) for k, w in pairs if w > 0]
        out.append(([k for k, _ in pairs], [w for _, w in pairs]))
    return out


def closed_form_run(config, p0, structure: str) -> bool:
    """Whether every asked metric of every round of ``config`` has a closed form: a 1-D
    Gaussian-MLE loop on a one-Gaussian p0, with π_i one law in every round whenever δ,
    TV(π_i, p0) or KL(π_i ‖ p) are asked (then the run needs no grid)."""
    if config.model != "gaussian-mle" or one_gaussian(p0) is None:
        return False
    if not set(config.metrics) & {"delta", "tv_pi", "kl"}:
        return True
    return all(len(k) == 1 for k, _ in round_components(config, structure))


def closed_form(ctx, law, pi_law, first: bool, carried_hi) -> dict:
    """Every asked metric of a round in closed form (see :func:`closed_form_run`)."""
    asked, out = ctx.metrics, {}
    m, v = one_gaussian(law)
    m0, v0 = one_gaussian(ctx.p0)
    if "e" in asked:
        out["e"] = tv_triple(m, v, m0, v0)
    if pi_law is not None:
        pm, pv = one_gaussian(pi_law)
        if "delta" in asked:
            out["delta"] = tv_triple(m, v, pm, pv)
        if "tv_pi" in asked:
            zero = torch.zeros_like(m)
            out["tv_pi"] = triple(zero) if first else tv_triple(pm, pv, m0, v0)
        if "kl" in asked:
            out["kl"] = kl_1d(pm, pv, m, v)
    if "kl_p0" in asked:
        out["kl_p0"] = kl_1d(m0, v0, m, v)
    if {"e", "delta", "kl"} <= asked:
        out["v1_margin"] = triple(out["delta"][2] + carried_hi - out["e"][1])
        out["v2_margin"] = triple((out["kl"][2] / 2).sqrt() - out["delta"][1])
    if "mean" in asked:
        out["mean"] = triple(m)
    if "var" in asked:
        out["var"] = triple(v)
    if "nll" in asked:
        out["nll"] = triple(nll_1d(m, v, ctx.holdout[..., 0]))
    if "w2" in asked:
        out["w2"] = triple(((m - m0) ** 2 + (v.sqrt() - math.sqrt(float(v0))) ** 2).sqrt())
    return out


def kl_1d(ma, va, mb, vb):
    """KL(N(ma, va) ‖ N(mb, vb)) elementwise with the scales' ratio in log space."""
    log_ratio = torch.log(va) - torch.log(vb)
    ratio = torch.exp(log_ratio.clamp_max(700.0))
    maha = torch.exp((2 * torch.log((ma - mb).abs().clamp_min(1e-300)) - torch.log(vb))
                     .clamp_max(700.0))
    maha = torch.where(ma == mb, 0.0, maha)
    kl = 0.5 * (ratio + maha - 1.0 - log_ratio)
    huge = (log_ratio > 700.0) | (maha >= math.exp(700.0))
    kl = torch.where(huge, KL_MAX, kl.clamp_min(0.0)).clamp_max(KL_MAX)
    tol = EXACT_TOL * (1.0 + kl)
    return kl, (kl - tol).clamp_min(0.0), (kl + tol).clamp_max(KL_MAX)


def nll_1d(m, v, x):
    """−mean log N(x; m, v) over held-out points x (R, N), from the parameters."""
    return (0.5 * math.log(2 * math.pi) + 0.5 * torch.log(v)
            + ((x - m[:, None]) ** 2).mean(1) / (2 * v))


def e_hi(ctx, law) -> torch.Tensor:
    """TV(law, p0)_hi in closed form (the carried term of R1 for the next rounds)."""
    m, v = one_gaussian(law)
    return tv_triple(m, v, *one_gaussian(ctx.p0))[2]


def exact_gaussian(ctx, law, pi_law, out: dict, carried_hi) -> None:
    """On a grid run, replace e, δ, TV(π_i, p0), KL(π_i ‖ p) and KL(p0 ‖ p) by their closed
    forms where the laws involved are single Gaussians (any dimension for KL, 1-D for
    TV); the margins follow."""
    reps = ctx.config.replicates
    fit, p0 = gaussian_params(law, reps), gaussian_params(ctx.p0, reps)
    if fit is None:
        return
    pi = gaussian_params(pi_law, reps) if pi_law is not None else None
    if "kl_p0" in out and p0 is not None:
        out["kl_p0"] = gaussian_kl(p0, fit)
    if "kl" in out and pi is not None:
        out["kl"] = gaussian_kl(pi, fit)
    fit1, p01 = one_gaussian(law), one_gaussian(ctx.p0)
    pi1 = one_gaussian(pi_law) if pi_law is not None else None
    if fit1 is not None and p01 is not None and "e" in out:
        out["e"] = tv_triple(*fit1, *p01)
    if fit1 is not None and pi1 is not None and "delta" in out:
        out["delta"] = tv_triple(*fit1, *pi1)
    if pi1 is not None and p01 is not None and "tv_pi" in out:
        out["tv_pi"] = tv_triple(*pi1, *p01)
    if "v1_margin" in out:
        out["v1_margin"] = triple(out["delta"][2] + carried_hi - out["e"][1])
        out["v2_margin"] = triple((out["kl"][2].clamp_min(0) / 2).sqrt() - out["delta"][1])
