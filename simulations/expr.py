"""Safe bound expressions: a formula in a loop's symbols, parsed without running code.

A user's bound arrives as text (a claim file, the CLI) or as a sympy expression. Text is
parsed with Python's :mod:`ast` and rebuilt node by node into sympy: numbers, the
symbols of :data:`SYMBOLS` (plus the constants the caller names), ``+ - * / **``,
unary minus and calls of the functions in :data:`FUNCTIONS`. Anything else (attribute
access, subscripts, strings, keyword arguments, lambdas, comprehensions, unknown names)
is refused with the offending piece named: sympy's own parser evaluates Python, which a
claim file must never do. Powers are built unevaluated and evaluated in float64, so
``2**2**100`` is inf (refused) rather than a hang.
"""

from __future__ import annotations

import ast
import math

import numpy as np
import sympy as sp

from boundkit.errors import InvalidArgument

#: The loop's symbols, per replicate and generation (docs/howto-claims.md).
SYMBOLS = {
    "i": "generation (0-based: the model p_{i+1} of round i)",
    "T": "rounds of the loop",
    "n": "the loop's base size n",
    "n_i": "training points of round i",
    "alpha_i": "real share α_i of round i's law π_i (1 at round 0)",
    "lam": "λ of fixed-ratio (0 for other schedules)",
    "delta_i": "measured δ_i = TV(p_{i+1}, π_i) of this replicate",
    "delta_0": "measured δ_0 of this replicate",
    "delta_max": "max over k ≤ i of the measured δ_k of this replicate",
    "delta_sum": "sum over k ≤ i of the measured δ_k of this replicate",
    "r1_i": "R1's bound b_{i+1} from this replicate's measured δ_0..δ_i",
}
#: Function names allowed in expressions, with their sympy builders.
#: Built unevaluated: harmonic(10**9) must not be summed exactly while parsing.
def _unevaluated(f):
    return lambda *a: f(*a, evaluate=False)


FUNCTIONS = {name: _unevaluated(f) for name, f in {
    "sqrt": sp.sqrt, "log": sp.log, "exp": sp.exp, "harmonic": sp.harmonic, "Min": sp.Min,
    "Max": sp.Max, "Abs": sp.Abs, "floor": sp.floor, "ceiling": sp.ceiling}.items()}
CONSTANTS = {"pi": sp.pi, "E": sp.E}
MAX_LENGTH, MAX_NODES, MAX_INT = 2_000, 400, 10**9
_OPS = {ast.Add: lambda a, b: sp.Add(a, b), ast.Sub: lambda a, b: sp.Add(a, -b),
        ast.Mult: lambda a, b: sp.Mul(a, b),
        ast.Div: lambda a, b: sp.Mul(a, sp.Pow(b, -1, evaluate=False)),
        ast.Pow: lambda a, b: sp.Pow(a, b, evaluate=False)}


def parse_bound(text, constants=(), argument: str = "bound") -> sp.Expr:
    """A sympy expression from ``text`` (or a sympy expression, checked) in the loop's
    symbols and the named ``constants``.

    Parameters
    ----------
    text : str or sympy.Expr
        E.g. ``"delta_max * harmonic(i + 1)"`` (R4: e_i ≤ δ H_{i+1} under balanced).
    constants : iterable of str
        Extra symbol names the caller will give values for (``r``, ``C``, …).
    argument : str
        The argument's name in error messages.

    Returns
    -------
    sympy.Expr
        Its free symbols are among :data:`SYMBOLS` and ``constants``.
    """
    names = set(SYMBOLS) | _names(constants, argument)
    if isinstance(text, sp.Basic):
        unknown = sorted(str(s) for s in text.free_symbols if str(s) not in names)
        if unknown:
            raise InvalidArgument(f"{argument}: unknown symbol(s) {unknown}; the loop's are "
                                  f"{sorted(SYMBOLS)} (name others in constants).",
                                  argument=argument)
        return text
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_LENGTH:
        raise InvalidArgument(f"{argument} must be a formula of at most {MAX_LENGTH} "
                              f"characters, e.g. 'delta_max * harmonic(i + 1)'; got "
                              f"{str(text)[:60]!r}.", argument=argument)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise InvalidArgument(f"{argument}: {text!r} is not a formula ({exc.msg}).",
                              argument=argument) from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise InvalidArgument(f"{argument}: more than {MAX_NODES} terms; write a Python "
                              f"function instead.", argument=argument)
    return _build(tree.body, names, argument, text)


def _names(constants, argument: str) -> set[str]:
    out = set()
    for c in constants:
        if not (isinstance(c, str) and c.isidentifier()) or c in FUNCTIONS or c in CONSTANTS \
                or c in SYMBOLS:
            raise InvalidArgument(f"{argument}: constant {c!r} must be a new identifier (not "
                                  f"a loop symbol, function or pi/E).", argument=argument)
        out.add(c)
    return out


def _build(node, names, argument, text):
    def refuse(what):
        raise InvalidArgument(f"{argument}: {what} is not allowed in a formula ({text!r}); "
                              f"use numbers, {sorted(names)}, pi, E, + - * / ** and "
                              f"{sorted(FUNCTIONS)}.", argument=argument)

    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            refuse(f"the constant {v!r}")
        if isinstance(v, int):
            return sp.Integer(v) if abs(v) <= MAX_INT else sp.Float(v)
        if not math.isfinite(v):
            refuse(f"the constant {v!r}")
        return sp.Float(v)
    if isinstance(node, ast.Name):
        if node.id in names:
            return sp.Symbol(node.id, real=True)
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        refuse(f"the name {node.id!r}")
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_build(node.left, names, argument, text),
                                   _build(node.right, names, argument, text))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _build(node.operand, names, argument, text)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in FUNCTIONS and not node.keywords and node.args:
        return FUNCTIONS[node.func.id](*[_build(a, names, argument, text) for a in node.args])
    refuse(f"{type(node).__name__} ({ast.unparse(node)[:40]!r})")


def evaluate(expr: sp.Expr, values: dict, argument: str = "bound") -> np.ndarray:
    """The expression in float64 at arrays of symbol values (broadcast together); a
    non-finite result is refused (a bound must be a number everywhere it is checked)."""
    symbols = sorted(expr.free_symbols, key=str)
    missing = [str(s) for s in symbols if str(s) not in values]
    if missing:
        raise InvalidArgument(f"{argument}: no value for {missing}; pass them in constants.",
                              argument=argument)
    args = {str(s): np.asarray(values[str(s)], dtype=np.float64) for s in symbols}
    with np.errstate(all="ignore"):
        out = np.asarray(_numeric(expr, args), dtype=np.float64)
    shape = np.broadcast_shapes(*(a.shape for a in args.values())) if args else ()
    out = np.broadcast_to(out, shape).copy() if out.shape != shape else out
    if not np.all(np.isfinite(out)):
        raise InvalidArgument(f"{argument}: {expr} is not finite at some loop point (e.g. "
                              f"a division by 0 or an overflow); rewrite it.",
                              argument=argument)
    return out


_NUMPY = {sp.log: np.log, sp.exp: np.exp, sp.Abs: np.abs,
          sp.floor: np.floor, sp.ceiling: np.ceil}


def _numeric(expr, args: dict):
    """The expression tree evaluated in float64 numpy, node by node (never Python ints:
    2**2**100 is inf, not a hang)."""
    if expr.is_Symbol:
        return args[str(expr)]
    if expr.is_Number or expr in (sp.pi, sp.E):
        try:
            return np.float64(float(expr))
        except TypeError:  # zoo, nan: sympy's own infinities
            return np.float64(np.nan)
    parts = [_numeric(a, args) for a in expr.args]
    if expr.is_Add:
        return sum(parts[1:], parts[0])
    if expr.is_Mul:
        out = parts[0]
        for p in parts[1:]:
            out = out * p
        return out
    if expr.is_Pow:
        return np.power(parts[0], parts[1])
    if isinstance(expr, sp.harmonic):
        return _harmonic(parts[0])
    if isinstance(expr, sp.Min | sp.Max):
        fn = np.minimum if isinstance(expr, sp.Min) else np.maximum
        out = parts[0]
        for p in parts[1:]:
            out = fn(out, p)
        return out
    for kind, fn in _NUMPY.items():
        if expr.func == kind:
            return fn(*parts)
    raise InvalidArgument(f"bound: cannot evaluate {expr.func.__name__} numerically; use "
                          f"{sorted(FUNCTIONS)}.", argument="bound")


def _harmonic(x):
    """H_x for real x ≥ 0: ψ(x + 1) + γ (equal to Σ_{k≤x} 1/k at integers)."""
    from scipy.special import digamma

    return digamma(np.asarray(x, dtype=np.float64) + 1) + np.euler_gamma
