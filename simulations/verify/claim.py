"""One kind of claim: what ``boundkit verify`` confronts with trained loops.

A :class:`Claim` is a statement and a sequence of :class:`Case` s, each one decision: the
loops it needs (``configs``) and the rule that turns their frames into verdicts and figure
rows (``judge``). The paper's claims (:data:`BUILTIN`: V3 … D1, long, MLP, C1) and a
user's (:func:`simulations.verify.claimfile.load`) are the same kind of object: ``verify``
runs their cases through the same runner (in process, or the sweep runner and a results
store), and each gets the same verdict rows, figure, LaTeX and JSON.

The cases come from ``cases(study)``, a generator: a case is made only after the previous
one was judged, so a claim can name its loops from earlier results (V4's bounds from V3's
fit, P2's λ grid from λ′, D1's U-shape at the replicates its rate used). A rule may ask
for more replicates of its own loops (D1's design): it runs them through
``study.loops`` like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from simulations.verify import claims, claims_more, claims_p3
from simulations.verify.case import Case

__all__ = ["BUILTIN", "Case", "Claim"]


@dataclass(frozen=True)
class Claim:
    """A claim verify can run.

    Attributes
    ----------
    name : str
        One word (letters, digits, ``-``, ``_``): the experiment's name in the report,
        its figure file ``fig_NAME`` and its verdict rows.
    statement : str
        One line saying what is claimed (the report's list of claims).
    cases : callable
        ``cases(study)``: yields the claim's :class:`Case` s (module docstring).
    xlabel : str
        The x axis of its figure.
    log_x : bool
        Whether that axis is logarithmic.
    fixed_replicates : bool
        True when the design's final stage must not rescale its replicates (the claim
        states its own).
    """

    name: str
    statement: str
    cases: Callable[..., Iterable[Case]]
    xlabel: str = "generation i + 1"
    log_x: bool = False
    fixed_replicates: bool = False

    def run(self, study) -> None:
        """Each case's loops through ``study.loops``, then its rule on their frames."""
        for case in self.cases(study):
            configs = list(case.configs)
            case.judge(study, configs, study.loops(configs) if configs else [])


BUILTIN = (
    Claim("V3", "rate of round 0's error delta(n)", claims.v3, "n (training points)", True),
    Claim("V4", "R1's bound calibrated with V3's fit (also V5: R8 prediction; P3 at "
          "constant n; P5: balanced drift like H_i)", claims.loops),
    Claim("P1", "control by real data", claims.p1, "real share α"),
    Claim("P2", "phase transition at fixed real n", claims_more.p2,
          "λ (synthetic points per real point)", True),
    Claim("P3", "growth (exponent at constant n; sizes needed)", claims_p3.p3_sizes,
          "growth exponent p"),
    Claim("P4", "final-round rescue", claims.p4),
    Claim("D1", "diffusion rate E2 vs E3; KL against tau", claims_more.d1,
          "n = m (points = random features)", True, fixed_replicates=True),
    Claim("long", "growth over a long horizon", claims_more.long_horizon),
    Claim("MLP", "an MLP-score diffusion loop (C1 on it; its drift)", claims_more.mlp,
          fixed_replicates=True),
    Claim("C1", "metric consistency (R1 with measured delta, Pinsker)", claims.c1,
          fixed_replicates=True),
)
