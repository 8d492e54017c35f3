r"""R7, optimal early stopping for E3 (docs/theory.md §3–4), as checked steps.

.. math::
    \mathrm{KL}(\tau) = \frac{\tau^4}{mn} + \frac{\tau^3}{m^2} + \frac1\tau + \frac1m,\qquad
    m^2 n \tau^2\, \mathrm{KL}'(\tau) = 4m\tau^5 + 3n\tau^4 - m^2 n,

one sign change (a unique stationary point τ*, a minimum since KL is convex),
τ* < τ_d = (mn/4)^{1/5} (the dominant balance), and with m = n,
τ* ~ (n²/4)^{1/5}, KL(τ_d) ∝ n^{-2/5}.
"""

from __future__ import annotations

import sympy as sp

from proofs._core import Proof, Step
from proofs.checks_roots import Descartes
from proofs.checks_symbolic import Identity, Instances, Limit, Sign

tau, m, n, c = sp.symbols("tau m n c", positive=True)

KL = tau**4 / (m * n) + tau**3 / m**2 + 1 / tau + 1 / m
P = 4 * m * tau**5 + 3 * n * tau**4 - m**2 * n
TAU_D = (m * n / 4) ** sp.Rational(1, 5)


def _boundkit_agrees(case) -> bool | str:
    from boundkit import early_stopping as es

    nv, mv = case
    if sp.simplify(es.tau_star_dominant().subs({es.m: m, es.n: n}) - TAU_D) != 0:
        return f"tau_star_dominant() = {es.tau_star_dominant()}"
    if sp.expand(es.stationarity_poly(n, m).subs(es.tau, tau) - P) != 0:
        return "stationarity_poly differs from the derivation"
    root = es.tau_star_exact(nv, mv)
    p_at = sp.Poly(P.subs({m: mv, n: nv}), tau)
    if p_at.eval(root).evalf(50, chop=True) != 0:
        return f"tau_star_exact({nv}, {mv}) is not a root"
    return bool(root < TAU_D.subs({m: mv, n: nv})) or "exact tau* is not below tau_d"


PROOF = Proof(
    name="R7",
    title="Optimal early stopping (E3)",
    claim=(r"\text{unique } \tau^* < (mn/4)^{1/5};\ m = n \Rightarrow \tau^* \sim (n^2/4)^{1/5},\ "
           r"\mathrm{KL} \propto n^{-2/5}"),
    assumptions=(r"\tau, m, n > 0", r"\text{KL bound of Li et al. (2023), Thm 1, E3}",
                 r"\text{optimal-loss and prior terms do not depend on } \tau"),
    steps=(
        Step("stationarity polynomial",
             r"m^2 n \tau^2\,\partial_\tau \mathrm{KL} = 4m\tau^5 + 3n\tau^4 - m^2 n",
             lambda: Identity(sp.expand(m**2 * n * tau**2 * sp.diff(KL, tau)), P)),
        Step("KL is convex in tau",
             r"\partial_\tau^2 \mathrm{KL} = \tfrac{12\tau^2}{mn} + \tfrac{6\tau}{m^2}"
             r" + \tfrac{2}{\tau^3} > 0",
             lambda: Sign(sp.diff(KL, tau, 2), ">0")),
        Step("a unique stationary point (Descartes)",
             r"-m^2n,\ 0,\ 0,\ 0,\ 3n,\ 4m:\ \text{one sign change}",
             lambda: Descartes(((-(m**2) * n, "tau^0"), (3 * n, "tau^4"), (4 * m, "tau^5")), 1)),
        Step("dominant balance",
             r"\partial_\tau\big(\tfrac{\tau^4}{mn} + \tfrac1\tau\big) = 0"
             r" \text{ at } \tau_d = (mn/4)^{1/5}",
             lambda: Identity(sp.diff(tau**4 / (m * n) + 1 / tau, tau).subs(tau, TAU_D), 0)),
        Step("P is increasing for tau > 0",
             r"P'(\tau) = 20m\tau^4 + 12n\tau^3 > 0",
             lambda: Sign(sp.diff(P, tau), ">0")),
        Step("so tau* < tau_d",
             r"P(\tau_d) = 3n\tau_d^4 > 0 = P(\tau^*)",
             lambda: Identity(P.subs(tau, TAU_D), 3 * n * TAU_D**4)),
        Step("with m = n: tau* ~ (n^2/4)^{1/5}",
             r"\lim_{n\to\infty} n^{-3} P(c\,n^{2/5})\big|_{m=n} = 4c^5 - 1",
             lambda: Limit(P.subs({m: n, tau: c * n ** sp.Rational(2, 5)}) / n**3, n, sp.oo,
                           4 * c**5 - 1)),
        Step("with m = n: KL at tau_d decays as n^{-2/5}",
             r"\lim_{n\to\infty} \log \mathrm{KL}(\tau_d)/\log n = -2/5",
             lambda: Limit(sp.log(KL.subs(tau, TAU_D).subs(m, n)) / sp.log(n), n, sp.oo,
                           sp.Rational(-2, 5))),
        Step("boundkit's tau* matches",
             r"\texttt{tau\_star\_dominant},\ \texttt{stationarity\_poly},"
             r"\ \texttt{tau\_star\_exact} < \tau_d",
             lambda: Instances("(n, m)", ((100, 100), (10**4, 10**4), (500, 50)),
                               _boundkit_agrees)),
    ),
    mutants=(
        Step("MUTANT: tau* grows like n^{1/2}",
             r"\lim_{n\to\infty} \log \tau_d / \log n = 1/2\quad(m = n)",
             lambda: Limit(sp.log(TAU_D.subs(m, n)) / sp.log(n), n, sp.oo, sp.Rational(1, 2))),
        Step("MUTANT: dominant balance at (mn/3)^{1/5}",
             r"\partial_\tau\big(\tfrac{\tau^4}{mn} + \tfrac1\tau\big) = 0"
             r" \text{ at } (mn/3)^{1/5}",
             lambda: Identity(sp.diff(tau**4 / (m * n) + 1 / tau, tau)
                              .subs(tau, (m * n / 3) ** sp.Rational(1, 5)), 0)),
    ),
    summary="Stationarity polynomial, convexity and Descartes give a unique τ*; the "
    "dominant balance gives its order.",
)
