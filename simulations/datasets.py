"""Real data without a density: sklearn's bundled toys and digits (no downloads).

For these p0 the loop records only the metrics that need no density of p0:
k-NN precision/recall, moments and the model's NLL on held-out real data.

* ``moons``, ``circles`` (2-D, noise 0.05), ``swiss-roll`` (2-D: the (x, z) plane of
  sklearn's 3-D roll, noise 0.2): fresh draws from sklearn's generators.
* ``digits``: the 1,797 bundled 8×8 images as 64-d vectors scaled to [0, 1], drawn
  with replacement (the empirical distribution).
"""

from __future__ import annotations

import numpy as np
import torch

from boundkit.errors import InvalidArgument
from simulations._device import DTYPE, resolve_device


class DataSource:
    """A sampler with no density: ``sample(n, generator)`` on ``device``."""

    def __init__(self, name: str, dim: int, draw, device="cpu"):
        self.name, self.dim, self._draw = name, dim, draw
        self.device = resolve_device(device)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidArgument(f"n must be an integer >= 1; got {n!r}. Pass e.g. n=1000.")
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator, device=self.device))
        x = self._draw(n, np.random.RandomState(seed))
        return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=DTYPE, device=self.device)

    def mean(self) -> torch.Tensor:
        """The mean, from 100,000 draws with a fixed seed."""
        return self._reference().mean(0)

    def variance(self) -> torch.Tensor:
        """The per-coordinate variance, from 100,000 draws with a fixed seed."""
        return self._reference().var(0)

    def _reference(self) -> torch.Tensor:
        gen = torch.Generator(device=self.device).manual_seed(0)
        return self.sample(100_000, gen)


def _moons(n, rs):
    from sklearn.datasets import make_moons

    return make_moons(n_samples=n, noise=0.05, random_state=rs)[0]


def _circles(n, rs):
    from sklearn.datasets import make_circles

    return make_circles(n_samples=n, noise=0.05, factor=0.5, random_state=rs)[0]


def _swiss_roll(n, rs):
    from sklearn.datasets import make_swiss_roll

    return make_swiss_roll(n_samples=n, noise=0.2, random_state=rs)[0][:, [0, 2]]


def _digits(n, rs):
    from sklearn.datasets import load_digits

    images = load_digits().data / 16.0
    return images[rs.randint(0, images.shape[0], size=n)]


SOURCES = {"moons": (2, _moons), "circles": (2, _circles), "swiss-roll": (2, _swiss_roll),
           "digits": (64, _digits)}


def make_source(name: str, device="cpu") -> DataSource:
    """A density-free p0 by name: moons, circles, swiss-roll or digits."""
    if name not in SOURCES:
        raise InvalidArgument(f"data={name!r} is not a bundled data set. Pass one of: "
                         f"{', '.join(SOURCES)}.")
    dim, draw = SOURCES[name]
    return DataSource(name, dim, draw, device)
