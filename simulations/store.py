"""A crash-safe results store: one SQLite file in WAL mode.

A run is keyed by its config hash plus the package version. When it finishes, its
metadata (the config's canonical JSON, seed, versions of boundkit/torch/numpy/python,
device, wall time, start and end) and its tidy frame are committed in one
transaction, so a sweep killed at any moment (even by SIGKILL) loses no finished
run; a run that raised is recorded as failed with its error (and is retried by the
next sweep). Several sweeps may write one store at once: SQLite's locks serialise
the transactions (``BEGIN IMMEDIATE`` with a busy timeout), and a run finished by
one is kept, not written twice.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import sqlite3
import time
from pathlib import Path

import pandas as pd

from boundkit.errors import InvalidArgument
from simulations.config import LoopConfig

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    config_hash TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('finished', 'failed')),
    config TEXT NOT NULL,
    model TEXT, data TEXT, schedule TEXT, n INTEGER, rounds INTEGER, replicates INTEGER,
    seed INTEGER, device TEXT, versions TEXT, wall_s REAL, started TEXT, ended TEXT,
    error TEXT
);
CREATE TABLE IF NOT EXISTS rows (
    key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
    replicate INTEGER, round INTEGER, generation INTEGER, n INTEGER, metric TEXT,
    value REAL, lo REAL, hi REAL, real_share REAL
);
CREATE INDEX IF NOT EXISTS rows_by_key ON rows(key);
CREATE TABLE IF NOT EXISTS derived (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
#: Columns of the ``runs`` table that ``list`` shows.
SUMMARY = ["config_hash", "model", "data", "schedule", "n", "rounds", "replicates", "seed",
           "device", "status", "wall_s", "started", "ended", "version", "error"]
ROW_COLUMNS = ["replicate", "round", "generation", "n", "real_share", "metric", "value", "lo",
               "hi"]
#: The columns a boundkit store's tables must have (a file without them is refused).
REQUIRED = {"runs": list(dict.fromkeys(["key", "config_hash", "version", "status", "config",
                                         *SUMMARY[1:]])),
            "rows": ["key", "replicate", "round", "generation", "n", "metric", "value", "lo",
                     "hi"]}
#: In :meth:`ResultStore.export`, the round's size: the run's ``n`` is the config's.
EXPORT_RENAME = {"n": "n_round"}


def _damaged(method):
    """Turn SQLite's "malformed" or "not a database" errors on a read into a refusal."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            raise InvalidArgument(f"--store={str(self.path)!r} cannot be read: {exc}. The file "
                                  f"is damaged (truncated or overwritten); pass an intact store.",
                                  argument="store") from None
    return wrapper


def package_version() -> str:
    """The boundkit version that keys runs (with the config hash)."""
    from boundkit import __version__

    return __version__


def run_key(config: LoopConfig, version: str | None = None) -> str:
    """The store key of a run: config hash and package version."""
    return f"{config.config_hash}:{version or package_version()}"


class ResultStore:
    """A crash-safe results store: one SQLite file in WAL mode.

    Parameters
    ----------
    path : str or Path
        The SQLite file (``":memory:"`` for a store that lives in memory).
    timeout : float
        Seconds to wait for another writer's lock.
    create : bool
        Create the file when missing (default); False refuses a missing store (the
        reading commands), so nothing is created by a refusal.

    Raises
    ------
    InvalidArgument
        A file that cannot be opened, or that is not a boundkit store (tables of its own
        and no ``runs``, or missing columns): refused before anything is written.

    Notes
    -----
    A run is keyed by its config hash and the package version; a finished run's
    metadata and frame are committed in one transaction. [runs][simulations.store.ResultStore.runs]
    lists them; [export][simulations.store.ResultStore.export] gives one tidy frame with
    plain column names.
    """

    def __init__(self, path: str | Path, timeout: float = 120.0, *, create: bool = True):
        if not isinstance(path, str | Path):
            raise TypeError(f"path must be a file path; got {type(path).__name__} {path!r}.")
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise InvalidArgument(f"--store={str(path)!r} does not exist. Pass the store a "
                                  f"sweep wrote, e.g. --store results.db.", argument="store")
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            self._check_schema()  # before anything writes: a foreign file stays as it was
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(SCHEMA)
            self._add_real_share()
        except (sqlite3.Error, OSError) as exc:
            raise InvalidArgument(f"--store={str(path)!r} cannot be opened as a results store "
                                  f"({exc}). Pass a writable SQLite file path.",
                                  argument="store") from None

    def _check_schema(self) -> None:
        """Refuse, before writing anything, a SQLite file that is not a boundkit store:
        one with tables of its own and no ``runs``, or whose tables lack our columns."""
        tables = {name for (name,) in self._db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        problem = None
        if tables and "runs" not in tables:
            problem = f"it holds the tables {', '.join(sorted(tables))[:200]} and no 'runs'"
        for table, wanted in REQUIRED.items():
            if problem is None and table in tables:
                have = [row[1] for row in self._db.execute(f"PRAGMA table_info({table})")]
                missing = [c for c in wanted if c not in have]
                if missing:
                    problem = f"its table {table!r} lacks {', '.join(missing)}"
        if problem:
            self._db.close()
            raise InvalidArgument(f"--store={str(self.path)!r} is not a boundkit results store: "
                                  f"{problem}. Pass a store that boundkit sweep wrote, or a new "
                                  f"file name.", argument="store")

    def _add_real_share(self) -> None:
        """A store written before ``real_share`` existed gains it (old rows read NULL)."""
        rows = [row[1] for row in self._db.execute("PRAGMA table_info(rows)")]
        if "real_share" not in rows:
            self._db.execute("ALTER TABLE rows ADD COLUMN real_share REAL")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------

    @_damaged
    def finished(self, keys: list[str]) -> set[str]:
        """The keys among ``keys`` whose runs are recorded as finished."""
        out: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            out |= {k for (k,) in self._db.execute(
                f"SELECT key FROM runs WHERE status='finished' AND key IN ({marks})", chunk)}
        return out

    def record(self, config: LoopConfig, frame: pd.DataFrame, meta: dict) -> bool:
        """Commit a finished run (metadata and frame) in one transaction.

        Returns False when another sweep had already recorded it as finished (kept).
        """
        key = run_key(config, meta.get("version"))
        columns = [frame[c].tolist() for c in ROW_COLUMNS]  # native Python values, column-wise
        rows = zip(itertools.repeat(key), *columns)
        with self._transaction():
            if self._db.execute("SELECT 1 FROM runs WHERE key=? AND status='finished'",
                                (key,)).fetchone():
                return False
            self._db.execute("DELETE FROM runs WHERE key=?", (key,))
            self._db.execute(*self._insert_run(key, config, meta, "finished", None))
            self._db.executemany(f"INSERT INTO rows (key, {', '.join(ROW_COLUMNS)}) VALUES "
                                 f"({','.join('?' * (len(ROW_COLUMNS) + 1))})", rows)
        return True

    @_damaged
    def derived(self, key: str) -> dict | None:
        """A result computed in the calling process, not by a loop (R8's calibration in
        ``verify``), stored under ``key`` by :meth:`record_derived`; None if absent. JSON
        keeps floats exactly (repr round-trips), so a resumed run reads the same numbers
        it would compute."""
        row = self._db.execute("SELECT value FROM derived WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    @_damaged
    def record_derived(self, key: str, value: dict) -> None:
        """Store ``value`` (JSON-able) under ``key`` (replacing an older one)."""
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO derived VALUES (?, ?)",
                             (key, json.dumps(value)))

    def record_failure(self, config: LoopConfig, error: str, meta: dict) -> None:
        """Record a run that raised (unless it is already recorded as finished)."""
        key = run_key(config, meta.get("version"))
        with self._transaction():
            if self._db.execute("SELECT 1 FROM runs WHERE key=? AND status='finished'",
                                (key,)).fetchone():
                return
            self._db.execute("DELETE FROM runs WHERE key=?", (key,))
            self._db.execute(*self._insert_run(key, config, meta, "failed", error))

    def _insert_run(self, key, config, meta, status, error):
        return ("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (key, config.config_hash, meta.get("version") or package_version(), status,
                 config.to_json(), config.model, config.data, config.schedule, config.n,
                 config.rounds, config.replicates, config.seed, meta.get("device"),
                 json.dumps(meta.get("versions", {}), sort_keys=True), meta.get("wall_s"),
                 meta.get("started"), meta.get("ended"), error))

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self):
                for attempt in range(60):
                    try:
                        db.execute("BEGIN IMMEDIATE")
                        return self
                    except sqlite3.OperationalError as exc:
                        if "locked" not in str(exc) or attempt == 59:
                            raise
                        time.sleep(0.5)

            def __exit__(self, kind, exc, tb):
                db.execute("ROLLBACK" if kind else "COMMIT")

        return _Tx()

    # -- reading -----------------------------------------------------------------------

    @_damaged
    def runs(self, status: str | None = "finished") -> pd.DataFrame:
        """One row per run (all statuses when ``status`` is None), oldest first."""
        query = "SELECT * FROM runs" + (" WHERE status=?" if status else "") + " ORDER BY ended"
        return pd.read_sql_query(query, self._db, params=(status,) if status else ())

    @_damaged
    def find(self, prefix: str) -> dict:
        """The run whose config hash starts with ``prefix`` (unique), as a dict."""
        if not isinstance(prefix, str) or not re.fullmatch(r"[0-9a-f]{1,64}", prefix):
            raise InvalidArgument(f"HASH must be 1 to 64 lowercase hex digits (a config hash "
                                  f"or its start); got {str(prefix)[:70]!r}. Run `boundkit "
                                  f"results list` for the hashes.", argument="hash")
        rows = pd.read_sql_query("SELECT * FROM runs WHERE substr(config_hash, 1, ?) = ? "
                                 "ORDER BY ended", self._db, params=(len(prefix), prefix))
        if rows.empty:
            raise InvalidArgument(f"no run in {self.path} has a config hash starting with "
                                  f"{prefix!r}. Run `boundkit results list` for the hashes.",
                                  argument="hash")
        if rows["config_hash"].nunique() > 1:
            raise InvalidArgument(f"{prefix!r} matches {rows['config_hash'].nunique()} runs; "
                                  f"pass more characters of the hash.", argument="hash")
        return rows.iloc[-1].to_dict()

    @_damaged
    def frame(self, key: str) -> pd.DataFrame:
        """The tidy frame of one run."""
        return pd.read_sql_query(f"SELECT {', '.join(ROW_COLUMNS)} FROM rows WHERE key=? "
                                 "ORDER BY rowid", self._db, params=(key,))

    @_damaged
    def export(self) -> pd.DataFrame:
        """Every finished run's rows with its config (one tidy frame).

        Columns: ``config_hash``, the row columns with the round's size as ``n_round``
        (``n`` is the config's round-0 size, as in :meth:`runs`), then every config field
        under its own name (``model``, ``data``, ``n``, ``alpha``, ...): exact numbers as
        text ("1/2"), dicts and lists as JSON text, absent values as None. Every config
        column is text or None, so the frame round-trips through parquet and CSV.
        """
        runs = self.runs("finished")
        frames = []
        for run in runs.itertuples(index=False):
            frame = self.frame(run.key).rename(columns=EXPORT_RENAME)
            frame.insert(0, "config_hash", run.config_hash)
            for k, v in json.loads(run.config).items():
                frame[k] = _text(v)
            frames.append(frame)
        if not frames:
            return pd.DataFrame(columns=["config_hash",
                                         *[EXPORT_RENAME.get(c, c) for c in ROW_COLUMNS]])
        out = pd.concat(frames, ignore_index=True)
        config_columns = out.columns[len(ROW_COLUMNS) + 1:]
        out[config_columns] = out[config_columns].astype(object).where(
            out[config_columns].notna(), None)
        return out

    def integrity(self) -> str:
        """SQLite's integrity check ("ok" when the file is sound)."""
        return self._db.execute("PRAGMA integrity_check").fetchone()[0]


def _text(value) -> str | None:
    """A config value as text for export: None stays None, dicts/lists as JSON."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)
