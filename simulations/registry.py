"""Simulation models and real data sets, registered once (names, defaults, options they take).

The CLI, ``simulate`` and (later) loop configurations resolve names here. Options:

* models: ``temperature`` and ``self_correct`` (biased / self-corrected sampling)
  apply to the Gaussian-mixture models only (gaussian-mle, kde, gmm), whose laws
  stay explicit densities when transformed (:mod:`simulations.sampling`);
* data: ``dim`` applies to ``gaussian`` and ``mixture``; the others have a fixed
  dimension. The sklearn sets have no density (only density-free metrics).
"""

from __future__ import annotations

import dataclasses

from boundkit.errors import InvalidArgument
from boundkit.registry import Entry, Registry
from simulations.datasets import SOURCES, make_source
from simulations.diffusion import RFDiffusionModel
from simulations.distributions import make_distribution
from simulations.gmm import GMMModel
from simulations.models import GaussianMLEModel, KDEModel
from simulations.score_mlp import MLPDiffusionModel

_SAMPLING = ("temperature", "self_correct")

MODEL_REGISTRY = Registry("model", [
    Entry("gaussian-mle", GaussianMLEModel, _SAMPLING, "Gaussian MLE (E5)"),
    Entry("kde", KDEModel, _SAMPLING, "Gaussian KDE, Silverman bandwidth (E4)"),
    Entry("gmm", GMMModel, _SAMPLING, "Gaussian mixture by EM"),
    Entry("diffusion-rf", RFDiffusionModel, (), "the paper's random-feature score (E2/E3)"),
    Entry("diffusion-mlp", MLPDiffusionModel, (), "MLP score trained with Adam"),
])


def _distribution(name: str):
    def build(dim: int = 1, device="cpu"):
        return make_distribution(name, device=device, dim=dim)
    return build


def _source(name: str):
    def build(device="cpu"):
        return make_source(name, device)
    return build


DATA_REGISTRY = Registry("data set", [
    Entry("gaussian", _distribution("gaussian"), ("dim", "device"), "N(0, I_dim)"),
    Entry("mixture", _distribution("mixture"), ("dim", "device"), "3-component d-D mixture"),
    Entry("ring8", _distribution("ring8"), ("device",), "8 modes on a circle (2-D)"),
    Entry("grid25", _distribution("grid25"), ("device",), "5x5 grid of modes (2-D)"),
    Entry("unequal", _distribution("unequal"), ("device",), "1-D, weights .6/.3/.1"),
    Entry("two-modes", _distribution("two-modes"), ("device",), "1-D, modes at -15 and 15"),
    Entry("laplace", _distribution("laplace"), ("device",), "1-D Laplace mixture"),
    *[Entry(name, _source(name), ("device",), "sklearn, no density") for name in SOURCES],
])


def build_model(name: str, params: dict | None = None):
    """The model ``name`` built with ``params`` (its dataclass fields); unknown ones refused."""
    entry = MODEL_REGISTRY.entry(name, "model")
    params = dict(params or {})
    fields = [f.name for f in dataclasses.fields(entry.build) if f.init and f.name != "name"]
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise InvalidArgument(f"model {name} takes no parameter {unknown[0]!r}; its parameters "
                              f"are {', '.join(fields)}.", argument="model_params")
    return entry.build(**params)


def has_density(name: str) -> bool:
    """True when the data set has an explicit density (TV and KL can be measured)."""
    DATA_REGISTRY.entry(name, "data")
    return name not in SOURCES
