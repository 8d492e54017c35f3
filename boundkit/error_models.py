"""Per-round error models δ(n) (THEORY.md §3: E1, E2, E4, E5 and custom).

Each model is a frozen dataclass holding its constants; ``expr`` is δ as a sympy
expression in the sample size ``n``. The TV rate r (δ ≍ n^{-r}) is *derived*
from that expression, ``r = -lim_{n→∞} log δ / log n``, never stored beside it.
E3 (Li et al. 2023 with optimal early stopping) lives in
:mod:`boundkit.early_stopping` beside R7.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import numpy as np
import sympy as sp
from scipy.optimize import brentq

from boundkit._checks import check_nonnegative, check_positive, check_rate, to_fraction

#: The sample-size symbol of every error model.
n = sp.Symbol("n", positive=True)


def _q(value: Fraction) -> sp.Rational:
    return sp.Rational(value.numerator, value.denominator)


def derived_rate(expr: sp.Expr) -> sp.Expr:
    r"""The exponent r with expr ≍ n^{-r}: :math:`-\lim_{n\to\infty} \log e / \log n`."""
    el = _limit_or_none(n * sp.diff(expr, n) / expr)
    if el is None:
        el = _limit_or_none(sp.log(expr) / sp.log(n))
    if el is None:
        raise ValueError(
            f"cannot derive a rate from delta(n) = {expr}: log delta / log n has no finite "
            f"limit as n -> oo. Pass a model whose error behaves like C n^(-r)."
        )
    return sp.nsimplify(-el)


def _limit_or_none(e: sp.Expr) -> sp.Expr | None:
    """lim_{n→∞} e when sympy finds a finite real one; None otherwise (sympy may even raise)."""
    try:
        value = sp.limit(e, n, sp.oo)
    except (TypeError, ValueError, RuntimeError, sp.PoleError):  # sympy gives up with these
        return None
    return value if (value.is_real and value.is_finite) else None


class ErrorModel(ABC):
    """A per-round learning error δ(n) = TV(p_{i+1}, π_i) as a function of n_i."""

    #: Short name used in tables and the CLI.
    name: str = "model"

    @property
    @abstractmethod
    def expr(self) -> sp.Expr:
        """δ as a sympy expression in ``n`` (all constants numeric)."""

    @cached_property
    def rate(self) -> sp.Expr:
        r"""The TV rate :math:`r = -\lim_{n\to\infty} \log\delta(n) / \log n` (THEORY.md §3).

        Zero when δ has a floor that does not shrink with n. Computed as the limit of
        the elasticity, :math:`-\lim n\,\delta'(n)/\delta(n)` (L'Hôpital; much faster
        in sympy), falling back to the limit of the log ratio when that one fails.
        """
        return derived_rate(self.expr)

    @cached_property
    def floor(self) -> sp.Expr:
        r"""The irreducible error :math:`\lim_{n\to\infty} \delta(n)`."""
        return sp.limit(self.expr, n, sp.oo)

    @cached_property
    def _fn(self):
        return sp.lambdify(n, self.expr, modules="numpy")

    def delta(self, sizes) -> np.ndarray | float:
        """Evaluate δ(n) in float64 at one size or an array of sizes (each > 0)."""
        arr = np.asarray(sizes, dtype=np.float64)
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ValueError(
                f"sample sizes n must be finite and > 0; got {sizes!r}. Pass e.g. n=1000."
            )
        out = np.asarray(self._fn(arr), dtype=np.float64) * np.ones_like(arr)
        return float(out) if out.ndim == 0 else out

    def n_for_delta(self, target: float) -> float | None:
        """Smallest n with δ(n) ≤ target, or None when target ≤ the floor (unreachable).

        Solved in log n by Brent's method on the decreasing function log δ.
        """
        target = float(check_positive(target, "target"))
        if target <= float(self.floor):
            return None

        def g(log_n: float) -> float:
            return math.log(float(self.delta(math.exp(log_n)))) - math.log(target)

        lo, hi = -50.0, 50.0
        while g(lo) < 0:
            lo -= 50.0
            if lo < -700:
                return math.exp(lo)
        while g(hi) > 0:
            hi *= 2
            if hi > 700:
                raise ValueError(
                    f"target={target} needs n > 1e304 under {self}; the answer does not fit "
                    f"in float64. Use a larger target or the exact power-law route."
                )
        return math.exp(brentq(g, lo, hi, xtol=1e-14, rtol=1e-15))

    def latex(self) -> str:
        r"""LaTeX of :math:`\delta(n)`."""
        return rf"\delta(n) = {sp.latex(self.expr)}"

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"


@dataclass(frozen=True)
class PowerLaw(ErrorModel):
    r"""E1 power law :math:`\delta(n) = C n^{-r} + C_0` (THEORY.md §3, E1).

    Parameters
    ----------
    r : rate in (0, 1); fractions such as ``"1/4"`` stay exact.
    const : C > 0.
    floor : C0 >= 0, the error that does not shrink with n (width, approximation,
        diffusion-time terms). With C0 > 0 the derived :attr:`rate` is 0.
    """

    r: Fraction = Fraction(1, 4)
    const: Fraction = Fraction(1)
    floor_const: Fraction = Fraction(0)
    name: str = field(default="power-law", init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "r", check_rate(self.r, "r"))
        object.__setattr__(self, "const", check_positive(self.const, "const"))
        object.__setattr__(self, "floor_const", check_nonnegative(self.floor_const, "floor"))

    @property
    def expr(self) -> sp.Expr:
        return _q(self.const) * n ** (-_q(self.r)) + _q(self.floor_const)

    def n_for_delta(self, target: float) -> float | None:
        r"""Closed form :math:`n = (C/(\text{target} - C_0))^{1/r}` (E1 inverted)."""
        target = float(check_positive(target, "target"))
        gap = target - float(self.floor_const)
        if gap <= 0:
            return None
        log_n = math.log(float(self.const) / gap) / float(self.r)
        if log_n > 709:
            raise ValueError(
                f"target={target} needs n = 10^{log_n / math.log(10):.0f} under {self}, beyond "
                f"float64. Use samples_required for the exact integer, or a larger target."
            )
        return math.exp(log_n)


@dataclass(frozen=True)
class Fu2024Diffusion(ErrorModel):
    r"""E2, the paper's reading of diffusion (preset ``fu2024``; THEORY.md §3, E2).

    .. math::
        \mathrm{KL}(\pi_i \| p_{i+1}) \le K n^{-1/2} + \kappa_T,
        \qquad \delta = \sqrt{\mathrm{KL}/2} \asymp n^{-1/4}

    Parameters
    ----------
    K : the constant of the n^{-1/2} KL term.
    prior_kl : κ_T = KL(p_{i,T} ‖ N(0, I)); the paper takes it O(ε²/i²), default 0.
    """

    K: Fraction = Fraction(1)
    prior_kl: Fraction = Fraction(0)
    name: str = field(default="fu2024", init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "K", check_positive(self.K, "K"))
        object.__setattr__(self, "prior_kl", check_nonnegative(self.prior_kl, "prior_kl"))

    @property
    def kl_expr(self) -> sp.Expr:
        """The KL bound K n^{-1/2} + κ_T."""
        return _q(self.K) / sp.sqrt(n) + _q(self.prior_kl)

    @property
    def expr(self) -> sp.Expr:
        return sp.sqrt(self.kl_expr / 2)


@dataclass(frozen=True)
class KDE(ErrorModel):
    r"""E4 kernel density estimation (THEORY.md §3, E4).

    .. math::
        \mathbb{E}\,\mathrm{TV} \le c_b h^s + c_v (n h^d)^{-1/2},\qquad
        h^* = \Big(\frac{d\,c_v}{2 s\,c_b}\Big)^{2/(2s+d)} n^{-1/(2s+d)},\qquad
        r = \frac{s}{2s+d}

    Parameters
    ----------
    s : kernel order (density in W^{s,1}(R^d)), integer >= 1.
    d : dimension, integer >= 1.
    c_b, c_v : bias and variance constants.
    h : a fixed bandwidth; ``None`` (default) uses the optimal h*(n), solved
        symbolically (:attr:`h_star`). A fixed h leaves the bias c_b h^s as a floor.
    """

    s: int = 2
    d: int = 1
    c_b: Fraction = Fraction(1)
    c_v: Fraction = Fraction(1)
    h: Fraction | None = None
    name: str = field(default="kde", init=False, repr=False, compare=False)

    def __post_init__(self):
        for key in ("s", "d"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{key} must be an integer >= 1; got {v!r}. Pass e.g. {key}=2.")
        object.__setattr__(self, "c_b", check_positive(self.c_b, "c_b"))
        object.__setattr__(self, "c_v", check_positive(self.c_v, "c_v"))
        if self.h is not None:
            object.__setattr__(self, "h", check_positive(self.h, "h", "0.1"))

    def risk(self, h: sp.Expr) -> sp.Expr:
        """The bias-variance bound c_b h^s + c_v (n h^d)^{-1/2} at bandwidth h."""
        return _q(self.c_b) * h**self.s + _q(self.c_v) / sp.sqrt(n * h**self.d)

    @cached_property
    def h_star(self) -> sp.Expr:
        """The risk-minimising bandwidth, from sympy's solve of d risk / dh = 0."""
        hs = sp.Symbol("h", positive=True)
        # Clear the denominators first: s c_b h^{s+d/2} - (d/2) c_v n^{-1/2} = 0
        # (sympy solves this in milliseconds, the raw derivative in ~20 s).
        cleared = sp.diff(self.risk(hs), hs) * hs ** (sp.Rational(self.d, 2) + 1) * sp.sqrt(n)
        # That is linear in P = h^{s+d/2}: solve for P, then h* = P^{2/(2s+d)}.
        power = sp.Rational(2 * self.s + self.d, 2)
        P = sp.Symbol("P", positive=True)
        stationary = sp.powsimp(sp.expand(cleared), force=True).subs(hs**power, P)
        (root,) = sp.solve(stationary, P)  # linear in P: exactly one root
        return sp.simplify(sp.powsimp(root ** (1 / power), force=True))

    @property
    def expr(self) -> sp.Expr:
        h = self.h_star if self.h is None else _q(self.h)
        return self.risk(h)


@dataclass(frozen=True)
class GaussianMLE(ErrorModel):
    r"""E5 Gaussian maximum likelihood, :math:`\delta = C n^{-1/2}` (THEORY.md §3, E5)."""

    const: Fraction = Fraction(1)
    name: str = field(default="gaussian-mle", init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "const", check_positive(self.const, "const"))

    @property
    def expr(self) -> sp.Expr:
        return _q(self.const) / sp.sqrt(n)


@dataclass(frozen=True)
class Custom(ErrorModel):
    """Any sympy expression in ``n`` (THEORY.md §3, "Custom").

    Parameters
    ----------
    formula : a sympy expression or a string such as ``"3*n**(-1/3) + 1/100"``.
    params : values for any other symbols, e.g. ``{"C": 2}``.
    """

    formula: str | sp.Expr = "n**(-1/4)"
    params: tuple[tuple[str, object], ...] = ()
    name: str = field(default="custom", init=False, repr=False, compare=False)

    def __init__(self, formula: str | sp.Expr, params: dict | None = None):
        object.__setattr__(self, "formula", formula)
        object.__setattr__(self, "params", tuple(sorted((params or {}).items())))
        _ = self.expr  # validate now, before any work

    @cached_property
    def expr(self) -> sp.Expr:  # type: ignore[override]
        try:
            e = sp.sympify(self.formula, locals={"n": n}, rational=True)
        except (sp.SympifyError, SyntaxError, TypeError) as exc:
            raise ValueError(
                f"formula={self.formula!r} is not a sympy expression ({exc}). "
                f"Pass e.g. formula='2*n**(-1/4)'."
            ) from None
        values = {k: _q(to_fraction(v, k)) for k, v in self.params}
        e = sp.sympify(e).subs({s: values[s.name] for s in e.free_symbols if s.name in values})
        extra = sorted(str(s) for s in e.free_symbols if s.name != "n")
        if extra:
            raise ValueError(
                f"formula {self.formula!r} has symbols {extra} with no value. Pass them in "
                f"params, e.g. params={{{extra[0]!r}: 1}}."
            )
        if n not in e.free_symbols:
            raise ValueError(
                f"formula={self.formula!r} does not depend on n. An error model must be a "
                f"function of the sample size n, e.g. '2*n**(-1/4)'."
            )
        return e
