r"""R9, exact Gaussian-MLE moment recursions (docs/theory.md §9), as checked steps.

Under replace (π_i = p_i) the fresh-draw recursion of
[gaussian_moments][boundkit.gaussian_moments.gaussian_moments] reduces to

.. math::
    s_{k+1} = \frac{n-1}{n} s_k,\qquad G_{k+1} = G_k + \frac{s_k}{n}
    \;\Rightarrow\; E\hat\sigma_k^2 = \left(\frac{n-1}{n}\right)^k,\
    E\hat\mu_k^2 = 1 - \left(\frac{n-1}{n}\right)^k ,

checked by induction with symbolic n against the general update run from its
definition. The update uses only the first two moments of the training law, so round 0
is checked by exact enumeration over a two-point p0 with mean 0 and variance 1; the
conservation E μ̂² + E σ̂² = 1 of the 1/n estimator and the equality of kept
accumulation with fresh balanced mixing are checked exactly on boundkit's output.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import sympy as sp

from proofs._core import Proof, Step
from proofs.checks_symbolic import Induction, Instances

k = sp.Symbol("k", integer=True, positive=True)
n = sp.Symbol("n", positive=True)


def _update(w: list, G: list, s: list, size) -> tuple[sp.Expr, sp.Expr, list]:
    """One fresh-draw round from the definition (docs/theory.md §9): the new model's
    E μ̂², E σ̂² and its cross moments with the earlier components."""
    comps = range(len(w))
    Gw = [sum(w[a] * G[a][b] for a in comps) for b in comps]
    wGw = sum(w[b] * Gw[b] for b in comps)
    ev = sum(w[a] * (s[a] + G[a][a]) for a in comps) - wGw
    return sp.simplify(wGw + ev / size), sp.simplify((size - 1) / size * ev), Gw


def _replace(rounds: int) -> tuple[list, list]:
    """(E μ̂_k², E σ̂_k²) for k = 0..rounds under replace, symbolic in n."""
    G, s = [[sp.Integer(0)]], [sp.Integer(1)]
    for i in range(rounds):
        w = [sp.Integer(0)] * (i + 1)
        w[i] = sp.Integer(1)  # π_i = the latest law (p0 in round 0)
        mu2, var, Gw = _update(w, G, s, n)
        for row, value in zip(G, Gw, strict=True):
            row.append(value)
        G.append([*Gw, mu2])
        s.append(var)
    return [G[j][j] for j in range(rounds + 1)], s


def _enumerate(size: int) -> bool | str:
    """Round 0 over p0 = ±1 with equal weights (mean 0, variance 1): every sample."""
    from boundkit.gaussian_moments import gaussian_moments

    mu2 = var = Fraction(0)
    for xs in itertools.product((-1, 1), repeat=size):
        mean = Fraction(sum(xs), size)
        mu2 += mean * mean
        var += sum((x - mean) ** 2 for x in xs) / size
    mu2, var = mu2 / 2**size, var / 2**size
    row = gaussian_moments("replace", size, 0)
    ok = (row.mean_sq_exact.iloc[0], row.var_exact.iloc[0]) == (mu2, var)
    return ok or f"enumeration ({mu2}, {var}) != R9 ({row.mean_sq_exact.iloc[0]}, " \
                 f"{row.var_exact.iloc[0]})"


def _conserved(case) -> bool | str:
    from boundkit.gaussian_moments import gaussian_moments

    name, size, g = case
    row = gaussian_moments(name, size, g)
    total = row.mean_sq_exact.iloc[0] + row.var_exact.iloc[0]
    return total == 1 or f"E mu^2 + E sigma^2 = {total}"


def _kept_is_balanced(size: int) -> bool | str:
    from boundkit.gaussian_moments import gaussian_moments

    kept = gaussian_moments("accumulate", size, range(9))
    fresh = gaussian_moments("balanced", size, range(9))
    same = kept.mean_sq_exact.tolist() == fresh.mean_sq_exact.tolist()
    return same or "kept and fresh balanced moments differ"


PROOF = Proof(
    name="R9",
    title="Exact Gaussian-MLE moment recursions",
    claim=r"E\hat\sigma_g^2 = \left(\tfrac{n-1}{n}\right)^{g+1},\ "
          r"E\hat\mu_g^2 = 1 - \left(\tfrac{n-1}{n}\right)^{g+1}\ \text{(replace)}",
    assumptions=(r"p_0 = N(0, 1)", r"\hat\sigma^2 \text{ with } 1/n",
                 r"\text{round } i \text{ draws } n \text{ fresh points from } \pi_i"),
    steps=(
        Step("replace: the variance shrinks by (n-1)/n a round",
             r"s_{k+1} = \tfrac{n-1}{n}s_k \Rightarrow s_k = (\tfrac{n-1}{n})^k",
             lambda: Induction(k, 1, lambda j: ((n - 1) / n) ** j,
                               lambda cl, j: (n - 1) / n * cl(j),
                               direct=lambda j: _replace(j)[1][j])),
        Step("replace: the mean's error grows by s_k/n a round",
             r"G_{k+1} = G_k + s_k/n \Rightarrow G_k = 1 - (\tfrac{n-1}{n})^k",
             lambda: Induction(k, 1, lambda j: 1 - ((n - 1) / n) ** j,
                               lambda cl, j: cl(j) + ((n - 1) / n) ** j / n,
                               direct=lambda j: _replace(j)[0][j])),
        Step("round 0 by exact enumeration (two-point p0)",
             r"E\hat\mu^2 = 1/n,\ E\hat\sigma^2 = (n-1)/n \text{ over all } 2^n \text{ samples}",
             lambda: Instances("sizes n", (2, 3, 4, 6), _enumerate)),
        Step("the 1/n MLE conserves the second moment",
             r"E\hat\mu_g^2 + E\hat\sigma_g^2 = 1 \text{ (every policy)}",
             lambda: Instances("(schedule, n, g)", tuple(itertools.product(
                 ("replace", "balanced", "accumulate", "accumulate-subsample"), (2, 7),
                 (0, 5))), _conserved)),
        Step("kept accumulation has fresh balanced mixing's moments",
             r"E\hat\mu_g^2 \text{ equal for } g \le 8",
             lambda: Instances("sizes n", (2, 3, 5), _kept_is_balanced)),
    ),
    mutants=(
        Step("MUTANT: the variance does not shrink",
             r"s_k = 1",
             lambda: Induction(k, 1, lambda j: sp.Integer(1) + 0 * j, lambda cl, j: cl(j),
                               direct=lambda j: _replace(j)[1][j])),
        Step("MUTANT: the mean's noise uses the initial variance every round",
             r"G_k = k/n",
             lambda: Induction(k, 1, lambda j: j / n, lambda cl, j: cl(j) + 1 / n,
                               direct=lambda j: _replace(j)[0][j])),
    ),
    summary="Replace's closed forms by induction from the general update; round 0 by "
            "enumeration; conservation and kept = balanced exactly on boundkit's output.",
)
