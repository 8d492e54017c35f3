"""One kind of claim: what ``boundkit verify`` confronts with trained loops.

A :class:`Claim` is a statement, the loops it needs and the rule that decides it, with the
labels of its figure. The paper's claims (:data:`BUILTIN`: V3 … D1, long, MLP, C1) and a
user's (:func:`simulations.verify.claimfile.load`) are the same kind of object: ``verify``
runs a list of them through the same runner (in process, or the sweep runner and a
results store), and each gets the same verdict rows, figure, LaTeX and JSON.

Built-in claims run their loops and apply their rules in one function each
(``claims.py``, ``claims_more.py``); a user's claim is assembled from its parts
(:class:`UserClaim`: configs, then a rule per loop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulations.verify import claims, claims_more


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
    run : callable
        ``run(study)``: runs the claim's loops through ``study.loops`` and adds its
        verdicts (``study.verdict``) and figure rows (``study.summary``).
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
    run: Callable
    xlabel: str = "generation i + 1"
    log_x: bool = False
    fixed_replicates: bool = False


BUILTIN = (
    Claim("V3", "rate of round 0's error delta(n)", claims.v3, "n (training points)", True),
    Claim("V4", "R1's bound calibrated with V3's fit (also V5: R8 prediction; P3 at "
          "constant n; P5: balanced drift like H_i)", claims.loops),
    Claim("P1", "control by real data", claims.p1, "real share α"),
    Claim("P2", "phase transition at fixed real n", claims_more.p2,
          "λ (synthetic points per real point)", True),
    Claim("P3", "growth (exponent at constant n; sizes needed)", claims_more.p3_sizes,
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
