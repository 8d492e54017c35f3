"""Mixing schedules π_i = α_i p0 + Σ_k β_{i,k} p_k (docs/theory.md §1, §4).

Convention everywhere: round i trains on π_i and produces p_{i+1}; **generation i**
is that model p_{i+1}. Generation 0 is the model of round 0, trained on real data
only (π_0 = p0). A schedule gives each round's weights; ``closed_form(i, δ)`` is
the bound on e_{i+1} = TV(p_{i+1}, p0) with equal δ per round, where one exists.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import numpy as np
import sympy as sp

from boundkit._checks import (
    FLOAT_SUM_TOL,
    check_int,
    check_nonnegative,
    check_share,
    is_exact,
    to_fraction,
)
from boundkit.errors import InvalidArgument

#: Generation index and per-round error, the symbols of every closed form.
i = sp.Symbol("i", integer=True, nonnegative=True)
delta = sp.Symbol("delta", positive=True)

Weight = Fraction | float


def _q(x: Weight) -> sp.Expr:
    return sp.Rational(x.numerator, x.denominator) if isinstance(x, Fraction) else sp.Float(x)


class Schedule(ABC):
    r"""A mixing schedule: the weights of π_i = α_i p0 + Σ_k β_{i,k} p_k for every round.

    Concrete schedules are frozen dataclasses (hashable, comparable, printable), so a
    sweep can key a store on them. Round 0 trains on real data only (π_0 = p0).

    Attributes
    ----------
    name : str
        The name the CLI, tables and sweep files use.
    per_generation : bool
        True when generation i is evaluated as the last round of its own run
        (final-round rescue).

    Notes
    -----
    With B the strictly lower-triangular matrix of the β_{i,k}, R1's bound is

    .. math::
        b = (I - B)^{-1} \delta,\qquad b_{i+1} = \delta_i + \sum_k \beta_{i,k} b_k .

    References
    ----------
    docs/theory.md §1 (the loop), §2 (R1), §4 (the schedules).
    """

    #: CLI / table name.
    name: ClassVar[str] = "schedule"
    #: True when generation i is evaluated as the last round of its own run.
    per_generation: ClassVar[bool] = False

    @abstractmethod
    def weights(self, round_: int) -> tuple[Weight, tuple[Weight, ...]]:
        """(α_i, (β_{i,1}, …, β_{i,i})) for round i >= 1 (round 0 is real data only)."""

    @property
    def size_factor(self) -> Fraction:
        """n_i = size_factor · n (1 except for fixed real + λ synthetic, where it is 1 + λ)."""
        return Fraction(1)

    @property
    def horizon(self) -> int | None:
        """The last round the schedule defines, or None when it goes on for ever."""
        return None

    @property
    def is_exact(self) -> bool:
        """True when every weight is an exact rational."""
        return True

    def for_generation(self, gen: int) -> Schedule:
        """The schedule whose round ``gen`` produces generation ``gen``."""
        return self

    def closed_form(self, i_: sp.Expr = i, delta_: sp.Expr = delta) -> sp.Expr | None:
        """Bound on generation i (e_{i+1}) with equal δ per round, or None."""
        return None

    def fast_bounds(self, deltas: np.ndarray) -> np.ndarray | None:
        """O(N) float64 bounds b_1..b_{N+1} from δ_0..δ_N, or None (dense solve)."""
        return None

    def latex(self) -> str:
        """LaTeX of the closed-form bound, or of the recursion R1."""
        cf = self.closed_form()
        if cf is None:
            return r"e_{i+1} \le \delta_i + \sum_{k=1}^{i} \beta_{i,k} e_k"
        return rf"e_{{i+1}} \le {sp.latex(cf)}"

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"


@dataclass(frozen=True)
class FullSynthetic(Schedule):
    r"""Full synthetic data (``replace``): round i trains on the latest model only.

    Weights α_i = 0, β_{i,i} = 1; the errors add up linearly.

    Notes
    -----
    .. math::
        e_{i+1} \le \sum_{k \le i} \delta_k = (i+1)\,\delta

    References
    ----------
    docs/theory.md §4, R2 (quartic growth at r = 1/4).

    Examples
    --------
    >>> FullSynthetic().weights(2)
    (Fraction(0, 1), (Fraction(0, 1), Fraction(1, 1)))
    >>> FullSynthetic().closed_form()
    delta*(i + 1)
    """

    name: ClassVar[str] = "full-synthetic"

    def weights(self, round_):
        return Fraction(0), (Fraction(0),) * (round_ - 1) + (Fraction(1),)

    def closed_form(self, i_=i, delta_=delta):
        return (i_ + 1) * delta_

    def fast_bounds(self, deltas):
        return np.cumsum(deltas)


@dataclass(frozen=True)
class Balanced(Schedule):
    r"""Balanced mixing: real data and every earlier model in equal shares.

    Weights α_i = β_{i,k} = 1/(i+1) with fresh draws from π_i (the paper's model; the
    kept-data loops of the literature are a data policy, docs/theory.md §1).

    Notes
    -----
    .. math::
        e_{i+1} \le \delta H_{i+1} \approx \delta(\ln(i+1) + \gamma)

    References
    ----------
    docs/theory.md §4, R4.

    Examples
    --------
    >>> Balanced().weights(2)
    (Fraction(1, 3), (Fraction(1, 3), Fraction(1, 3)))
    """

    name: ClassVar[str] = "balanced"

    def weights(self, round_):
        w = Fraction(1, round_ + 1)
        return w, (w,) * round_

    def closed_form(self, i_=i, delta_=delta):
        return delta_ * sp.harmonic(i_ + 1)

    def fast_bounds(self, deltas):
        # b_{j+1} = δ_j + S_j/(j+1), S_j = Σ_{k≤j} b_k; T_j = S_j/(j+1) obeys
        # T_{j+1} = T_j + δ_j/(j+2), T_0 = 0.
        k = np.arange(len(deltas), dtype=np.float64)
        t = np.concatenate(([0.0], np.cumsum(deltas[:-1] / (k[:-1] + 2))))
        return deltas + t


@dataclass(frozen=True)
class ConstantRealShare(Schedule):
    r"""A constant real share α ∈ (0, 1] every round; the rest from the latest model.

    Parameters
    ----------
    alpha : Fraction, float or str
        The real share α (default 1/2); β_{i,i} = 1 − α.

    Notes
    -----
    .. math::
        e_{i+1} \le \delta\,\frac{1 - (1-\alpha)^{i+1}}{\alpha} \le \frac{\delta}{\alpha}

    References
    ----------
    docs/theory.md §4, R5.

    Examples
    --------
    >>> ConstantRealShare("1/2").closed_form()
    2*delta*(1 - (1/2)**(i + 1))
    """

    alpha: Fraction | float = Fraction(1, 2)
    name: ClassVar[str] = "constant-real"

    def __post_init__(self):
        a = check_share(self.alpha, "alpha", allow_zero=False)
        object.__setattr__(self, "alpha", a if is_exact(self.alpha) else float(self.alpha))

    @property
    def is_exact(self):
        return isinstance(self.alpha, Fraction)

    def weights(self, round_):
        one = Fraction(1) if self.is_exact else 1.0
        return self.alpha, (0 * one,) * (round_ - 1) + (one - self.alpha,)

    def closed_form(self, i_=i, delta_=delta):
        a = _q(self.alpha)
        return delta_ * (1 - (1 - a) ** (i_ + 1)) / a

    def fast_bounds(self, deltas):
        from scipy.signal import lfilter  # imported here: scipy.signal costs 0.4 s to import

        return lfilter([1.0], [1.0, -(1.0 - float(self.alpha))], deltas)


@dataclass(frozen=True)
class FixedRatio(Schedule):
    r"""A fixed real set of n points plus λn points from the latest model (R6).

    Parameters
    ----------
    lam : Fraction, float or str
        The synthetic-to-real ratio λ ≥ 0 (default 1). Weights α = 1/(1+λ),
        β_{i,i} = x = λ/(1+λ); round sizes n_i = (1+λ) n.

    Notes
    -----
    .. math::
        e_{i+1} \le \delta\,(1+\lambda)\,(1 - x^{i+1})

    With δ = C((1+λ)n)^{-r} this is R6's B_i(λ) in the "scaled" convention.

    References
    ----------
    docs/theory.md §4, R6.

    Examples
    --------
    >>> FixedRatio(3).size_factor
    Fraction(4, 1)
    """

    lam: Fraction | float = Fraction(1)
    name: ClassVar[str] = "fixed-ratio"

    def __post_init__(self):
        q = check_nonnegative(self.lam, "lambda", "1")
        object.__setattr__(self, "lam", q if is_exact(self.lam) else float(self.lam))

    @property
    def is_exact(self):
        return isinstance(self.lam, Fraction)

    @property
    def size_factor(self):
        return 1 + to_fraction(self.lam, "lambda")

    def weights(self, round_):
        x = self.lam / (1 + self.lam)
        return 1 - x, (0 * x,) * (round_ - 1) + (x,)

    def closed_form(self, i_=i, delta_=delta):
        lam = _q(self.lam)
        return delta_ * (1 + lam) * (1 - (lam / (1 + lam)) ** (i_ + 1))

    def fast_bounds(self, deltas):
        from scipy.signal import lfilter

        lam = float(self.lam)
        return lfilter([1.0], [1.0, -(lam / (1.0 + lam))], deltas)


@dataclass(frozen=True)
class FinalRoundRescue(Schedule):
    r"""Full synthetic data, then real share α_i in the last round i (R3).

    Parameters
    ----------
    alpha : Fraction, float, str or None
        The last round's real share; None (default) uses R3's minimum α_i = (i−1)/i,
        which gives e_{i+1} ≤ 2δ.
    final_round : int or None
        The round that is rescued. None (default) evaluates each generation i as the
        last round of its own run.

    Notes
    -----
    .. math::
        e_{i+1} \le \delta\,(1 + (1 - \alpha_i)\, i)

    References
    ----------
    docs/theory.md §4, R3.

    Examples
    --------
    >>> FinalRoundRescue().share(5)
    Fraction(4, 5)
    """

    alpha: Fraction | float | None = None
    final_round: int | None = None
    name: ClassVar[str] = "final-rescue"

    def __post_init__(self):
        if self.alpha is not None:
            a = check_share(self.alpha, "alpha")
            object.__setattr__(self, "alpha", a if is_exact(self.alpha) else float(self.alpha))
        if self.final_round is not None:
            object.__setattr__(self, "final_round", check_int(self.final_round, "final_round", 1,
                                                              10**7, "5"))

    @property
    def per_generation(self):  # type: ignore[override]
        return self.final_round is None

    @property
    def horizon(self):
        return self.final_round

    @property
    def is_exact(self):
        return self.alpha is None or isinstance(self.alpha, Fraction)

    def share(self, round_: int) -> Weight:
        """α_i of the rescued round i."""
        return Fraction(round_ - 1, round_) if self.alpha is None else self.alpha

    def for_generation(self, gen):
        if self.final_round is not None:
            return self
        return FullSynthetic() if gen == 0 else FinalRoundRescue(self.alpha, gen)

    def weights(self, round_):
        last = self.final_round
        if last is None or round_ > last:
            raise InvalidArgument(
                f"FinalRoundRescue(final_round={last}) has no round {round_}. Pass "
                f"final_round >= {round_}, or use .for_generation(i)."
            )
        if round_ < last:
            return FullSynthetic().weights(round_)
        a = self.share(round_)
        return a, (0 * a,) * (round_ - 1) + (1 - a,)

    def closed_form(self, i_=i, delta_=delta):
        if self.alpha is None:
            # α_i = (i−1)/i gives (1 − α_i) i = 1 for i ≥ 1; generation 0 is real data: δ.
            return delta_ * (1 + sp.Min(i_, 1))
        return delta_ * (1 + (1 - _q(self.alpha)) * i_)

    def fast_bounds(self, deltas):
        if self.final_round is not None:
            # rounds before the last are full synthetic; the last keeps share α of real data
            out = np.cumsum(deltas)
            last = self.final_round
            if deltas.size > last:
                out[last] = deltas[last] + (1 - float(self.share(last))) * out[last - 1]
            return out
        gens = np.arange(len(deltas), dtype=np.float64)
        share = (gens - 1) / np.maximum(gens, 1) if self.alpha is None else float(self.alpha)
        prior = np.concatenate(([0.0], np.cumsum(deltas)[:-1]))  # Σ_{k<i} δ_k
        return deltas + (1 - share) * prior


@dataclass(frozen=True)
class GeneralSchedule(Schedule):
    r"""Any weights: ``alpha[j]`` and ``beta[j]`` (j+1 entries) describe round j+1.

    Parameters
    ----------
    alpha : sequence
        Real shares α_1, α_2, … of rounds 1, 2, …
    beta : sequence of sequences
        ``beta[j]`` holds β_{j+1,1..j+1}, the shares of the earlier models.

    Notes
    -----
    Exact when every weight is an int, Fraction, sympy Rational or string; then each
    round must sum to 1 exactly. With floats it must sum to 1 within 1e-12. R1's bound is
    solved by a dense triangular solve, b = (I − B)^{-1} δ.

    References
    ----------
    docs/theory.md §2, §4 ("general").

    Examples
    --------
    >>> GeneralSchedule(alpha=["1/2"], beta=[["1/2"]]).weights(1)
    (Fraction(1, 2), (Fraction(1, 2),))
    """

    alpha: tuple = ()
    beta: tuple = ()
    name: ClassVar[str] = "general"

    def __post_init__(self):
        for key in ("alpha", "beta"):
            value = getattr(self, key)
            if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
                raise TypeError(f"{key} must be a sequence (one entry per round); got "
                                f"{type(value).__name__} {value!r}. Pass e.g. alpha=[1/2], "
                                f"beta=[[1/2]].")
        rows = list(self.beta)
        for j, row in enumerate(rows):
            if isinstance(row, str | bytes) or not hasattr(row, "__iter__"):
                raise TypeError(f"beta[{j}] must be a sequence of {j + 1} weights; got "
                                f"{type(row).__name__} {row!r}.")
        alpha, beta = list(self.alpha), [list(row) for row in rows]
        if not alpha:
            raise InvalidArgument(
                "alpha is empty: a general schedule needs at least one round. Pass e.g. "
                "alpha=[1/2], beta=[[1/2]]."
            )
        if len(beta) != len(alpha):
            raise InvalidArgument(
                f"beta must have one row per round: alpha has {len(alpha)} rounds, beta has "
                f"{len(beta)} rows. Pass beta[j] with j+1 weights for round j+1."
            )
        exact = all(is_exact(w) for w in alpha) and all(is_exact(w) for r in beta for w in r)
        conv = (lambda w, nm: to_fraction(w, nm)) if exact else (
            lambda w, nm: float(to_fraction(w, nm))
        )
        rows_a, rows_b = [], []
        for j, (a, row) in enumerate(zip(alpha, beta, strict=True), start=1):
            if len(row) != j:
                raise InvalidArgument(
                    f"beta row for round {j} must have {j} weights (one per earlier model "
                    f"p_1..p_{j}); got {len(row)}. Pass e.g. beta[{j - 1}]={[0] * (j - 1) + [1]}."
                )
            a_ = conv(a, f"alpha[{j - 1}]")
            row_ = tuple(conv(b, f"beta[{j - 1}][{k}]") for k, b in enumerate(row))
            total = a_ + sum(row_)
            bad_sign = a_ < 0 or any(b < 0 for b in row_)
            off = total != 1 if exact else abs(total - 1) > FLOAT_SUM_TOL
            if bad_sign or off:
                raise InvalidArgument(
                    f"alpha must lie in [0, 1] and alpha + sum(beta) must be 1; round {j} has "
                    f"alpha={_fmt(a_)}, beta={[_fmt(b) for b in row_]} summing to {_fmt(total)}."
                    f" Pass non-negative weights that sum to 1, e.g. alpha=1/2, beta="
                    f"{[0] * (j - 1) + ['1/2']}."
                )
            rows_a.append(a_)
            rows_b.append(row_)
        object.__setattr__(self, "alpha", tuple(rows_a))
        object.__setattr__(self, "beta", tuple(rows_b))

    @property
    def horizon(self):
        return len(self.alpha)

    @property
    def is_exact(self):
        return all(isinstance(a, Fraction) for a in self.alpha)

    def weights(self, round_):
        if not 1 <= round_ <= len(self.alpha):
            raise InvalidArgument(
                f"this schedule defines rounds 1..{len(self.alpha)}; round {round_} was asked "
                f"for. Pass generations <= {len(self.alpha)}."
            )
        return self.alpha[round_ - 1], self.beta[round_ - 1]


def _fmt(x: Weight) -> str:
    return str(x) if isinstance(x, Fraction) else f"{x:.12g}"
