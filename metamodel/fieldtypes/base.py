"""The FieldType interface every field type answers, and the registry that finds them by name.

Adding a type is one subclass with `name` set, registered with `@register`, plus its tests.
"""
from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import sqlalchemy as sa

from metamodel.issues import did_you_mean
from metamodel.model import FieldDef, label_text


class FieldValueError(ValueError):
    """A value that a field cannot hold; `message` says why in words a user can act on."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


_REGISTRY: dict[str, FieldType] = {}
FIELD_TYPES: Mapping[str, FieldType] = _REGISTRY  # read-only by convention; filled by @register


def register(cls: type[FieldType]) -> type[FieldType]:
    """Class decorator: adds one instance of `cls` to FIELD_TYPES under `cls.name`."""
    _REGISTRY[cls.name] = cls()
    return cls


def field_type(name: str) -> FieldType:
    """Returns the registered field type called `name`; KeyError suggests the closest name."""
    try:
        return _REGISTRY[name]
    except KeyError:
        hint = did_you_mean(name, _REGISTRY)
        raise KeyError(f"{name!r} is not a field type" + (f"; {hint}" if hint else "")) from None


def is_blank(raw: Any) -> bool:
    """True for the inputs every field treats as "no value": None, "" and whitespace."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


class FieldType(ABC):
    """What a field type knows: its options, column, input coercion, checks, formats and widget."""

    name: ClassVar[str]
    formula_type: ClassVar[str | None]
    widget: ClassVar[str]
    stored: ClassVar[bool] = True
    generated: ClassVar[bool] = False
    # Options a field of this type must declare (e.g. a lookup's `target`).
    required_options: ClassVar[tuple[str, ...]] = ()
    # master_detail: a child cannot exist without its parent, whatever `required` says.
    implicitly_required: ClassVar[bool] = False

    def __repr__(self) -> str:
        return f"<FieldType {self.name}>"

    # -- metadata ---------------------------------------------------------------------------
    def extra_schema(self) -> dict[str, Any]:
        """Returns the JSON Schema `properties` of this type's own keys (max_length, values...)."""
        return {}

    def formula_type_of(self, field: FieldDef) -> str | None:
        """Returns the formula language type of the field's values (None: not usable in formulas)."""
        return self.formula_type

    def target_entity(self, field: FieldDef) -> str | None:
        """Returns the app entity this field points at (lookup, master_detail), else None."""
        return None

    def master_entity(self, field: FieldDef) -> str | None:
        """Returns the entity whose records own this one (master_detail: deleted with it), else None."""
        return None

    def access_grant(self, field: FieldDef) -> str | None:
        """Returns the access ('read' or 'edit') this field gives the user it names on the record it
        sits on (a user field's `grants`, e.g. a task's assignee), else None."""
        return None

    # -- storage ----------------------------------------------------------------------------
    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        """Returns the SQLAlchemy column type of a stored field."""
        raise TypeError(f"{self.name} fields are computed, not stored in a column")

    def foreign_key(self, field: FieldDef) -> tuple[str, str] | None:
        """Returns (target table, ON DELETE action) for fields stored as a foreign key."""
        return None

    def always_indexed(self, field: FieldDef) -> bool:
        """True when the column needs an index whatever the field's `indexed` says."""
        return False

    def always_unique(self, field: FieldDef) -> bool:
        """True when values must be unique whatever the field's `unique` says."""
        return False

    # -- input ------------------------------------------------------------------------------
    def coerce(self, field: FieldDef, raw: Any) -> Any:
        """Returns the canonical Python value of JSON, form or text input; blank input is None."""
        if is_blank(raw):
            return None
        return self.coerce_present(field, raw)

    @abstractmethod
    def coerce_present(self, field: FieldDef, raw: Any) -> Any:
        """Coerces input known not to be blank; each type defines it (rather than `coerce`)."""

    def check_value(self, field: FieldDef, value: Any) -> list[str]:
        """Returns what is wrong with a coerced value beyond its type (length, range, membership)."""
        return []

    def parse_csv(self, field: FieldDef, text: str) -> Any:
        """Returns the value of a CSV or spreadsheet cell."""
        return self.coerce(field, text)

    # -- conversion -------------------------------------------------------------------------
    def to_db(self, field: FieldDef, value: Any) -> Any:
        """Returns the column value of a Python value."""
        return value

    def from_db(self, field: FieldDef, value: Any) -> Any:
        """Returns the Python value of a column value."""
        return value

    def to_json(self, field: FieldDef, value: Any) -> Any:
        """Returns a JSON-safe form of a Python value."""
        return value

    def display(self, field: FieldDef, value: Any, locale: str = "en") -> str:
        """Returns the value as a person reads it in `locale`; blank is ""."""
        return "" if value is None else str(value)

    # -- spreadsheets -----------------------------------------------------------------------
    def spreadsheet_value(self, field: FieldDef, value: Any, zone: dt.tzinfo = dt.UTC) -> Any:
        """Returns what an XLSX cell holds for a value that is not blank, when a spreadsheet has a
        kind for it (a number, date, time or boolean); None when the cell holds the value's text as
        a list shows it (words, choice labels, record titles). `zone` is the reader's time zone."""
        return None

    def spreadsheet_format(self, field: FieldDef, locale: str = "en") -> str | None:
        """Returns the Excel number format of the cells `spreadsheet_value` fills; None for General."""
        return None

    def reader_note(self, field: FieldDef) -> str | None:
        """Returns what a reader should know about how the value is made (English; the UI translates)."""
        return None


def field_label(field: FieldDef, locale: str = "en") -> str:
    """Returns the field's label in `locale`, for messages that name the field."""
    return label_text(field.label, locale) or field.name
