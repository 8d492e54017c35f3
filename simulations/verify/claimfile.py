"""A user's claim from a TOML file (``boundkit verify --claim FILE.toml``).

The file is read, and every part checked, before anything runs: unknown keys, names and
symbols are refused, a bound is a formula parsed without evaluating code
(:mod:`simulations.expr`), a function is found either in boundkit's own packages
(``simulations.check:…``, dotted) or in a ``.py`` file inside the claim's folder, never
elsewhere, and every loop is built (validated) as a :class:`~simulations.LoopConfig`.
The format, with each kind of claim, is in docs/howto-claims.md; ``examples/claims/``
holds three.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import tomllib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from boundkit.errors import InvalidArgument
from simulations.config import LoopConfig
from simulations.expr import parse_bound
from simulations.verify.claim import BUILTIN, Claim

KINDS = ("bound", "monotone", "growth", "peak")
RULES = ("mean", "every replicate")
TOP = {"claim", "loops"}
CLAIM_KEYS = {"name", "statement", "kind", "bound", "function", "metric", "rule", "level",
              "generations", "constants", "direction", "exponent", "tol", "window"}
LOOP_KEYS = {"models", "model_params", "data", "schedules", "n", "rounds", "replicates",
             "seed", "growth", "metrics"}
PACKAGES = ("boundkit", "simulations")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
MAX_LOOPS = 200


@dataclass(frozen=True)
class ClaimSpec:
    """A parsed claim file: the statement, the rule's settings and the loops."""

    name: str
    statement: str
    kind: str
    configs: tuple
    bound: object = None            # sympy expression or callable (kind "bound")
    metric: str = "e"
    rule: str = "mean"
    level: float = 0.95
    generations: tuple | None = None
    constants: dict = field(default_factory=dict)
    direction: str = "increasing"
    exponent: float = 1.0
    tol: float = 0.15
    window: tuple = ()
    source: str = ""

    def as_claim(self) -> Claim:
        """The :class:`~simulations.verify.claim.Claim` verify runs."""
        from simulations.verify.user_rules import spec_cases

        xlabel = "λ (synthetic points per real point)" if self.kind == "peak" else \
            "generation i + 1"
        return Claim(self.name, self.statement, partial(spec_cases, spec=self), xlabel,
                     fixed_replicates=True)


def _refuse(path: Path, what: str) -> InvalidArgument:
    return InvalidArgument(f"claim file {path}: {what}", argument="--claim")


def load(path) -> ClaimSpec:
    """Read and check a claim file (module docstring); nothing runs.

    Parameters
    ----------
    path : str or Path
        A ``.toml`` file.

    Returns
    -------
    ClaimSpec
    """
    path = Path(path)
    if path.suffix != ".toml" or not path.is_file():
        raise InvalidArgument(f"--claim must be an existing .toml file; got {str(path)!r}.",
                              argument="--claim")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _refuse(path, f"not valid TOML ({exc}).") from None
    _keys(path, doc, TOP, "the file")
    claim, loops = doc.get("claim"), doc.get("loops")
    if not isinstance(claim, dict) or not isinstance(loops, dict):
        raise _refuse(path, "needs a [claim] and a [loops] table.")
    _keys(path, claim, CLAIM_KEYS, "[claim]")
    _keys(path, loops, LOOP_KEYS, "[loops]")
    name = claim.get("name")
    if not isinstance(name, str) or not NAME.match(name) or name in {c.name for c in BUILTIN}:
        raise _refuse(path, f"name must be one word of letters, digits, - or _ (at most "
                            f"40) that is not a built-in claim; got {name!r}.")
    kind = _choice(path, claim.get("kind", "bound"), KINDS, "kind")
    constants = claim.get("constants", {})
    if not isinstance(constants, dict) or not all(
            isinstance(v, int | float) and np.isfinite(v) for v in constants.values()):
        raise _refuse(path, "constants must map names to finite numbers, e.g. "
                            "{ C = 1.2 }.")
    spec = dict(name=name, statement=_text(path, claim.get("statement"), "statement"),
                kind=kind, configs=_configs(path, loops, kind),
                metric=_text(path, claim.get("metric", "e"), "metric"),
                rule=_choice(path, claim.get("rule", "mean"), RULES, "rule"),
                level=_number(path, claim.get("level", 0.95), "level", 0.5, 0.9999),
                constants=dict(constants), source=str(path))
    gens = claim.get("generations")
    if gens is not None:
        if not (isinstance(gens, list) and gens and all(isinstance(g, int) for g in gens)):
            raise _refuse(path, f"generations must be a list of integers; got {gens!r}.")
        spec["generations"] = tuple(gens)
    if kind == "bound":
        spec["bound"] = _bound(path, claim, constants)
    elif "bound" in claim or "function" in claim:
        raise _refuse(path, f"bound and function belong to kind 'bound', not {kind!r}.")
    if kind == "monotone":
        spec["direction"] = _choice(path, claim.get("direction", "increasing"),
                                    ("increasing", "decreasing"), "direction")
    if kind == "growth":
        spec["exponent"] = _number(path, claim.get("exponent"), "exponent", -10, 10)
        spec["tol"] = _number(path, claim.get("tol", 0.15), "tol", 1e-6, 10)
    if kind == "peak":
        spec["window"] = _window(path, claim.get("window"), spec["configs"])
    return ClaimSpec(**spec)


def _keys(path, table: dict, allowed: set, where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise _refuse(path, f"unknown key(s) {extra} in {where}; allowed: {sorted(allowed)}.")


def _choice(path, value, allowed, key: str) -> str:
    if value not in allowed:
        raise _refuse(path, f"{key} must be one of {list(allowed)}; got {value!r}.")
    return value


def _text(path, value, key: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 300:
        raise _refuse(path, f"{key} must be a non-empty string (at most 300 characters); "
                            f"got {value!r}.")
    return value.strip()


def _number(path, value, key: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise _refuse(path, f"{key} must be a number in [{lo}, {hi}]; got {value!r}.")
    return float(value)


def _bound(path: Path, claim: dict, constants: dict):
    if ("bound" in claim) == ("function" in claim):
        raise _refuse(path, "a bound claim needs exactly one of bound (a formula) and "
                            "function (a Python function).")
    if "bound" in claim:
        try:
            return parse_bound(claim["bound"], constants, argument="bound")
        except InvalidArgument as exc:
            raise _refuse(path, str(exc)) from None
    return _function(path, claim["function"])


def _function(path: Path, target) -> object:
    """A callable from ``package.module:name`` (boundkit's packages) or ``file.py:name``
    (a file inside the claim's folder)."""
    if not isinstance(target, str) or target.count(":") != 1:
        raise _refuse(path, f"function must read 'module:name' or 'file.py:name'; got "
                            f"{target!r}.")
    where, attr = target.split(":")
    if not attr.isidentifier():
        raise _refuse(path, f"function name {attr!r} is not an identifier.")
    if where.endswith(".py"):
        folder = path.resolve().parent
        file = (folder / where).resolve()
        if not file.is_relative_to(folder) or not file.is_file():
            raise _refuse(path, f"function file {where!r} must be an existing .py file "
                                f"inside the claim's folder {folder}.")
        spec = importlib.util.spec_from_file_location(f"boundkit_claim_{file.stem}", file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        parts = where.split(".")
        if parts[0] not in PACKAGES or not all(p.isidentifier() for p in parts):
            raise _refuse(path, f"function module {where!r} must lie in {list(PACKAGES)} "
                                f"(or be a .py file in the claim's folder).")
        try:
            module = importlib.import_module(where)
        except ImportError:
            raise _refuse(path, f"no module {where!r}.") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise _refuse(path, f"{target!r} is not a function.")
    return fn


def _list(path, value, key: str, kind=str) -> list:
    value = value if isinstance(value, list) else [value]
    if not value or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        raise _refuse(path, f"loops.{key} must be a non-empty list of {kind.__name__}; got "
                            f"{value!r}.")
    return value


def _configs(path: Path, loops: dict, kind: str) -> tuple:
    models = _list(path, loops.get("models", ["gaussian-mle"]), "models")
    data = _list(path, loops.get("data", ["gaussian"]), "data")
    sizes = _list(path, loops.get("n", [200]), "n", int)
    schedules = _list(path, loops.get("schedules", [{"schedule": "full-synthetic"}]),
                      "schedules", dict)
    params = loops.get("model_params", {})
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise _refuse(path, "loops.model_params must map a model to its parameters, e.g. "
                            "{ kde = { bandwidth = 0.3 } }.")
    count = len(models) * len(data) * len(sizes) * len(schedules)
    if count > MAX_LOOPS:
        raise _refuse(path, f"{count} loops; at most {MAX_LOOPS} per claim.")
    common = {k: loops[k] for k in ("rounds", "replicates", "growth", "metrics")
              if k in loops}
    seed = loops.get("seed", 0)
    out = []
    for model in models:
        for d in data:
            for n in sizes:
                for sched in schedules:
                    try:
                        out.append(LoopConfig(model=model, model_params=params.get(model, {}),
                                              data=d, n=n, seed=seed, **common, **sched))
                    except (InvalidArgument, TypeError) as exc:
                        raise _refuse(path, f"loop {model}/{d}/n={n}/{sched}: {exc}") from None
    if kind in ("monotone", "growth") and min(c.rounds for c in out) < 3:
        raise _refuse(path, f"a {kind} claim needs at least 3 rounds.")
    if min(c.replicates for c in out) < 2:
        raise _refuse(path, "the rules need at least 2 replicates.")
    return tuple(out)


def _window(path: Path, window, configs) -> tuple:
    if not (isinstance(window, list) and len(window) == 2
            and all(isinstance(v, int | float) for v in window) and 0 <= window[0] < window[1]):
        raise _refuse(path, f"a peak claim needs window = [lo, hi] in λ, 0 <= lo < hi; got "
                            f"{window!r}.")
    lams = [c.lam for c in configs]
    if any(c.schedule != "fixed-ratio" for c in configs) or lams[0] != 0:
        raise _refuse(path, "a peak claim runs fixed-ratio schedules over λ, the first at "
                            "lam = 0 (the baseline).")
    return float(window[0]), float(window[1])
