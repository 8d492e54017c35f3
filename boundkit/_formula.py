"""Safe parsing of user formulas (custom error models): a whitelist, never ``eval`` of raw text.

The text is tokenised first. Only numbers, the operators ``+ - * / ** ^ ( ) ,``,
the allowed symbols and the whitelisted functions and constants may appear: no
attribute access, no strings, no subscripts, no dunder names, no other calls.
What passes is handed to sympy's ``parse_expr`` with a namespace holding exactly
those names, unevaluated; every purely numeric part is then sized with ``evalf``
(so ``10**10**10`` is refused before sympy would try to build it) and only then
evaluated. Anything else raises :class:`~boundkit.errors.InvalidArgument` with no
side effect.
"""

from __future__ import annotations

import io
import keyword
import math
import tokenize

import sympy as sp
from sympy.parsing.sympy_parser import (
    convert_xor,
    parse_expr,
    rationalize,
    standard_transformations,
)

from boundkit.errors import InvalidArgument

#: Functions and constants a formula may use.
FUNCTIONS = {"sqrt": sp.sqrt, "log": sp.log, "ln": sp.log, "exp": sp.exp}
CONSTANTS = {"pi": sp.pi, "E": sp.E}
OPERATORS = {"+", "-", "*", "/", "**", "^", "(", ")", ","}
MAX_LENGTH = 500
#: Largest magnitude of a numeric sub-expression (and smallest non-zero one, inverted).
MAX_VALUE = 1e300

TokenError = tokenize.TokenError
_TRANSFORMS = (*standard_transformations, convert_xor, rationalize)
_PARSER_NAMES = {"Integer": sp.Integer, "Float": sp.Float, "Rational": sp.Rational,
                 "Symbol": sp.Symbol, "Add": sp.Add, "Mul": sp.Mul, "Pow": sp.Pow}


def parse_formula(text: object, symbols: dict[str, sp.Symbol], params: set[str],
                  argument: str = "formula") -> sp.Expr:
    """A sympy expression from ``text`` (or ``text`` itself when it already is one).

    ``symbols`` are the variables (e.g. ``{"n": n}``); ``params`` are further names the
    caller will substitute. Refused: any other name, any syntax beyond arithmetic and
    the whitelisted functions, numbers beyond float64's range.
    """
    if isinstance(text, sp.Expr):
        return text
    if not isinstance(text, str):
        raise TypeError(f"{argument} must be a string or a sympy expression; got "
                        f"{type(text).__name__} {text!r}. Pass e.g. {argument}='2*n**(-1/4)'.")
    allowed = set(symbols) | set(params) | set(FUNCTIONS) | set(CONSTANTS)
    _check_tokens(text, allowed, argument)
    local = dict(symbols) | {p: sp.Symbol(p) for p in params} | FUNCTIONS | CONSTANTS
    try:
        raw = parse_expr(text, local_dict=local, global_dict=dict(_PARSER_NAMES),
                         transformations=_TRANSFORMS, evaluate=False)
    except (SyntaxError, TypeError, ValueError, sp.SympifyError, TokenError) as exc:
        raise InvalidArgument(f"{argument}={text!r} is not a formula ({type(exc).__name__}). "
                              f"Pass e.g. {argument}='2*n**(-1/4)'.", argument=argument) from None
    if not isinstance(raw, sp.Expr):
        raise InvalidArgument(f"{argument}={text!r} is not a single expression. Pass e.g. "
                              f"{argument}='2*n**(-1/4)'.", argument=argument)
    _check_magnitudes(raw, text, argument)
    return parse_expr(text, local_dict=local, global_dict=dict(_PARSER_NAMES),
                      transformations=_TRANSFORMS, evaluate=True)


def _check_tokens(text: str, allowed: set[str], argument: str) -> None:
    if not text.strip():
        raise InvalidArgument(f"{argument} is empty. Pass e.g. {argument}='2*n**(-1/4)'.",
                              argument=argument)
    if len(text) > MAX_LENGTH:
        raise InvalidArgument(f"{argument} is {len(text)} characters long; the limit is "
                              f"{MAX_LENGTH}. Pass a shorter formula.", argument=argument)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        raise InvalidArgument(f"{argument}={text!r} is not a formula (unbalanced or broken "
                              f"syntax). Pass e.g. {argument}='2*n**(-1/4)'.",
                              argument=argument) from None
    ignorable = {tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT,
                 tokenize.DEDENT}
    for tok in tokens:
        if tok.type in ignorable:
            continue
        if tok.type == tokenize.NUMBER and not tok.string.lower().endswith("j"):
            continue
        if tok.type == tokenize.OP and tok.string in OPERATORS:
            continue
        if (tok.type == tokenize.NAME and tok.string in allowed and not keyword.iskeyword(
                tok.string) and "__" not in tok.string):
            continue
        if (tok.type == tokenize.NAME and tok.string.isidentifier() and "__" not in tok.string
                and not keyword.iskeyword(tok.string)):
            raise InvalidArgument(f"{argument}={text!r} has symbols [{tok.string!r}] with no "
                                  f"value. Pass them in params, e.g. params={{{tok.string!r}: "
                                  f"1}}, or use n and the functions {', '.join(FUNCTIONS)}.",
                                  argument=argument)
        names = ", ".join(sorted(allowed))
        raise InvalidArgument(f"{argument}={text!r} uses {tok.string!r}, which is not allowed. "
                              f"A formula may use numbers, + - * / ** ^ ( ) and the names "
                              f"{names}.", argument=argument)


def _check_magnitudes(expr: sp.Expr, text: str, argument: str) -> None:
    """Refuse numeric sub-expressions beyond float64's range, sized without building them."""
    for sub in sp.preorder_traversal(expr):
        if sub.free_symbols or not isinstance(sub, sp.Expr) or sub.is_Atom:
            if isinstance(sub, sp.Integer | sp.Rational) and _too_big(sub):
                _refuse(text, argument)
            continue
        try:
            value = sub.evalf(15)
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            _refuse(text, argument, "a division by zero or an undefined value")
        if not value.is_number or _too_big(value):
            _refuse(text, argument)


def _too_big(value: sp.Expr) -> bool:
    try:
        re_, im = value.as_real_imag()
        mag = abs(complex(sp.Float(re_, 15), sp.Float(im, 15)))
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return True
    return not math.isfinite(mag) or mag > MAX_VALUE or (mag != 0 and mag < 1 / MAX_VALUE)


def _refuse(text: str, argument: str,
            what: str = "a number beyond float64's range (|x| > 1e300 or < 1e-300)") -> None:
    raise InvalidArgument(f"{argument}={text!r} contains {what}. Pass a formula with moderate, "
                          f"defined constants.", argument=argument)
