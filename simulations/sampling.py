"""How synthetic data is drawn from a fitted model: plain, biased or self-corrected.

Both variants keep π_i an explicit density, so every metric stays exact:

* ``temperature`` T (MAD-style biased sampling): each Gaussian component's variance is
  multiplied by T (T < 1 sharpens, as in low-temperature sampling). For a single
  Gaussian this is exactly p^{1/T} normalised.
* ``self_correct`` γ ∈ [0, 1] (after Gillman et al. 2024): each synthetic point moves
  toward p0 by the affine map x ↦ (1−γ) x + γ (μ0 + (σ0/σ) (x − μ)), which matches the
  model's first two moments to p0's (γ = 1) or part of the way.

Both act on :class:`~simulations.distributions.GaussianMixture` models (Gaussian MLE,
KDE, GMM); other models are refused with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass

from boundkit._checks import to_float
from boundkit.errors import InvalidArgument
from simulations.distributions import Distribution, GaussianMixture


@dataclass(frozen=True)
class SyntheticSampling:
    """The transformation applied to each fitted model before it feeds later rounds."""

    temperature: float = 1.0
    self_correct: float = 0.0

    def __post_init__(self):
        t = to_float(self.temperature, "temperature")
        if not 0 < t <= 1e100:
            raise InvalidArgument(f"temperature must lie in (0, 1e100]; got {self.temperature}. "
                                  f"Pass e.g. 0.8.", argument="temperature")
        g = to_float(self.self_correct, "self_correct")
        if not 0 <= g <= 1:
            raise InvalidArgument(f"self_correct must lie in [0, 1]; got {self.self_correct}. "
                                  f"Pass e.g. 0.5.", argument="self_correct")
        object.__setattr__(self, "temperature", t)
        object.__setattr__(self, "self_correct", g)

    @property
    def is_plain(self) -> bool:
        """True when synthetic data are drawn from the model as it is."""
        return self.temperature == 1.0 and self.self_correct == 0.0

    def apply(self, model: Distribution, p0) -> Distribution:
        """The distribution the synthetic data are actually drawn from (R = 1 of
        :meth:`simulations.laws.BatchedMixture.transformed`)."""
        if self.is_plain:
            return model
        if not isinstance(model, GaussianMixture):
            raise InvalidArgument(
                f"biased or self-corrected sampling needs a Gaussian-mixture model "
                f"(gaussian-mle, kde, gmm); got {type(model).__name__}.", argument="sampling")
        from simulations.laws import BatchedMixture

        law = BatchedMixture(model.means[None], model.scales[None], model.weights[None])
        out = law.transformed(self.temperature, self.self_correct,
                              p0.mean().reshape(1, 1, -1), p0.variance().sqrt().reshape(1, 1, -1))
        return out.replicate(0)
