"""Which fields and sections of a layout show, and which are required, for one record's values.

The form engine asks this on every render and save; the conditions are formulas compiled once.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import formula
from engine.data.computed import RecordValues
from engine.data.registry import Registry
from metamodel.model import EntityDef, Layout


@dataclass(frozen=True)
class LayoutState:
    """The sections and fields to show, and the fields that must have a value, for one record."""
    visible_sections: frozenset[str]
    visible_fields: frozenset[str]
    required_fields: frozenset[str]

    def missing(self, values: Mapping[str, Any]) -> list[str]:
        """Returns the required fields (shown ones only) that have no value in `values`."""
        return [name for name in sorted(self.required_fields)
                if name in self.visible_fields and values.get(name) in (None, "", [])]


def layout_of(entity: EntityDef, name: str | None = None) -> Layout | None:
    """Returns the layout called `name`, else the entity's first one, else None."""
    for layout in entity.layouts:
        if name is None or layout.name == name:
            return layout
    return entity.layouts[0] if entity.layouts else None


def layout_state(registry: Registry, entity: EntityDef, layout: Layout, record: Mapping[str, Any],
                 reader: RecordValues, *, now: datetime | None = None) -> LayoutState:
    """Evaluates the layout's visible_if and required_if conditions against `record`."""
    conditions = registry.formulas[entity.name].conditions

    def holds(source: str | None, when_blank: bool) -> bool:
        if not source:
            return when_blank
        compiled = conditions[source]
        try:
            values = reader.values(entity, record, compiled.paths, stored_record=record.get("id") is not None)
            return bool(compiled.evaluate(values, now=now, is_new=record.get("id") is None))
        except formula.FormulaError:
            return when_blank   # a condition that cannot be evaluated leaves the default in place

    sections, fields, required = set(), set(), set()
    for section in layout.sections:
        if not holds(section.visible_if, True):
            continue
        sections.add(section.name)
        for item in section.fields:
            if not holds(item.visible_if, True):
                continue
            fields.add(item.field)
            f = entity.field(item.field)
            if f.required or holds(item.required_if, False):
                required.add(item.field)
    return LayoutState(frozenset(sections), frozenset(fields), frozenset(required))
