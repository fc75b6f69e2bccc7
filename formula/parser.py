"""Turns formula text into syntax-tree nodes with the lark grammar in grammar.lark.

Lark's errors are mapped to FormulaError(kind="syntax_error") with a message a consultant can act on.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from formula.ast import Call, Literal, Name, SyntaxNode
from formula.errors import FormulaError, Position
from formula.limits import MAX_SOURCE_LENGTH, check_bracket_depth, check_length, check_tree_depth

__all__ = ["MAX_SOURCE_LENGTH", "parse"]

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "'": "'", "\\": "\\"}
_KEYWORDS = {"true": ("boolean", True), "false": ("boolean", False), "null": ("null", None)}
_TOKEN_WORDS = {
    "RPAR": "')'",
    "LPAR": "'('",
    "COMMA": "','",
    "NAME": "a field or function name",
    "NUMBER": "a number",
    "STRING": "a text value",
    "$END": "the end of the formula",
}


def _position(item) -> Position:
    line = getattr(item, "line", None) or 1
    column = getattr(item, "column", None) or 1
    return Position(line, column)


def _unescape(raw: str) -> str:
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            # Unknown escapes keep their backslash so regular expressions like "\d" survive.
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


@v_args(meta=False, inline=True)
class _ToSyntaxTree(Transformer):
    """One method per grammar alias, each returning a syntax-tree node."""

    def number(self, token: Token) -> Literal:
        return Literal("number", Decimal(str(token)), _position(token))

    def string(self, token: Token) -> Literal:
        return Literal("text", _unescape(str(token)), _position(token))

    def name(self, token: Token) -> SyntaxNode:
        keyword = _KEYWORDS.get(str(token).lower())
        if keyword:
            return Literal(keyword[0], keyword[1], _position(token))
        return Name(str(token), _position(token))

    def call(self, token: Token, arguments: list[SyntaxNode] | None) -> Call:
        return Call(str(token).upper(), tuple(arguments or ()), _position(token))

    def arguments(self, *items: SyntaxNode) -> list[SyntaxNode]:
        return list(items)

    def binary(self, left: SyntaxNode, op: Token, right: SyntaxNode) -> Call:
        return Call(str(op), (left, right), _position(op), is_operator=True)

    def unary(self, op: Token, operand: SyntaxNode) -> Call:
        name = {"-": "neg", "+": "pos", "!": "not"}.get(str(op), "not")
        return Call(name, (operand,), _position(op), is_operator=True)

    def and_op(self, left: SyntaxNode, right: SyntaxNode) -> Call:
        return Call("&&", (left, right), _node_position(left), is_operator=True)

    def or_op(self, left: SyntaxNode, right: SyntaxNode) -> Call:
        return Call("||", (left, right), _node_position(left), is_operator=True)


def _node_position(node: SyntaxNode) -> Position:
    return node.pos


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = (Path(__file__).with_name("grammar.lark")).read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=False, maybe_placeholders=True)


def parse(source: str) -> SyntaxNode:
    """Return the syntax tree of ``source``; raise FormulaError(kind="syntax_error") if malformed."""
    if not isinstance(source, str):
        raise FormulaError("A formula must be text.", kind="syntax_error")
    check_length(source)
    check_bracket_depth(source)
    if not source.strip():
        raise FormulaError("The formula is empty.", kind="syntax_error", source=source)
    try:
        tree = _ToSyntaxTree().transform(_lark().parse(source))
    except UnexpectedInput as error:
        raise _friendly(error, source) from None
    except LarkError as error:  # a transformer failure is still the user's text at fault
        raise FormulaError(f"Syntax error. {error}", kind="syntax_error", source=source) from None
    except RecursionError:
        raise FormulaError("The formula is nested too deeply.", kind="syntax_error", source=source) from None
    check_tree_depth(tree)
    return tree


def _friendly(error: UnexpectedInput, source: str) -> FormulaError:
    line = getattr(error, "line", 1) or 1
    column = getattr(error, "column", 1) or 1
    if isinstance(error, UnexpectedCharacters):
        char = source[error.pos_in_stream] if error.pos_in_stream < len(source) else ""
        if source.startswith("/*", error.pos_in_stream):
            message = "Syntax error. A comment opened with '/*' is never closed with '*/'."
        else:
            message = f"Syntax error. Found '{char}', which is not allowed here."
    elif isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        line, column = _end_position(source)
        message = _missing_message(error, source)
    else:
        token = error.token
        if source.startswith("/*", token.start_pos or 0):
            message = "Syntax error. A comment opened with '/*' is never closed with '*/'."
        elif token.type == "RPAR" and "RPAR" not in error.expected:
            message = "Syntax error. Extra ')'."
        elif token.type == "COMMA" and "COMMA" not in error.expected:
            message = "Syntax error. Extra ','."
        else:
            message = f"Syntax error. Found '{token}'. Expected {_expected_words(error.expected)}."
    return FormulaError(message, line, column, kind="syntax_error", source=source)


def _missing_message(error: UnexpectedInput, source: str) -> str:
    expected = getattr(error, "expected", None) or ()
    if "RPAR" in expected and source.count("(") > source.count(")"):
        return "Syntax error. Missing ')'."
    return "Syntax error. The formula ends too early; an operand or ')' is missing."


def _expected_words(expected) -> str:
    words = sorted({_TOKEN_WORDS.get(name, "an operator") for name in expected or ()})
    if not words:
        return "something else"
    return " or ".join(words[:4])


def _end_position(source: str) -> tuple[int, int]:
    lines = source.split("\n")
    return len(lines), len(lines[-1]) + 1
