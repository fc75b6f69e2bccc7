"""What a user may see of a record: fields hidden or read-only for their role, and the layout's
conditional sections, fields and requirements (visible_if / required_if) for one record's values.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import g

from engine.data.computed import RecordValues
from engine.data.layouts import LayoutState, layout_of, layout_state
from engine.security.scopes import hidden_fields
from metamodel.fieldtypes import FieldValueError, field_type
from metamodel.model import EntityDef, Layout, LayoutField, Section
from ui.context import actor, registry, runtime


def hidden_names(entity: EntityDef) -> frozenset[str]:
    """The fields of `entity` the user's roles hide: never rendered, filtered, sorted nor set."""
    cache = g.setdefault("fw_hidden", {})
    if entity.name not in cache:
        cache[entity.name] = hidden_fields(actor(), entity, registry())
    return cache[entity.name]


def locked_names(entity: EntityDef) -> frozenset[str]:
    """The fields the user may not set: hidden or read-only for their roles (none for admins)."""
    who = actor()
    if who.is_admin:
        return frozenset()
    return who.permissions.locked_fields(entity.name)


def readable(entity: EntityDef, names: Iterable[str]) -> list[str]:
    """`names` without the fields (or lookup paths through fields) the user's roles hide."""
    return [n for n in names if n.split(".")[0] not in hidden_names(entity)]


def form_layout(entity: EntityDef) -> Layout:
    """The entity's first layout, or one section holding every field when it has none."""
    found = layout_of(entity)
    if found is not None:
        return found
    return Layout("default", (Section("main", None, 2, False, tuple(LayoutField(f.name) for f in entity.fields)),))


def typed_values(entity: EntityDef, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Form input coerced to field values, for conditions; what does not coerce counts as blank."""
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if not entity.has_field(name):
            continue
        f = entity.field(name)
        try:
            values[name] = field_type(f.type).coerce(f, value)
        except (FieldValueError, TypeError, ValueError):
            values[name] = None
    return values


def record_layout(entity: EntityDef, record: Mapping[str, Any]) -> LayoutState:
    """Which sections and fields of the form layout show, and which are required, for `record`."""
    with runtime().engine.connect() as conn:
        return layout_state(registry(), entity, form_layout(entity), record, RecordValues(conn, registry()),
                            now=runtime().clock())


def conditionally_missing(entity: EntityDef, state: LayoutState, values: Mapping[str, Any],
                          editable: Iterable[str]) -> list[str]:
    """The shown, editable fields a required_if makes required that have no value.

    Fields required by their definition are left to the engine, which applies defaults first.
    """
    allowed = set(editable)
    return [name for name in state.missing(values) if name in allowed and not entity.field(name).required]
