"""Distributions with an exact log-density and a sampler, on any device (docs/theory.md §1, §6).

The real distribution p0, the fitted models (a Gaussian MLE is a one-component
mixture, a Gaussian KDE an n-component one) and the training mixtures
π_i = α_i p0 + Σ_k β_{i,k} p_k are all :class:`Distribution` objects, so one set
of metrics serves every model.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np
import torch

from boundkit._checks import check_int
from boundkit.errors import InvalidArgument
from simulations._device import DTYPE, resolve_device

#: Tail mass left outside :meth:`Distribution.support_box`.
TAIL = 1e-13


class Distribution(ABC):
    """A probability distribution on R^d with an exact log-density and a seeded sampler.

    Subclasses implement ``log_prob(x)`` (x of shape (n, d), float64) and
    ``sample(n, generator)``; both run on the distribution's ``device``.

    Attributes
    ----------
    dim : int
        The dimension d.
    device : torch.device
        Where its tensors live.

    References
    ----------
    docs/theory.md §1 (p0 and the models), §6 (explicit densities for TV).
    """

    dim: int
    device: torch.device

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n i.i.d. draws, shape (n, d), float64 on ``self.device``."""

    @abstractmethod
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log-density at x of shape (m, d); returns shape (m,)."""

    @abstractmethod
    def support_box(self, tail: float = TAIL) -> tuple[np.ndarray, np.ndarray]:
        """A box [lo, hi] per coordinate holding all but at most ``tail`` of the mass."""

    def pieces(self, tail: float = TAIL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lo, hi, scale), each (K, d): intervals holding all but ``tail`` of each part's
        mass, and the length scale on which it varies (quadrature resolves that scale).

        The default is one piece, the support box, with scale 1/64 of its width (the
        quadrature then spends its whole budget on it).
        """
        lo, hi = self.support_box(tail)
        return lo[None], hi[None], ((hi - lo) / 64)[None]

    @abstractmethod
    def mean(self) -> torch.Tensor:
        """The mean vector, shape (d,)."""

    @abstractmethod
    def variance(self) -> torch.Tensor:
        """The per-coordinate variance, shape (d,)."""


#: Elements of the (R, chunk, K, d) block a mixture log-density evaluates at once.
BLOCK = 2**23


def mixture_log_prob(x: torch.Tensor, means: torch.Tensor, scales: torch.Tensor,
                     log_weights: torch.Tensor, log_kernel) -> torch.Tensor:
    """log Σ_j w_rj Π_c f((x_c − μ_rjc)/s_rjc)/s_rjc for R mixtures at once.

    x is (R, N, d), means and scales (R, K, d), log_weights (R, K); returns (R, N).
    The one implementation behind every mixture density (single ones use R = 1).
    """
    reps, count, dim = x.shape
    k = means.shape[1]
    chunk = max(1, BLOCK // max(1, reps * k * dim))
    log_norm = torch.log(scales).sum(-1)[:, None, :]  # (R, 1, K)
    out = []
    for start in range(0, count, chunk):
        xb = x[:, start:start + chunk, None, :]
        z = (xb - means[:, None]) / scales[:, None]
        comp = log_kernel(z).sum(-1) - log_norm + log_weights[:, None, :]
        out.append(torch.logsumexp(comp, dim=2))
    return torch.cat(out, dim=1)


def _check_n(n: int) -> int:
    return check_int(n, "n", 1, None, "1000")


def _tensor(values, name: str, device) -> torch.Tensor:
    """Finite float64 tensor from numbers, or InvalidArgument/TypeError naming ``name``."""
    try:
        t = torch.as_tensor(values, dtype=DTYPE, device=device)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise TypeError(f"{name} must be an array of real numbers; got {values!r}.") from None
    if t.numel() == 0:
        raise InvalidArgument(f"{name} is empty. Pass at least one component.", argument=name)
    if not torch.all(torch.isfinite(t)) or torch.any(t.abs() > 1e150):
        raise InvalidArgument(f"{name} must be finite and within 1e150 in magnitude; got "
                              f"{t.flatten()[:4].tolist()}.", argument=name)
    return t


class _ComponentMixture(Distribution):
    """Σ_j w_j Π_c f((x_c − μ_jc)/s_jc)/s_jc for a location-scale kernel f."""

    def __init__(self, means, scales, weights=None, device="cpu"):
        self.device = resolve_device(device)
        m = _tensor(means, "means", self.device)
        if m.ndim == 1:
            m = m[:, None]
        if m.ndim != 2:
            raise InvalidArgument(f"means must have shape (k, d); got {tuple(m.shape)}.",
                                  argument="means")
        k, d = m.shape
        s = _tensor(scales, "scales", self.device)
        if s.ndim <= 1 and s.numel() in (1, k):
            s = s.reshape(-1, 1).expand(k, d)
        w = (torch.full((k,), 1.0 / k, dtype=DTYPE, device=self.device) if weights is None
             else _tensor(weights, "weights", self.device))
        if s.shape != (k, d) or not torch.all(s > 1e-150):
            raise InvalidArgument(f"scales must be > 1e-150 and one per component (or per "
                                  f"component and coordinate); got shape {tuple(s.shape)}, min "
                                  f"{float(s.min()):.3g}.", argument="scales")
        if w.shape != (k,) or torch.any(w < 0) or abs(float(w.sum()) - 1) > 1e-12:
            raise InvalidArgument(f"weights must be {k} non-negative numbers summing to 1; got "
                                  f"{w.tolist()[:6]}. Pass e.g. weights=None for equal weights.",
                                  argument="weights")
        self.means, self.scales, self.weights = m, s.contiguous(), w
        self.dim = d

    @abstractmethod
    def _standard(self, shape, generator) -> torch.Tensor:
        """Standard draws of the kernel (location 0, scale 1)."""

    @abstractmethod
    def _log_kernel(self, z: torch.Tensor) -> torch.Tensor:
        """log f(z) per coordinate for the standard kernel."""

    @abstractmethod
    def _tail_width(self, tail: float) -> float:
        """w with P(|Z| > w) ≤ tail for one standard coordinate."""

    def sample(self, n, generator):
        n = _check_n(n)
        idx = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = self._standard((n, self.dim), generator)
        return self.means[idx] + self.scales[idx] * z

    def log_prob(self, x):
        x = torch.as_tensor(x, dtype=DTYPE, device=self.device).reshape(1, -1, self.dim)
        return mixture_log_prob(x, self.means[None], self.scales[None],
                                torch.log(self.weights)[None], self._log_kernel)[0]

    def support_box(self, tail=TAIL):
        width = self._tail_width(tail / (self.dim * len(self.weights)))
        lo = (self.means - width * self.scales).min(0).values
        hi = (self.means + width * self.scales).max(0).values
        return lo.cpu().numpy(), hi.cpu().numpy()

    def pieces(self, tail=TAIL):
        """Each component's box (all but ``tail`` of its own mass) and its scale."""
        width = self._tail_width(tail / self.dim)
        keep = self.weights > 0
        m, s = self.means[keep].cpu().numpy(), self.scales[keep].cpu().numpy()
        return m - width * s, m + width * s, s

    def mean(self):
        return self.weights @ self.means


class GaussianMixture(_ComponentMixture):
    """Σ_j w_j N(μ_j, diag(s_j²)): one component is a Gaussian, n equal ones a KDE.

    Parameters
    ----------
    means : array_like, shape (k, d)
        The component means μ_j.
    scales : array_like, shape (k, d)
        The per-coordinate standard deviations s_j > 0.
    weights : array_like, shape (k,), optional
        Mixture weights (default equal); they must sum to 1.
    device : str or torch.device
        ``"cpu"`` (default), ``"cuda"`` or ``"auto"``.

    References
    ----------
    docs/theory.md §5 (KDE draws and densities are explicit mixtures).

    Examples
    --------
    >>> import torch
    >>> p = GaussianMixture([[0.0]], [[1.0]])
    >>> round(float(p.log_prob(torch.zeros(1, 1, dtype=torch.float64))[0]), 6)  # -log sqrt(2π)
    -0.918939
    """

    def _standard(self, shape, generator):
        return torch.randn(shape, dtype=DTYPE, device=self.device, generator=generator)

    def _log_kernel(self, z):
        return -0.5 * z * z - 0.5 * math.log(2 * math.pi)

    def _tail_width(self, tail):
        from scipy.special import ndtri

        return float(-ndtri(tail / 2))

    def variance(self):
        second = self.weights @ (self.scales**2 + self.means**2)
        return second - self.mean() ** 2


class LaplaceMixture(_ComponentMixture):
    """Σ_j w_j Π_c Laplace(μ_jc, b_jc): a heavier-tailed family for p0.

    Parameters
    ----------
    means : array_like, shape (k, d)
        The component locations.
    scales : array_like, shape (k, d)
        The Laplace scales b > 0.
    weights : array_like, shape (k,), optional
        Mixture weights (default equal).
    device : str or torch.device
        ``"cpu"`` (default), ``"cuda"`` or ``"auto"``.
    """

    def _standard(self, shape, generator):
        u = torch.rand(shape, dtype=DTYPE, device=self.device, generator=generator) - 0.5
        return -torch.sign(u) * torch.log1p(-2 * u.abs())

    def _log_kernel(self, z):
        return -z.abs() - math.log(2.0)

    def _tail_width(self, tail):
        return math.log(1 / tail)

    def variance(self):
        second = self.weights @ (2 * self.scales**2 + self.means**2)
        return second - self.mean() ** 2


class Mixture(Distribution):
    """Σ_j w_j P_j over arbitrary component distributions: the training law π_i.

    Parameters
    ----------
    components : list of Distribution
        The components (same dimension and device).
    weights : sequence of number
        Non-negative weights summing to 1 (fractions as text allowed).

    References
    ----------
    docs/theory.md §1: π_i = α_i p0 + Σ_k β_{i,k} p_k.
    """

    def __init__(self, components: list[Distribution], weights):
        if not isinstance(components, list | tuple) or not components or not all(
                callable(getattr(c, "sample", None)) for c in components):
            raise InvalidArgument("components must be a non-empty list of distributions (or "
                                  "samplers, for a mixture that is only sampled).",
                                  argument="components")
        self.components = list(components)
        self.device = components[0].device
        self.dim = components[0].dim
        if any(c.dim != self.dim for c in components):
            raise InvalidArgument("all components must live in the same dimension.")
        w = _tensor(weights, "weights", self.device).reshape(-1)
        if w.shape != (len(components),) or torch.any(w < 0) or abs(float(w.sum()) - 1) > 1e-12:
            raise InvalidArgument(f"weights must be {len(components)} non-negative numbers "
                                  f"summing to 1; got {w.tolist()}.", argument="weights")
        self.weights = w

    def _active(self):
        return [(j, c) for j, c in enumerate(self.components) if float(self.weights[j]) > 0]

    def sample(self, n, generator):
        n = _check_n(n)
        idx = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        out = torch.empty((n, self.dim), dtype=DTYPE, device=self.device)
        for j, comp in self._active():
            mask = idx == j
            m = int(mask.sum())
            if m:
                out[mask] = comp.sample(m, generator)
        return out

    def log_prob(self, x):
        terms = [torch.log(self.weights[j]) + c.log_prob(x) for j, c in self._active()]
        return torch.logsumexp(torch.stack(terms), dim=0)

    def support_box(self, tail=TAIL):
        boxes = [c.support_box(tail) for _, c in self._active()]
        return (np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0))

    def pieces(self, tail=TAIL):
        parts = [c.pieces(tail) for _, c in self._active()]
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))

    def mean(self):
        return sum(self.weights[j] * c.mean() for j, c in self._active())

    def variance(self):
        mu = self.mean()
        second = sum(self.weights[j] * (c.variance() + c.mean() ** 2) for j, c in self._active())
        return second - mu**2


def _ring(k: int, radius: float) -> np.ndarray:
    ang = 2 * np.pi * np.arange(k) / k
    return radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)


def make_distribution(name: str, device="cpu", dim: int = 1) -> Distribution:
    """A real distribution p0 by name.

    Parameters
    ----------
    name : str
        ``gaussian`` (N(0, I_dim)), ``mixture`` (weights .5/.3/.2 at 2e_1, −2e_1 and 2e_d,
        std 0.7), ``ring8`` (8 modes on a circle of radius 4, std 0.3), ``grid25`` (5×5
        grid, spacing 2, std 0.2), ``unequal`` (1-D, weights .6/.3/.1), ``two-modes``
        (1-D, ½N(−15, 1) + ½N(15, 1), the far-apart case of Li et al. 2023), ``laplace``
        (1-D mixture of two Laplace components).
    device : str or torch.device
        ``"cpu"`` (default), ``"cuda"`` or ``"auto"``.
    dim : int
        The dimension for ``gaussian`` and ``mixture`` (default 1).

    Returns
    -------
    Distribution

    Raises
    ------
    InvalidArgument
        An unknown name (the message lists the names) or a bad dimension.

    Examples
    --------
    >>> make_distribution("ring8").dim
    2
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a data set name; got {type(name).__name__} {name!r}. "
                        f"Pass e.g. 'gaussian'.")
    dev = resolve_device(device)
    dim = check_int(dim, "dim", 1, 10_000, "2")
    if dim != 1 and name not in ("gaussian", "mixture"):
        raise InvalidArgument(f"dim={dim} applies to data gaussian and mixture only; {name!r} "
                              f"has a fixed dimension. Drop dim.", argument="dim")
    dist = _named(name, dim, dev)
    dist.spec = (name, {"dim": dim} if name in ("gaussian", "mixture") else {})
    return dist


def _named(name: str, dim: int, dev) -> Distribution:
    if name == "gaussian":
        return GaussianMixture(np.zeros((1, dim)), [1.0], device=dev)
    if name == "mixture":
        means = np.zeros((3, dim))
        means[0, 0], means[1, 0], means[2, -1] = 2.0, -2.0, 2.0 if dim > 1 else 0.0
        return GaussianMixture(means, [0.7, 0.7, 0.7], [0.5, 0.3, 0.2], device=dev)
    if name == "ring8":
        return GaussianMixture(_ring(8, 4.0), [0.3] * 8, device=dev)
    if name == "grid25":
        g = np.array([(a, b) for a in range(-2, 3) for b in range(-2, 3)], dtype=float) * 2
        return GaussianMixture(g, [0.2] * 25, device=dev)
    if name == "unequal":
        return GaussianMixture([[-2.0], [0.5], [3.0]], [0.5, 0.7, 0.4], [0.6, 0.3, 0.1],
                               device=dev)
    if name == "two-modes":
        return GaussianMixture([[-15.0], [15.0]], [1.0, 1.0], device=dev)
    if name == "laplace":
        return LaplaceMixture([[-1.0], [2.0]], [0.7, 1.2], [0.5, 0.5], device=dev)
    raise InvalidArgument(
        f"data={name!r} is not known. Pass one of: {', '.join(DISTRIBUTIONS)}."
    )


DISTRIBUTIONS = ("gaussian", "mixture", "ring8", "grid25", "unequal", "two-modes", "laplace")
