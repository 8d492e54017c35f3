"""simulations: distributions and TV/KL/W2 metrics against closed forms (docs/theory.md §5–6)."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad
from scipy.special import ndtr

from boundkit.errors import InvalidArgument
from simulations import (
    DISTRIBUTIONS,
    GaussianMixture,
    LaplaceMixture,
    kl_monte_carlo,
    make_distribution,
    make_generator,
    resolve_device,
    tv_gaussian_1d,
    tv_grid_2d,
    tv_monte_carlo,
    tv_quadrature_1d,
    w2_gaussian,
)

CPU = torch.device("cpu")


def gen(seed=0):
    return make_generator(seed, CPU)


def theory_equal_mean_tv(a: float, b: float) -> float:
    """docs/theory.md §5: 2|Φ(x*/a) − Φ(x*/b)|, x*² = 2a²b² ln(b/a)/(b² − a²)."""
    x = math.sqrt(2 * a * a * b * b * math.log(b / a) / (b * b - a * a))
    return 2 * abs(ndtr(x / a) - ndtr(x / b))


@pytest.mark.parametrize(("a", "b"), [(1.0, 1.3), (0.5, 2.0), (1.0, 1.0001)])
def test_gaussian_tv_closed_forms_and_quadrature(a, b):
    closed = tv_gaussian_1d(0.0, a, 0.0, b)
    assert closed == pytest.approx(theory_equal_mean_tv(a, b), rel=1e-12)
    est = tv_quadrature_1d(GaussianMixture([[0.0]], [a]), GaussianMixture([[0.0]], [b]))
    assert est.lo <= closed <= est.hi
    assert est.hi - est.lo < 1e-6  # docs/theory.md §6: quadrature error < 1e-6


def test_tv_with_shifted_means_and_symmetry():
    p, q = GaussianMixture([[0.0]], [1.0]), GaussianMixture([[1.5]], [0.7])
    closed = tv_gaussian_1d(0.0, 1.0, 1.5, 0.7)
    est = tv_quadrature_1d(p, q)
    assert est.lo <= closed <= est.hi
    assert tv_gaussian_1d(1.5, 0.7, 0.0, 1.0) == pytest.approx(closed, rel=1e-13)
    assert tv_gaussian_1d(0, 1, 2, 1) == pytest.approx(2 * ndtr(1.0) - 1, rel=1e-14)


def test_monte_carlo_interval_holds_at_95_percent():
    # 40 independent MC estimates at 95% confidence: the Hoeffding interval is
    # conservative, so misses are rare; more than 6 (P < 1e-3 even at exactly 5%) fails.
    p, q = GaussianMixture([[0.0]], [1.0]), GaussianMixture([[0.4]], [1.3])
    truth = tv_gaussian_1d(0.0, 1.0, 0.4, 1.3)
    misses = 0
    for s in range(40):
        est = tv_monte_carlo(p, q, 4000, gen(s), confidence=0.95)
        misses += not (est.lo <= truth <= est.hi)
    assert misses <= 6


def test_grid_2d_agrees_with_monte_carlo_and_product_closed_form():
    # independent coordinates: TV of a product is not a product, so compare estimators
    p = GaussianMixture([[0.0, 0.0]], [[1.0, 1.0]])
    q = GaussianMixture([[0.5, 0.0]], [[1.0, 1.0]])
    grid = tv_grid_2d(p, q)
    # a shift in one coordinate only: TV equals the 1-D TV of that coordinate
    assert grid.lo - 1e-9 <= tv_gaussian_1d(0, 1, 0.5, 1) <= grid.hi + 1e-9
    mc = tv_monte_carlo(p, q, 100_000, gen(3), confidence=0.999)
    assert mc.lo <= grid.value <= mc.hi


def test_kl_monte_carlo_against_closed_form():
    # KL(N(0,1) ‖ N(m, s²)) = log s + (1 + m²)/(2 s²) − 1/2
    m, s = 0.3, 1.4
    truth = math.log(s) + (1 + m * m) / (2 * s * s) - 0.5
    est, se = kl_monte_carlo(GaussianMixture([[0.0]], [1.0]), GaussianMixture([[m]], [s]),
                             50_000, gen(1))
    assert abs(est - truth) <= 4 * se  # 99.99% normal interval


def test_w2_gaussian():
    assert w2_gaussian(0, 1, 0, 1) == 0
    assert w2_gaussian([0, 0], [1, 4], [3, 4], [1, 4]) == pytest.approx(5.0)
    assert w2_gaussian(0, 1, 0, 4) == pytest.approx(1.0)


@pytest.mark.parametrize("name", [d for d in DISTRIBUTIONS if d not in ("ring8", "grid25")])
def test_one_d_densities_integrate_to_one_and_moments_match(name):
    d = make_distribution(name)
    other = GaussianMixture([[0.0]], [1e3])  # so wide that the quadrature box is huge
    lo, hi = d.support_box()

    def density(v):
        return float(torch.exp(d.log_prob(torch.tensor([[v]], dtype=torch.float64)))[0])

    # adaptive quadrature with breakpoints at the modes (Laplace has kinks there)
    modes = sorted(float(m) for m in d.means[:, 0])
    total, err = quad(density, float(lo[0]), float(hi[0]), points=modes, limit=500,
                      epsabs=1e-12)
    assert total == pytest.approx(1.0, abs=1e-9 + err)
    xs = d.sample(200_000, gen(5))[:, 0].numpy()
    mean, var = float(d.mean()[0]), float(d.variance()[0])
    assert abs(xs.mean() - mean) <= 4 * math.sqrt(var / xs.size)  # 99.99%
    # sample variance: chi-square interval needs normality; use a 4-SE bound on the 4th moment
    m4 = np.mean((xs - mean) ** 4)
    assert abs(xs.var() - var) <= 4 * math.sqrt((m4 - var**2) / xs.size)
    assert tv_quadrature_1d(d, other).value > 0.9


def test_two_d_presets_sample_moments():
    for name in ("ring8", "grid25"):
        d = make_distribution(name)
        xs = d.sample(100_000, gen(2)).numpy()
        var = d.variance().numpy()
        assert np.all(np.abs(xs.mean(0)) <= 4 * np.sqrt(var / xs.shape[0]))


def test_laplace_sampler_variance_chi_square_free():
    d = LaplaceMixture([[0.0]], [1.0])
    xs = d.sample(100_000, gen(9))[:, 0].numpy()
    # |X| ~ Exp(1): the mean of |X| is 1 with sd 1/sqrt(n)
    assert abs(np.abs(xs).mean() - 1) <= 4 / math.sqrt(xs.size)
    assert float(d.variance()[0]) == 2.0


def test_same_seed_same_numbers():
    d = make_distribution("unequal")
    a = d.sample(1000, gen(42))
    b = d.sample(1000, gen(42))
    c = d.sample(1000, gen(43))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: make_distribution("moons3d"), "data='moons3d' is not known"),
        (lambda: make_distribution("gaussian", dim=0), "dim must be an integer in \\[1, "),
        (lambda: GaussianMixture([[0.0]], [0.0]), "scales must be > 1e-150"),
        (lambda: GaussianMixture([[0.0], [1.0]], [1.0, 1.0], [0.5, 0.6]), "summing to 1"),
        (lambda: make_distribution("gaussian").sample(0, gen()), "n must be an integer >= 1"),
        (lambda: resolve_device("tpu"), "device='tpu'"),
        (lambda: make_generator(-1, CPU), "seed must be an integer in \\[0, "),
        (lambda: tv_quadrature_1d(make_distribution("ring8"), make_distribution("ring8")),
         "dimension"),
    ],
)
def test_bad_input_is_refused(make, fragment):
    with pytest.raises(InvalidArgument, match=fragment):
        make()


def test_missing_cuda_is_refused(monkeypatch):
    # runs on any machine: CUDA is made unavailable for the duration of the test
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InvalidArgument, match="no CUDA device is available"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")


def test_w2_quantiles_agree_with_closed_form():
    from simulations.metrics import w2_1d

    for m, s in ((0.5, 2.0), (-1.0, 0.3), (0.0, 1.0)):
        got = w2_1d(GaussianMixture([[0.0]], [1.0]), GaussianMixture([[m]], [s]))
        assert got == pytest.approx(w2_gaussian(0, 1, m, s * s), abs=2e-4)


def _brute_pr(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """k-NN precision/recall from all pairwise |x - y| (exact in float64 for 1-D)."""
    def radii(x):
        return np.sort(np.abs(x[:, None] - x[None]), 1)[:, k]

    def cover(points, centres, r):
        return float(np.mean((np.abs(points[:, None] - centres[None]) <= r[None]).any(1)))

    return cover(fake, real, radii(real)), cover(real, fake, radii(fake))


@pytest.mark.parametrize("decimals", [None, 1])  # rounding to 0.1 makes many ties
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_knn_precision_recall_1d_sorted_equals_brute_force(seed, decimals):
    from simulations.knn import knn_precision_recall, knn_radii

    rng = np.random.default_rng(seed)
    real, fake = rng.normal(0, 1, 700), rng.standard_t(2, 500) * 0.7 + 0.3
    if decimals is not None:
        real, fake = np.round(real, decimals), np.round(fake, decimals)
    rt, ft = torch.tensor(real[:, None]), torch.tensor(fake[:, None])
    want = _brute_pr(real, fake)
    assert knn_precision_recall(rt, ft) == want
    assert knn_precision_recall(rt, ft, real_radii=knn_radii(rt)) == want
    np.testing.assert_array_equal(knn_radii(rt).numpy(),
                                  np.sort(np.abs(real[:, None] - real[None]), 1)[:, 3])


def test_knn_precision_recall_detects_mode_collapse():
    from simulations.metrics import knn_precision_recall

    p = make_distribution("unequal")
    real, same = p.sample(1500, gen(1)), p.sample(1500, gen(2))
    collapsed = GaussianMixture([[-2.0]], [0.5]).sample(1500, gen(3))  # one mode of three
    prec, rec = knn_precision_recall(real, same)
    assert prec > 0.9 and rec > 0.9
    prec_c, rec_c = knn_precision_recall(real, collapsed)
    assert prec_c > 0.9 and rec_c < 0.7  # still realistic, but misses 40% of the mass
    with pytest.raises(InvalidArgument, match="need more than k=3 points"):
        knn_precision_recall(real[:3], same)
