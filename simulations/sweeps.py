"""Sweeps: grids of loop configurations on local processes, Dask or Slurm, into a store.

A sweep file (TOML) holds the keys of :meth:`LoopConfig.to_dict` (the base run) and a
``[grid]`` table whose lists are swept as a product; keys of nested parameters are
dotted (``"model_params.bandwidth" = [0.2, 0.3]``) or nested tables
(``[grid.model_params]``). :func:`sweep` maps the runs not yet finished in the store
onto any ``concurrent.futures.Executor``: local processes by default, Dask
(``Client(address).get_executor()``, or a ``LocalCluster``), or Slurm through
submitit (:class:`SubmititPool` adapts its jobs to futures). Each worker runs torch
with one intra-op thread: workers already fill the cores, and under load torch's
spinning intra-op threads cost more than they give (measured: ``verify --quick`` with a
load average of 12 on 2 cores took 1,855 s wall and 490 CPU-s with 2 threads against
864 s and 80 CPU-s with 1). The parent process writes each run to the
store as it finishes; a run that raises is recorded as failed and the sweep goes on;
Ctrl-C cancels what has not started and keeps every finished run.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import copy
import itertools
import multiprocessing
import os
import platform
import signal
import threading
import time
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from boundkit._checks import check_int
from boundkit.errors import InvalidArgument
from simulations.config import LoopConfig
from simulations.store import ResultStore, package_version, run_key


def expand(spec: dict, source: str = "sweep") -> list[LoopConfig]:
    """The configs of a sweep spec: the base keys, with the ``grid`` lists as a product."""
    if not isinstance(spec, dict):
        raise TypeError(f"a sweep spec is a dict; got {type(spec).__name__}.")
    base = {k: v for k, v in spec.items() if k != "grid"}
    grid = _flatten(spec.get("grid", {}), source)
    names = list(grid)
    out, seen = [], set()
    for values in itertools.product(*(grid[k] for k in names)):
        run = copy.deepcopy(base)
        for name, value in zip(names, values, strict=True):
            _assign(run, name, value)
        try:
            config = LoopConfig.from_dict(run)
        except (InvalidArgument, TypeError) as exc:
            where = ", ".join(f"{n}={v!r}" for n, v in zip(names, values, strict=True))
            raise InvalidArgument(f"{source}: the run with {where or 'the base keys'} is "
                                  f"refused: {exc}", argument="grid") from None
        if config.config_hash not in seen:
            seen.add(config.config_hash)
            out.append(config)
    return out


def load(path: str | Path) -> list[LoopConfig]:
    """The configs of a sweep file (TOML)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"CONFIG={str(path)!r} cannot be read ({exc.strerror or exc}). "
                              f"Pass a sweep file such as examples/sweep.toml.",
                              argument="config") from None
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"CONFIG={str(path)!r} is not valid TOML ({exc}).",
                              argument="config") from None
    return expand(spec, str(path))


def _flatten(grid: object, source: str, prefix: str = "") -> dict[str, list]:
    if not isinstance(grid, dict):
        raise InvalidArgument(f"{source}: [grid] must be a table of lists.", argument="grid")
    out: dict[str, list] = {}
    for key, value in grid.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= _flatten(value, source, f"{name}.")
        elif isinstance(value, list) and value:
            out[name] = value
        else:
            raise InvalidArgument(f"{source}: grid.{name} must be a non-empty list of values "
                                  f"to sweep; got {value!r}.", argument="grid")
    return out


def _assign(run: dict, dotted: str, value) -> None:
    head, _, rest = dotted.partition(".")
    if not rest:
        run[head] = value
        return
    inner = run.setdefault(head, {})
    if not isinstance(inner, dict):
        raise InvalidArgument(f"grid key {dotted!r}: {head} is not a table.", argument="grid")
    _assign(inner, rest, value)


def execute(config_dict: dict, threads: int) -> dict:
    """Run one config in a worker (top level, so that it pickles); never raises."""
    import numpy
    import torch

    from simulations.engine import run

    torch.set_num_threads(max(1, threads))
    started = datetime.now(UTC).isoformat()
    t0 = time.perf_counter()
    meta = {"started": started, "version": package_version(),
            "versions": {"boundkit": package_version(), "torch": torch.__version__,
                         "numpy": numpy.__version__, "python": platform.python_version()}}
    try:
        config = LoopConfig.from_dict(config_dict)
        meta["device"] = config.device
        frame = run(config)
        meta |= {"wall_s": time.perf_counter() - t0, "ended": datetime.now(UTC).isoformat()}
        return {"frame": frame, "meta": meta}
    except Exception as exc:  # recorded as failed; the sweep goes on
        meta |= {"wall_s": time.perf_counter() - t0, "ended": datetime.now(UTC).isoformat()}
        return {"error": f"{type(exc).__name__}: {exc}", "meta": meta}


@dataclass
class SweepResult:
    """What a sweep did: counts, and whether Ctrl-C stopped it."""

    total: int
    skipped: int = 0
    finished: int = 0
    failed: int = 0
    interrupted: bool = False
    errors: dict = field(default_factory=dict)


def sweep(configs: list[LoopConfig], executor: cf.Executor | None = None,
          store: ResultStore | str | Path | None = None, workers: int | None = None,
          progress=None) -> SweepResult:
    """Run the configs not yet finished in ``store`` and record each one as it finishes.

    Parameters
    ----------
    configs : list of LoopConfig
        The runs (a sweep file's [load][simulations.sweeps.load] gives them).
    executor : concurrent.futures.Executor, optional
        Where to run: local processes by default, a Dask client's executor, or a
        [SubmititPool][simulations.sweeps.SubmititPool] for Slurm.
    store : ResultStore, str or Path
        The results store (required): finished runs in it are skipped.
    workers : int, optional
        Local processes when ``executor`` is None (default: one per core).
    progress : callable, optional
        Called as ``progress(finished, running, failed, todo)`` after every change.

    Returns
    -------
    SweepResult
        Counts (total, skipped, finished, failed), the errors by config hash, and
        whether Ctrl-C interrupted it (every finished run is kept).

    Raises
    ------
    InvalidArgument
        No store, or bad workers.

    Notes
    -----
    Each worker runs torch with one intra-op thread; a run that raises is recorded as
    failed and the sweep goes on.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from simulations import LoopConfig, sweep
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     result = sweep([LoopConfig(model="gaussian-mle", data="gaussian", n=20, rounds=1)],
    ...                    store=pathlib.Path(tmp) / "s.db", workers=1)
    >>> result.finished
    1
    """
    if not isinstance(configs, list | tuple) or not all(isinstance(c, LoopConfig)
                                                        for c in configs):
        raise TypeError("configs must be a list of LoopConfig.")
    if store is not None and not isinstance(store, ResultStore | str | Path):
        raise TypeError(f"store must be a ResultStore or a file path; got "
                        f"{type(store).__name__} {store!r}.")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must be a concurrent.futures.Executor; got "
                        f"{type(executor).__name__}.")
    if workers is not None:
        workers = check_int(workers, "workers", 1, 4096, "2")
    if progress is not None and not callable(progress):
        raise TypeError("progress must be a callable (finished, running, failed, todo).")
    if store is None:
        raise InvalidArgument("store is required: the results go into a SQLite file; pass "
                              "e.g. store='results.db'.", argument="store")
    own_store = not isinstance(store, ResultStore)
    db = ResultStore(store) if own_store else store
    workers = workers or max(1, os.cpu_count() or 1)
    keys = [run_key(c) for c in configs]
    done = db.finished(keys)
    todo = [c for c, k in zip(configs, keys, strict=True) if k not in done]
    result = SweepResult(total=len(configs), skipped=len(configs) - len(todo))
    own_executor = executor is None
    if own_executor and todo:
        executor = local_executor(workers)
    threads = 1  # workers run side by side: more intra-op threads only spin (module docstring)
    pending: dict = {}
    try:
        with sigint_ignored():  # workers spawned now inherit it: Ctrl-C is the parent's
            pending = {executor.submit(execute, c.to_dict(), threads): c for c in todo}
        _report(progress, result, pending, len(todo))
        for future in cf.as_completed(pending):
            config = pending[future]
            out = future.result()
            if "frame" in out:
                db.record(config, out["frame"], out["meta"])
                result.finished += 1
            else:
                db.record_failure(config, out["error"], out["meta"])
                result.failed += 1
                result.errors[config.config_hash] = out["error"]
            _report(progress, result, pending, len(todo))
    except KeyboardInterrupt:
        result.interrupted = True
        for future in pending:
            future.cancel()
    finally:
        if own_executor and executor is not None:
            executor.shutdown(wait=not result.interrupted, cancel_futures=True)
            if not result.interrupted:  # Ctrl-C: the pool's own shutdown ends its workers
                reap_children()
        if own_store:
            db.close()
    return result


def _report(progress, result: SweepResult, pending: dict, todo: int) -> None:
    if progress is not None:
        running = sum(1 for f in pending if f.running())
        progress(result.finished, running, result.failed, todo)


def local_executor(workers: int) -> cf.Executor:
    """``workers`` spawned local processes (spawn: no forked torch state) that exit when
    the sweep's process dies (:func:`exit_with_parent`)."""
    return cf.ProcessPoolExecutor(max_workers=workers,
                                  mp_context=multiprocessing.get_context("spawn"),
                                  initializer=exit_with_parent, initargs=(os.getpid(),))


def exit_with_parent(parent: int, every: float = 1.0) -> None:
    """In a worker: a daemon thread that ends the process once ``parent`` is no longer its
    parent. A sweep killed outright (SIGTERM, SIGKILL: no Ctrl-C to cancel its pool) would
    otherwise leave its workers computing runs nobody stores, then idling for good
    (measured: two such orphans per killed ``verify --store`` run)."""

    def watch():
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def cluster_executor(dask_address: str | None, partition: str | None, workers: int | None,
                     folder: str | Path):
    """(executor, close) for ``--dask ADDRESS|local`` or ``--slurm PARTITION``, or
    (None, None) for local processes: connected first, so that a refusal (no scheduler,
    no Slurm) comes before anything is written. ``folder`` holds submitit's files."""
    if dask_address is not None:
        return dask_executor(dask_address, workers or 2)
    if partition is not None:
        executor = slurm_executor(partition, Path(folder) / "submitit")
        return executor, executor.shutdown
    return None, None


def reap_children(timeout: float = 30.0) -> None:
    """Wait for every child process this sweep started, then stop multiprocessing's
    resource tracker: when ``boundkit sweep`` returns, no process of its group is left
    (a LocalCluster's nannies and workers, spawned pool workers, the tracker)."""
    for child in multiprocessing.active_children():
        child.join(timeout)
        if child.is_alive():
            child.terminate()
            child.join(5)
    with contextlib.suppress(Exception):  # a private helper: best effort on other Pythons
        from multiprocessing import resource_tracker

        resource_tracker._resource_tracker._stop()


@contextlib.contextmanager
def sigint_ignored():
    """Ignore Ctrl-C while worker processes are started, so that they inherit it.

    A process started with SIGINT ignored keeps it ignored (CPython installs its
    KeyboardInterrupt handler only over the default disposition), even while it is
    still importing: Ctrl-C then reaches only the parent, which cancels what has not
    started and keeps every finished run.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def dask_executor(address: str, workers: int, timeout: str = "10s"):
    """(executor, closer) for a Dask scheduler at ``address``, or ``"local"`` for a
    ``LocalCluster`` of ``workers`` single-threaded worker processes.

    The LocalCluster a sweep starts runs without Dask's statistical profiler (it
    samples every worker's stack each 10 ms), its GIL monitor and the nanny's
    ``MALLOC_TRIM_THRESHOLD_`` (which makes glibc return memory eagerly, slowing
    torch's allocation-heavy runs): measured, runs then take as long in a Dask worker
    as in a plain process. A cluster of your own keeps its own configuration.
    """
    import dask
    from dask.distributed import Client, LocalCluster

    if address != "local":
        try:
            client = Client(address, timeout=timeout)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise InvalidArgument(f"--dask={address!r}: no Dask scheduler answered there within "
                                  f"{timeout} ({type(exc).__name__}: {str(exc)[:120]}). Start "
                                  f"one (`dask scheduler`) and pass its tcp://HOST:PORT, or "
                                  f"pass --dask local.", argument="dask") from None
        return client.get_executor(), client.close
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    quiet = {"distributed.worker.profile.enabled": False,
             "distributed.admin.system-monitor.gil.enabled": False,
             "distributed.nanny.pre-spawn-environ": environ}
    with dask.config.set(quiet), sigint_ignored():
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    client = Client(cluster)

    def close():
        client.close()
        cluster.close()
        reap_children()

    return client.get_executor(), close


class SubmititPool(cf.Executor):
    """A submitit executor (Slurm, or its local executor) as a ``concurrent.futures`` one.

    ``submit`` hands the call to submitit and returns a future that a polling thread
    completes when the job is done.
    """

    def __init__(self, submitit_executor, poll: float = 0.5):
        self._ex, self._poll = submitit_executor, poll
        self._jobs: list = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def submit(self, fn, /, *args, **kwargs):
        future: cf.Future = cf.Future()
        job = self._ex.submit(fn, *args, **kwargs)
        future.set_running_or_notify_cancel()
        with self._lock:
            self._jobs.append((job, future))
        return future

    def _watch(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                waiting = [(j, f) for j, f in self._jobs if not f.done()]
            for job, future in waiting:
                if job.done():
                    try:
                        future.set_result(job.result())
                    except Exception as exc:  # the job failed outside our function
                        future.set_exception(exc)
            time.sleep(self._poll)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            jobs = list(self._jobs)
        for job, future in jobs:
            if cancel_futures and not future.done():
                job.cancel(check=False)
                future.cancel()
        if wait:
            for _, future in jobs:
                if not future.cancelled():
                    cf.wait([future])
        self._stop.set()


def slurm_executor(partition: str, folder: str | Path, threads: int = 1,
                   timeout_min: int = 240) -> SubmititPool:
    """Slurm jobs on ``partition`` through submitit's ``AutoExecutor`` (refused, before any
    work, where Slurm's ``sbatch`` is not on PATH)."""
    import shutil

    import submitit

    if not isinstance(partition, str) or not partition.strip():
        raise InvalidArgument(f"--slurm takes a partition name; got {partition!r}.",
                              argument="slurm")
    missing = [tool for tool in ("sbatch", "srun") if shutil.which(tool) is None]
    if missing:
        raise InvalidArgument(f"--slurm={partition!r} needs Slurm, but {' and '.join(missing)} "
                              f"is not on PATH here. Run on a Slurm login node, or use "
                              f"--workers N or --dask local.", argument="slurm")

    ex = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    ex.update_parameters(slurm_partition=partition, cpus_per_task=threads,
                         timeout_min=timeout_min)
    return SubmititPool(ex)


def submitit_local_executor(folder: str | Path, timeout_min: int = 30) -> SubmititPool:
    """submitit's local executor (subprocesses), the Slurm path without a cluster."""
    import submitit

    ex = submitit.LocalExecutor(folder=str(folder))
    ex.update_parameters(timeout_min=timeout_min)
    return SubmititPool(ex)
