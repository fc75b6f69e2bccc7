"""The size limits every formula meets before any work is done on it: length, then nesting depth.

Both are checked in time linear in the text, so a hostile formula costs no more than reading it.
"""

from __future__ import annotations

from formula.ast import Apply, Call, SyntaxNode, TypedNode
from formula.errors import FormulaError

MAX_SOURCE_LENGTH = 3900  # Salesforce's limit on formula text, comments and spaces included
MAX_NESTING_DEPTH = 48    # calls and operators inside one another; each level costs stack in both back ends


def check_length(source: str) -> None:
    """Raise FormulaError if ``source`` is longer than Salesforce allows."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise _limit_error(
            f"The formula is {len(source):,} characters long; the limit is {MAX_SOURCE_LENGTH:,}."
        )


def check_bracket_depth(source: str) -> None:
    """Raise FormulaError if brackets outside text values and comments nest too deeply.

    A quick bound before parsing; the parsed tree's depth (operators included) is checked after.
    """
    depth = 0
    quote = ""
    i, end = 0, len(source)
    while i < end:
        char = source[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif source.startswith("/*", i):
            close = source.find("*/", i + 2)
            i = end if close < 0 else close + 1
        elif char == "(":
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                raise _nesting_error()
        elif char == ")":
            depth = max(depth - 1, 0)
        i += 1


def check_tree_depth(tree: SyntaxNode | TypedNode) -> None:
    """Raise FormulaError if calls and operators in ``tree`` nest more than the limit."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING_DEPTH:
            raise _nesting_error()
        if isinstance(node, Call | Apply):
            stack.extend((arg, depth + 1) for arg in node.args)


def _nesting_error() -> FormulaError:
    return _limit_error(
        f"The formula is nested more than {MAX_NESTING_DEPTH} levels deep. "
        "Split it into formula fields that refer to one another."
    )


def _limit_error(message: str) -> FormulaError:
    # An empty source keeps a megabyte of text out of the message: the limit says what is wrong.
    return FormulaError(message, kind="syntax_error", source="")
