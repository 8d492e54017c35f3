"""Per-round error models δ(n) (docs/theory.md §3: E1, E2, E4, E5 and custom).

Each model is a frozen dataclass holding its constants; ``expr`` is δ as a sympy
expression in the sample size ``n``. The TV rate r (δ ≍ n^{-r}) is *derived*
from that expression, ``r = -lim_{n→∞} log δ / log n``, never stored beside it.
E3 (Li et al. 2023 with optimal early stopping) lives in
:mod:`boundkit.early_stopping` beside R7.
"""

from __future__ import annotations

import keyword
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import numpy as np
import sympy as sp
from scipy.optimize import brentq

from boundkit._checks import (
    check_instance,
    check_int,
    check_nonnegative,
    check_positive,
    check_rate,
    to_fraction,
)
from boundkit._formula import CONSTANTS, FUNCTIONS, parse_formula
from boundkit.errors import InvalidArgument

#: The sample-size symbol of every error model.
n = sp.Symbol("n", positive=True)


def _log_fraction(value: Fraction) -> float:
    """log of a positive Fraction of any size (numerator and denominator logged apart)."""
    return math.log(value.numerator) - math.log(value.denominator)


def _q(value: Fraction) -> sp.Rational:
    return sp.Rational(value.numerator, value.denominator)


def derived_rate(expr: sp.Expr) -> sp.Expr:
    """The TV rate r with expr ≍ n^{-r}, derived as a limit.

    Parameters
    ----------
    expr : sympy.Expr
        δ(n) in the symbol ``n``.

    Returns
    -------
    sympy.Expr
        r = −lim_{n→∞} n δ'(n)/δ(n) (or −lim log δ / log n); 0 for a floor.

    Raises
    ------
    InvalidArgument
        When neither limit is finite.

    References
    ----------
    docs/theory.md §3.

    Examples
    --------
    >>> derived_rate(PowerLaw("1/4").expr)
    1/4
    """
    check_instance(expr, sp.Expr, "expr", "PowerLaw('1/4').expr")
    el = _limit_or_none(n * sp.diff(expr, n) / expr)
    if el is None:
        el = _limit_or_none(sp.log(expr) / sp.log(n))
    if el is None:
        raise InvalidArgument(
            f"cannot derive a rate from delta(n) = {expr}: log delta / log n has no finite "
            f"limit as n -> oo. Pass a model whose error behaves like C n^(-r)."
        )
    if el.is_Rational:  # exact already: nsimplify would round 9999999999/10^10 to 1
        return -el
    return sp.nsimplify(-el)


def _limit_or_none(e: sp.Expr) -> sp.Expr | None:
    """lim_{n→∞} e when sympy finds a finite real one; None otherwise (sympy may even raise)."""
    try:
        value = sp.limit(e, n, sp.oo)
    except (TypeError, ValueError, RuntimeError, sp.PoleError):  # sympy gives up with these
        return None
    return value if (value.is_real and value.is_finite) else None


class ErrorModel(ABC):
    """A per-round learning error δ(n) = TV(p_{i+1}, π_i) as a function of the round size.

    Subclasses are frozen dataclasses holding their constants; ``expr`` is δ(n) as a
    sympy expression in ``n``, from which the rate and the floor are derived (never
    stored).

    Attributes
    ----------
    name : str
        The name tables and the CLI use.

    References
    ----------
    docs/theory.md §3 (E1–E5, custom).
    """

    #: Short name used in tables and the CLI.
    name: str = "model"

    @property
    @abstractmethod
    def expr(self) -> sp.Expr:
        """δ as a sympy expression in ``n`` (all constants numeric)."""

    @cached_property
    def rate(self) -> sp.Expr:
        r"""The TV rate :math:`r = -\lim_{n\to\infty} \log\delta(n) / \log n` (docs/theory.md §3).

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
        try:
            arr = np.asarray(sizes, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"sizes must be numbers; got {type(sizes).__name__} {sizes!r}. "
                            f"Pass e.g. n=1000.") from None
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0) or np.any(arr > 1e300):
            raise InvalidArgument(
                f"sample sizes n must be finite, > 0 and <= 1e300; got {sizes!r}. Pass e.g. "
                f"n=1000.", argument="n")
        with np.errstate(all="ignore"):
            out = np.asarray(self._fn(arr), dtype=np.float64) * np.ones_like(arr)
        if not np.all(np.isfinite(out)):
            raise InvalidArgument(f"delta(n) of {self} is not finite in float64 at n={sizes!r}. "
                                  f"Pass sizes where the model is defined.", argument="n")
        return float(out) if out.ndim == 0 else out

    def log_n_for_delta(self, target) -> float | None:
        """log of the n ≥ 1 with δ(n) = target (δ decreasing); 0.0 when n = 1 already
        meets it, None when target ≤ the floor.

        Solved in log n by Brent's method on log δ, so answers far beyond float64
        (n = 10^1000) are still located.
        """
        return self._log_n(check_positive(target, "target"))

    def _log_n(self, target: Fraction) -> float | None:
        """:meth:`log_n_for_delta` for an exact positive target of any size (no range check)."""
        if sp.Rational(target.numerator, target.denominator) <= self.floor:
            return None
        log_t = _log_fraction(target)

        def g(log_n: float) -> float:
            return self._log_delta(log_n) - log_t

        if g(0.0) <= 0:
            return 0.0
        lo, hi = 0.0, 50.0
        while g(hi) > 0:
            lo, hi = hi, hi * 2
            if hi > 1e7:
                raise InvalidArgument(f"target={float(target):g} needs n > 10^(4e6) under "
                                      f"{self}. Pass a larger target.", argument="eps")
        return brentq(g, lo, hi, xtol=1e-13, rtol=1e-15)

    def _log_delta(self, log_n: float) -> float:
        """log δ(e^{log_n}), evaluated so that n beyond float64 still works."""
        if log_n < 690:
            value = float(self.delta(math.exp(log_n)))
            if value > 1e-290:  # else it underflows (e.g. exp(-n)): size it with sympy
                return math.log(value)
        value = self.expr.subs(n, sp.exp(sp.Float(log_n, 30))).evalf(30)
        if value == 0:
            return -1e300  # below every target a float64 can hold
        return float(sp.log(value).evalf(30))

    def n_for_delta(self, target) -> float | None:
        """Smallest n with δ(n) ≤ target, or None when target ≤ the floor (unreachable)."""
        log_n = self.log_n_for_delta(target)
        if log_n is None:
            return None
        if log_n > 690:
            raise InvalidArgument(f"target={target} needs n = 10^{log_n / math.log(10):.0f} under "
                                  f"{self}, beyond float64. Use samples_required for the exact "
                                  f"integer, or a larger target.", argument="target")
        return math.exp(log_n)

    def latex(self) -> str:
        r"""LaTeX of :math:`\delta(n)`."""
        return rf"\delta(n) = {sp.latex(self.expr)}"

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"


@dataclass(frozen=True)
class PowerLaw(ErrorModel):
    r"""E1 power law :math:`\delta(n) = C n^{-r} + C_0` (docs/theory.md §3, E1).

    Parameters
    ----------
    r : rate in (0, 1); fractions such as ``"1/4"`` stay exact.
    const : C > 0.
    floor_const : C0 >= 0, the error that does not shrink with n (width, approximation,
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

    def _log_n(self, target: Fraction) -> float | None:
        r"""Closed form :math:`\log n = \log(C/(\text{target} - C_0))/r` (E1 inverted)."""
        gap = target - self.floor_const
        if gap <= 0:
            return None
        return (_log_fraction(self.const) - _log_fraction(gap)) / float(self.r)


@dataclass(frozen=True)
class Fu2024Diffusion(ErrorModel):
    r"""E2, the paper's reading of diffusion (preset ``fu2024``; docs/theory.md §3, E2).

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
    r"""E4 kernel density estimation (docs/theory.md §3, E4).

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
        object.__setattr__(self, "s", check_int(self.s, "s", 1, 20, "2"))
        object.__setattr__(self, "d", check_int(self.d, "d", 1, 1000, "1"))
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
    """E5: Gaussian maximum likelihood, δ = C n^{-1/2}.

    Parameters
    ----------
    const : number
        C > 0 (default 1).

    References
    ----------
    docs/theory.md §3, E5.

    Examples
    --------
    >>> GaussianMLE().rate
    1/2
    """

    const: Fraction = Fraction(1)
    name: str = field(default="gaussian-mle", init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "const", check_positive(self.const, "const"))

    @property
    def expr(self) -> sp.Expr:
        return _q(self.const) / sp.sqrt(n)


@dataclass(frozen=True)
class Custom(ErrorModel):
    """Any sympy expression in ``n`` (docs/theory.md §3, "Custom").

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
        if params is not None and not isinstance(params, dict):
            raise TypeError(f"params must be a dict of symbol names to numbers; got "
                            f"{type(params).__name__} {params!r}. Pass e.g. params={{'C': 2}}.")
        for key in params or {}:
            if not (isinstance(key, str) and key.isidentifier() and key.isascii()
                    and "__" not in key and not keyword.iskeyword(key) and key != "n"
                    and key not in FUNCTIONS and key not in CONSTANTS):
                raise InvalidArgument(
                    f"params key {str(key)[:40]!r} is not a symbol name a formula may use: "
                    f"names are plain identifiers (letters, digits, single underscores), not "
                    f"n, a keyword or a function name. Pass e.g. params={{'C': 2}}.",
                    argument="params")
        object.__setattr__(self, "params", tuple(sorted((params or {}).items(), key=str)))
        _ = self.expr  # validate now, before any work

    @cached_property
    def expr(self) -> sp.Expr:  # type: ignore[override]
        if not isinstance(self.params, tuple) or not all(
                isinstance(k, str) for k, _ in self.params):
            raise TypeError("params must be a dict of symbol names to numbers, e.g. {'C': 2}.")
        values = {k: sp.Rational(*to_fraction(v, k).as_integer_ratio()) for k, v in self.params}
        e = parse_formula(self.formula, {"n": n}, set(values), "formula")
        e = e.subs({s: values[s.name] for s in e.free_symbols if s.name in values})
        extra = sorted(str(s) for s in e.free_symbols if s.name != "n")
        if extra:
            raise InvalidArgument(
                f"formula {self.formula!r} has symbols {extra} with no value. Pass them in "
                f"params, e.g. params={{{extra[0]!r}: 1}}.", argument="params")
        if n not in e.free_symbols:
            raise InvalidArgument(
                f"formula={self.formula!r} does not depend on n. An error model must be a "
                f"function of the sample size n, e.g. '2*n**(-1/4)'.", argument="formula")
        fn = sp.lambdify(n, e, modules="math")
        values = []
        for size in (1, 10, 10**3, 10**6):  # float64 evaluation: never a huge exact power
            try:
                value = complex(fn(float(size)))
            except (OverflowError, ZeroDivisionError, ValueError, TypeError):
                value = complex(math.nan)
            if not (value.imag == 0 and math.isfinite(value.real) and value.real >= 0):
                raise InvalidArgument(
                    f"formula={self.formula!r} is not a finite non-negative real error in "
                    f"float64 at n={size} (it gives {_shown(value)}). "
                    f"Pass a formula with 0 <= delta(n) < 1e308 for every n >= 1.",
                    argument="formula")
            values.append(value.real)
        if values[-1] > values[-2] * (1 + 1e-12):  # growing over large n: 10^3 to 10^6
            raise InvalidArgument(
                f"formula={self.formula!r} grows with n (delta(10^3) = {values[-2]:.4g}, "
                f"delta(10^6) = {values[-1]:.4g}): an error model must not get worse with more "
                f"data. Check the sign of the exponent, e.g. 'C*n**(-r)' with r > 0.",
                argument="formula")
        return e


def _shown(value: complex) -> str:
    """A formula's value as a refusal shows it."""
    if value.imag != 0:
        return f"the complex number {value}"
    if not math.isfinite(value.real):
        return "a value that overflows float64 or is undefined"
    return f"{value.real:.4g}"
