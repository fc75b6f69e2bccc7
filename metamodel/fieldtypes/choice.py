"""Field types whose values come from a fixed set: boolean, picklist and multipicklist.

Picklist values are stored as their `value`; people see the `label` in their locale.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from metamodel.fieldtypes.base import FieldType, FieldValueError, is_blank, register
from metamodel.model import FieldDef, label_text

_TRUE = {"true", "t", "yes", "y", "1", "on", "x", "✓", "是", "对", "真"}
_FALSE = {"false", "f", "no", "n", "0", "off", "否", "不", "假"}
_YES_NO = {"en": ("Yes", "No"), "zh": ("是", "否")}
SEPARATOR = ";"


@register
class BooleanType(FieldType):
    name = "boolean"
    formula_type = "boolean"
    widget = "checkbox"

    def coerce(self, field: FieldDef, raw: Any) -> bool:
        # A checkbox left unticked sends nothing: blank means False, never None.
        if is_blank(raw):
            return False
        return self.coerce_present(field, raw)

    def coerce_present(self, field: FieldDef, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise FieldValueError("must be yes or no (true/false, 1/0, 是/否)")

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.Boolean()

    def to_db(self, field: FieldDef, value: Any) -> Any:
        return bool(value)

    def from_db(self, field: FieldDef, value: Any) -> Any:
        return bool(value)

    def display(self, field: FieldDef, value: Any, locale: str = "en") -> str:
        yes, no = _YES_NO.get(locale, _YES_NO["en"])
        return yes if value else no

    def spreadsheet_value(self, field: FieldDef, value: Any, zone: dt.tzinfo = dt.UTC) -> Any:
        return bool(value)


_VALUE_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["value", "label"],
        "additionalProperties": False,
        "properties": {
            "value": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[^;]+$",
                      "description": "a value without ';' (multipicklists join values with it)"},
            "label": {"$ref": "#/$defs/label"},
            "color": {"type": "string"},
            "probability": {"type": "number", "minimum": 0, "maximum": 100},
        },
    },
}


class ChoiceType(FieldType):
    """Shared by picklist and multipicklist: the values, and matching input to them."""

    def extra_schema(self) -> dict[str, Any]:
        return {"values": _VALUE_SCHEMA}

    required_options = ("values",)

    def choices(self, field: FieldDef) -> tuple[Mapping[str, Any], ...]:
        return tuple(field.option("values", ()))

    def choice(self, field: FieldDef, value: str) -> Mapping[str, Any] | None:
        """Returns the {value, label, color, probability} entry of `value`, or None."""
        return next((c for c in self.choices(field) if c["value"] == value), None)

    def values(self, field: FieldDef) -> list[str]:
        return [c["value"] for c in self.choices(field)]

    def match(self, field: FieldDef, text: str) -> str:
        """Returns the value that `text` names (a value or a label in any locale, any case)."""
        text = text.strip()
        if text in self.values(field):
            return text
        folded = text.casefold()
        for choice in self.choices(field):
            label = choice["label"]
            names = [choice["value"], *(label.values() if isinstance(label, Mapping) else [label])]
            if any(name.casefold() == folded for name in names):
                return choice["value"]
        return text  # left for check_value to report with the list of allowed values

    def label_of(self, field: FieldDef, value: str, locale: str) -> str:
        choice = self.choice(field, value)
        if choice is None:
            return value
        label = choice["label"]
        return label_text(label, locale) if isinstance(label, Mapping) else label

    def not_a_value(self, field: FieldDef, value: str) -> str:
        return f"{value!r} is not one of the values: {', '.join(self.values(field))}"


@register
class PicklistType(ChoiceType):
    name = "picklist"
    formula_type = "picklist"
    widget = "select"

    def coerce_present(self, field: FieldDef, raw: Any) -> str:
        if not isinstance(raw, str):
            raise FieldValueError("must be one of the values: " + ", ".join(self.values(field)))
        return self.match(field, raw)

    def check_value(self, field: FieldDef, value: Any) -> list[str]:
        if value is None or value in self.values(field):
            return []
        return [self.not_a_value(field, value)]

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.String(100)

    def display(self, field: FieldDef, value: Any, locale: str = "en") -> str:
        return "" if value is None else self.label_of(field, value, locale)


@register
class MultipicklistType(ChoiceType):
    name = "multipicklist"
    formula_type = "multipicklist"
    widget = "multiselect"

    def coerce(self, field: FieldDef, raw: Any) -> list[str] | None:
        if isinstance(raw, (list, tuple)) and not raw:
            return None
        return super().coerce(field, raw)

    def coerce_present(self, field: FieldDef, raw: Any) -> list[str] | None:
        if isinstance(raw, str):
            raw = raw.split(SEPARATOR)
        if not isinstance(raw, (list, tuple)) or not all(isinstance(v, str) for v in raw):
            raise FieldValueError("must be a list of values")
        chosen = {self.match(field, v) for v in raw if v.strip()}
        if not chosen:
            return None
        order = {v: i for i, v in enumerate(self.values(field))}
        # Unknown values sort last, in a stable order, so check_value can name them all.
        return sorted(chosen, key=lambda v: (order.get(v, len(order)), v))

    def parse_csv(self, field: FieldDef, text: str) -> Any:
        # Spreadsheet users separate with commas as often as with semicolons.
        if SEPARATOR not in text:
            text = text.replace("，", ",").replace(",", SEPARATOR)
        return self.coerce(field, text)

    def check_value(self, field: FieldDef, value: Any) -> list[str]:
        allowed = self.values(field)
        return [self.not_a_value(field, v) for v in value or () if v not in allowed]

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.Text()

    def to_db(self, field: FieldDef, value: Any) -> Any:
        return SEPARATOR.join(value) if value else None

    def from_db(self, field: FieldDef, value: Any) -> Any:
        return [v for v in value.split(SEPARATOR) if v] or None if value else None

    def to_json(self, field: FieldDef, value: Any) -> Any:
        return None if value is None else list(value)

    def display(self, field: FieldDef, value: Any, locale: str = "en") -> str:
        return ", ".join(self.label_of(field, v, locale) for v in value or ())
