"""Sweeps and the results store (issue "Experiments at scale")."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from boundkit.cli import main
from boundkit.errors import InvalidArgument
from simulations import LoopConfig, ResultStore, sweep
from simulations.store import run_key
from simulations.sweeps import expand, load

ROOT = Path(__file__).resolve().parents[1]
TINY = {"model": "gaussian-mle", "rounds": 2, "replicates": 2, "metrics": ["e", "mean"]}


def tiny(n: int, **more) -> LoopConfig:
    return LoopConfig.from_dict(TINY | {"n": n} | more)


def write_sweep(path: Path, ns: list[int], rounds: int = 2, replicates: int = 2,
                model: str = "gaussian-mle") -> Path:
    path.write_text(textwrap.dedent(f"""
        model = "{model}"
        rounds = {rounds}
        replicates = {replicates}
        metrics = ["e", "mean"]
        [grid]
        n = {ns}
    """), encoding="utf-8")
    return path


# --- the TOML grid ----------------------------------------------------------------------


def test_grid_expands_to_the_product_of_its_lists():
    configs = expand({"data": "unequal", "rounds": 3,
                      "grid": {"model": ["gaussian-mle", "kde"], "n": [50, 100, 200]}},
                     "spec")
    assert len(configs) == 6
    assert {(c.model, c.n) for c in configs} == {(m, n) for m in ("gaussian-mle", "kde")
                                                 for n in (50, 100, 200)}
    assert all(c.rounds == 3 and c.data == "unequal" for c in configs)


def test_nested_grid_tables_and_dotted_keys_are_the_same():
    dotted = expand({"model": "kde", "grid": {"model_params.bandwidth": [0.2, 0.3]}})
    nested = expand({"model": "kde", "grid": {"model_params": {"bandwidth": [0.2, 0.3]}}})
    assert dotted == nested
    assert [dict(c.model_params)["bandwidth"] for c in dotted] == [0.2, 0.3]


def test_grid_duplicates_collapse_and_the_example_has_twelve_runs():
    assert len(expand({"grid": {"schedule": ["replace", "full-synthetic"]}})) == 1
    configs = load(ROOT / "examples" / "sweep.toml")
    assert len(configs) == 12 and len({c.config_hash for c in configs}) == 12


@pytest.mark.parametrize(("spec", "fragment"), [
    ({"grid": {"n": 5}}, "grid.n must be a non-empty list"),
    ({"grid": {"n": []}}, "grid.n must be a non-empty list"),
    ({"grid": {"model": ["kde", "gpt"]}}, "the run with model='gpt' is refused"),
    ({"colour": "red"}, "unknown LoopConfig keys \\['colour'\\]"),
])
def test_bad_sweep_specs_are_refused(spec, fragment):
    with pytest.raises(InvalidArgument, match=fragment):
        expand(spec)


# --- executors --------------------------------------------------------------------------


def test_local_processes_record_every_run_and_a_second_sweep_skips_them(tmp_path):
    configs = [tiny(n) for n in (20, 30, 40, 50)]
    store = tmp_path / "s.db"
    first = sweep(configs, store=store, workers=2)
    assert (first.finished, first.skipped, first.failed) == (4, 0, 0)
    again = sweep(configs, store=store, workers=2)
    assert (again.finished, again.skipped) == (0, 4)
    with ResultStore(store) as db:
        runs = db.runs()
        assert len(runs) == 4 and set(runs.status) == {"finished"}
        assert json.loads(runs.iloc[0].versions).keys() >= {"boundkit", "torch", "numpy"}
        frame = db.frame(run_key(configs[0]))
    expected = __import__("simulations").run(configs[0])
    pd.testing.assert_frame_equal(frame, expected.reset_index(drop=True), check_dtype=False)


def test_dask_local_cluster_with_process_workers(tmp_path):
    from dask.distributed import Client, LocalCluster

    configs = [tiny(n) for n in (20, 30, 40)]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        result = sweep(configs, executor=client.get_executor(), store=tmp_path / "d.db")
    assert result.finished == 3
    with ResultStore(tmp_path / "d.db") as db:
        assert len(db.runs()) == 3


def test_submitit_local_executor(tmp_path):
    from simulations.sweeps import submitit_local_executor

    pool = submitit_local_executor(tmp_path / "submitit")
    try:
        result = sweep([tiny(20), tiny(30)], executor=pool, store=tmp_path / "m.db")
    finally:
        pool.shutdown()
    assert result.finished == 2


def test_a_failing_run_is_recorded_as_failed_and_the_sweep_goes_on(tmp_path):
    # temperature 1e100 sends the data beyond 1e100 within rounds: the engine refuses it
    bad = LoopConfig(model="gaussian-mle", temperature=1e100, rounds=6, n=20)
    result = sweep([tiny(20), bad, tiny(30)], store=tmp_path / "f.db", workers=2)
    assert (result.finished, result.failed) == (2, 1)
    assert "diverged" in result.errors[bad.config_hash]
    with ResultStore(tmp_path / "f.db") as db:
        failed = db.runs("failed")
        assert list(failed.config_hash) == [bad.config_hash]
        assert "InvalidArgument" in failed.iloc[0].error
        assert db.frame(run_key(bad)).empty
    # the next sweep retries the failed run (and still skips the finished ones)
    again = sweep([tiny(20), bad, tiny(30)], store=tmp_path / "f.db", workers=2)
    assert (again.skipped, again.failed) == (2, 1)


# --- crash safety -----------------------------------------------------------------------


def _finished(store: Path) -> dict[str, str]:
    if not store.exists():
        return {}
    db = sqlite3.connect(store, timeout=30)
    try:
        return dict(db.execute("SELECT key, started FROM runs WHERE status='finished'"))
    except sqlite3.OperationalError:
        return {}
    finally:
        db.close()


def test_resume_after_a_real_sigkill_loses_nothing_and_reruns_nothing(tmp_path):
    spec = write_sweep(tmp_path / "sweep.toml", list(range(200, 2600, 100)), rounds=6,
                       replicates=4, model="kde")
    store = tmp_path / "k.db"
    proc = subprocess.Popen([sys.executable, "-m", "boundkit", "sweep", str(spec), "--store",
                             str(store), "--workers", "2"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while len(_finished(store)) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    before = _finished(store)
    total = len(load(spec))
    assert 3 <= len(before) < total  # killed mid-sweep, after some runs finished
    with ResultStore(store) as db:
        assert db.integrity() == "ok"
    result = sweep(load(spec), store=store, workers=2)
    assert (result.skipped, result.finished, result.failed) == (len(before),
                                                                total - len(before), 0)
    after = _finished(store)
    assert len(after) == total
    assert all(after[k] == started for k, started in before.items())  # none ran twice


def test_two_sweeps_writing_one_store_at_once(tmp_path):
    store = tmp_path / "c.db"
    a = write_sweep(tmp_path / "a.toml", [20, 30, 40, 50, 60, 70])
    b = write_sweep(tmp_path / "b.toml", [50, 60, 70, 80, 90, 100])
    procs = [subprocess.Popen([sys.executable, "-m", "boundkit", "sweep", str(spec),
                               "--store", str(store), "--workers", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for spec in (a, b)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    with ResultStore(store) as db:
        assert db.integrity() == "ok"
        runs = db.runs()
        assert len(runs) == 9 and runs.key.is_unique and set(runs.status) == {"finished"}
        for key in runs.key:  # every run's frame is whole: 2 replicates x 2 rounds x 2 metrics
            assert len(db.frame(key)) == 8


# --- the command line -------------------------------------------------------------------


def test_results_commands(tmp_path, capsys):
    store = tmp_path / "r.db"
    spec = write_sweep(tmp_path / "sweep.toml", [20, 30])
    assert main(["sweep", str(spec), "--store", str(store), "--workers", "2"]) == 0
    capsys.readouterr()
    assert main(["results", "list", "--store", str(store), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2
    assert {"config_hash", "model", "data", "schedule", "n", "seed", "wall_s"} <= set(rows[0])
    assert main(["results", "show", rows[0]["config_hash"][:10], "--store", str(store)]) == 0
    assert rows[0]["config_hash"] in capsys.readouterr().out
    out = tmp_path / "all.csv"
    assert main(["results", "export", "--store", str(store), "--format", "csv", "-o",
                 str(out)]) == 0
    frame = pd.read_csv(out)
    assert set(frame.config_hash) == {r["config_hash"] for r in rows}
    assert {"model", "n", "n_round", "real_share", "metric", "value"} <= set(frame.columns)


@pytest.mark.parametrize(("argv", "fragment"), [
    (["results", "list", "--store", "/nonexistent/x.db"], "does not exist"),
    (["sweep", "/nonexistent/s.toml", "--store", "x.db"], "cannot be read"),
    (["sweep", "examples/sweep.toml", "--store", "/proc/x/s.db"], "cannot be opened"),
    (["sweep", "examples/sweep.toml", "--store", "s.db", "--dask", "local", "--slurm", "p"],
     "pass one of --dask and --slurm"),
])
def test_bad_sweep_arguments_exit_2(capsys, argv, fragment, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err


def test_ctrl_c_stops_cleanly_and_keeps_the_finished_runs(tmp_path):
    spec = write_sweep(tmp_path / "sweep.toml", list(range(200, 2600, 100)), rounds=6,
                       replicates=4, model="kde")
    store = tmp_path / "i.db"
    # as from a terminal: Ctrl-C at its default (a suite started in the background by a
    # non-interactive shell inherits SIGINT ignored, and so would the sweep)
    proc = subprocess.Popen([sys.executable, "-m", "boundkit", "sweep", str(spec), "--store",
                             str(store), "--workers", "2"], start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while len(_finished(store)) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    _, err = proc.communicate(timeout=120)
    kept = _finished(store)
    assert proc.returncode == 130 and "Traceback" not in err
    assert "interrupted: every finished run is in the store" in err
    assert 2 <= len(kept) < len(load(spec))
    with ResultStore(store) as db:
        assert db.integrity() == "ok" and len(db.runs()) == len(kept)


KILLED_SWEEP = """
import os, sys, time
from simulations.sweeps import local_executor
pool = local_executor(1)
worker = pool.submit(os.getpid).result()
pool.submit(time.sleep, 120)  # busy: a run the killed sweep will never store
print(worker, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc (Linux)")
def test_pool_workers_exit_when_the_sweep_is_killed():
    # a sweep killed outright (SIGKILL: no Ctrl-C, no cleanup) must not leave its workers
    # running; each worker watches its parent and exits once it is gone
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SWEEP], stdout=subprocess.PIPE,
                            text=True)
    try:
        worker = int(proc.stdout.readline())
        os.kill(worker, 0)  # alive while the sweep lives
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                break
            if open(f"/proc/{worker}/stat").read().split()[2] == "Z":
                break  # exited; a zombie until init reaps it
            time.sleep(0.2)
        else:
            os.kill(worker, signal.SIGKILL)
            raise AssertionError(f"worker {worker} outlived its killed sweep by 15 s")
    finally:
        proc.kill()
