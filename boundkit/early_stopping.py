"""E3 and R7: diffusion with the Li et al. (2023) bound and optimal early stopping.

docs/theory.md §3 (E3) and §4 (R7). Li, Yuan, Wang, Ma (NeurIPS 2023), Theorem 1,
in the verified form

.. math::
    \\mathrm{KL}(\\tau, m, n) \\lesssim \\frac{\\tau^4}{m n} + \\frac{\\tau^3}{m^2}
        + \\frac{1}{\\tau} + \\frac{1}{m} + L_\\star + \\kappa_T,

τ the gradient-flow training time, m the width, L⋆ the optimal-loss terms and
κ_T = KL(p_T ‖ N(0, I)). The exact stopping time τ* solves
4 m τ⁵ + 3 n τ⁴ = m² n (with m = n: 4τ⁵ + 3τ⁴ = n², no closed form); the
dominant balance τ⁴/(mn) against 1/τ gives τ* = (mn/4)^{1/5} and, with m ∝ n,
KL ∝ n^{-2/5}, δ ≍ n^{-1/5}: *quintic*, not quartic, sample growth **(beyond)**.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import sympy as sp
from scipy.optimize import brentq

from boundkit._checks import check_nonnegative, check_positive
from boundkit.error_models import ErrorModel, _q, derived_rate, n
from boundkit.errors import InvalidArgument

tau = sp.Symbol("tau", positive=True)
m = sp.Symbol("m", positive=True)


def kl_bound(tau_: sp.Expr, m_: sp.Expr, n_: sp.Expr, extra: sp.Expr = 0) -> sp.Expr:
    """The E3 KL bound τ⁴/(mn) + τ³/m² + 1/τ + 1/m + extra (docs/theory.md §3, E3)."""
    return tau_**4 / (m_ * n_) + tau_**3 / m_**2 + 1 / tau_ + 1 / m_ + extra


def _size(value, name: str) -> Fraction:
    """A sample size or width in [1, 1e300]."""
    q = check_positive(value, name, "1000")
    if q < 1:
        raise InvalidArgument(f"{name} must be >= 1 (a sample size or a width); got {value}. "
                              f"Pass e.g. {name}=1000.", argument=name)
    return q


def tau_star_dominant() -> sp.Expr:
    """R7's dominant balance: the τ that minimises τ⁴/(mn) + 1/τ, solved by sympy.

    Returns
    -------
    sympy.Expr
        (mn/4)^{1/5} in the symbols m and n: τ* ∝ n^{2/5} when m ∝ n.

    References
    ----------
    docs/theory.md §3 (E3), §4 (R7).

    Examples
    --------
    >>> tau_star_dominant()
    2**(3/5)*m**(1/5)*n**(1/5)/2
    """
    (root,) = sp.solve(sp.diff(tau**4 / (m * n) + 1 / tau, tau), tau)
    return sp.simplify(root)


def stationarity_poly(n_: sp.Expr, m_: sp.Expr) -> sp.Expr:
    """m² n τ² · dKL/dτ = 4 m τ⁵ + 3 n τ⁴ − m² n (R7); its unique positive root is τ*."""
    return sp.expand(sp.diff(kl_bound(tau, m_, n_), tau) * m_**2 * n_ * tau**2)


def tau_star_exact(n_value: int, m_value: int) -> sp.Expr:
    """The exact optimal stopping time τ*(n, m) as an algebraic number.

    Parameters
    ----------
    n_value, m_value : int
        The sample size n and the width m (positive integers).

    Returns
    -------
    sympy.Expr
        The unique positive root of 4mτ⁵ + 3nτ⁴ − m²n (a ``CRootOf``).

    Notes
    -----
    m²nτ² · dKL/dτ = 4mτ⁵ + 3nτ⁴ − m²n has one sign change, so exactly one positive root
    (Descartes); it is the largest real root.

    References
    ----------
    docs/theory.md §4, R7.

    Examples
    --------
    >>> tau_star_exact(10, 10)
    CRootOf(4*tau**5 + 3*tau**4 - 100, 0)
    """
    nv, mv = _size(n_value, "n"), _size(m_value, "m")
    poly = sp.Poly(stationarity_poly(_q(nv), _q(mv)), tau)
    return sp.CRootOf(poly, poly.count_roots() - 1)


def tau_star(n_value: float, m_value: float) -> float:
    """The optimal stopping time τ*(n, m) in float64.

    Parameters
    ----------
    n_value, m_value : float
        The sample size n and the width m (> 0, up to 1e300).

    Returns
    -------
    float
        The positive root of 4mτ⁵ + 3nτ⁴ = m²n, by Brent's method in log τ.

    References
    ----------
    docs/theory.md §4, R7.

    Examples
    --------
    >>> round(tau_star(1000, 1000), 6)
    11.864899
    """
    nv, mv = float(_size(n_value, "n")), float(_size(m_value, "m"))
    log_mn = math.log(mv) + math.log(nv)

    def g(log_t: float) -> float:  # (4mτ⁵ + 3nτ⁴)/(m²n) − 1, increasing in τ
        return (math.exp(5 * log_t + math.log(4) - log_mn)
                + math.exp(4 * log_t + math.log(3) - 2 * math.log(mv)) - 1)

    # each term alone reaching 1 bounds τ* above; each reaching 1/2 bounds it below
    hi = min((log_mn - math.log(4)) / 5, (2 * math.log(mv) - math.log(3)) / 4)
    lo = min((log_mn - math.log(8)) / 5, (2 * math.log(mv) - math.log(6)) / 4)
    return math.exp(brentq(g, lo, hi, xtol=1e-15, rtol=1e-15))


@dataclass(frozen=True)
class LiDiffusion(ErrorModel):
    r"""E3 diffusion error with optimal early stopping (docs/theory.md §3 E3, R7).

    .. math::
        \delta(n) = \sqrt{\mathrm{KL}(\tau^*(n), m(n), n) / 2},\qquad
        \tau^* = (m n / 4)^{1/5}

    ``expr`` uses the dominant-balance τ*, so it upper-bounds the KL at the exact
    optimum (:meth:`delta_optimal`); the two agree to leading order.

    Parameters
    ----------
    width_factor : m = width_factor · n (default 1). docs/theory.md's regime is m ∝ n; a
        fixed width would break the dominant balance (τ³/m² then grows with n), so
        it is not offered.
    loss_floor : the optimal-loss terms L⋆ (default 0).
    prior_kl : κ_T = KL(p_T ‖ N(0, I)) (default 0).
    """

    width_factor: Fraction = Fraction(1)
    loss_floor: Fraction = Fraction(0)
    prior_kl: Fraction = Fraction(0)
    name: str = field(default="li2023", init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "width_factor", check_positive(self.width_factor, "width_factor"))
        object.__setattr__(self, "loss_floor", check_nonnegative(self.loss_floor, "loss_floor"))
        object.__setattr__(self, "prior_kl", check_nonnegative(self.prior_kl, "prior_kl"))

    def width_expr(self) -> sp.Expr:
        """m as a function of n."""
        return _q(self.width_factor) * n

    @cached_property
    def kl_expr(self) -> sp.Expr:
        """KL at the dominant-balance τ*, as a sympy expression in n."""
        m_n = self.width_expr()
        t_star = tau_star_dominant().subs(m, m_n)
        extra = _q(self.loss_floor) + _q(self.prior_kl)
        return kl_bound(t_star, m_n, n, extra)

    @cached_property
    def kl_rate(self) -> sp.Expr:
        """The KL rate, −lim log KL / log n (2/5 when m ∝ n)."""
        return derived_rate(self.kl_expr)

    @property
    def expr(self) -> sp.Expr:
        return sp.sqrt(self.kl_expr / 2)

    def delta_optimal(self, n_value: float) -> float:
        """δ at the exact optimal stopping time τ*(n, m(n)) (float64)."""
        nv = float(_size(n_value, "n"))
        mv = max(1.0, float(self.width_expr().subs(n, nv)))
        t = tau_star(nv, mv)
        extra = float(self.loss_floor + self.prior_kl)
        kl = t**4 / (mv * nv) + t**3 / mv**2 + 1 / t + 1 / mv + extra
        return math.sqrt(kl / 2)
