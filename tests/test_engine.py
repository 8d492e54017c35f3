"""The engine (issue "One fast engine"): LoopConfig, batched runs, exact facts, refusals."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import torch

import boundkit as bk
from boundkit.errors import InvalidArgument
from simulations import LoopConfig, gaussian_tv, run

SMALL = dict(rounds=3, n=40, replicates=3, seed=5)


def values(frame: pd.DataFrame, metric: str) -> np.ndarray:
    """(replicates, rounds) array of one metric's values."""
    wide = frame[frame.metric == metric].pivot(index="replicate", columns="round",
                                                values="value")
    return wide.to_numpy()


# --- LoopConfig -------------------------------------------------------------------------


def test_config_round_trips_through_json_and_toml():
    config = LoopConfig(model="kde", model_params={"bandwidth": 0.3}, data="mixture",
                        data_params={"dim": 2}, schedule="fixed-ratio", lam="3/2",
                        convention="fixed-real", metrics=("default", "w2"), replicates=4,
                        temperature=0.8, real_data="pool", grid_points=257)
    for again in (LoopConfig.from_json(config.to_json()), LoopConfig.from_toml(config.to_toml()),
                  LoopConfig.from_dict(json.loads(json.dumps(config.to_dict())))):
        assert again == config and again.config_hash == config.config_hash
    assert config.to_dict()["lam"] == "3/2" and config.lam == Fraction(3, 2)
    general = LoopConfig(schedule="general", rounds=3,
                         weights=(("1/2", "1/3"), (("1/2",), ("1/3", "1/3"))))
    assert LoopConfig.from_toml(general.to_toml()) == general


def test_equal_runs_have_equal_configs_and_hashes():
    a = LoopConfig(schedule="constant-real", model="kde")
    b = LoopConfig(schedule="constant-real", alpha="1/2", model="kde",
                   model_params={"bandwidth": "silverman"}, data_params={"dim": 1})
    assert a == b and a.config_hash == b.config_hash
    assert LoopConfig(schedule="replace") == LoopConfig(schedule="full-synthetic")
    accumulate = LoopConfig(schedule="accumulate")
    assert accumulate.schedule == "balanced" and accumulate.accumulate
    assert LoopConfig(seed=1).config_hash != LoopConfig(seed=2).config_hash


def test_config_hash_is_stable_across_processes():
    config = LoopConfig(model="gaussian-mle", data="unequal", schedule="balanced", rounds=4)
    code = ("from simulations import LoopConfig; print(LoopConfig(model='gaussian-mle', "
            "data='unequal', schedule='balanced', rounds=4).config_hash)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    assert out == config.config_hash
    # the hash is of the canonical JSON: sorted keys, no spaces
    assert config.to_json() == json.dumps(config.to_dict(), sort_keys=True, separators=(",", ":"))


# --- runs -------------------------------------------------------------------------------


def test_frame_is_tidy_and_names_its_config():
    config = LoopConfig(model="gaussian-mle", **SMALL)
    frame = run(config)
    assert list(frame.columns) == ["replicate", "round", "generation", "n", "real_share",
                                   "metric", "value", "lo", "hi"]
    assert frame.attrs["config"] == config.to_dict()
    assert frame.attrs["config_hash"] == config.config_hash
    assert set(frame.metric) == {"e", "delta", "tv_pi", "kl", "mean", "var", "nll",
                                 "v1_margin", "v2_margin"}
    assert len(frame) == 3 * 3 * frame.metric.nunique()
    assert np.all(np.isfinite(frame[["value", "lo", "hi"]].to_numpy()))


def test_same_config_same_numbers_and_another_seed_others():
    config = LoopConfig(model="kde", data="unequal", schedule="balanced", **SMALL)
    a, b = run(config), run(config)
    pd.testing.assert_frame_equal(a, b)
    c = run(config.replace(seed=6))
    assert not np.allclose(values(a, "e"), values(c, "e"))


@pytest.mark.parametrize(("model", "params", "data"), [
    ("gaussian-mle", {}, "gaussian"),
    ("kde", {}, "unequal"),
    ("kde", {"bandwidth": 0.25}, "ring8"),
    ("gmm", {"k": 2}, "unequal"),
    ("diffusion-rf", {"width": 16, "ode_steps": 8}, "laplace"),
])
def test_replicate_r_of_a_batch_is_the_single_run_starting_at_r(model, params, data):
    config = LoopConfig(model=model, model_params=params, data=data, schedule="balanced",
                        grid_points=257 if data != "ring8" else 129, **SMALL)
    batch = run(config)
    for r in range(3):
        single = run(config.replace(replicates=1, first_replicate=r))
        mine = batch[batch.replicate == r].reset_index(drop=True)
        for col in ("value", "lo", "hi"):
            np.testing.assert_allclose(single[col], mine[col], rtol=1e-9, atol=1e-12)


def test_mle_variance_law_on_the_engine():
    # docs/theory.md §5: full synthetic with the 1/n estimator, E[σ̂²] = σ0² ((n−1)/n)^{k+1}
    n, reps = 10, 4000
    frame = run(LoopConfig(model="gaussian-mle", rounds=4, n=n, replicates=reps,
                           metrics=("var",)))
    var = values(frame, "var")
    mean, se = var.mean(0), var.std(0, ddof=1) / math.sqrt(reps)
    target = ((n - 1) / n) ** np.arange(1, 5)
    assert np.all(np.abs(mean - target) <= 4 * se)  # 99.99% normal intervals


def test_kde_mean_density_adds_h_squared_per_round_and_jensen_holds():
    # E[p_{k+1}] = N(0, 1 + (k+1) h²) (docs/theory.md §5); its variance is E[var] + Var(mean)
    h, n, reps = 0.4, 30, 2000
    frame = run(LoopConfig(model="kde", model_params={"bandwidth": h}, rounds=4, n=n,
                           replicates=reps, grid_points=2049, metrics=("e", "mean", "var")))
    var, mean, e = values(frame, "var"), values(frame, "mean"), values(frame, "e")
    q = var + (mean - mean.mean(0)) ** 2 * reps / (reps - 1)  # unbiased per replicate
    total, se = q.mean(0), q.std(0, ddof=1) / math.sqrt(reps)
    target = 1 + h * h * np.arange(1, 5)
    assert np.all(np.abs(total - target) <= 4 * se)  # 99.99% normal intervals
    # Jensen: E[e_{k+1}] >= TV(E[p_{k+1}], p0), one-sided 99.9%
    bound = gaussian_tv(0.0, torch.tensor(target), 0.0, 1.0).numpy()
    assert np.all(e.mean(0) + 3.1 * e.std(0, ddof=1) / math.sqrt(reps) >= bound)


def test_balanced_running_sum_equals_explicit_general_weights():
    rounds = 4
    alpha = tuple(Fraction(1, j + 1) for j in range(1, rounds))
    beta = tuple(tuple(Fraction(1, j + 1) for _ in range(j)) for j in range(1, rounds))
    common = dict(model="kde", data="unequal", rounds=rounds, n=40, replicates=2, seed=3,
                  grid_points=1025)
    balanced = run(LoopConfig(schedule="balanced", **common))
    general = run(LoopConfig(schedule="general", weights=(alpha, beta), **common))
    for col in ("value", "lo", "hi"):
        np.testing.assert_allclose(balanced[col], general[col], rtol=1e-10, atol=1e-13)


def test_round_sizes_follow_the_schedule_and_conventions():
    assert LoopConfig(schedule="accumulate", n=30, rounds=3).sizes == [30, 60, 90]
    assert LoopConfig(n=10, growth=2, rounds=3).sizes == [10, 40, 90]
    assert LoopConfig(schedule="fixed-ratio", lam=3, n=50, rounds=3).sizes == [200] * 3
    assert LoopConfig(schedule="fixed-ratio", lam=3, n=50, rounds=3,
                      convention="fixed-real").sizes == [50, 200, 200]
    frame = run(LoopConfig(model="gaussian-mle", schedule="accumulate", n=30, rounds=3,
                           metrics=("mean",)))
    assert sorted(set(frame.n)) == [30, 60, 90]


def test_fixed_real_convention_keeps_the_same_real_points():
    # λ = 0: every round trains on exactly the n pooled real points: identical fits
    frame = run(LoopConfig(model="gaussian-mle", schedule="fixed-ratio", lam=0, n=50, rounds=4,
                           convention="fixed-real", real_data="pool", metrics=("mean", "var")))
    for metric in ("mean", "var"):
        v = values(frame, metric)
        assert np.allclose(v, v[:, :1], rtol=0, atol=1e-14)
    # λ = 3, fresh real draws: n real plus 3n synthetic every round after the first
    fresh = run(LoopConfig(model="gaussian-mle", schedule="fixed-ratio", lam=3, n=50, rounds=3,
                           convention="fixed-real", metrics=("mean",)))
    assert sorted(set(fresh.n)) == [50, 200]


def test_diffusion_in_r7s_regime_records_width_and_tau():
    config = LoopConfig(model="diffusion-rf", model_params={"width_factor": 0.25, "tau": "star",
                                                            "ode_steps": 8},
                        data="unequal", n=64, growth=1, rounds=2, replicates=2,
                        grid_points=257, metrics=("e",))
    frame = run(config)
    for size in config.sizes:
        rows = frame[frame.n == size]
        m = round(0.25 * size)
        assert set(rows[rows.metric == "width"].value) == {m}
        assert np.allclose(rows[rows.metric == "tau"].value, m**2 * bk.tau_star(size, m),
                           rtol=1e-14)


def test_monte_carlo_path_in_three_dimensions_keeps_c1():
    frame = run(LoopConfig(model="gaussian-mle", data="gaussian", data_params={"dim": 3},
                           rounds=3, n=200, replicates=2, mc_samples=4000, seed=2))
    margins = frame[frame.metric.isin(["v1_margin", "v2_margin"])]
    assert (margins.value >= 0).all()
    e = frame[frame.metric == "e"]
    assert ((e.lo <= e.value) & (e.value <= e.hi)).all()


def test_metric_sets_are_what_was_asked():
    frame = run(LoopConfig(model="kde", metrics=("e", "w2", "precision_recall"), **SMALL))
    assert set(frame.metric) == {"e", "w2", "precision", "recall"}
    moons = run(LoopConfig(model="kde", data="moons", **SMALL))
    assert set(moons.metric) == {"mean", "var", "nll", "precision", "recall"}


def test_temperature_and_self_correction_on_the_engine():
    # unbiased MLE: each round multiplies E[σ̂²] by T; full self-correction restores p0's
    args = dict(model="gaussian-mle", model_params={"unbiased": True}, rounds=6, n=400,
                replicates=6, seed=5, metrics=("var",))
    cold = values(run(LoopConfig(temperature=0.7, **args)), "var")[:, -1].mean()
    assert 0.7**5 * 0.6 < cold < 0.7**5 * 1.6
    fixed = values(run(LoopConfig(temperature=0.7, self_correct=1.0, **args)), "var")
    assert 0.8 < fixed[:, -1].mean() < 1.25


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"model": "kde", "model_params": {"width": 3}}, "model kde takes no parameter 'width'"),
    ({"model": "gpt"}, "model='gpt' is not a known model"),
    ({"schedule": "general", "weights": (("1/2",), (("1/2",),)), "rounds": 4},
     "defines rounds 1..1"),
    ({"model": "diffusion-rf", "temperature": 0.5}, "apply to the Gaussian-mixture models"),
    ({"convention": "fixed-real"}, "applies to schedule fixed-ratio only"),
    ({"model": "gmm", "n": 3}, "needs more than k points per round"),
    ({"metrics": ("e", "fid")}, "metric 'fid' is not known"),
    ({"data": "moons", "metrics": ("e",)}, "needs a density of p0"),
    ({"device": "tpu"}, "device='tpu' is not known"),
    ({"schedule": "balanced", "alpha": "1/2"}, "alpha does not apply to schedule balanced"),
    ({"round_sizes": (10, 20), "rounds": 3}, "one size per round"),
    ({"n": 10**7, "growth": 4, "rounds": 20}, "the limit is 10^12"),
    ({"lam": 2}, "lam does not apply to schedule full-synthetic"),
])
def test_bad_configs_are_refused_at_construction(kwargs, fragment):
    with pytest.raises(InvalidArgument, match=fragment.replace("(", "\\(").replace(")", "\\)")
                       .replace(".", "\\.").replace("^", "\\^")):
        LoopConfig(**kwargs)


def test_runs_beyond_memory_are_refused_before_work(monkeypatch):
    import simulations.engine

    def forbidden(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(simulations.engine, "_Context", forbidden)
    with pytest.raises(InvalidArgument, match="GiB \\(limit 8 GiB"):
        run(LoopConfig(model="kde", n=10**8, replicates=100))


def test_cuda_is_refused_where_there_is_none():
    config = LoopConfig(device="cuda", rounds=1, n=20)  # a valid config on any machine
    if torch.cuda.is_available():
        assert run(config).attrs["config"]["device"] == "cuda"
    else:
        with pytest.raises(InvalidArgument, match="no CUDA device is available"):
            run(config)
