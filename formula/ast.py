"""Syntax-tree and typed-tree nodes of the formula language, as frozen dataclasses.

The parser produces Literal, Name and Call nodes; the checker turns them into Const, Field and Apply
nodes that carry a type and name the operation, so back ends never look at types to dispatch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from formula.errors import Position


@dataclass(frozen=True, slots=True)
class Literal:
    """A number, string, boolean or NULL written in the source (kind says which)."""

    kind: str
    value: Any
    pos: Position = field(default_factory=Position, compare=False)


@dataclass(frozen=True, slots=True)
class Name:
    """A field path as written, dots included (``account.owner.name``)."""

    text: str
    pos: Position = field(default_factory=Position, compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    """A function call or an operator; operators use their symbol as the name (``+``, ``neg``)."""

    name: str
    args: tuple[SyntaxNode, ...]
    pos: Position = field(default_factory=Position, compare=False)
    is_operator: bool = False


SyntaxNode = Literal | Name | Call


@dataclass(frozen=True, slots=True)
class Const:
    """A typed constant: Decimal, str, bool or None."""

    value: Any
    type: str
    pos: Position = field(default_factory=Position, compare=False)


@dataclass(frozen=True, slots=True)
class Field:
    """A read of a field path, spelt as the schema spells it."""

    path: tuple[str, ...]
    type: str
    pos: Position = field(default_factory=Position, compare=False)

    @property
    def dotted(self) -> str:
        """The path joined with dots, as CompiledFormula.paths lists it."""
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class Apply:
    """A resolved operation (``num_add``, ``date_diff``, ``if``...) over typed arguments."""

    op: str
    args: tuple[TypedNode, ...]
    type: str
    pos: Position = field(default_factory=Position, compare=False)


TypedNode = Const | Field | Apply


def walk(node: TypedNode):
    """Yield ``node`` and every node below it, parents first."""
    yield node
    if isinstance(node, Apply):
        for arg in node.args:
            yield from walk(arg)
