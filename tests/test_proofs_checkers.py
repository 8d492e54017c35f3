"""The step checkers of proofs/: each accepts a true claim and rejects a false one."""

from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from proofs._core import Outcome, Proof, Step, run_proofs, run_step
from proofs.checks_distributions import NoCounterexample, mix, pairs, tv
from proofs.checks_interval import SignOnBox, to_arb
from proofs.checks_roots import Descartes, RootCount
from proofs.checks_symbolic import Identity, Induction, Instances, Limit, Sign

x = sp.Symbol("x", positive=True)
a = sp.Symbol("a", positive=True)
n = sp.Symbol("n", integer=True, positive=True)
y = sp.Symbol("y", real=True)


def test_identity_symbolic_pass_and_refutation():
    assert Identity((x + 1) ** 2, x**2 + 2 * x + 1).run() == Outcome(
        True, "symbolic", "lhs - rhs simplifies to 0")
    out = Identity((x + 1) ** 2, x**2 + 2 * x).run()
    assert not out.passed and "refuted at" in out.detail and "lhs - rhs = 1.0" in out.detail


def test_identity_fallback_is_reported_as_sampling_not_proof():
    # True (W e^W = z) but sympy's simplify does not reach 0 without the rewrite.
    w = sp.LambertW(-a * sp.exp(-a), -1)
    out = Identity(a * (sp.exp(-a - w) - 1) + a + w, 0).run()
    assert out.passed and out.scope == "sampled"
    assert "never prove" in out.detail


def test_identity_of_constants_and_matrices():
    out = Identity(sp.Rational(1, 8), 0).run()
    assert (out.passed, out.scope) == (False, "exact instances")
    assert Identity(sp.Matrix([x * (x + 1), 1]), sp.Matrix([x**2 + x, 1])).run().passed
    bad = Identity(sp.Matrix([x * (x + 1), 1]), sp.Matrix([x**2 + x, 2])).run()
    assert not bad.passed


def test_induction_catches_a_wrong_step_the_instances_miss():
    square = lambda m: m**2  # noqa: E731
    step = lambda cl, m: cl(m) + 2 * m + 1  # noqa: E731
    assert Induction(n, 1, square, step, direct=lambda k: sp.Integer(k * k)).run().passed
    # Agrees with k² at k = 1..8, so base and the six checked instances pass.
    fake = lambda m: m**2 + sp.prod([m - j for j in range(1, 9)])  # noqa: E731
    out = Induction(n, 1, fake, step, direct=lambda k: sp.Integer(k * k)).run()
    assert not out.passed and out.detail.startswith("inductive step fails")


def test_induction_wrong_base():
    out = Induction(n, 1, lambda m: m**2 + 1, lambda cl, m: cl(m) + 2 * m + 1,
                    direct=lambda k: sp.Integer(k * k)).run()
    assert not out.passed and "base case n=1" in out.detail


def test_sign_decides_refutes_and_never_guesses():
    assert Sign(x**2 + 1, ">0").run().passed
    refuted = Sign(-x, ">0").run()
    assert not refuted.passed and refuted.detail.startswith("refuted")
    undecided = Sign(x - 1, ">0").run()
    assert not undecided.passed and "could not decide" in undecided.detail
    with pytest.raises(ValueError, match="relation must be one of"):
        Sign(x, "=0").run()


def test_limit_right_and_wrong():
    assert Limit(sp.sin(x) / x, x, 0, 1).run().passed
    out = Limit(sp.sin(x) / x, x, 0, 2).run()
    assert not out.passed and "not 2" in out.detail
    assert Limit(x**2, x, sp.oo, sp.oo).run().passed


def test_instances_reports_the_first_failure():
    out = Instances("even", (2, 4, 5, 7), lambda k: k % 2 == 0 or f"{k} is odd").run()
    assert (out.passed, out.detail) == (False, "fails at 5: 5 is odd")
    assert Instances("even", (2, 4), lambda k: k % 2 == 0).run().passed


def test_sign_on_box_certifies_and_records_depth():
    mu = sp.Symbol("mu", positive=True)
    gap = mu**2 / 4 - sp.erf(mu / (2 * sp.sqrt(2))) ** 2
    out = SignOnBox(gap, {mu: (Fraction(1, 16), 6)}).run()
    assert out.passed and out.scope == "certified box"
    assert out.depth > 0 and "mu in [1/16, 6]" in out.detail


def test_sign_on_box_finds_a_counterexample():
    out = SignOnBox(y**2, {y: (-1, 1)}, ">0").run()
    assert not out.passed and "counterexample at y=0" in out.detail


def test_sign_on_box_undecided_is_a_failure():
    out = SignOnBox((y - sp.Rational(1, 3)) ** 2 + sp.Rational(1, 10**30), {y: (0, 1)},
                    ">0", max_depth=4).run()
    assert not out.passed and "undecided" in out.detail


def test_sign_on_box_refuses_bad_input():
    with pytest.raises(ValueError, match="box has no interval for"):
        SignOnBox(x + y, {x: (0, 1)}).run()
    with pytest.raises(ValueError, match="cannot enclose gamma"):
        to_arb(sp.gamma(y), {y: to_arb(sp.Integer(2), {})})


def test_descartes_counts_sign_changes():
    s = sp.Symbol("s", positive=True)
    r = 1 / (1 + s)
    blocks = ((1 - r, "low"), (1 - r - (n + 1), "top"))
    assert Descartes(blocks, 1).run().passed
    assert not Descartes(blocks, 2).run().passed
    assert not Descartes(((y, "c0"), (1, "c1")), 1).run().passed  # sign of y unknown


def test_root_count_exact():
    X = sp.Symbol("X")
    p = sp.Poly((X - sp.Rational(1, 3)) * (X - sp.Rational(2, 3)) * (X + 1), X)
    assert RootCount((("p", p),), 0, 1, 2).run().passed
    assert not RootCount((("p", p),), 0, 1, 1).run().passed
    edge = RootCount((("p", p),), sp.Rational(1, 3), 1, 1).run()
    assert not edge.passed and "endpoint" in edge.detail


def test_hypothesis_search_finds_violations_and_is_deterministic():
    def tv_at_most_quarter(pq):
        return tv(*pq) > Fraction(1, 4)

    first = NoCounterexample("tv <= 1/4", pairs(), tv_at_most_quarter).run()
    assert not first.passed and "counterexample" in first.detail
    assert NoCounterexample("tv <= 1/4", pairs(), tv_at_most_quarter).run() == first
    ok = NoCounterexample("tv <= 1", pairs(), lambda pq: tv(*pq) > 1).run()
    assert ok.passed and ok.scope == "sampled"


@given(st.lists(st.integers(1, 9), min_size=3, max_size=3))
def test_tv_and_mix_are_exact(w):
    p = tuple(Fraction(v, sum(w)) for v in w)
    q = (Fraction(1, 3),) * 3
    assert tv(p, p) == 0
    # TV is also the largest p(A) − q(A) over events A: an independent characterisation.
    events = [[j for j in range(3) if mask >> j & 1] for mask in range(8)]
    assert tv(p, q) == max(sum((p[j] - q[j] for j in A), Fraction(0)) for A in events)
    half = mix([Fraction(1, 2), Fraction(1, 2)], [p, q])
    assert half == tuple((a + b) / 2 for a, b in zip(p, q, strict=True))
    assert tv(half, q) == tv(p, q) / 2


def test_a_crashing_checker_fails_the_step():
    class Boom:
        method = "boom"

        def run(self):
            raise RuntimeError("kaput")

    result = run_step("X", Step("crash", "0 = 0", Boom()))
    assert not result.ok and "RuntimeError: kaput" in result.outcome.detail


def test_mutant_bookkeeping():
    good = Step("true", "1 = 1", Identity(sp.Integer(1), 1))
    bad = Step("false", "1 = 2", Identity(sp.Integer(1), 2))
    report = run_proofs([Proof("X", "t", (), (good,), (bad,))], mutants=True)
    assert report.ok and [r.mutant for r in report.results] == [False, True]
    accepted = run_proofs([Proof("X", "t", (), (good,), (good,))], mutants=True)
    assert not accepted.ok  # a "wrong" variant that passes is a failure of the suite


def test_outcome_scope_is_checked():
    with pytest.raises(ValueError, match="scope must be one of"):
        Outcome(True, "probably")
