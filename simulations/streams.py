"""One random stream per replicate, keyed by (seed, replicate index) only.

Replicate r draws from a torch generator seeded by
``SeedSequence(seed, spawn_key=(r,))``: its numbers do not depend on how many
replicates run beside it, so replicate r of a batched run is the one-replicate
run with ``first_replicate = r`` (docs/theory.md: same seed, same numbers). Each draw
is made per replicate and stacked; all arithmetic after that is batched.
"""

from __future__ import annotations

import numpy as np
import torch

from boundkit._checks import check_int
from simulations._device import DTYPE, resolve_device


def replicate_seed(seed: int, replicate: int) -> int:
    """The 63-bit torch seed of one replicate's stream."""
    state = np.random.SeedSequence(seed, spawn_key=(replicate,)).generate_state(2, np.uint64)
    return int(state[0] >> np.uint64(1))


class Streams:
    """Generators for replicates ``first .. first + count − 1`` on ``device``."""

    def __init__(self, seed: int, count: int, first: int = 0, device="cpu"):
        self.device = resolve_device(device)
        self.seed = check_int(seed, "seed", 0, 2**63 - 1, "0")
        self.count = check_int(count, "replicates", 1, None, "4")
        self.first = check_int(first, "first_replicate", 0, None, "0")
        self.generators = [torch.Generator(device=self.device).manual_seed(
            replicate_seed(self.seed, r)) for r in range(self.first, self.first + self.count)]

    @classmethod
    def single(cls, seed: int, device="cpu") -> Streams:
        """One stream (the single-run API: R = 1 of the batched code)."""
        return cls(seed, 1, 0, device)

    def __len__(self) -> int:
        return self.count

    def normal(self, *shape: int) -> torch.Tensor:
        """Standard normal draws, shape (R, *shape)."""
        return torch.stack([torch.randn(shape, dtype=DTYPE, device=self.device, generator=g)
                            for g in self.generators])

    def uniform(self, *shape: int) -> torch.Tensor:
        """Uniform [0, 1) draws, shape (R, *shape)."""
        return torch.stack([torch.rand(shape, dtype=DTYPE, device=self.device, generator=g)
                            for g in self.generators])

    def integers(self, high: int, *shape: int) -> torch.Tensor:
        """Uniform integers in [0, high), shape (R, *shape)."""
        return torch.stack([torch.randint(high, shape, device=self.device, generator=g)
                            for g in self.generators])

    def permutations(self, n: int) -> torch.Tensor:
        """A random permutation of range(n) per replicate, shape (R, n)."""
        return torch.stack([torch.randperm(n, device=self.device, generator=g)
                            for g in self.generators])

    def categorical(self, probs: torch.Tensor, n: int) -> torch.Tensor:
        """n indices per replicate drawn with probabilities ``probs`` (R, K): shape (R, n)."""
        return torch.stack([torch.multinomial(p, n, replacement=True, generator=g)
                            for p, g in zip(probs, self.generators, strict=True)])

    def sample(self, dist, n: int) -> torch.Tensor:
        """n draws per replicate from a distribution (or data source): shape (R, n, d)."""
        return torch.stack([dist.sample(n, g) for g in self.generators])

    def subset(self, index: int) -> Streams:
        """The stream of one replicate (sharing its generator), as a one-replicate Streams."""
        out = Streams.__new__(Streams)
        out.device, out.seed, out.count = self.device, self.seed, 1
        out.first = self.first + index
        out.generators = [self.generators[index]]
        return out
