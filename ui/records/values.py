"""Value inputs that fit a field's type, for the filter builder and the bulk "set a field" action.

`value_input` decides the widget in Python; `macros/values.html` draws it, one macro per kind.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from engine.data.query import OPERATORS
from metamodel.fieldtypes import field_type
from metamodel.model import EntityDef, FieldDef, label_text
from ui.context import locale
from ui.records.display import shown_field
from ui.records.localtime import from_local_input

# Inputs the filter builder offers per formula type; anything else is a text box.
KIND_OF_TYPE = {"number": "number", "currency": "number", "percent": "number", "date": "date",
                "datetime": "datetime"}


@dataclass(frozen=True)
class ValueInput:
    """How a value is typed: kind (text, number, date, datetime, select, lookup, none), how many
    values (one, two for between, many for in / not in), the choices of a select, a lookup's target."""
    kind: str
    arity: str = "one"
    choices: tuple[tuple[str, str], ...] = ()
    target: str | None = None


def value_input(entity: EntityDef, name: str, op: str = "eq", users: list | None = None) -> ValueInput:
    """Returns the input for values of field `name` compared with operator `op`."""
    arity = OPERATORS[op].arity if op in OPERATORS else "one"
    if arity == "none":
        return ValueInput("none", arity)
    if name == "owner_id":
        return ValueInput("select", arity, _user_choices(users or []))
    if not entity.has_field(name):
        return ValueInput("text", arity)
    return _field_input(shown_field(entity.field(name)), arity, users or [])


def _field_input(f: FieldDef, arity: str, users: list) -> ValueInput:
    kind = field_type(f.type)
    if hasattr(kind, "choices"):
        lang = locale()
        return ValueInput("select", arity, tuple((c["value"], kind.label_of(f, c["value"], lang))
                                                 for c in kind.choices(f)))
    if kind.widget == "checkbox":
        return ValueInput("select", "one" if arity == "many" else arity, (("true", _("Yes")), ("false", _("No"))))
    if f.type == "user":
        return ValueInput("select", arity, _user_choices(users))
    if kind.target_entity(f):
        return ValueInput("lookup", arity, target=kind.target_entity(f))
    return ValueInput(KIND_OF_TYPE.get(kind.formula_type_of(f) or "", "text"), arity)


def _user_choices(users: list) -> tuple[tuple[str, str], ...]:
    return tuple((str(u.id), u.display_name) for u in users)


def split_values(value: Any) -> list[str]:
    """A condition's value as the list of texts its inputs show."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]


def query_value(entity: EntityDef, name: str, value: Any) -> Any:
    """A filter value as the engine reads it: datetimes typed in the user's zone become UTC."""
    if not entity.has_field(name) or shown_field(entity.field(name)).type != "datetime":
        return value
    if isinstance(value, (list, tuple)):
        return [from_local_input(str(v)) for v in value]
    return from_local_input(str(value)) if value not in (None, "") else value


def field_label(entity: EntityDef, name: str) -> str:
    if name == "owner_id":
        return _("Owner")
    return label_text(entity.field(name).label, locale()) if entity.has_field(name) else name


# Operators that make sense per kind of value; the builder offers these, in this order.
ORDERED = ("eq", "ne", "lt", "le", "gt", "ge", "between", "in", "not_in", "is_blank", "is_not_blank")
OPERATORS_OF_KIND = {
    "text": ("eq", "ne", "contains", "starts_with", "in", "not_in", "is_blank", "is_not_blank"),
    "number": ORDERED, "date": ORDERED, "datetime": ORDERED,
    "select": ("eq", "ne", "in", "not_in", "is_blank", "is_not_blank"),
    "lookup": ("eq", "ne", "in", "not_in", "is_blank", "is_not_blank"),
    "boolean": ("eq", "ne"),
}


def operators_for(entity: EntityDef, name: str) -> tuple[str, ...]:
    """The operator names the filter builder offers for field `name`."""
    if name == "owner_id":
        return OPERATORS_OF_KIND["lookup"]
    if not entity.has_field(name):
        return tuple(OPERATORS)
    f = shown_field(entity.field(name))
    kind = field_type(f.type)
    if kind.widget == "checkbox":
        return OPERATORS_OF_KIND["boolean"]
    if hasattr(kind, "choices") or f.type == "user":
        return OPERATORS_OF_KIND["select"]
    if kind.target_entity(f):
        return OPERATORS_OF_KIND["lookup"]
    return OPERATORS_OF_KIND.get(KIND_OF_TYPE.get(kind.formula_type_of(f) or "", "text"), tuple(OPERATORS))
