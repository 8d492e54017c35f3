"""Hardening, round 2: every example of the second fuzz, refused with exit 2 or computed.

One test per example of the issue (sweep files, foreign stores, hash prefixes, outputs
that would destroy an input, extreme floors, hostile formulas, processes left behind,
long generation lists), each asserting the exit code, the one-line message and that a
refusal created nothing on disk.
"""

from __future__ import annotations

import io
import json
import math
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from fractions import Fraction
from pathlib import Path

import pytest

import boundkit as bk
from boundkit.cli import main
from boundkit.errors import InvalidArgument

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def refused(*args: str, match: str) -> str:
    code, out, err = cli(*args)
    assert code == 2, (args, err)
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert match in err, err
    return err


SWEEP = 'model = "gaussian-mle"\ndata = "gaussian"\nrounds = 1\nn = 20\n'


@pytest.fixture()
def store(tmp_path) -> Path:
    spec = tmp_path / "g.toml"
    spec.write_text(SWEEP + "[grid]\nseed = [1, 2]\n")
    assert cli("sweep", str(spec), "--store", str(tmp_path / "s.db"), "--workers", "1")[0] == 0
    return tmp_path / "s.db"


# --- sweep files go through the CLI's checks ------------------------------------------


@pytest.mark.parametrize("extra, match", [
    ('alpha = "abc"\nschedule = "constant-real"\n', "alpha='abc' is not a number"),
    ('schedule = "constant-real"\nalpha = "3/2"\n', "alpha"),
    ('n = "abc"\n', "n must be an integer"),
    ('schedule = "general"\nweights = [["abc"], [["1/2"]]]\n', "weights alpha[0]='abc'"),
    ('schedule = "general"\nweights = [[[[[[]]]]], []]\n', "weights"),
    ('schedule = "general"\nweights = "1/2"\n', "weights must be a pair"),
    ('lam = "nan"\nschedule = "fixed-ratio"\n', "lam"),
])
def test_sweep_file_values_are_checked_like_cli_options(tmp_path, extra, match):
    text = SWEEP.replace("n = 20\n", "") if extra.startswith("n =") else SWEEP
    spec = tmp_path / "s.toml"
    spec.write_text(text + extra)
    refused("sweep", str(spec), "--store", str(tmp_path / "s.db"), match=match)
    assert not (tmp_path / "s.db").exists()


# --- stores ---------------------------------------------------------------------------


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE people (name TEXT)")
    db.commit()
    db.close()
    before = path.read_bytes()
    for args in (("results", "list"), ("results", "show", "ab"),
                 ("results", "export", "-o", str(tmp_path / "x.csv"))):
        refused(*args, "--store", str(path), match="is not a boundkit results store")
    spec = tmp_path / "g.toml"
    spec.write_text(SWEEP)
    refused("sweep", str(spec), "--store", str(path), match="holds the tables people")
    assert path.read_bytes() == before and not (tmp_path / "x.csv").exists()


def test_a_store_of_another_schema_is_refused(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (key TEXT, x INTEGER)")
    db.commit()
    db.close()
    err = refused("results", "list", "--store", str(path), match="lacks config_hash")
    assert "no such column" not in err


def test_nulls_in_a_store_are_shown_not_crashed_on(store):
    db = sqlite3.connect(store)
    db.execute("UPDATE runs SET wall_s=NULL, started=NULL, model=NULL, device=NULL")
    db.commit()
    db.close()
    code, out, err = cli("results", "list", "--store", str(store), "--format", "json")
    assert code == 0 and all(row["wall_s"] is None for row in json.loads(out)), err
    code, out, err = cli("results", "list", "--store", str(store))
    assert code == 0 and "None" not in out, err
    code, out, err = cli("results", "list", "--store", str(store), "--format", "csv")
    first = out.splitlines()[1].split(",")[0]
    code, out, err = cli("results", "show", first[:8], "--store", str(store))
    assert code == 0 and "? s" in out, err


def test_a_long_or_odd_hash_prefix_is_refused(store):
    refused("results", "show", "a" * 200, "--store", str(store), match="HASH must be 1 to 64")
    refused("results", "show", "%", "--store", str(store), match="lowercase hex")
    refused("results", "show", "", "--store", str(store), match="HASH must be")


def test_export_of_a_missing_store_creates_nothing(tmp_path):
    refused("results", "export", "--store", str(tmp_path / "missing.db"), "-o",
            str(tmp_path / "deep" / "er" / "x.csv"), match="does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
def test_export_never_overwrites_the_store_or_its_sqlite_files(store, suffix):
    target = Path(str(store) + suffix)
    before = target.read_bytes() if target.exists() else None
    refused("results", "export", "--store", str(store), "-o", str(target),
            match="a file this command reads")
    assert (target.read_bytes() if target.exists() else None) == before


def test_a_truncated_store_is_a_one_line_refusal(store, tmp_path):
    db = sqlite3.connect(store)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    cut = tmp_path / "cut.db"
    data = store.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    for args in (("results", "export", "-o", str(tmp_path / "o.csv")), ("results", "list")):
        refused(*args, "--store", str(cut), match="database disk image is malformed")
    assert not (tmp_path / "o.csv").exists()


def test_a_second_writer_does_not_break_reading(store, tmp_path):
    writer = sqlite3.connect(store, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE runs SET error='x'")
    try:  # WAL: readers see the last commit while another connection writes
        code, out, err = cli("results", "list", "--store", str(store), "--format", "json")
        assert code == 0 and len(json.loads(out)) == 2, err  # the last commit, no 'x'
        assert all(row["error"] is None for row in json.loads(out))
    finally:
        writer.execute("ROLLBACK")
        writer.close()


# --- bounds at the edges ---------------------------------------------------------------


def test_a_floor_that_dwarfs_the_power_law_has_no_phase_transition():
    code, out, err = cli("threshold", "--floor", "0.999", "--rate", "0.9999999999", "--const",
                         "1e-300", "--n", "1e300", "--generations", "1..2", "--format", "csv")
    assert code == 0, err
    rows = out.splitlines()[1:]
    assert len(rows) == 2 and all(row.endswith(",,,,,False") for row in rows)
    points = bk.phase_transition("0.9999999999", [1], const="1e-300", n="1e300", floor="0.999")
    assert points[0].lambda_critical is None and "floor C0 exceeds" in points[0].note


def test_a_huge_lam_max_with_a_floor_finds_no_spurious_break_even():
    points = bk.phase_transition("1/4", [1, 2, 50], lam_max=1e300, floor=1)
    assert all(p.certified and p.lambda_critical > 0 for p in points)
    # B_1(λ) − B_1(0) = ((1+λ)^{-1/4} + 1)(1 + x) − 2 ≈ 2ε^{1/4} − ε > 0 (ε = 1/(1+λ)):
    # B_1 never returns to B_1(0), so no break-even ratio exists.
    assert points[0].lambda_break_even is None
    eps = 1e-40
    assert ((eps ** 0.25 + 1) * (2 - eps)) - 2 > 0
    with_even = bk.phase_transition("1/4", [1], floor="0.01")[0]
    b0 = bk.risk(1, 0.0, "1/4", floor="0.01")
    assert bk.risk(1, with_even.lambda_break_even, "1/4", floor="0.01") == pytest.approx(b0,
                                                                                         rel=1e-9)


def test_an_exponentially_small_error_model_still_gets_its_n():
    # 2 exp(-n) <= 1/10  ⇔  n >= log 20 = 2.996: n = 3
    assert bk.samples_required(1, Fraction(1, 10), bk.Custom("exp(-n)")) == 3
    assert 2 * math.exp(-3) <= 0.1 < 2 * math.exp(-2)


@pytest.mark.parametrize("formula, match", [
    ("1/log(1)*n", "division by zero or an undefined value"),
    ("exp(exp(exp(n)))", "overflows float64"),
    ("(n**n)**n**n", "overflows float64"),
    ("-" * 496, "is not a formula"),
    ("-" * 501, "characters long"),
    ("-" * 400 + "n", "formula"),
    ("n**2", "grows with n"),
])
def test_hostile_formulas_are_refused(formula, match):
    with pytest.raises(InvalidArgument, match=match):
        bk.Custom(formula)


def test_a_custom_model_whose_error_grows_is_refused():
    with pytest.raises(InvalidArgument, match="grows with n"):
        bk.Custom("C*n**-r", params={"C": 1, "r": -0.5})
    assert bk.Custom("C*n**-r", params={"C": 1, "r": 0.5}).rate == Fraction(1, 2)


def test_dunder_names_are_never_offered():
    with pytest.raises(InvalidArgument) as info:
        bk.Custom("__class__/n", params={"a": 1})
    assert "__class__" not in str(info.value).split("names")[-1]
    with pytest.raises(InvalidArgument, match="params key '__class__'"):
        bk.Custom("n**-1", params={"__class__": 1})


# --- processes and long lists ------------------------------------------------------------


def _session_processes(sid: int) -> list[str]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        if int(fields[3]) == sid:  # field 6 of /proc/PID/stat: the session id
            out.append(text[: text.rfind(")") + 1])
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("mode", [["--workers", "2"], ["--dask", "local", "--workers", "2"]])
def test_sweep_leaves_no_process_of_its_group(tmp_path, mode):
    spec = tmp_path / "g.toml"
    spec.write_text(SWEEP + "[grid]\nseed = [1, 2, 3]\n")
    proc = subprocess.Popen([sys.executable, "-m", "boundkit", "sweep", str(spec), "--store",
                             str(tmp_path / "s.db"), *mode], cwd=tmp_path,
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and b"3 finished" in out, err
    left = _session_processes(proc.pid)
    if left:  # a process exiting this very moment is given one second, no more
        time.sleep(1)
        left = _session_processes(proc.pid)
    assert left == []


@pytest.mark.parametrize("args", [
    ["threshold", "--generations", "1..999998,999998", "--format", "csv"],
    ["bound", "--schedule", "balanced", "--delta", "0.1", "--generations", "1..999998,999998",
     "--format", "csv"],
])
def test_a_repeated_generation_in_a_long_list_is_refused_at_once(args):
    refused(*args, match="lists generation 999998 more than once")


def test_growth_over_200000_generations_is_exact():
    from boundkit.tables import growth_table

    df = growth_table(range(1, 200_001), "1/10", bk.PowerLaw("1/4"))
    # n = ceil((20 (i+1) / 2)^4) at ε = 1/10: (i+1)^4 * 10^4 exactly
    assert df["n_required"].iloc[-1] == 200_001 ** 4 * 10**4
    assert df["certified"].all() and len(df) == 200_000


def test_a_rate_near_one_stays_exact():
    model = bk.PowerLaw("0.9999999999")
    assert model.rate == Fraction(9999999999, 10**10)  # not rounded to 1
    code, out, err = cli("growth", "--rate", "0.9999999999", "--eps", "1e-300", "--generations",
                         "1", "--format", "json")
    assert code == 0, err
    row = json.loads(out)[0]
    assert row["rate"] == "0.9999999999" and row["exponent"] == pytest.approx(1 / 0.9999999999)
