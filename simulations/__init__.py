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

#: Submodules reachable as attributes (``simulations.report``), imported on first use.
SUBMODULES = ("batched", "cli", "config", "datasets", "diffusion", "distributions", "engine",
              "gmm", "grid", "laws", "loop", "measure", "metrics", "models", "montecarlo",
              "pf_ode", "quadrature", "registry", "rf_exact", "report", "sampling", "score_mlp",
              "store", "streams", "sweeps", "verify")


def __getattr__(name: str):
    if name in SUBMODULES:
        import importlib

        return importlib.import_module(f"simulations.{name}")
    raise AttributeError(f"module 'simulations' has no attribute {name!r}")
