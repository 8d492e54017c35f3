"""Users' own theory under test: safe formulas, check_bound with verify's rules, loop
strategies, and ``verify --claim`` on the three example claims (docs/howto-claims.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings

from boundkit.errors import InvalidArgument
from simulations import LoopConfig
from simulations import strategies as sst
from simulations.check import BoundViolated, LoopCache, check_bound
from simulations.expr import evaluate, parse_bound
from simulations.verify import verify

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "claims"
#: one cache for the module's checks (the loop trains once)
SHARED = LoopCache()
BALANCED = LoopConfig(model="gaussian-mle", data="gaussian", schedule="balanced", n=200,
                      rounds=6, replicates=24, seed=0)


# -- formulas ---------------------------------------------------------------------------

def test_formulas_evaluate_exactly_in_float64():
    h = evaluate(parse_bound("delta_max * harmonic(i + 1)"),
                 {"delta_max": np.full(5, 0.5), "i": np.arange(5.0)})
    exact = [0.5 * float(sum(Fraction(1, k) for k in range(1, i + 2))) for i in range(5)]
    assert np.allclose(h, exact, rtol=1e-14, atol=0)
    e = parse_bound("pi**2 / (6 * n) + sqrt(4) - Max(1, lam) + log(E)")
    assert evaluate(e, {"n": np.array([10.0]), "lam": np.array([3.0])})[0] == \
        pytest.approx(np.pi**2 / 60 + 2 - 3 + 1, rel=1e-15)
    # a sympy expression in the loop's symbols is taken as it is
    assert parse_bound(sp.Symbol("n_i") ** -sp.Rational(1, 4)) == \
        sp.Symbol("n_i") ** -sp.Rational(1, 4)


@pytest.mark.parametrize("text, word", [
    ("__import__('os').system('true')", "Call"),
    ("i.real", "Attribute"),
    ("x + 1", "the name 'x'"),
    ("lambda: 1", "Lambda"),
    ("sqrt(x=4)", "Call"),
    ("'a' * 3", "the constant 'a'"),
    ("[i for i in ()]", "ListComp"),
    ("i if i else n", "IfExp"),
    ("", "must be a formula"),
])
def test_formulas_refuse_code_and_unknown_names(text, word):
    with pytest.raises(InvalidArgument, match="bound") as exc:
        parse_bound(text)
    assert word in str(exc.value)


def test_huge_numbers_are_refused_not_computed():
    for text in ("2**2**100", "1/(i - i)", "harmonic(10**9) * exp(1000)"):
        with pytest.raises(InvalidArgument, match="not finite"):
            evaluate(parse_bound(text), {"i": np.array([1.0])})
    # H_n = ln n + γ + 1/(2n) − 1/(12 n²) + O(n⁻⁴)
    assert evaluate(parse_bound("harmonic(10**9)"), {}) == pytest.approx(
        np.log(1e9) + np.euler_gamma + 0.5e-9 - 1 / 12e18, rel=1e-14)


# -- check_bound ------------------------------------------------------------------------

def test_r4_with_measured_delta_holds_and_a_halved_delta_is_violated():
    cache = SHARED
    runs = cache.runs
    ok = check_bound(BALANCED, "delta_max * harmonic(i + 1)", generations=range(1, 6),
                     cache=cache)
    assert ok.verdict == "holds" and 0 < ok.ratio < 1 and ok.smallest > 0
    assert list(ok.margins.generation) == [1, 2, 3, 4, 5]
    with pytest.raises(BoundViolated) as exc:
        check_bound(BALANCED, "delta_0 / 2", cache=cache)
    res = exc.value.result
    assert res.verdict == "violated" and res.ratio > 1 and isinstance(exc.value, AssertionError)
    assert "gaussian-mle on gaussian, schedule balanced, n = 200" in str(exc.value)
    assert cache.runs <= runs + 1  # later checks reused the loop
    # a Python function gives the same margins as the same formula
    fn = check_bound(BALANCED, lambda delta_max, i, **_: delta_max * (np.log(i + 1) + 1),
                     generations=range(1, 6), cache=cache)
    fx = check_bound(BALANCED, "delta_max * (log(i + 1) + 1)", generations=range(1, 6),
                     cache=cache)
    assert np.allclose(fn.margins["mean"], fx.margins["mean"], rtol=1e-13)


def test_every_replicate_is_certified_per_loop_point():
    # R1 with each replicate's measured δ is a theorem (triangle inequality, convexity):
    # with exact Gaussian TVs no certified interval lies below it
    res = check_bound(BALANCED, "r1_i", kind="every replicate", generations=range(1, 6),
                      cache=SHARED)
    assert res.verdict == "holds" and res.smallest >= 0
    # final-rescue: R1 under the schedule the loop trained with (the rescue at its last
    # round), not each generation's own rescue, which certified a false violation
    rescue = LoopConfig(model="gaussian-mle", data="gaussian", schedule="final-rescue",
                        alpha="1/2", n=100, rounds=4, replicates=6, seed=0)
    res = check_bound(rescue, "r1_i", kind="every replicate", generations=[1, 2, 3],
                      cache=SHARED)
    assert res.verdict == "holds" and res.smallest >= 0
    # a bound of δ_0 / 10 is certified violated somewhere
    with pytest.raises(BoundViolated):
        check_bound(BALANCED, "delta_0 / 10", kind="every replicate", cache=SHARED)


def test_check_bound_refuses_bad_arguments():
    fresh = LoopCache()
    for kw, word in [({"kind": "median"}, "kind"), ({"level": 1.5}, "level"),
                     ({"generations": [7]}, "generations"), ({"metric": "w2"}, "metric")]:
        with pytest.raises(InvalidArgument, match=word):
            check_bound(BALANCED, "delta_i", cache=fresh, **kw)
    with pytest.raises(InvalidArgument, match="the name 'C'"):
        check_bound(BALANCED, "C * delta_i", cache=fresh)
    assert fresh.runs == 0  # every refusal came before the loop ran
    assert check_bound(BALANCED, "C * delta_i + 1", constants={"C": 2.0},
                       cache=SHARED).verdict == "holds"


# -- strategies -------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(sst.loop_configs(models=sst.MODELS, data=sst.DATA, max_cost=20_000))
def test_strategies_draw_valid_loops_within_their_cost(config):
    assert sst.loop_cost(config) <= 20_000
    assert 2 <= config.replicates <= 8 and 1 <= config.rounds <= 6
    if config.model.startswith("diffusion"):
        assert config.data in ("gaussian", "unequal", "laplace", "two-modes")


def test_strategies_reach_every_family_policy_and_convention():
    from hypothesis import find

    for family in sst.SCHEDULES:
        c = find(sst.loop_configs(schedules_=[family]), lambda c: True)
        assert c.rounds == 1 and c.replicates == 2 and c.n == 20 and c.seed == 0  # shrunk
    policies = {find(sst.loop_configs(schedules_=[f]), lambda c: True).data_policy
                for f in ("accumulate", "accumulate-subsample", "balanced")}
    assert policies == {"kept", "kept-subsample", "fresh"}
    pool = find(sst.loop_configs(schedules_=["fixed-ratio"]),
                lambda c: c.real_data == "pool" and c.convention == "fixed-real")
    assert pool.schedule == "fixed-ratio"
    with pytest.raises(InvalidArgument, match="max_cost"):
        sst.loop_configs(max_cost=10)
    with pytest.raises(InvalidArgument, match="models"):
        sst.loop_configs(models=["gpt"])


# the how-to's property test (docs/howto-claims.md), as a user would write it
R4_CACHE = LoopCache()


@settings(max_examples=50, deadline=None)
@given(sst.loop_configs(models=["gaussian-mle", "kde"], schedules_=["balanced", "accumulate"],
                        max_rounds=5, max_cost=8_000))
def test_howto_r4_never_fails_on_any_balanced_loop(config):
    check_bound(config, "delta_max * harmonic(i + 1)", kind="every replicate",
                cache=R4_CACHE)


# -- verify --claim ---------------------------------------------------------------------

def test_the_three_example_claims_give_their_expected_verdicts(tmp_path):
    files = sorted(EXAMPLES.glob("*.toml"))
    assert len(files) == 3
    out = tmp_path / "out"
    verdicts = verify(out=out, claims=files)
    by = {}
    for v in verdicts:
        by.setdefault(v.claim, []).append(v)
    assert [v.verdict for v in by["R4-balanced"]] == ["holds"] * 4
    assert [v.verdict for v in by["accumulate-bounded"]] == ["holds"]
    (wrong,) = by["wrong-linear-balanced"]
    assert wrong.verdict == "violated" and wrong.statistic < 0.85
    assert wrong.model == "gaussian-mle" and wrong.setting.startswith("n = 100")
    assert all(v.verdict == "passed" for v in by["C1"])
    doc = json.loads((out / "verdicts.json").read_text())
    assert {v["claim"] for v in doc["verdicts"]} >= set(by)
    for name in ("R4-balanced", "accumulate-bounded", "wrong-linear-balanced"):
        assert (out / f"fig_{name}.png").is_file() and (out / f"fig_{name}.pdf").is_file()
    report = (out / "report.md").read_text()
    assert "deliberately wrong" in report and "pi**2" in report
    assert "R4-balanced" in (out / "verdicts.tex").read_text()


BAD = {
    "code": '[claim]\nname = "x"\nstatement = "s"\nbound = "__import__(\'os\').system(\'touch '
            'PWNED\')"\n[loops]\n',
    "symbol": '[claim]\nname = "x"\nstatement = "s"\nbound = "zeta * n"\n[loops]\n',
    "outside": '[claim]\nname = "x"\nstatement = "s"\nfunction = "../evil.py:bound"\n[loops]\n',
    "absolute": '[claim]\nname = "x"\nstatement = "s"\nfunction = "EVIL:bound"\n[loops]\n',
    "module": '[claim]\nname = "x"\nstatement = "s"\nfunction = "os:system"\n[loops]\n',
    "key": '[claim]\nname = "x"\nstatement = "s"\nbound = "n"\nexec = "1"\n[loops]\n',
    "toml": '[claim\nname = "x"\n',
    "name": '[claim]\nname = "V3"\nstatement = "s"\nbound = "n"\n[loops]\n',
    "loop": '[claim]\nname = "x"\nstatement = "s"\nbound = "n"\n[loops]\nmodels = ["gpt"]\n',
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_unsafe_claim_files_are_refused_with_exit_2_and_no_side_effect(case, tmp_path):
    folder = tmp_path / "claims"
    folder.mkdir()
    evil = tmp_path / "evil.py"  # outside the claim's folder: must never be imported
    evil.write_text(f"open({str(tmp_path / 'IMPORTED')!r}, 'w').close()\n"
                    "def bound(**kw):\n    return 1.0\n")
    text = BAD[case].replace("EVIL", str(evil))
    (folder / "claim.toml").write_text(text)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "boundkit", "verify", "--claim",
                           str(folder / "claim.toml"), "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr and "claim" in lines[0]
    assert not out.exists() and not (tmp_path / "IMPORTED").exists()
    assert not (tmp_path / "PWNED").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims", "evil.py"]


def test_a_function_in_the_claims_folder_is_used(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "bounds.py").write_text(
        "import numpy as np\n\ndef r4(delta_max, i, **_):\n"
        "    return delta_max * (np.log(i + 1) + 1)\n")
    (folder / "claim.toml").write_text(
        '[claim]\nname = "mine"\nstatement = "R4 via log"\nfunction = "bounds.py:r4"\n'
        'generations = [1, 2, 3]\n[loops]\nrounds = 4\nreplicates = 12\nn = [100]\n'
        'schedules = [{ schedule = "balanced" }]\n')
    verdicts = verify(out=tmp_path / "out", claims=[folder / "claim.toml"])
    assert [v.verdict for v in verdicts if v.claim == "mine"] == ["holds"]


def test_a_claim_runs_through_the_store_and_resumes(tmp_path):
    # --claim with --store: the loops go through the sweep runner into the results store;
    # a second run reads them back (no loop trained twice) and gives the same verdicts
    from simulations.store import ResultStore
    from simulations.verify import STANDARD

    claim = tmp_path / "claim.toml"
    claim.write_text(
        '[claim]\nname = "r4-small"\nstatement = "R4 on small loops"\nkind = "bound"\n'
        'bound = "delta_max * harmonic(i + 1)"\ngenerations = [1, 2]\n'
        '[loops]\nmodels = ["gaussian-mle"]\nschedules = [{ schedule = "balanced" }]\n'
        'n = [100, 200]\nrounds = 3\nreplicates = 8\n')
    store = tmp_path / "results.sqlite"
    first = verify(out=tmp_path / "a", claims=[claim], scale=STANDARD, store=store, workers=1)
    with ResultStore(store) as db:
        runs = len(db.runs())
    assert runs == 2  # the claim's two loops, each stored once
    second = verify(out=tmp_path / "b", claims=[claim], scale=STANDARD, store=store,
                    workers=1)
    with ResultStore(store) as db:
        assert len(db.runs()) == runs
    assert [v.as_dict() for v in first] == [v.as_dict() for v in second]
    assert [v.verdict for v in first if v.claim == "r4-small"] == ["holds", "holds"]


def test_a_claim_written_in_python_is_a_list_of_cases(tmp_path):
    # issue 19, "one kind of claim": the how-to's Claim of cases (loops + rule) runs like
    # a built-in one: its verdicts, its figure and C1 on its loops. A second case is made
    # only after the first was judged (a generator), and may use what it found.
    from simulations.verify import Case, Claim
    from simulations.verify.rules import monotone_verdict
    from simulations.verify.study import replicate_matrix

    judged = []

    def judge(study, configs, frames):
        for config, frame in zip(configs, frames, strict=True):
            verdict = monotone_verdict(replicate_matrix(frame), decreasing=False)
            study.verdict("drift", "shape", config.model, config.data, verdict, None,
                          f"e_i rises at every round (n = {config.n})",
                          replicates=config.replicates)
        judged.append(len(frames))

    def cases(study):
        loop = {"model": "kde", "data": "gaussian", "schedule": "full-synthetic",
                "rounds": 4, "replicates": 8}
        yield Case([LoopConfig(n=200, **loop)], judge)
        assert judged == [1]  # the first case was judged before the second is made
        yield Case([LoopConfig(n=100, **loop)], judge)

    verdicts = verify(out=tmp_path, claims=[Claim("drift", "KDE drifts", cases)])
    mine = [v for v in verdicts if v.claim == "drift"]
    assert [v.detail for v in mine] == ["e_i rises at every round (n = 200)",
                                        "e_i rises at every round (n = 100)"]
    assert all(v.verdict in ("holds", "violated", "inconclusive") for v in mine)
    c1 = [v for v in verdicts if v.claim == "C1"]
    assert len(c1) == 1 and c1[0].model == "kde" and "from 2 loops" in c1[0].detail
    doc = json.loads((tmp_path / "verdicts.json").read_text())
    assert {v["claim"] for v in doc["verdicts"]} == {"drift", "C1"}
