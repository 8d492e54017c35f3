"""boundkit: bounds for self-consuming generative models (Fu et al., ICML 2024).

Convention everywhere: round i trains on π_i and produces p_{i+1}; **generation i**
is that model p_{i+1} (generation 0 is trained on real data only). The
mathematics and its result numbers (R1–R7, E1–E5) are in docs/theory.md.

Importing boundkit never imports torch.
"""

from boundkit.early_stopping import LiDiffusion, tau_star, tau_star_dominant, tau_star_exact
from boundkit.error_models import (
    KDE,
    Custom,
    ErrorModel,
    Fu2024Diffusion,
    GaussianMLE,
    PowerLaw,
    derived_rate,
)
from boundkit.errors import InvalidArgument, NotCertified
from boundkit.gaussian_moments import gaussian_moments
from boundkit.growth import (
    GenerationLimit,
    GrowthRow,
    growth_exponent,
    growth_rows,
    kl_per_round,
    max_generation,
    samples_required,
)
from boundkit.linear_response import (
    Response,
    folded_normal_mean,
    linear_response,
    linear_response_expr,
)
from boundkit.phase import (
    Enclosure,
    PhasePoint,
    asymptotic_slope,
    asymptotic_slope_expr,
    critical_poly,
    critical_x_exact,
    lambda_critical,
    lambda_critical_certified,
    lambda_critical_exact,
    phase_transition,
    risk,
    risk_expr,
)
from boundkit.recursion import bound_exact, bound_expr, bound_symbolic, bound_values, bounds
from boundkit.registry import ERROR_MODEL_REGISTRY, SCHEDULE_REGISTRY, SCHEDULES, make_schedule
from boundkit.rescue import rescue_share, rescue_share_for_eps
from boundkit.schedules import (
    Balanced,
    ConstantRealShare,
    FinalRoundRescue,
    FixedRatio,
    FullSynthetic,
    GeneralSchedule,
    Schedule,
)

__version__ = "0.1.0"

#: Submodules reachable as attributes (``bk.tables``) and imported only when first used,
#: so that ``import boundkit`` stays light (PEP 562).
SUBMODULES = ("early_stopping", "error_models", "errors", "gaussian_moments", "growth", "latex",
              "linear_response", "phase", "phase_fixed", "phase_floor", "recursion", "registry",
              "rescue", "schedules", "strategies", "tables")


def __getattr__(name: str):
    if name in SUBMODULES:
        import importlib

        return importlib.import_module(f"boundkit.{name}")
    raise AttributeError(f"module 'boundkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *SUBMODULES])

__all__ = [
    "ERROR_MODEL_REGISTRY",
    "KDE",
    "SCHEDULES",
    "SCHEDULE_REGISTRY",
    "Balanced",
    "ConstantRealShare",
    "Custom",
    "Enclosure",
    "ErrorModel",
    "FinalRoundRescue",
    "FixedRatio",
    "Fu2024Diffusion",
    "FullSynthetic",
    "GaussianMLE",
    "GeneralSchedule",
    "GenerationLimit",
    "GrowthRow",
    "InvalidArgument",
    "LiDiffusion",
    "NotCertified",
    "PhasePoint",
    "PowerLaw",
    "Response",
    "Schedule",
    "asymptotic_slope",
    "asymptotic_slope_expr",
    "bound_exact",
    "bound_expr",
    "bound_symbolic",
    "bound_values",
    "bounds",
    "critical_poly",
    "critical_x_exact",
    "derived_rate",
    "folded_normal_mean",
    "gaussian_moments",
    "growth_exponent",
    "growth_rows",
    "kl_per_round",
    "lambda_critical",
    "lambda_critical_certified",
    "lambda_critical_exact",
    "linear_response",
    "linear_response_expr",
    "make_schedule",
    "max_generation",
    "phase_transition",
    "rescue_share",
    "rescue_share_for_eps",
    "risk",
    "risk_expr",
    "samples_required",
    "tau_star",
    "tau_star_dominant",
    "tau_star_exact",
]
