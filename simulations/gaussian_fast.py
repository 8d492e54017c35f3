"""Gaussian-MLE loops by their sufficient statistics: O(1) work per replicate-round.

A diagonal Gaussian MLE sees its training data only through, per coordinate, the sample
mean and the sum of squared deviations. When round i draws n_i i.i.d. points from
π_i = α_i p0 + Σ_k β_{i,k} q_k with p0 and every q_k Gaussian (fresh data: the paper's
model, docs/theory.md §1), those two numbers can be drawn *exactly* without the points:

* the counts (c_0, c_1, …) of points from each component are Multinomial(n_i, (α_i, β_i));
* a component N(m, s²) with c points has sum ~ N(c m, c s²) and, independently, squared
  deviations from its own mean ~ s² χ²_{c−1} (Cochran's theorem);
* the pooled statistics follow exactly: x̄ = Σ sums / n_i and
  SS = Σ_k SS_k + Σ_k c_k (x̄_k − x̄)², so μ̂ = x̄ and σ̂² = SS/n_i (or SS/(n_i − 1)).

The chain of fits (μ̂_g, σ̂²_g) has exactly the law of the point-by-point loop (R9 is the
check: tests/test_gaussian_fast.py), at a cost that does not grow with n (10^12 points a
round cost what 10 do). Every metric then has a closed form
(:mod:`simulations.gaussian_exact`) and is computed once for all rounds at the end.

Randomness: replicate r draws from ``numpy.random.Generator(PCG64(SeedSequence(seed,
spawn_key=(r, 1))))`` — per replicate, so replicate r of a batched run is the
one-replicate run with ``first_replicate = r``; all of a replicate's counts, normals and
χ² variates are drawn in three calls. The work is a few array operations per round on
R values, on the CPU whatever the configured device (there is nothing for an
accelerator to do).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from boundkit.errors import InvalidArgument
from simulations import gaussian_exact as gx
from simulations.budget import HOLDOUT
from simulations.models import MAX_ABS

#: Metrics with a closed form between diagonal Gaussians, in 1-D and beyond.
CLOSED_1D = frozenset({"e", "delta", "tv_pi", "kl", "kl_p0", "mean", "var", "nll", "w2",
                       "logdet", "trace", "mean_sq"})
CLOSED_DD = frozenset({"kl", "kl_p0", "mean", "var", "nll", "logdet", "trace", "mean_sq"})
#: Most (replicate, round, component, coordinate) cells drawn up front.
MAX_CELLS = 10**7


def _p0_params(p0):
    """(mean (d,), variance (d,)) of a one-component diagonal Gaussian p0, else None."""
    from simulations.distributions import GaussianMixture

    if type(p0) is GaussianMixture and p0.means.shape[0] == 1:
        return (p0.means[0].cpu().numpy().astype(np.float64),
                (p0.scales[0] ** 2).cpu().numpy().astype(np.float64))
    return None


def plan(config, p0, structure: str):
    """The per-round components (see :func:`run_sufficient`) when ``config`` can run by
    sufficient statistics, else None: diagonal Gaussian MLE, a one-Gaussian p0, fresh data
    (scaled sizes, fresh real data), every asked metric in closed form (TV only in 1-D;
    δ, TV(π_i, p0) and KL(π_i ‖ p) only when π_i is one law), and the up-front draws
    within :data:`MAX_CELLS`."""
    params = dict(config.model_params)
    if (config.model != "gaussian-mle" or params.get("covariance", "diagonal") != "diagonal"
            or config.data_policy != "fresh" or config.real_data != "fresh"
            or config.convention != "scaled"):
        return None
    p = _p0_params(p0)
    if p is None:
        return None
    dim = p[0].size
    if not set(config.metrics) <= (CLOSED_1D if dim == 1 else CLOSED_DD):
        return None
    comps = gx.round_components(config, structure)
    if set(config.metrics) & {"delta", "tv_pi", "kl"} and any(len(k) > 1 for k, _ in comps):
        return None
    width = max(len(k) for k, _ in comps)
    return comps if config.replicates * config.rounds * width * dim <= MAX_CELLS else None


def run_sufficient(config, sizes: list[int], comps, p0, progress=None):
    """Run ``config`` by sufficient statistics: (records, real shares) for the engine's
    frame, records as (round, n_i, metric, array (3, R) of value, lo, hi). ``comps`` is
    :func:`plan`'s answer: per round the active components (0 = p0, k + 1 = generation
    k's law) and their weights."""
    reps, rounds = config.replicates, config.rounds
    mu0, var0 = _p0_params(p0)
    dim = mu0.size
    width = max(len(k) for k, _ in comps)
    gens = [np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        config.seed, spawn_key=(r, 1)))) for r in range(config.first_replicate,
                                                        config.first_replicate + reps)]
    probs = np.zeros((rounds, width))
    for i, (_, w) in enumerate(comps):
        probs[i, width - len(w):] = np.asarray(w) / sum(w)  # padding first: the last
        # entry, which numpy's multinomial gives the remainder, is a real component
    n_arr = np.asarray(sizes, dtype=np.int64)
    counts = np.stack([g.multinomial(n_arr, probs) for g in gens], 1) if width > 1 else (
        np.broadcast_to(n_arr[:, None, None], (rounds, reps, 1)))
    z = np.stack([g.standard_normal((rounds, width, dim)) for g in gens], 1)
    df = np.maximum(counts - 1, 1).astype(np.float64)[..., None]
    chi = np.stack([g.chisquare(df[:, r].repeat(dim, -1)) for r, g in enumerate(gens)], 1)
    # laws[k]: the law component k samples from (0 = p0), means and variances (R, d)
    law_m = np.empty((rounds + 1, reps, dim))
    law_v = np.empty((rounds + 1, reps, dim))
    law_m[0], law_v[0] = mu0, var0
    fit_m, fit_v = np.empty((rounds, reps, dim)), np.empty((rounds, reps, dim))
    ddof = 1 if dict(config.model_params).get("unbiased", False) else 0
    for i, (idx, _) in enumerate(comps):
        k = len(idx)
        if k == 1:  # one law: x̄ ~ N(m, v/n), SS ~ v χ²_{n−1}
            m, v = law_m[idx[0]], law_v[idx[0]]
            n = sizes[i]
            fit_m[i] = m + np.sqrt(v / n) * z[i, :, -1]
            fit_v[i] = v * chi[i, :, -1] / (n - ddof) if n > 1 else 0.0 * v
            law_m[i + 1], law_v[i + 1] = _transformed(config, fit_m[i], fit_v[i], mu0, var0)
            if progress is not None:
                progress(i + 1, rounds)
            continue
        c = counts[i, :, width - k:, None].astype(np.float64)  # (R, k, 1)
        m, v = law_m[idx].transpose(1, 0, 2), law_v[idx].transpose(1, 0, 2)  # (R, k, d)
        sums = c * m + np.sqrt(c * v) * z[i, :, width - k:]
        own = sums / np.maximum(c, 1.0)
        within = np.where(c > 1, v * chi[i, :, width - k:], 0.0)
        mean = sums.sum(1) / sizes[i]
        ss = within.sum(1) + (c * (own - mean[:, None]) ** 2).sum(1)
        var = ss / (sizes[i] - ddof)
        fit_m[i], fit_v[i] = mean, var
        law_m[i + 1], law_v[i + 1] = _transformed(config, mean, var, mu0, var0)
        if progress is not None:
            progress(i + 1, rounds)
    _check(fit_m, fit_v)
    holdout = (np.stack([g.normal(mu0, np.sqrt(var0), (HOLDOUT, dim)) for g in gens])
               if "nll" in config.metrics else None)
    shares = [float(w[0]) if k[0] == 0 else 0.0 for k, w in comps]
    return _records(config, sizes, comps, fit_m, fit_v, law_m, law_v, holdout), shares


def _check(mean: np.ndarray, var: np.ndarray) -> None:
    """Refuse a diverged or collapsed loop, naming its first bad round (all rounds at once:
    once a round goes bad every later one does)."""
    wild = ~(np.isfinite(mean) & (np.abs(mean) <= MAX_ABS) & np.isfinite(var))
    if wild.any():
        i = int(np.argmax(wild.reshape(wild.shape[0], -1).any(1)))
        raise InvalidArgument(f"round {i}: the fit left float64's safe range (|μ̂| > "
                              f"{MAX_ABS:g} or not finite): the loop diverged. Use fewer rounds "
                              f"or milder settings.", argument="rounds")
    flat = np.all(var <= 0, axis=-1)
    if flat.any():
        i = int(np.argmax(flat.any(1)))
        raise InvalidArgument(f"round {i}: a replicate's fitted variance underflowed to 0: the "
                              f"model collapsed. Use larger n or fewer rounds.",
                              argument="rounds")


def _transformed(config, mean, var, mu0, var0):
    """The law synthetic data come from: temperature T scales the variance by T;
    self-correction γ moves draws by x ↦ (1−γ)x + γ(μ0 + (σ0/σ)(x − μ)), i.e. mean
    (1−γ)μ + γμ0 and standard deviation (1−γ)σ√T + γσ0 (as the engine's mixtures)."""
    t, g = float(config.temperature), float(config.self_correct)
    if t == 1.0 and g == 0.0:
        return mean, var
    sd = np.sqrt(var * t)
    return (1 - g) * mean + g * mu0, ((1 - g) * sd + g * np.sqrt(var0)) ** 2


def _records(config, sizes, comps, fit_m, fit_v, law_m, law_v, holdout):
    """Every asked metric for all rounds at once (closed forms, :mod:`gaussian_exact`)."""
    asked, rounds, reps = set(config.metrics), config.rounds, config.replicates
    t = torch.as_tensor
    m, v = t(fit_m), t(fit_v)  # (rounds, R, d)
    m0, v0 = t(law_m[0, 0]), t(law_v[0, 0])
    out: dict[str, tuple] = {}

    def kl_sum(ma, va, mb, vb):
        kl = gx.kl_1d(ma, va, mb, vb)[0].sum(-1).clamp_max(gx.KL_MAX)
        tol = gx.EXACT_TOL * (1.0 + kl)
        return kl, (kl - tol).clamp_min(0.0), (kl + tol).clamp_max(gx.KL_MAX)

    single = [k for k, _ in comps]
    if asked & {"delta", "tv_pi", "kl"}:  # π_i is one law: p0 or generation k's
        pm = t(np.stack([law_m[k[0]] for k in single]))
        pv = t(np.stack([law_v[k[0]] for k in single]))
    if "e" in asked:
        out["e"] = gx.tv_triple(m[..., 0], v[..., 0], m0[0], v0[0])
    if "delta" in asked:
        out["delta"] = gx.tv_triple(m[..., 0], v[..., 0], pm[..., 0], pv[..., 0])
    if "tv_pi" in asked:
        out["tv_pi"] = gx.tv_triple(pm[..., 0], pv[..., 0], m0[0], v0[0])
    if "kl" in asked:
        out["kl"] = kl_sum(pm, pv, m, v)
    if {"e", "delta", "kl"} <= asked:
        # carried term Σ_k β_k TV(q_k, p0)_hi, with q_k the law the data came from
        e_law = gx.tv_triple(t(law_m[1:, :, 0]), t(law_v[1:, :, 0]), m0[0], v0[0])[2]
        carried = torch.zeros((rounds, reps), dtype=torch.float64)
        for i, (idx, w) in enumerate(comps):
            for k, wk in zip(idx, w, strict=True):
                if k > 0:
                    carried[i] += wk * e_law[k - 1]
        out["v1_margin"] = gx.triple(out["delta"][2] + carried - out["e"][1])
        out["v2_margin"] = gx.triple((out["kl"][2] / 2).sqrt() - out["delta"][1])
    if "mean" in asked:
        out["mean"] = gx.triple(m[..., 0])
    if "var" in asked:
        out["var"] = gx.triple(v[..., 0])
    if "nll" in asked:
        h = t(holdout)  # (R, H, d): −mean log N(x; μ̂, σ̂²) from the holdout's moments
        hm, hv = h.mean(1), h.var(1, correction=0)
        sq = hv + (hm - m) ** 2
        out["nll"] = gx.triple((0.5 * math.log(2 * math.pi) + 0.5 * torch.log(v)
                                 + sq / (2 * v)).sum(-1))
    if "w2" in asked:
        out["w2"] = gx.triple(((m[..., 0] - m0[0]) ** 2
                                + (v[..., 0].sqrt() - v0[0].sqrt()) ** 2).sqrt())
    if "logdet" in asked:
        out["logdet"] = gx.triple(torch.log(v).sum(-1))
    if "trace" in asked:
        out["trace"] = gx.triple(v.sum(-1))
    if "mean_sq" in asked:
        out["mean_sq"] = gx.triple(((m - m0) ** 2).sum(-1))
    if "kl_p0" in asked:
        out["kl_p0"] = kl_sum(m0, v0, m, v)
    blocks = {name: torch.stack([x.expand(rounds, reps) for x in triple]).numpy()
              for name, triple in out.items()}  # (3, rounds, R) each
    return [(i, sizes[i], name, block[:, i]) for i in range(rounds)
            for name, block in blocks.items()]
