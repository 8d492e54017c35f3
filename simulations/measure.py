"""One round's metrics, batched over replicates: on the shared grid (d ≤ 2) or by Monte Carlo.

docs/theory.md §6–7. Per round i (generation i, the model p_{i+1}):

* ``e`` = TV(p_{i+1}, p0), ``delta`` = TV(p_{i+1}, π_i), ``tv_pi`` = TV(π_i, p0), with
  intervals (quadrature error, binning error and missed mass on the grid; Hoeffding,
  empirical Bernstein or CLT by Monte Carlo);
* ``kl`` = KL(π_i ‖ p_{i+1}) and opt-in ``kl_p0`` = KL(p0 ‖ p_{i+1}) (grid quadrature,
  or Monte Carlo with a CLT interval; exact between Gaussians:
  :mod:`simulations.gaussian_exact`);
* ``v1_margin`` = (δ_i + Σ_k β_{i,k} e_k)_hi − (e_{i+1})_lo (C1, R1 with measured δ) and
  ``v2_margin`` = sqrt(kl_hi/2) − δ_lo (Pinsker), with e_k the TV of the law the data
  actually came from;
* ``mean``, ``var`` (first coordinate), ``nll`` on held-out real data;
* opt-in ``w2`` (1-D from the grid's quantiles, otherwise exact OT on 500 draws with
  POT) and ``precision_recall`` (k-NN, k = 3, on 1,000 draws).
"""

from __future__ import annotations

import math

import torch

from simulations import montecarlo
from simulations.gaussian_exact import triple as _triple
from simulations.grid import TINY, OnGrid
from simulations.knn import knn_precision_recall, knn_radii
from simulations.laws import FFT_COMPONENTS, BatchedMixture

W2_DRAWS = 500
KNN_DRAWS = 1000


def moments(law, grid, f: OnGrid | None, draws: torch.Tensor | None):
    """Mean and variance (R, d): exact for mixtures, from the grid or from draws otherwise."""
    if isinstance(law, BatchedMixture) or hasattr(law, "chol"):  # exact for Gaussians
        return law.mean(), law.variance()
    if f is not None:
        return grid.moments(f)
    return draws.mean(1), draws.var(1)


def nll(law, grid, f: OnGrid | None, holdout: torch.Tensor) -> torch.Tensor:
    """−mean log p(x) over held-out real data (R,): exact, or interpolated on the grid for
    KDEs and diffusion models in d ≤ 2 (densities floored at 1e-300)."""
    exact = isinstance(law, BatchedMixture) and law.means.shape[1] < FFT_COMPONENTS
    if f is None or exact:
        return -law.log_prob(holdout).clamp_min(math.log(TINY)).mean(1)
    return -torch.log(grid.interpolate(f, holdout).clamp_min(TINY)).mean(1)


def needs_density(ctx, law) -> bool:
    """Whether this round needs the fitted density on the grid (only what is asked for)."""
    asked = ctx.metrics
    if asked & {"e", "delta", "kl", "kl_p0", "w2"}:
        return True
    large = not (isinstance(law, BatchedMixture) and law.means.shape[1] < FFT_COMPONENTS)
    mixture = isinstance(law, BatchedMixture)
    return ("nll" in asked and large) or (bool(asked & {"mean", "var"}) and not mixture)


def needs_pi(ctx) -> bool:
    """Whether π_i's density is needed (δ, TV(π_i, p0) or KL asked for)."""
    return bool(ctx.metrics & {"delta", "tv_pi", "kl"})


def on_grid(ctx, law, f: OnGrid | None, pi: OnGrid | None, first: bool, carried_hi) -> dict:
    """The asked-for metrics from densities on the shared grid (d ≤ 2, p0 with a density)."""
    grid, p0, asked = ctx.grid, ctx.p0_grid, ctx.metrics
    out: dict = {}
    if "e" in asked:
        out["e"] = grid.tv(f, p0)
    if "delta" in asked:
        out["delta"] = grid.tv(f, pi)
    if "tv_pi" in asked:
        zero = torch.zeros(ctx.config.replicates, dtype=p0.values.dtype, device=ctx.device)
        out["tv_pi"] = _triple(zero) if first else grid.tv(pi, p0)
    if "kl" in asked:
        out["kl"] = grid.kl(pi, f)
    if "kl_p0" in asked:
        out["kl_p0"] = grid.kl(p0, f)
    if {"e", "delta", "kl"} <= asked:
        out["v1_margin"] = _triple(out["delta"][2] + carried_hi - out["e"][1])
        out["v2_margin"] = _triple((out["kl"][2].clamp_min(0) / 2).sqrt() - out["delta"][1])
    if asked & {"mean", "var"}:
        mean, var = moments(law, grid, f, None)
        out["mean"], out["var"] = _triple(mean[:, 0]), _triple(var[:, 0])
    if "nll" in asked:
        out["nll"] = _triple(nll(law, grid, f, ctx.holdout))
    if "w2" in asked and grid.dim == 1:
        out["w2"] = _triple(grid.w2(f, p0))
    return out


def by_monte_carlo(ctx, law, pi_log_prob, pi_draws, first: bool, carried_hi) -> dict:
    """The round's metrics by Monte Carlo (d ≥ 3, p0 with a density)."""
    m = ctx.config.mc_samples // 2
    conf, method = ctx.config.confidence, ctx.config.interval
    x_fit, x_p0 = law.sample(ctx.streams, m), ctx.streams.sample(ctx.p0, m)
    x_pi = x_p0 if first else pi_draws(m)
    p0_log = ctx.p0_log_prob
    e = montecarlo.tv(law.log_prob, p0_log, x_fit, x_p0, conf, method)
    delta = montecarlo.tv(law.log_prob, pi_log_prob, x_fit, x_pi, conf, method)
    kl = montecarlo.kl(pi_log_prob, law.log_prob, x_pi, conf)
    zero = torch.zeros_like(e[0])
    out = {"e": e, "delta": delta,
           "tv_pi": _triple(zero) if first else montecarlo.tv(pi_log_prob, p0_log, x_pi, x_p0,
                                                              conf, method),
           "kl": kl,
           "v1_margin": _triple(delta[2] + carried_hi - e[1]),
           "v2_margin": _triple((kl[2].clamp_min(0) / 2).sqrt() - delta[1])}
    if "kl_p0" in ctx.metrics:
        out["kl_p0"] = montecarlo.kl(p0_log, law.log_prob, x_p0, conf)
    mean, var = moments(law, None, None, x_fit)
    out["mean"], out["var"] = _triple(mean[:, 0]), _triple(var[:, 0])
    out["nll"] = _triple(nll(law, None, None, ctx.holdout))
    return out


def density_free(ctx, law) -> dict:
    """mean, var and nll when p0 has no density (sklearn's data sets)."""
    draws = None if isinstance(law, BatchedMixture) else law.sample(ctx.streams, 2000)
    mean, var = moments(law, None, None, draws)
    return {"mean": _triple(mean[:, 0]), "var": _triple(var[:, 0]),
            "nll": _triple(nll(law, None, None, ctx.holdout))}


def expensive(ctx, law, out: dict) -> None:
    """Opt-in metrics on draws: W2 beyond 1-D (POT) and k-NN precision/recall."""
    need_w2 = "w2" in ctx.metrics and "w2" not in out
    if need_w2:
        import ot

        x_fit = law.sample(ctx.streams, W2_DRAWS)
        real = ctx.holdout[:, :W2_DRAWS]
        values = []
        for a, b in zip(x_fit, real, strict=True):
            cost = torch.cdist(a, b) ** 2
            values.append(math.sqrt(float(ot.emd2([], [], cost.cpu().numpy()))))
        out["w2"] = _triple(torch.tensor(values, dtype=x_fit.dtype, device=x_fit.device))
    if "precision_recall" in ctx.metrics:
        x_fit = law.sample(ctx.streams, KNN_DRAWS)
        real = ctx.holdout[:, :KNN_DRAWS]
        if ctx.knn_real_radii is None:  # held-out data: same every round
            ctx.knn_real_radii = [knn_radii(h) for h in real]
        pr = [knn_precision_recall(h, x, real_radii=r)
              for h, x, r in zip(real, x_fit, ctx.knn_real_radii, strict=True)]
        t = torch.tensor(pr, dtype=x_fit.dtype, device=x_fit.device)
        out["precision"], out["recall"] = _triple(t[:, 0]), _triple(t[:, 1])


def fit_summaries(ctx, law, out: dict) -> None:
    """log det Σ̂, tr Σ̂ and ‖μ̂ − μ0‖² of a Gaussian fit (one component or full
    covariance), exact from its parameters (docs/theory.md §9)."""
    asked = ctx.metrics & {"logdet", "trace", "mean_sq"}
    if not asked:
        return
    if hasattr(law, "chol"):
        logdet, trace, mean = law.logdet(), law.trace(), law.mean()
    else:  # a one-component (diagonal) mixture
        var = law.scales[:, 0, :] ** 2
        logdet, trace, mean = torch.log(var).sum(1), var.sum(1), law.means[:, 0, :]
    values = {"logdet": logdet, "trace": trace,
              "mean_sq": ((mean - ctx.mu0[0]) ** 2).sum(1)}
    for name in asked:
        out[name] = _triple(values[name])
