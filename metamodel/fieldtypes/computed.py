"""Computed field types: formula and rollup. They have no column; the query layer computes them.

Their values take the shape of their result type, so conversion delegates to that type.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from metamodel.fieldtypes.base import FIELD_TYPES, FieldType, FieldValueError, register
from metamodel.model import FieldDef

RESULT_TYPES = ("text", "number", "currency", "percent", "boolean", "date", "datetime")
ROLLUP_FUNCTIONS = ("SUM", "COUNT", "MIN", "MAX")


class ComputedType(FieldType):
    """Shared by formula and rollup: read-only, not stored, shown like their result type."""

    widget = "readonly"
    stored = False
    formula_type = None  # per field: see formula_type_of

    def coerce(self, field: FieldDef, raw: Any) -> Any:
        raise FieldValueError("is computed and cannot be set")

    def coerce_present(self, field: FieldDef, raw: Any) -> Any:
        return self.coerce(field, raw)

    def result_field(self, field: FieldDef) -> FieldDef:
        """Returns a stored-type stand-in for the result, to convert and show values with."""
        kind = self.formula_type_of(field) or "number"
        options = {k: field.options[k] for k in ("precision", "currency") if k in field.options}
        return FieldDef(name=field.name, type=kind, label=field.label, options=options)

    def from_db(self, field: FieldDef, value: Any) -> Any:
        result = self.result_field(field)
        return FIELD_TYPES[result.type].from_db(result, value)

    def to_json(self, field: FieldDef, value: Any) -> Any:
        result = self.result_field(field)
        return FIELD_TYPES[result.type].to_json(result, value)

    def display(self, field: FieldDef, value: Any, locale: str = "en") -> str:
        result = self.result_field(field)
        return FIELD_TYPES[result.type].display(result, value, locale)

    def spreadsheet_value(self, field: FieldDef, value: Any, zone: dt.tzinfo = dt.UTC) -> Any:
        result = self.result_field(field)
        return FIELD_TYPES[result.type].spreadsheet_value(result, value, zone)

    def spreadsheet_format(self, field: FieldDef, locale: str = "en") -> str | None:
        result = self.result_field(field)
        return FIELD_TYPES[result.type].spreadsheet_format(result, locale)

    def parse_csv(self, field: FieldDef, text: str) -> Any:
        raise FieldValueError("is computed and cannot be imported")


@register
class FormulaType(ComputedType):
    name = "formula"
    required_options = ("expression", "returns")

    def extra_schema(self) -> dict[str, Any]:
        return {
            "expression": {"type": "string", "minLength": 1},
            "returns": {"enum": list(RESULT_TYPES)},
            "blank_as_zero": {"type": "boolean"},
            "precision": {"type": "integer", "minimum": 0, "maximum": 10},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        }

    def formula_type_of(self, field: FieldDef) -> str | None:
        return field.option("returns")


@register
class RollupType(ComputedType):
    name = "rollup"
    required_options = ("child", "via", "function")

    def extra_schema(self) -> dict[str, Any]:
        return {
            "child": {"type": "string"},
            "via": {"type": "string"},
            "function": {"enum": list(ROLLUP_FUNCTIONS)},
            "field": {"type": "string"},
            "filter": {"type": "string", "minLength": 1},
            "precision": {"type": "integer", "minimum": 0, "maximum": 10},
        }

    def formula_type_of(self, field: FieldDef) -> str | None:
        # COUNT is a number; SUM/MIN/MAX take the child field's type, which the loader resolves.
        if field.option("function") == "COUNT":
            return "number"
        return field.result_type or "number"

    def reader_note(self, field: FieldDef) -> str | None:
        # A total is a property of the parent record (as Salesforce's roll-up summaries are): it
        # counts every child, whoever may open it, so readers are told their list may not add up.
        return "Totals count all related records, including ones you cannot open."

    def result_field(self, field: FieldDef) -> FieldDef:
        # A count is a whole number: shown "2", not "2.00", and filtered as an integer.
        if field.option("function") == "COUNT":
            return FieldDef(name=field.name, type="integer", label=field.label)
        return super().result_field(field)
