"""Problems found in metadata: one issue per problem, each naming its file, JSON path and fix.

The CLI, the builder and the API all show these same objects; `MetadataError` carries a list.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from metamodel.model import AppDef

ERROR = "error"       # the app cannot be loaded until it is fixed
WARNING = "warning"   # the app loads; the consultant should know (and usually act)


def did_you_mean(word: object, choices: Iterable[str]) -> str | None:
    """Returns "did you mean 'x'?" for the choice closest to `word`, or None when none is close."""
    if not isinstance(word, str):
        return None
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return f"did you mean {lowered[word.lower()]!r}?"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def json_pointer(parts: Iterable[object]) -> str:
    """Returns the JSON pointer ("/fields/3/type") of a path given as keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True)
class MetadataIssue:
    """One problem: the document (relative path), where in it (a JSON pointer), what, and the fix."""
    file: str
    path: str
    message: str
    suggestion: str | None = None
    line: int | None = None
    column: int | None = None
    level: str = ERROR

    def __str__(self) -> str:
        if self.line is not None:
            where = f"{self.file}:{self.line}:{self.column}"
        else:
            where = f"{self.file} {self.path or '/'}"
        text = f"{where}: {'warning: ' if self.level == WARNING else ''}{self.message}"
        return f"{text}; {self.suggestion}" if self.suggestion else text


class MetadataError(Exception):
    """Raised when metadata cannot be loaded; `issues` lists every problem found, not just the first."""

    def __init__(self, issues: Iterable[MetadataIssue]):
        self.issues = list(issues)
        count = len(self.issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the app metadata:\n{lines}")


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating an app: the app when it has no errors (else None) and every issue,
    warnings included."""
    app: AppDef | None
    issues: list[MetadataIssue] = field(default_factory=list)

    @property
    def errors(self) -> list[MetadataIssue]:
        return [i for i in self.issues if i.level == ERROR]

    @property
    def warnings(self) -> list[MetadataIssue]:
        return [i for i in self.issues if i.level == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors


def errors_of(issues: Iterable[MetadataIssue]) -> list[MetadataIssue]:
    """Returns the issues that keep an app from loading (warnings left out)."""
    return [i for i in issues if i.level == ERROR]
