"""Every derivation of docs/theory.md §2–4 checks, and every wrong variant is rejected."""

from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import proofs
from proofs._core import SCOPES, run_step
from proofs.r6_phase import X, h_poly
from proofs.r6_values import h_sign


@pytest.fixture(scope="module")
def report():
    """The whole report, checked once (about 12 s)."""
    return proofs.check()


def test_every_result_has_a_proof():
    assert list(proofs.PROOFS) == ["R1", "R2", "R3", "R4", "R5", "R6", "R7", "R9", "E3",
                                   "E4"]
    for p in proofs.PROOFS.values():
        assert p.assumptions and p.steps and p.mutants and p.claim


def test_every_step_passes(report):
    failures = [(r.proof, r.step.title, r.outcome.detail)
                for r in report.results if not r.mutant and not r.outcome.passed]
    assert failures == []


def test_every_wrong_variant_is_rejected(report):
    accepted = [(r.proof, r.step.title) for r in report.results if r.mutant and r.outcome.passed]
    assert accepted == []
    assert report.ok


def test_scopes_are_reported(report):
    scopes = {r.outcome.scope for r in report.results}
    assert scopes <= set(SCOPES)
    # Each kind of evidence is used, and the certified boxes record their depth.
    assert scopes == set(SCOPES)
    boxes = [r for r in report.results if r.outcome.scope == "certified box" and r.outcome.passed
             and "branch" in r.method]
    assert boxes and all(r.outcome.depth is not None and r.outcome.depth >= 0 for r in boxes)


@pytest.mark.parametrize(("name", "title"), [
    ("R2", "MUTANT: cubic growth suffices at r = 1/4"),
    ("R6", "MUTANT: lambda'_1 = 1 at r = 1/4"),
    ("R4", "MUTANT: the harmonic bound replaced by ln i"),
    ("R6", "MUTANT: two sign changes in h_i"),
    ("R1", "MUTANT: Pinsker with 1/8"),
    ("R5", "MUTANT: geometric bound without the 1/alpha factor"),
])
def test_the_issues_wrong_variants_are_rejected(name, title):
    (step,) = [s for s in proofs.PROOFS[name].mutants if s.title == title]
    result = run_step(name, step, mutant=True)
    assert not result.outcome.passed and result.ok


@pytest.mark.parametrize("name", list(proofs.PROOFS))
def test_every_result_has_a_rejected_mutant(report, name):
    rows = [r for r in report.of(name) if r.mutant]
    assert rows and all(r.ok for r in rows)


def test_r6_uniqueness_is_symbolic_for_all_i(report):
    (row,) = [r for r in report.of("R6")
              if r.step.title == "one sign change in h_i's coefficients for every i >= 1"]
    assert row.outcome.scope == "symbolic" and row.outcome.passed


def _step(name, title):
    (step,) = [s for s in proofs.PROOFS[name].steps if s.title == title]
    return step


def test_a_wrong_boundkit_enclosure_is_caught(monkeypatch):
    """The re-check is independent: a corrupted arb certifier is refuted."""
    from boundkit import _phase_arb

    real = _phase_arb.enclose

    def shifted(i, r, t, **kw):
        e = real(i, r, t, **kw)
        return _phase_arb.Enclosure(e.hi * 1.0001, e.hi * 2, True)

    monkeypatch.setattr(_phase_arb, "enclose", shifted)
    step = _step("R6", "boundkit's certified enclosures, re-checked in exact integers")
    out = run_step("R6", step).outcome
    assert not out.passed and "h_i signs" in out.detail


def test_a_wrong_sample_size_is_caught(monkeypatch):
    import boundkit.growth

    real = boundkit.growth.samples_required
    monkeypatch.setattr(boundkit.growth, "samples_required",
                        lambda *a, **k: real(*a, **k) - 1)
    step = _step("R2", "boundkit's samples_required and growth exponent match")
    assert not run_step("R2", step).outcome.passed


@given(st.integers(1, 40), st.fractions(Fraction(1, 50), Fraction(49, 50)),
       st.fractions(Fraction(0), Fraction(1)))
def test_integer_horner_sign_matches_sympy(gen, rate, xq):
    """h_sign (exact integers) agrees with sympy's exact evaluation of h_i."""
    value = h_poly(gen, rate).eval(sp.Rational(xq.numerator, xq.denominator))
    assert h_sign(gen, rate, xq) == int(sp.sign(value))


def test_h_poly_is_boundkits_polynomial():
    from boundkit.phase import critical_poly

    for gen in (1, 2, 7):
        ours = h_poly(gen, Fraction(1, 4))
        theirs = critical_poly(gen, Fraction(1, 4))
        assert ours.all_coeffs() == theirs.all_coeffs()
        assert ours.gens == (X,)
