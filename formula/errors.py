"""The one exception type of the formula language and its source locations.

Compile and evaluation errors alike are FormulaError, carrying a message, a line, a column and a kind.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Position:
    """Where a node starts in the formula source (1-based line and column)."""

    line: int = 1
    column: int = 1


class FormulaError(Exception):
    """A formula failed to compile or to evaluate.

    ``kind`` names the failure for programs (syntax_error, unknown_field, unknown_function,
    wrong_arg_count, type_mismatch, invalid_argument, invalid_date, division_by_zero, math_domain,
    invalid_number, invalid_regex, evaluation_error, unsupported); ``message`` is for people.
    """

    def __init__(
        self,
        message: str,
        line: int = 1,
        column: int = 1,
        *,
        kind: str = "evaluation_error",
        source: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.kind = kind
        self.source = source

    @classmethod
    def at(cls, position: Position | None, message: str, kind: str) -> FormulaError:
        """Return an error located at ``position`` (line 1, column 1 when unknown)."""
        position = position or Position()
        return cls(message, position.line, position.column, kind=kind)

    def with_source(self, source: str) -> FormulaError:
        """Attach the formula text so str() can show the offending line with a caret."""
        if self.source is None:
            self.source = source
        return self

    @property
    def is_runtime(self) -> bool:
        """True for failures that happen while evaluating a record (#Error! in Salesforce)."""
        return self.kind in RUNTIME_KINDS

    def __str__(self) -> str:
        text = f"{self.message} (line {self.line}, column {self.column})"
        if not self.source:
            return text
        lines = self.source.splitlines() or [""]
        if not 1 <= self.line <= len(lines):
            return text
        caret = " " * (self.column - 1) + "^"
        return f"{text}\n  {lines[self.line - 1]}\n  {caret}"

    def __reduce__(self):  # keep errors picklable across worker processes
        return (_rebuild, (self.message, self.line, self.column, self.kind, self.source))


def _rebuild(message: str, line: int, column: int, kind: str, source: str | None) -> FormulaError:
    return FormulaError(message, line, column, kind=kind, source=source)


RUNTIME_KINDS = frozenset(
    {
        "invalid_date",
        "division_by_zero",
        "math_domain",
        "invalid_number",
        "invalid_regex",
        "evaluation_error",
    }
)
