"""The self-consuming loop: train, sample, mix, measure (THEORY.md §1, §6, §7 V1–V2).

Round i draws n_i points from π_i = α_i p0 + Σ_k β_{i,k} p_k (any boundkit
schedule), fits the model and gets p_{i+1}: **generation i**. Each round records

* ``e`` = TV(p_{i+1}, p0), ``delta`` = TV(p_{i+1}, π_i), ``tv_pi`` = TV(π_i, p0),
  each with an interval (``lo``, ``hi``) that holds it;
* ``kl`` = KL(π_i ‖ p_{i+1}) by Monte Carlo, with ``kl_se``;
* V1 (master inequality, R1): ``v1_margin`` = (δ_i + Σ_k β_{i,k} e_k)_hi − (e_{i+1})_lo;
  ``v1_ok`` when ≥ 0, i.e. the intervals cannot refute it. With biased or
  self-corrected sampling (:mod:`simulations.sampling`) π_i mixes the laws q_k the
  data came from, and e_k there is TV(q_k, p0);
* V2 (Pinsker): ``v2_margin`` = sqrt((kl + z·kl_se)/2) − δ_lo at the stated confidence;
* ``mean``, ``var`` (first coordinate) and ``nll`` (held-out real data);
* ``w2`` to p0: closed form when both are single Gaussians, quantiles in 1-D (absent
  otherwise); ``precision`` and ``recall`` (k-NN, k = 3) on 1,000 points each.

When p0 has no density (sklearn's data sets, :mod:`simulations.datasets`) only
``mean``, ``var``, ``nll``, ``precision`` and ``recall`` are recorded.

The result is a tidy DataFrame: one row per (replicate, round, metric).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from scipy.special import ndtri

from boundkit import Schedule
from boundkit._checks import check_choice, check_confidence, check_instance, check_int, to_float
from boundkit.errors import InvalidArgument
from simulations._device import DTYPE, make_generator, resolve_device
from simulations.datasets import DataSource
from simulations.distributions import Distribution, GaussianMixture, Mixture
from simulations.metrics import kl_monte_carlo, knn_precision_recall, tv, w2_1d, w2_gaussian
from simulations.sampling import SyntheticSampling

HOLDOUT = 2000
KNN_POINTS = 1000


def _w2(p: Distribution, p0: Distribution) -> float | None:
    """W2(p, p0): closed form for two single Gaussians, quantiles in 1-D, else None."""
    single = [isinstance(d, GaussianMixture) and d.weights.numel() == 1 for d in (p, p0)]
    if all(single):
        return w2_gaussian(p.means[0].cpu(), p.scales[0].cpu() ** 2, p0.means[0].cpu(),
                           p0.scales[0].cpu() ** 2)
    return w2_1d(p, p0) if p.dim == 1 else None


def _sizes(n, rounds: int, factor: float) -> list[int]:
    raw = [n(i) for i in range(rounds)] if callable(n) else [n] * rounds
    out = []
    for i, v in enumerate(raw):
        size = to_float(v, "n")
        if not 2 <= size * factor <= 1e12:
            raise InvalidArgument(f"n must give between 2 and 10^12 samples in every round; "
                                  f"round {i} gets {v!r} (x{factor:g}). Pass e.g. n=500 or "
                                  f"n=lambda i: 100 * (i + 1) ** 2.", argument="n")
        out.append(round(size * factor))
    return out


def _mixture(p0: Distribution, models: list[Distribution], schedule: Schedule, i: int):
    """π_i and its weights β_{i,·} (floats); π_0 = p0. ``models`` are the sampling laws."""
    if i == 0:
        return p0, []
    alpha, beta = schedule.for_generation(i).weights(i)
    beta = [float(b) for b in beta]
    return Mixture([p0, *models], [float(alpha), *beta]), beta


def _from_pool(pool: torch.Tensor, pi, i: int, size: int, gen) -> torch.Tensor:
    """Round i's data with the real share taken from the fixed pool instead of p0."""
    if i == 0:
        return pool[torch.randperm(pool.shape[0], generator=gen, device=pool.device)[:size]]
    alpha = float(pi.weights[0])
    count = int(torch.binomial(torch.tensor(float(size), dtype=DTYPE, device=pool.device),
                               torch.tensor(alpha, dtype=DTYPE, device=pool.device),
                               generator=gen))
    if count <= pool.shape[0]:
        real = pool[torch.randperm(pool.shape[0], generator=gen, device=pool.device)[:count]]
    else:  # more real points asked for than the pool holds: reuse them
        real = pool[torch.randint(pool.shape[0], (count,), generator=gen, device=pool.device)]
    if count == size:
        return real
    synthetic = Mixture(pi.components[1:], (pi.weights[1:] / pi.weights[1:].sum()).tolist())
    return torch.cat([real, synthetic.sample(size - count, gen)])


def _divergence_metrics(metrics, fitted, p0, pi, i, beta, errors, gen, z, confidence,
                        mc_samples):
    """TV, KL, W2 and the V1/V2 margins of one round (p0 with a density); returns e."""
    e = tv(fitted, p0, gen, confidence=confidence)
    delta = tv(fitted, pi, gen, confidence=confidence)
    tv_pi = tv(pi, p0, gen, confidence=confidence) if i else None
    kl, kl_se = kl_monte_carlo(pi, fitted, mc_samples, gen)
    carried = sum(b * err.hi for b, err in zip(beta, errors, strict=True))
    metrics.update({
        "e": (e.value, e.lo, e.hi),
        "delta": (delta.value, delta.lo, delta.hi),
        "tv_pi": (tv_pi.value, tv_pi.lo, tv_pi.hi) if tv_pi else (0.0, 0.0, 0.0),
        "kl": (kl, kl - z * kl_se, kl + z * kl_se),
        "v1_margin": (delta.hi + carried - e.lo,) * 3,
        "v2_margin": (math.sqrt(max(0.0, kl + z * kl_se) / 2) - delta.lo,) * 3,
    })
    w2 = _w2(fitted, p0)
    if w2 is not None:
        metrics["w2"] = (w2,) * 3
    return e


def run_loop(
    model,
    p0: Distribution,
    schedule: Schedule,
    rounds: int,
    n: int | Callable[[int], float],
    *,
    replicates: int = 1,
    seed: int = 0,
    device="cpu",
    mc_samples: int = 20_000,
    confidence: float = 0.95,
    sampling: SyntheticSampling | None = None,
    real_data: str = "fresh",
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Run ``replicates`` independent loops of ``rounds`` rounds; return the tidy frame.

    Parameters
    ----------
    model : an object with ``fit(data) -> Distribution`` (see :mod:`simulations.models`).
    p0 : the real distribution: a :class:`Distribution`, or a density-free
        :class:`~simulations.datasets.DataSource`.
    schedule : any boundkit schedule (its ``size_factor`` scales n, e.g. fixed-ratio).
    n : samples per round, or a function of the round index.
    seed : replicate r uses its own stream spawned from ``seed`` (same seed, same numbers).
    sampling : biased (temperature) or self-corrected synthetic data; π_i then mixes
        the transformed models, so δ_i and V1 refer to the data actually used.
    real_data : ``"fresh"`` (default: real points drawn anew from p0 each round, as the
        theory assumes) or ``"pool"`` (the round-0 data set is the only real data; each
        round's real share is drawn from it without replacement while it lasts). With a
        pool, δ_i and V1 still refer to the nominal π_i with p0, so the V1 margin shows
        what reusing real data costs.
    """
    check_choice(real_data, ("fresh", "pool"), "real_data")
    if not callable(getattr(model, "fit", None)):
        raise TypeError(f"model must have a fit(data) method; got {type(model).__name__}. Pass "
                        f"e.g. KDEModel().")
    check_instance(p0, (Distribution, DataSource), "p0", "make_distribution('gaussian')")
    check_instance(schedule, Schedule, "schedule", "FullSynthetic()")
    sampling = SyntheticSampling() if sampling is None else sampling
    check_instance(sampling, SyntheticSampling, "sampling", "SyntheticSampling(0.8)")
    dev = resolve_device(device)
    rounds = check_int(rounds, "rounds", 1, 100_000, "10")
    replicates = check_int(replicates, "replicates", 1, 100_000, "4")
    mc_samples = check_int(mc_samples, "mc_samples", 2, 10**8, "20000")
    confidence = check_confidence(confidence)
    if progress is not None and not callable(progress):
        raise TypeError("progress must be a callable (done, total) or None.")
    if p0.device.type != dev.type:
        raise InvalidArgument(f"p0 lives on {p0.device}, the loop on {dev}. Build p0 with "
                              f"device={str(dev)!r}.", argument="p0")
    sizes = _sizes(n, rounds, float(schedule.size_factor))
    has_density = isinstance(p0, Distribution)  # sklearn's data sets have none
    z = float(ndtri(0.5 + confidence / 2))
    seeds = np.random.SeedSequence(make_generator(seed, dev).initial_seed()).generate_state(
        replicates)
    rows = []
    for rep in range(replicates):
        gen = make_generator(int(seeds[rep]), dev)
        holdout = p0.sample(HOLDOUT, gen)
        models: list[Distribution] = []  # the laws synthetic data are drawn from
        errors: list = []  # Estimates of TV(q_k, p0) for the sampling laws q_1, q_2, ...
        pool = p0.sample(sizes[0], gen) if real_data == "pool" else None
        for i in range(rounds):
            pi, beta = _mixture(p0, models, schedule, i)
            data = pi.sample(sizes[i], gen) if pool is None else _from_pool(pool, pi, i, sizes[i],
                                                                             gen)
            fitted = model.fit(data)
            metrics = {
                "mean": (float(fitted.mean()[0]),) * 3,
                "var": (float(fitted.variance()[0]),) * 3,
                "nll": (float(-fitted.log_prob(holdout).mean()),) * 3,
            }
            prec, rec = knn_precision_recall(holdout[:KNN_POINTS], fitted.sample(KNN_POINTS, gen))
            metrics["precision"], metrics["recall"] = (prec,) * 3, (rec,) * 3
            if has_density:
                e = _divergence_metrics(metrics, fitted, p0, pi, i, beta, errors, gen, z,
                                        confidence, mc_samples)
            for name, (value, lo, hi) in metrics.items():
                rows.append((rep, i, i, sizes[i], name, value, lo, hi))
            law = sampling.apply(fitted, p0)
            models.append(law)
            if has_density:
                # V1 carries TV(q_k, p0) of the laws the data came from (q_k = p_k if plain)
                errors.append(e if law is fitted else tv(law, p0, gen, confidence=confidence))
            if progress is not None:
                progress(rep * rounds + i + 1, replicates * rounds)
    return pd.DataFrame(rows, columns=["replicate", "round", "generation", "n", "metric",
                                       "value", "lo", "hi"])


def verdicts(frame: pd.DataFrame) -> pd.DataFrame:
    """Per round: V1 and V2 hold (margins ≥ 0) in every replicate."""
    check_instance(frame, pd.DataFrame, "frame", "run_loop(...)")
    if "metric" not in frame or "v1_margin" not in set(frame["metric"]):
        raise InvalidArgument("this frame has no V1/V2 margins: p0 had no density (a bundled data "
                              "set), so TV and KL could not be measured.", argument="frame")
    wide = frame.pivot_table(index=["replicate", "round"], columns="metric", values="value")
    out = pd.DataFrame({"v1_ok": wide["v1_margin"] >= 0, "v2_ok": wide["v2_margin"] >= 0})
    return out.groupby(level="round").all()
