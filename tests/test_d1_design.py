"""D1's replicate design (simulations.verify.d1_design; docs/verify.md, "D1's design")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulations.verify import d1_design as design
from simulations.verify.fits import fit_rate

SIZES = np.array([64, 128, 256, 512, 1024, 2048, 4096], float)


def _values(reps, cv=0.2, seed=0, floor=0.053):
    """Lognormal replicate TVs around δ(n) = 6.2/n + floor with coefficient ≈ cv."""
    rng = np.random.default_rng(seed)
    return [(6.2 / n + floor) * np.exp(cv * rng.standard_normal(r) - cv**2 / 2)
            for n, r in zip(SIZES, reps, strict=True)]


def test_rate_variance_without_a_floor_is_the_weighted_slope_variance():
    # without C0 the model is linear in (log C, r): var r̂ = 1 / Σ w_k (x_k − x̄_w)²,
    # w_k = R_k / σ_k² (the WLS identity), whatever C and r are
    reps = np.array([20, 40, 60, 80, 100, 120, 140], float)
    sigma = np.linspace(0.1, 0.4, 7)
    w, x = reps / sigma**2, np.log(SIZES)
    exact = 1 / np.sum(w * (x - np.sum(w * x) / w.sum()) ** 2)
    got = design.rate_variance(reps, SIZES, sigma, 3.0, 0.7, 0.0, False)
    assert got == pytest.approx(exact, rel=1e-10)


def test_rate_variance_shrinks_like_one_over_r():
    sigma = np.full(7, 0.2)
    one = design.rate_variance(np.full(7, 10.0), SIZES, sigma, 6.2, 1.0, 0.053, True)
    four = design.rate_variance(np.full(7, 40.0), SIZES, sigma, 6.2, 1.0, 0.053, True)
    assert four == pytest.approx(one / 4, rel=1e-10)


def test_the_formula_tracks_the_bootstrap_of_the_fit():
    # the design's premise: at R = 200 per size the first-order sd of r̂ is within 25 %
    # of fit_rate's bootstrap se (three data sets; the formula uses each one's own σ_k)
    for seed in range(3):
        values = _values([200] * 7, seed=seed)
        fit = fit_rate(SIZES, values, seed=seed)
        means = np.array([v.mean() for v in values])
        sigma = np.array([v.std(ddof=1) for v in values]) / means
        sd = math.sqrt(design.rate_variance(np.full(7, 200.0), SIZES, sigma, fit.const,
                                            fit.rate, fit.floor, fit.floor > 0))
        assert fit.floor > 0 and sd == pytest.approx(fit.rate_se, rel=0.25)


def test_allocation_reaches_the_target_at_less_cost_than_scaling_every_size():
    values = _values([20] * 7, seed=1)
    fit = fit_rate(SIZES, values)
    half = (fit.rate_hi - fit.rate_lo) / 2
    assert half > 0.05
    totals, note = design.allocate(SIZES, values, fit, 0.05, 1024, 3600.0)
    assert all(20 <= t <= 1024 for t in totals) and note.startswith("predicted half-width")
    means = np.array([v.mean() for v in values])
    sigma = np.array([v.std(ddof=1) for v in values]) / means
    args = (SIZES, sigma, fit.const, fit.rate, fit.floor, fit.floor > 0)
    kappa = (half / (1.96 * math.sqrt(design.rate_variance(np.full(7, 20.0), *args)))) ** 2
    limit = (0.05 / 1.96) ** 2 / (kappa * design.SAFETY)
    assert design.rate_variance(np.array(totals, float), *args) <= limit * 1.001
    # the uniform design that reaches the same limit (R ∝ 1/variance) costs more
    uniform = 20 * design.rate_variance(np.full(7, 20.0), *args) / limit
    cost = design.replicate_cost(SIZES)
    assert cost @ (np.array(totals) - 20) < cost.sum() * (uniform - 20)


def test_a_target_out_of_reach_spends_the_budget_and_says_so():
    values = _values([20] * 7, seed=1)
    fit = fit_rate(SIZES, values)
    totals, note = design.allocate(SIZES, values, fit, 0.001, 1024, 120.0)
    assert "out of reach" in note and "±0.001" in note
    added = design.replicate_cost(SIZES) @ (np.array(totals) - 20)
    assert 0 < added <= 120.0 * 1.001
    assert all(t >= 20 for t in totals)


def test_cost_model_by_device():
    # c(n) = a + b n³ (COST): 4,096 costs ~14 s on 2 CPU cores, well under 1 s on a GPU
    assert design.replicate_cost(4096) == pytest.approx(0.1 + 2.1e-10 * 4096**3)
    assert design.replicate_cost(4096, "cuda:0") < 1 < design.replicate_cost(4096, "cpu")
