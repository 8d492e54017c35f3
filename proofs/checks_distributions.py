"""Distribution inequalities behind R1, on exact discrete distributions drawn by hypothesis.

Probabilities are exact fractions, so TV = ½ Σ |p − q| is exact; KL involves
logarithms and is enclosed in arb balls, so a comparison with it is either
certain or not made. :class:`NoCounterexample` asks hypothesis to *find* a
certified violation (``hypothesis.find``, derandomized, with ``target`` pushing
toward the smallest margin); none found means "not refuted", scope ``sampled``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from flint import arb, ctx, fmpq
from hypothesis import HealthCheck, find, settings, target
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from proofs._core import Outcome

Dist = tuple[Fraction, ...]


def _normalise(weights: list[int]) -> Dist:
    total = sum(weights)
    return tuple(Fraction(w, total) for w in weights)


def distributions(k: int, *, full_support: bool = False) -> st.SearchStrategy[Dist]:
    """Exact distributions on {0, …, k−1}; ``full_support`` keeps every mass positive."""
    low = 1 if full_support else 0
    return (st.lists(st.integers(low, 40), min_size=k, max_size=k)
            .filter(lambda w: sum(w) > 0).map(_normalise))


def weights(m: int) -> st.SearchStrategy[Dist]:
    """Exact mixture weights (w_0, …, w_m) summing to 1, any of them possibly 0."""
    return distributions(m + 1)


@st.composite
def mixture_setups(draw, max_support: int = 5, max_models: int = 4):
    """(p0, [p_1..p_m], α, [β_1..β_m], p_next): one round of the loop, exactly."""
    k = draw(st.integers(2, max_support))
    m = draw(st.integers(1, max_models))
    p0 = draw(distributions(k))
    models = [draw(distributions(k)) for _ in range(m)]
    w = draw(weights(m))
    return p0, models, w[0], list(w[1:]), draw(distributions(k))


@st.composite
def pairs(draw, max_support: int = 6):
    """(p, q) on a common support with q > 0 everywhere, so KL(p ‖ q) is finite."""
    k = draw(st.integers(2, max_support))
    return draw(distributions(k)), draw(distributions(k, full_support=True))


def tv(p: Dist, q: Dist) -> Fraction:
    """TV(p, q) = ½ Σ |p_j − q_j|, exactly."""
    return sum((abs(a - b) for a, b in zip(p, q, strict=True)), Fraction(0)) / 2


def mix(weights_: list[Fraction], dists: list[Dist]) -> Dist:
    """Σ_k w_k p_k, exactly."""
    return tuple(sum((w * d[j] for w, d in zip(weights_, dists, strict=True)), Fraction(0))
                 for j in range(len(dists[0])))


def _q(x: Fraction) -> arb:
    return arb(fmpq(x.numerator, x.denominator))


def kl(p: Dist, q: Dist) -> arb:
    """KL(p ‖ q) = Σ p_j log(p_j / q_j) as an arb ball (terms with p_j = 0 vanish)."""
    return sum((_q(a) * (_q(a) / _q(b)).log() for a, b in zip(p, q, strict=True) if a),
               arb(0))


@dataclass(frozen=True)
class NoCounterexample:
    """hypothesis searches ``strategy`` for an example where ``violates`` is True.

    ``violates(example)`` must return True only for a *certified* violation
    (exact fractions, or arb comparisons that are certain). Finding one fails the
    step and reports the shrunk counterexample.
    """

    description: str
    strategy: st.SearchStrategy
    violates: Callable[[object], bool]
    max_examples: int = 300
    prec: int = 128
    method: str = "hypothesis search"

    def run(self) -> Outcome:
        cfg = settings(max_examples=self.max_examples, derandomize=True, database=None,
                       deadline=None, suppress_health_check=list(HealthCheck))
        old = ctx.prec
        ctx.prec = self.prec
        try:
            example = find(self.strategy, self.violates, settings=cfg)
        except NoSuchExample:
            return Outcome(True, "sampled",
                           f"{self.description}: no counterexample in {self.max_examples} "
                           "hypothesis draws of exact distributions (can refute, never prove)")
        finally:
            ctx.prec = old
        return Outcome(False, "sampled", f"{self.description}: counterexample {example!r}")


def push(margin: float, label: str) -> None:
    """Steer hypothesis toward small margins (``target`` maximises, so pass −margin)."""
    target(-float(margin), label=label)
