"""simulations: self-consuming loops that really train models (docs/theory.md §1, §5, §6).

Everything takes a ``device`` (CPU by default, CUDA when present) and a seed or
generator. simulations may import boundkit (to overlay bounds); boundkit never
imports it, nor torch.
"""

from simulations._device import make_generator, resolve_device
from simulations.config import LoopConfig
from simulations.distributions import (
    DISTRIBUTIONS,
    Distribution,
    GaussianMixture,
    LaplaceMixture,
    Mixture,
    make_distribution,
)
from simulations.engine import run
from simulations.loop import run_loop, verdicts
from simulations.metrics import (
    Estimate,
    gaussian_tv,
    kl_monte_carlo,
    tv,
    tv_gaussian_1d,
    tv_grid_2d,
    tv_monte_carlo,
    tv_quadrature_1d,
    w2_gaussian,
)
from simulations.models import GaussianMLEModel, KDEModel
from simulations.store import ResultStore
from simulations.sweeps import sweep

__all__ = [
    "DISTRIBUTIONS",
    "Distribution",
    "Estimate",
    "GaussianMLEModel",
    "GaussianMixture",
    "KDEModel",
    "LaplaceMixture",
    "LoopConfig",
    "Mixture",
    "ResultStore",
    "gaussian_tv",
    "kl_monte_carlo",
    "make_distribution",
    "make_generator",
    "resolve_device",
    "run",
    "run_loop",
    "sweep",
    "tv",
    "tv_gaussian_1d",
    "tv_grid_2d",
    "tv_monte_carlo",
    "tv_quadrature_1d",
    "verdicts",
    "w2_gaussian",
]
