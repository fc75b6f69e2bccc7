"""The named errors of the runtime; the UI and API map each to a page or problem+json in one place.

Every error carries where it happened (entity, record, field or row) and a message a user can act on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class FormworkError(Exception):
    """Base of the runtime's errors."""


@dataclass(frozen=True)
class FieldError:
    field: str | None          # None for a record-level (form) error
    message: str
    row: int | None = None     # 1-based row of a bulk write or import

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(self.field)
        return f"{', '.join(where)}: {self.message}" if where else self.message


class ValidationError(FormworkError):
    def __init__(self, entity: str, errors: list[FieldError]):
        self.entity = entity
        self.errors = errors
        super().__init__(f"{entity}: " + "; ".join(str(e) for e in errors))

    def by_field(self) -> dict[str | None, list[str]]:
        grouped: dict[str | None, list[str]] = {}
        for error in self.errors:
            grouped.setdefault(error.field, []).append(error.message)
        return grouped


class CursorError(ValidationError):
    """A page cursor (`cursor=` / `before=`) that is not one this server wrote: bad input, a 400."""

    def __init__(self, message: str):
        super().__init__("cursor", [FieldError("cursor", message)])
        self.message = message


class ConflictError(FormworkError):
    """A stale write that cannot be merged: since `expected_version` was read, someone else changed
    `conflicting_fields` to values other than the ones this write gives them.

    `changed_fields` lists everything saved by others since (the conflicting fields among them);
    `current` is the record as it is now. Nothing was written.
    """

    def __init__(self, entity: str, record_id: int, expected_version: int, current: dict[str, Any],
                 changed_fields: list[str], changed_by: int | None, changed_at: Any,
                 conflicting_fields: list[str]):
        self.entity = entity
        self.record_id = record_id
        self.expected_version = expected_version
        self.current = current
        self.changed_fields = changed_fields
        self.conflicting_fields = conflicting_fields
        self.changed_by = changed_by
        self.changed_at = changed_at
        fields = ", ".join(conflicting_fields) or "no field values"
        super().__init__(f"{entity} {record_id} was changed since version {expected_version}; "
                         f"changed on both sides to different values: {fields}")


class NotFound(FormworkError):
    def __init__(self, entity: str, record_id: Any):
        self.entity = entity
        self.record_id = record_id
        super().__init__(f"{entity} {record_id} does not exist")


class PermissionDenied(FormworkError):
    pass


class DatabaseUnavailable(FormworkError):
    """The database cannot be used as it is: its file is missing or was replaced, or it is read-only."""


class SchemaChangeRefused(FormworkError):
    """A plan holds a step that would lose or corrupt data; the message lists the offending rows."""


@dataclass
class Problems:
    """Collects field errors while a write is checked, then raises them together."""
    entity: str
    errors: list[FieldError] = field(default_factory=list)

    def add(self, field_name: str | None, message: str, row: int | None = None) -> None:
        self.errors.append(FieldError(field_name, message, row))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.entity, list(self.errors))


class QueryTimeout(FormworkError):
    """A read ran past the query time limit and was stopped (FORMWORK_QUERY_TIMEOUT_SECONDS)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(f"The query took longer than {seconds:g} seconds and was stopped. "
                         "Narrow the filters or simplify the formula.")
