"""The value types of the formula language and the rules for combining them.

Field types come from the schema; a few internal types (time, geolocation, null) only arise inside formulas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from formula.errors import FormulaError

#: Field types a schema may declare, and so the types a formula may read.
FORMULA_TYPES: tuple[str, ...] = (
    "text",
    "number",
    "currency",
    "percent",
    "boolean",
    "date",
    "datetime",
    "picklist",
    "multipicklist",
)

NUMERIC = frozenset({"number", "currency", "percent"})
#: Types that exist only inside a formula: time of day, a point on Earth, and the type of NULL.
INTERNAL_TYPES = frozenset({"time", "geolocation", "null"})
ALL_TYPES = frozenset(FORMULA_TYPES) | INTERNAL_TYPES

_ALIASES = {"checkbox": "boolean", "textarea": "text", "email": "text", "phone": "text", "url": "text"}

#: How a type is named to people in error messages, Salesforce style.
DISPLAY = {
    "text": "Text",
    "number": "Number",
    "currency": "Currency",
    "percent": "Percent",
    "boolean": "Boolean",
    "date": "Date",
    "datetime": "DateTime",
    "picklist": "Picklist",
    "multipicklist": "Multi-Select Picklist",
    "time": "Time",
    "geolocation": "Location",
    "null": "Null",
}


def normalise_type(name: str) -> str:
    """Return the canonical type name for a schema type (``checkbox`` is ``boolean``)."""
    lowered = str(name).lower()
    return _ALIASES.get(lowered, lowered)


def family(type_name: str) -> str:
    """Number, currency and percent are one family: they mix freely in arithmetic."""
    return "number" if type_name in NUMERIC else type_name


def unify(a: str, b: str) -> str | None:
    """The common type of two branches (IF, CASE, BLANKVALUE), or None when they cannot mix."""
    if a == "null":
        return b
    if b == "null" or a == b:
        return a
    if a in NUMERIC and b in NUMERIC:
        return "number"
    return None


@dataclass(frozen=True, slots=True)
class Schema:
    """The fields a formula may read: name -> type name, or name -> Schema for a lookup."""

    fields: Mapping[str, str | Schema]

    @classmethod
    def build(cls, fields: Mapping[str, object]) -> Schema:
        """Validate a {name: type_name | nested mapping} dict into a Schema."""
        built: dict[str, str | Schema] = {}
        for name, spec in fields.items():
            if isinstance(spec, Mapping):
                built[str(name)] = cls.build(spec)
                continue
            type_name = normalise_type(spec)
            if type_name not in FORMULA_TYPES:
                raise FormulaError(
                    f"Field {name} has type '{spec}', which formulas cannot read. "
                    f"Use one of: {', '.join(FORMULA_TYPES)}.",
                    kind="invalid_argument",
                )
            built[str(name)] = type_name
        return cls(built)

    def find(self, name: str) -> tuple[str, str | Schema] | None:
        """Look a name up case-insensitively; return (spelling in schema, type or lookup)."""
        if name in self.fields:
            return name, self.fields[name]
        lowered = name.lower()
        for key, spec in self.fields.items():
            if key.lower() == lowered:
                return key, spec
        return None

    def names(self, prefix: str = "") -> list[str]:
        """Every readable dotted path, for suggesting a near name."""
        out: list[str] = []
        for key, spec in self.fields.items():
            if isinstance(spec, Schema):
                out.extend(spec.names(prefix + key + "."))
            else:
                out.append(prefix + key)
        return out
