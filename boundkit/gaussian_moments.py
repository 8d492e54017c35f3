r"""R9: exact moment recursions of Gaussian-MLE loops (beyond the paper).

For Gaussian maximum likelihood (mean μ̂ and variance σ̂², the 1/n or the unbiased
estimator) the first two moments of every generation's fit follow exact finite-n
recursions, with no Monte Carlo. Work in units of p0 = N(0, 1) (any N(μ0, σ0²) maps
to it by x ↦ (x − μ0)/σ0). Generation g is the model p_{g+1} of round g; μ_k, σ_k² are
model k's parameters (μ_0 = 0, σ_0² = 1 for p0).

**Fresh draws** (the paper's model, docs/theory.md §1): round i draws n_i i.i.d. points
from π_i = Σ_k w_k p_k with w = (α_i, β_{i,1..i}). Given the past, with
m = Σ w_k μ_k and v = Σ w_k (σ_k² + μ_k²) − m²,

.. math::
    E[\hat\mu_{i+1}] = m,\quad \mathrm{Var}[\hat\mu_{i+1}] = v/n_i,\quad
    E[\hat\sigma^2_{i+1}] = c_{n_i} v,\quad E[\hat\mu_{i+1}\mu_l] = \sum_k w_k E[\mu_k\mu_l]

(c_n = (n−1)/n for the 1/n estimator, 1 for the unbiased one; the new sampling noise is
independent of the past). So the state G_{kl} = E[μ_k μ_l], s_k = E σ_k² evolves
linearly: E v = Σ w_k (s_k + G_kk) − wᵀGw and G_{i+1,i+1} = wᵀGw + E v / n_i.

**Pool** (Bertrand et al.): a real set P of n points is drawn once; round 0 trains on P
alone and round i ≥ 1 on P plus m_i = n_i − n fresh draws from the synthetic part
Σ_k β'_k p_k, β' = β/(1 − α). With a_P = x̄_P the state gains H_k = E[μ_k a_P]:

.. math::
    n_i \hat\mu_{i+1} = n\,a_P + \textstyle\sum_{S} x,\qquad
    E[(n_i\hat\mu_{i+1})^2] = n^2/n + 2 n m_i \beta'^\top H + m_i^2 \beta'^\top G\beta'
    + m_i E v',

E[Σ x² over the round] = n + m_i Σ β'_k (s_k + G_kk), and n_i σ̂² = Σ x² − n_i μ̂².

**Kept data** (Gerstgrasser et al. 2024, "accumulate"): S_0 is the real set and S_k
(k ≥ 1) n fresh draws from p_k; round i trains on S_0 ∪ … ∪ S_i. With a_k the mean of
S_k, μ_{i+1} = mean of a_0..a_i and the state is A_{jl} = E[a_j a_l]:
E[a_k a_l] = E[μ_k a_l] = (1/k) Σ_{j<k} A_{jl} (l < k), E a_k² = E μ_k² + s_k/n.

**Kept subsample** (Kazdan et al. 2024, "accumulate-subsample"): the same kept pool
of N_i = (i+1)n points, but round i trains on n of them drawn without replacement.
Simple random sampling without replacement gives E[ȳ | pool] = x̄_pool,
Var[ȳ | pool] = S²(1 − n/N)/n and E[sample variance | pool] = S² (with S² the pool
variance, denominator N − 1), so the recursion closes on the same state.

E log σ̂² is exact when the training law is a single Gaussian (fresh draws with all
weight on one component): n σ̂²/σ² ~ χ²_{n−1}, so E log σ̂²_{i+1} = E log σ_k² +
ψ((n−1)/2) + log(2/n) (log(2/(n−1)) unbiased); in d dimensions with a full covariance,
n Σ̂ ~ Wishart_d(n−1, Σ) and E log det Σ̂ gains Σ_{j=1..d} ψ((n−j)/2) + d log(2/n)
per round. Elsewhere (a mixture, pooled or kept data) the column is NaN and
``log_var_exact`` is False.

References
----------
docs/theory.md §9 (R9); Shumailov et al. 2024 (replace: E σ̂²_g = ((n−1)/n)^{g+1}),
Bertrand et al. 2024 (fixed real pool), Gerstgrasser et al. 2024 (kept accumulation),
Kazdan et al. 2024 (kept subsample).
"""

from __future__ import annotations

import math
from fractions import Fraction

import pandas as pd
from scipy.special import digamma

from boundkit._checks import check_choice, check_generations, check_instance, check_int
from boundkit.errors import InvalidArgument
from boundkit.registry import SCHEDULE_REGISTRY, make_schedule
from boundkit.schedules import Schedule

#: Where the training points come from (docs/theory.md §1).
POLICIES = ("fresh", "pool", "kept", "kept-subsample")
#: Largest generation (the state is O(g²), each round O(g²) in exact rationals).
MAX_GENERATIONS = 2_000
#: Largest generation computed in exact rationals (then float64).
EXACT_LIMIT = 200


def gaussian_moments(schedule, n, generations, *, unbiased: bool = False, dim: int = 1,
                     policy: str | None = None, exact: bool | None = None) -> pd.DataFrame:
    r"""R9: E[(μ̂_g − μ0)²], E σ̂²_g and E log σ̂²_g of a Gaussian-MLE loop, exactly.

    Parameters
    ----------
    schedule : Schedule or str
        The mixing schedule, or a registered name (``"replace"``, ``"balanced"``,
        ``"accumulate"``, ``"accumulate-subsample"``, ...). Under the kept policies the
        weights play no part: every kept point is in the training set.
    n : int
        The round size n ≥ 2: the real set's size, and the size of every synthetic
        sample (fresh: n_i = n × the schedule's size factor).
    generations : int or sequence of int
        Generations g ≥ 0 (the model p_{g+1} of round g), at most 2,000.
    unbiased : bool
        The variance estimator: 1/n (False, the MLE) or 1/(n − 1).
    dim : int
        The dimension d of a full-covariance fit (p0 = N(0, I_d)); ``mean_sq`` then sums
        over the d coordinates and ``log_det`` replaces ``log_var``.
    policy : {"fresh", "pool", "kept", "kept-subsample"}, optional
        Where the training points come from (docs/theory.md §1); default: ``kept`` for
        ``"accumulate"``, ``kept-subsample`` for ``"accumulate-subsample"``, else
        ``fresh``. ``pool`` needs a real share with n/α_i an integer in every round.
    exact : bool, optional
        Compute in exact rationals (default: when the largest generation is ≤ 200).

    Returns
    -------
    pandas.DataFrame
        One row per generation: ``generation``, ``mean_sq`` (E[(μ̂_g − μ0)²]/σ0²,
        summed over coordinates), ``var`` (E σ̂²_g/σ0², per coordinate), ``log_var``
        (E log(σ̂²_g/σ0²); d-D: ``log_det``, E log det(Σ̂_g/σ0²)) and ``log_var_exact``
        (False where the training law is not a single Gaussian: the column is NaN
        there). With exact arithmetic ``mean_sq_exact`` and ``var_exact`` hold
        Fractions.

    Raises
    ------
    InvalidArgument
        A policy that does not fit the schedule (pool without real data), n ≤ d,
        more than 2,000 generations.

    References
    ----------
    docs/theory.md §9, R9.

    Examples
    --------
    >>> df = gaussian_moments("replace", 10, [0, 1, 2])
    >>> df["var_exact"].tolist()   # Shumailov: ((n - 1)/n)^(g + 1)
    [Fraction(9, 10), Fraction(81, 100), Fraction(729, 1000)]
    >>> round(float(gaussian_moments("accumulate", 10, 49)["mean_sq"].iloc[0]), 5)
    0.15489
    """
    sched, name = _schedule(schedule)
    size = check_int(n, "n", 2, 10**9, "10")
    d = check_int(dim, "dim", 1, 1000, "1")
    if size <= d:
        raise InvalidArgument(f"n={size} must exceed dim={d}: a full covariance needs more "
                              f"points than coordinates. Pass n >= {d + 1}.", argument="n")
    if not isinstance(unbiased, bool):
        raise TypeError(f"unbiased must be True or False; got {unbiased!r}.")
    gens = check_generations(generations, minimum=0)
    last = max(gens)
    if last > MAX_GENERATIONS:
        raise InvalidArgument(f"generations go up to {last:,}; R9's state grows as g², so "
                              f"the limit is {MAX_GENERATIONS:,}. Pass fewer generations.",
                              argument="generations")
    default = SCHEDULE_REGISTRY.entry(name).policy if isinstance(schedule, str) else "fresh"
    pol = check_choice(policy if policy is not None else default, POLICIES, "policy")
    use_exact = last <= EXACT_LIMIT if exact is None else bool(exact)
    one = Fraction(1) if use_exact else 1.0
    rounds = [_round(sched, i, size, pol, one) for i in range(last + 1)]
    if pol == "fresh":
        mean_sq, var, log_var = _fresh(rounds, unbiased, one, d)
    elif pol == "pool":
        mean_sq, var = _pool(rounds, size, unbiased, one)
        log_var = [math.nan] * len(var)
    else:
        mean_sq, var = _kept(last, size, unbiased, one, subsample=pol == "kept-subsample")
        log_var = [math.nan] * len(var)
    out = pd.DataFrame({
        "generation": gens,
        "mean_sq": [float(mean_sq[g]) * d for g in gens],
        "var": [float(var[g]) for g in gens],
        "log_det" if d > 1 else "log_var": [log_var[g] for g in gens],
        "log_var_exact": [not math.isnan(log_var[g]) for g in gens],
    })
    if use_exact:
        out["mean_sq_exact"] = [mean_sq[g] * d for g in gens]
        out["var_exact"] = [var[g] for g in gens]
    out.attrs["policy"] = pol
    return out


def _schedule(schedule) -> tuple[Schedule, str]:
    if isinstance(schedule, str):
        SCHEDULE_REGISTRY.entry(schedule, "schedule")  # unknown names refused with the list
        return make_schedule(schedule), schedule
    check_instance(schedule, Schedule, "schedule", "'replace' or FullSynthetic()")
    return schedule, schedule.name


def _round(sched: Schedule, i: int, n: int, policy: str, one) -> tuple:
    """(weights over p0, p_1..p_i; the round's size n_i) as exact or float numbers."""
    if i == 0:
        return [one], n
    alpha, beta = sched.weights(i)
    w = [_num(alpha, one), *(_num(b, one) for b in beta)]
    if policy == "pool":
        if w[0] <= 0:
            raise InvalidArgument(f"policy='pool' reuses the real set every round, but round "
                                  f"{i} of {sched.name} has real share 0. Pass a schedule "
                                  f"with real data (fixed-ratio, constant-real).",
                                  argument="policy")
        size = Fraction(n) / Fraction(w[0]) if isinstance(one, Fraction) else n / w[0]
        if abs(size - round(size)) > 1e-9:
            raise InvalidArgument(f"policy='pool': round {i} needs n/alpha = {float(size):g} "
                                  f"points, not an integer. Pass an n that alpha divides.",
                                  argument="n")
        return w, round(size)
    factor = sched.size_factor
    return w, round(n * float(factor))


def _num(x, one):
    if isinstance(one, Fraction):
        return x if isinstance(x, Fraction) else Fraction(x).limit_denominator(10**12)
    return float(x)


def _c(size: int, unbiased: bool, one):
    """E σ̂² / σ² of one Gaussian sample of ``size`` points."""
    return one if unbiased else one * (size - 1) / size


def _chi_log(size: int, unbiased: bool, d: int) -> float:
    """E log det(Σ̂/Σ) for one Gaussian sample: Σ_j ψ((n−j)/2) + d log(2/m)."""
    m = size - 1 if unbiased else size
    return float(sum(digamma((size - j) / 2) for j in range(1, d + 1)) + d * math.log(2 / m))


def _fresh(rounds, unbiased, one, d):
    """The fresh-draw recursion of the module docstring; returns per generation g."""
    G = [[0 * one]]  # E[μ_k μ_l] over components 0 (p0) .. i
    s = [one]  # E σ_k²
    logs = [0.0]  # E log σ_k² (exact only through single-Gaussian rounds)
    mean_sq, var, log_var = [], [], []
    for w, size in rounds:
        support = [k for k, wk in enumerate(w) if wk != 0]
        Gw = [sum(w[k] * G[k][q] for k in support) for q in range(len(w))]
        wGw = sum(w[q] * Gw[q] for q in support)
        ev = sum(w[k] * (s[k] + G[k][k]) for k in support) - wGw
        new = wGw + ev / size
        for row, value in zip(G, Gw, strict=True):
            row.append(value)
        G.append([*Gw, new])
        s.append(_c(size, unbiased, one) * ev)
        single = len(support) == 1 and not math.isnan(logs[support[0]])
        logs.append(logs[support[0]] + _chi_log(size, unbiased, d) if single else math.nan)
        mean_sq.append(new)
        var.append(s[-1])
        log_var.append(logs[-1])
    return mean_sq, var, log_var


def _pool(rounds, n, unbiased, one):
    """A real pool of n points reused every round, plus fresh synthetic draws."""
    G: list[list] = []  # E[μ_k μ_l], models 1..i
    H: list = []  # E[μ_k a_P]
    s: list = []
    mean_sq, var = [], []
    for i, (w, size) in enumerate(rounds):
        m = size - n
        beta = [b / (1 - w[0]) for b in w[1:]] if m > 0 else []
        bGb = sum(beta[k] * beta[q] * G[k][q] for k in range(len(beta))
                  for q in range(len(beta)) if beta[k] != 0 and beta[q] != 0)
        bH = sum(b * h for b, h in zip(beta, H, strict=False))
        ev = sum(b * (s[k] + G[k][k]) for k, b in enumerate(beta) if b != 0) - bGb
        sum_sq = n * one + m * (ev + bGb)  # E Σ x² over the round
        mu2 = (n * one + 2 * n * m * bH + m * m * bGb + m * ev) / (size * size)
        cross = [(n * H[q] + m * sum(beta[k] * G[k][q] for k in range(len(beta))
                                     if beta[k] != 0)) / size for q in range(i)]
        h_new = (one + m * bH) / size
        for row, value in zip(G, cross, strict=True):
            row.append(value)
        G.append([*cross, mu2])
        H.append(h_new)
        s1n = (sum_sq - size * mu2) / size
        s.append(s1n * size / (size - 1) if unbiased else s1n)
        mean_sq.append(mu2)
        var.append(s[-1])
    return mean_sq, var


def _kept(last, n, unbiased, one, *, subsample: bool):
    """Kept data: S_0 real, S_k (k ≥ 1) n fresh draws from p_k; round i trains on all
    of S_0..S_i (kept) or on n of them drawn without replacement (kept-subsample)."""
    colsum = [one / n]  # Σ_j E[a_j a_l] over the kept samples j, per l
    total = one / n  # Σ_{j,l} E[a_j a_l]
    sum_q = n * one  # Σ_j E q_j (sums of squares of the kept samples)
    mean_sq, var = [], []
    for i in range(last + 1):
        k = i + 1  # kept samples S_0..S_i
        big_n = k * n
        pool_mean_sq = total / (k * k)
        pool_var = (sum_q - big_n * pool_mean_sq) / (big_n - 1)  # E S², denominator N − 1
        if subsample:
            mu2 = pool_mean_sq + pool_var * (1 - Fraction(n, big_n) * one) / n
            s_new = pool_var if unbiased else pool_var * (n - 1) / n
        else:
            mu2 = pool_mean_sq
            s_new = pool_var if unbiased else pool_var * (big_n - 1) / big_n
        mean_sq.append(mu2)
        var.append(s_new)
        row = [c / k for c in colsum]  # E[μ_{i+1} a_l] = E[a_{i+1} a_l]
        diag = mu2 + s_new / n
        colsum = [c + r for c, r in zip(colsum, row, strict=True)] + [sum(row) + diag]
        total = total + 2 * sum(row) + diag
        sum_q = sum_q + n * (s_new + mu2)
    return mean_sq, var
