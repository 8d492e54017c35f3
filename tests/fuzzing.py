"""Shared pieces of the fuzz tests: hostile values, CLI argument strategies, a hang guard.

Used by ``test_fuzz_cli.py`` and ``test_fuzz_api.py`` (issue "Hardening"). The number
of examples follows the hypothesis profile: ``ci`` keeps both fuzzers to about a
minute, ``thorough`` runs many more.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from fractions import Fraction

import numpy as np
from hypothesis import strategies as st

from boundkit.registry import ERROR_MODEL_REGISTRY, SCHEDULE_REGISTRY

#: One temporary folder per test process for every output the fuzzed commands write,
#: removed when the process exits (the folders used to pile up in /tmp: 90 per run).
TMP_ROOT = tempfile.mkdtemp(prefix="bk-fuzz-")
atexit.register(shutil.rmtree, TMP_ROOT, ignore_errors=True)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
#: Examples per fuzz test under each profile.
EXAMPLES = {"ci": 300, "thorough": 3000}.get(PROFILE, 300)
#: A single call that takes longer than this is a hang (a detector, not a speed goal).
HANG_SECONDS = 90

#: Hostile command-line values: bad numbers, extremes, broken ranges, junk.
HOSTILE_TEXT = ["0", "-1", "-0", "1e-12", "1e-300", "1e-400", "1e308", "1e400", "nan", "inf",
                "-inf", "1/0", "x", "", " ", "1..3", "0..2", "5..2", "1,2,2", "1..3,2", "True",
                "0x10", "1_000", "½", "1e-6", "0.9999999999", "1-1e-10", "1/3", "3", "10",
                "1e12", "100000000000", "9" * 40, "2/99", "262145", "1..1000000", "5000",
                "1e999999999", "1" * 5000, "--", "-5..3", "1..", "..3", "３"]

#: Values that are valid for each option (so that fuzzing also reaches deep code).
VALID = {
    "--rate": ["1/4", "0.25", "1/2", "2/5", "1e-12", "0.9999999999", "1/3"],
    "--generations": ["1", "1..5", "2,4", "1..3,7", "0..3", "10..12", "1..20000"],
    "--floor": ["0", "0.01", "1/100", "0.3"],
    "--const": ["1", "2", "262145", "1/3"],
    "--n": ["1", "100", "10000", "1e6"],
    "--eps": ["1/10", "0.01", "1e-4", "2", "1e-300"],
    "--model": [*ERROR_MODEL_REGISTRY.names(), "gpt"],
    "--schedule": [*SCHEDULE_REGISTRY.names(), "nope"],
    "--alpha": ["0", "1/2", "1", "0.9"],
    "--lambda": ["0", "1", "3", "1e12"],
    "--delta": ["0.01", "1", "1e-6", "1e308"],
    "--format": ["table", "json", "csv", "latex", "markdown", "xml"],
    "--convention": ["scaled", "fixed-real", "fixed"],
}

#: The options of each subcommand (flags map to None).
COMMANDS = {
    "threshold": {"--rate": 1, "--generations": 1, "--floor": 1, "--const": 1, "--n": 1,
                  "--exact": None, "--convention": 1, "--format": 1},
    "growth": {"--eps": 1, "--rate": 1, "--generations": 1, "--const": 1, "--model": 1,
               "--format": 1},
    "bound": {"--schedule": 1, "--generations": 1, "--alpha": 1, "--lambda": 1, "--delta": 1,
              "--rate": 1, "--n": 1, "--const": 1, "--format": 1},
    "table": {"--rate": 1, "--generations": 1, "--eps": 1, "--floor": 1, "--const": 1,
              "--n": 1, "--delta": 1, "--alpha": 1, "--lambda": 1, "--exact": None,
              "--convention": 1, "--format": 1},
}

SIMULATE_VALID = {
    "--data": ["gaussian", "unequal", "ring8", "mixture", "moons", "laplace", "two-modes", "zz"],
    "--schedule": ["replace", "accumulate", "balanced", "constant-real", "fixed-ratio",
                   "final-rescue", "nope"],
    "--alpha": ["1/2", "0", "1"], "--lambda": ["1", "0", "3"],
    "--rounds": ["1", "2"], "--n": ["20", "40", "3"], "--growth": ["0", "1"],
    "--replicates": ["1", "2"], "--seed": ["0", "7"], "--device": ["cpu", "auto", "tpu"],
    "--temperature": ["0.5", "1e12"], "--self-correct": ["0.5", "1"],
    "--dim": ["1", "2", "3"], "--real-data": ["fresh", "pool", "reuse"],
}
#: Sizes a simulate case may only exceed by a value that must be refused before any work.
SIMULATE_HUGE = {"--rounds": "100000000", "--n": "100000000000", "--replicates": "1000000",
                 "--dim": "100000"}


def _value(option: str, valid: dict) -> st.SearchStrategy[str]:
    """A value for ``option``: valid 6 times in 10, hostile 3, random text 1."""
    kinds = [st.sampled_from(valid.get(option, ["1"])), st.sampled_from(HOSTILE_TEXT),
             st.text(alphabet="0123456789./,-eE xn", max_size=10)]
    return st.sampled_from([0] * 6 + [1] * 3 + [2]).flatmap(lambda k: kinds[k])


@st.composite
def cli_arguments(draw, command: str) -> list[str]:
    """An argument list for ``boundkit COMMAND``: options in random order, values hostile or not."""
    argv = [command]
    if command == "table":
        argv.append(draw(st.sampled_from(["phase-transition", "growth", "schedules", "nope"])))
    options = COMMANDS[command]
    chosen = draw(st.lists(st.sampled_from(sorted(options)), max_size=5, unique=True))
    if command == "bound" and "--schedule" not in chosen and draw(st.booleans()):
        chosen.append("--schedule")
    for opt in chosen:
        argv.append(opt)
        if options[opt] is not None:
            argv.append(draw(_value(opt, VALID)))
    if draw(st.integers(0, 9)) == 0:
        argv.append(draw(st.sampled_from(["--nope", "extra", "--format"])))
    return argv


#: Options that apply together, per command (and table), for the valid-leaning strategy.
APPLICABLE = {
    "threshold": ["--rate", "--generations", "--format"],
    "growth": ["--eps", "--generations", "--format"],
    "bound": ["--generations", "--delta", "--format"],
    "table phase-transition": ["--rate", "--generations", "--format"],
    "table growth": ["--rate", "--generations", "--eps", "--const", "--format"],
    "table schedules": ["--generations", "--delta", "--alpha", "--lambda", "--format"],
}
#: Valid values that stay cheap (no 20,000-row tables, no 1e-300 eps).
CHEAP = {**VALID, "--generations": ["1", "1..5", "2,4", "1..3,7", "0..3", "10..12", "1..300"],
         "--eps": ["1/10", "0.01", "1e-4", "2"], "--format": ["json", "json", "csv", "table"],
         "--alpha": ["1/2", "1", "0.9"], "--delta": ["0.01", "1", "1e-6"]}


@st.composite
def valid_cli_arguments(draw) -> list[str]:
    """Argument lists of applicable options with valid values: these should mostly exit 0."""
    key = draw(st.sampled_from(sorted(APPLICABLE)))
    argv = key.split()
    if key == "bound":
        argv += ["--schedule", draw(st.sampled_from(["full-synthetic", "balanced", "replace",
                                                      "accumulate-subsample"]))]
    if key == "growth":
        argv += ["--model", draw(st.sampled_from(list(ERROR_MODEL_REGISTRY.names())))]
    for opt in draw(st.lists(st.sampled_from(APPLICABLE[key]), max_size=4, unique=True)):
        argv += [opt, draw(st.sampled_from(CHEAP[opt]))]
    if key == "bound" and "--delta" not in argv:
        argv += ["--delta", "0.01"]
    return argv


@st.composite
def valid_simulate_arguments(draw) -> list[str]:
    """Tiny simulations with a consistent set of options: these should mostly exit 0."""
    model = draw(st.sampled_from(["gaussian-mle", "kde", "gmm"]))
    data = draw(st.sampled_from(["gaussian", "unequal", "ring8", "moons", "laplace"]))
    argv = ["simulate", model, "--data", data, "--rounds", draw(st.sampled_from(["1", "2", "3"])),
            "--n", draw(st.sampled_from(["20", "40"])), "--seed", str(draw(st.integers(0, 9)))]
    schedule = draw(st.sampled_from(["replace", "accumulate", "constant-real", "fixed-ratio",
                                     "final-rescue", "balanced"]))
    argv += ["--schedule", schedule]
    if schedule in ("constant-real", "final-rescue") and draw(st.booleans()):
        argv += ["--alpha", draw(st.sampled_from(["1/2", "1", "0.9"]))]
    if schedule == "fixed-ratio":
        argv += ["--lambda", draw(st.sampled_from(["0", "1", "3"]))]
    if draw(st.booleans()):
        argv += ["--temperature", draw(st.sampled_from(["0.5", "2", "1e12"]))]
    if draw(st.booleans()):
        argv += ["--real-data", "pool"]
    if data == "gaussian" and draw(st.booleans()):
        argv += ["--dim", draw(st.sampled_from(["1", "2"]))]
    return [*argv, "--out", tempfile.mkdtemp(dir=TMP_ROOT)]


@st.composite
def simulate_arguments(draw) -> list[str]:
    """Tiny simulations; a size beyond tiny is always one that must be refused up front."""
    argv = ["simulate", draw(st.sampled_from(["gaussian-mle", "kde", "gmm", "nope"]))]
    chosen = draw(st.lists(st.sampled_from(sorted(SIMULATE_VALID)), max_size=5, unique=True))
    for opt in chosen:
        argv += [opt, draw(_value(opt, SIMULATE_VALID))]
    for opt, tiny in (("--rounds", "2"), ("--n", "30"), ("--replicates", "1")):
        if opt not in argv:
            argv += [opt, tiny]
    if draw(st.integers(0, 5)) == 0:
        opt = draw(st.sampled_from(sorted(SIMULATE_HUGE)))
        argv += [opt, SIMULATE_HUGE[opt]]
    out = draw(st.sampled_from(["tmp"] * 8 + ["/proc/boundkit/x", ""]))
    argv += ["--out", tempfile.mkdtemp(dir=TMP_ROOT) if out == "tmp" else out]
    return _size_guard(argv)


def _size_guard(argv: list[str]) -> list[str]:
    """Keep the last occurrence of each size option tiny unless it is a huge one to refuse."""
    for opt in ("--rounds", "--n", "--replicates", "--dim"):
        idx = [k for k, a in enumerate(argv[:-1]) if a == opt]
        if idx:
            value = argv[idx[-1] + 1]
            ok = value in SIMULATE_VALID.get(opt, []) or value == SIMULATE_HUGE.get(opt)
            digits = value.strip().lstrip("+")
            if not ok and digits.isdigit() and (len(digits) > 2 or int(digits) > 50):
                argv[idx[-1] + 1] = SIMULATE_HUGE[opt]
    return argv


@st.composite
def prove_arguments(draw) -> list[str]:
    """``prove`` with cheap selections (R3, R5 without mutants), bad names, formats and paths."""
    argv = ["prove"]
    if draw(st.booleans()):
        argv.append("--list")
    argv += draw(st.lists(st.sampled_from(["R3", "R5", "r3", "R9", "E7", ""]), min_size=1,
                          max_size=2))
    argv.append("--no-mutants")
    if draw(st.booleans()):
        argv += ["--format", draw(st.sampled_from(["text", "markdown", "latex", "pdf"]))]
    if draw(st.integers(0, 2)) == 0:
        target = draw(st.sampled_from(["tmp", "/proc/boundkit/x.tex", ""]))
        argv += ["-o", os.path.join(tempfile.mkdtemp(dir=TMP_ROOT), "a.tex")
                 if target == "tmp" else target]
    return argv


class Hang(Exception):
    """Raised in the main thread when a fuzz case runs past :data:`HANG_SECONDS`."""


@contextmanager
def hang_guard(seconds: int = HANG_SECONDS):
    """Fail a case that runs for more than ``seconds`` (SIGALRM, main thread only)."""

    def _alarm(*_):
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


#: Hostile Python values for the API fuzz: wrong types, non-finite, extremes, numpy scalars.
HOSTILE_VALUES = {
    "str": "abc", "none": None, "empty_list": [], "dict": {}, "object": object(),
    "nan": float("nan"), "inf": float("inf"), "-inf": -float("inf"), "zero": 0, "negative": -1,
    "huge_int": 10**400, "bool": True, "np_int": np.int64(3), "np_float": np.float64(0.25),
    "np_bool": np.bool_(True), "complex": 1j, "tiny": 1e-300, "big": 1e300, "fraction_str": "1/2",
    "fraction": Fraction(1, 3), "np_array": np.array([1.0, 2.0]), "float_list": [0.5, 0.25],
    "negative_float": -0.5, "one": 1, "bytes": b"1",
}


#: A one-run sweep file, and a store holding its result, made once per session.
_SWEEP_FILES: dict[str, str] = {}


def sweep_files() -> dict[str, str]:
    """Paths of a valid tiny sweep, a broken TOML, a store with one run, a non-store file."""
    if not _SWEEP_FILES:
        folder = tempfile.mkdtemp(prefix="sweep-", dir=TMP_ROOT)
        good = os.path.join(folder, "good.toml")
        with open(good, "w", encoding="utf-8") as f:
            f.write('model = "gaussian-mle"\nrounds = 1\nn = 20\nmetrics = ["e"]\n')
        bad = os.path.join(folder, "bad.toml")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("model = [unclosed\n")
        junk = os.path.join(folder, "junk.db")
        with open(junk, "w", encoding="utf-8") as f:
            f.write("not a database")
        grid = os.path.join(folder, "grid.toml")
        with open(grid, "w", encoding="utf-8") as f:
            f.write('model = "kde"\n[grid]\nn = 5\n')
        stores = _hostile_stores(folder, good)  # all or nothing: no half-made cache
        _SWEEP_FILES.update(good=good, bad=bad, junk=junk, folder=folder, grid=grid, **stores)
    return _SWEEP_FILES


def _hostile_stores(folder: str, sweep_file: str) -> dict[str, str]:
    """Stores a user may point at by mistake: another program's SQLite file, a store of
    another schema, one with NULLs in every nullable column, and a truncated one."""
    import sqlite3

    from simulations import ResultStore, sweep
    from simulations.sweeps import load

    out = {k: os.path.join(folder, f"{k}.db") for k in ("foreign", "schema", "nulls", "cut")}
    for key, table in (("foreign", "people (name TEXT)"), ("schema", "runs (key TEXT, x INT)")):
        db = sqlite3.connect(out[key], isolation_level=None)
        db.execute(f"CREATE TABLE {table}")
        db.close()
    with ResultStore(out["nulls"]) as store:
        sweep(load(sweep_file), store=store, workers=1)
    db = sqlite3.connect(out["nulls"], isolation_level=None)
    db.execute("UPDATE runs SET model=NULL, data=NULL, schedule=NULL, n=NULL, rounds=NULL, "
               "replicates=NULL, seed=NULL, device=NULL, versions=NULL, wall_s=NULL, "
               "started=NULL, ended=NULL, error=NULL")
    db.execute("UPDATE rows SET value=NULL, lo=NULL")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    with open(out["nulls"], "rb") as src:
        data = src.read()
    with open(out["cut"], "wb") as dst:
        dst.write(data[: len(data) // 2])
    return out


#: Hostile values for the keys of a sweep file (the same checks as the CLI must refuse them).
SWEEP_VALUES = ["abc", -1, 0, 1, 2, 0.5, 1e308, "1/2", "nan", "inf", "-1/3", True, [],
                {}, [["abc"], [["1/2"]]], [[1], [[1]]], [["1/2"], ["1/2"]], [[[[[]]]]],
                "x" * 300, 10**30]
SWEEP_KEYS = ["alpha", "lam", "n", "rounds", "weights", "schedule", "model", "data", "seed",
              "growth", "replicates", "temperature", "self_correct", "metrics", "real_data",
              "convention", "device", "round_sizes", "confidence", "grid"]


@st.composite
def sweep_file_arguments(draw) -> list[str]:
    """``boundkit sweep`` on a tiny sweep file with one to three keys set to hostile values."""
    import tomli_w

    spec: dict = {"model": "gaussian-mle", "rounds": 1, "n": 20, "metrics": ["e"]}
    for key in draw(st.lists(st.sampled_from(SWEEP_KEYS), min_size=1, max_size=3,
                             unique=True)):
        value = draw(st.sampled_from(SWEEP_VALUES))
        spec[key] = {"n": value} if key == "grid" and not isinstance(value, dict) else value
    folder = sweep_files()["folder"]
    path = os.path.join(folder, f"hostile-{draw(st.integers(0, 10**9))}.toml")
    try:
        text = tomli_w.dumps(spec)
    except (TypeError, ValueError):
        text = "model = 3\n"  # a value TOML cannot hold: test a wrong type instead
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return ["sweep", path, "--store", os.path.join(folder, "hostile.db"), "--workers", "1"]


@st.composite
def store_arguments(draw) -> list[str]:
    """``sweep``, ``results`` and ``schema`` with hostile files, stores and options."""
    files = sweep_files()
    store = draw(st.sampled_from([os.path.join(files["folder"], "s.db"), files["junk"],
                                  "/proc/boundkit/s.db", "/nonexistent/s.db", "",
                                  files["foreign"], files["schema"], files["nulls"],
                                  files["cut"]]))
    command = draw(st.sampled_from(["sweep", "results list", "results show", "results export",
                                    "schema"]))
    argv = command.split()
    if command == "sweep":
        argv.append(draw(st.sampled_from([files["good"], files["bad"], files["grid"],
                                          "/nonexistent.toml", files["folder"]])))
        argv += draw(st.sampled_from([[], ["--workers", "1"], ["--workers", "0"],
                                      ["--dask", "local", "--slurm", "x"],
                                      ["--slurm", "x", "--workers", "2"]]))
    elif command == "results show":
        argv.append(draw(st.sampled_from(["00", "ffff", "", "x", "a" * 200, "%", "_",
                                          "0" * 65])))
    elif command == "results export":
        argv += ["--format", draw(st.sampled_from(["csv", "parquet", "xml"])), "-o",
                 draw(st.sampled_from([os.path.join(files["folder"], "out.csv"),
                                       "/proc/boundkit/out.csv", store + "-wal", store,
                                       os.path.join(files["folder"], "deep", "er", "x.csv")]))]
    elif command == "results list":
        argv += ["--format", draw(st.sampled_from(["json", "csv", "table", "yaml"]))]
    if command != "schema" and draw(st.integers(0, 9)) > 0:
        argv += ["--store", store]
    return argv
