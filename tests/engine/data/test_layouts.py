"""Conditional visibility and requirement of layout sections and fields."""
from __future__ import annotations

import pytest
from engine_apps import entity_doc, label

from engine.data.computed import RecordValues
from engine.data.layouts import layout_of, layout_state

STAGES = [{"value": v, "label": label(v)} for v in ("open", "lost")]

DEAL = entity_doc("deal", [
    {"name": "name", "type": "text", "required": True},
    {"name": "stage", "type": "picklist", "values": STAGES},
    {"name": "lost_reason", "type": "textarea"},
    {"name": "amount", "type": "currency"},
    {"name": "discount", "type": "percent"},
], layouts=[{"name": "default", "sections": [
    {"name": "main", "label": label("Main"), "columns": 2, "fields": [
        "name", "stage",
        {"field": "lost_reason", "visible_if": 'ISPICKVAL(stage, "lost")', "required_if": 'ISPICKVAL(stage, "lost")'},
    ]},
    {"name": "pricing", "label": label("Pricing"), "columns": 1, "visible_if": "amount > 1000",
     "fields": ["amount", "discount"]},
]}])


@pytest.fixture
def state(runtime, install):
    registry = install(DEAL)
    entity = registry.entity("deal")

    def evaluate(**record):
        with runtime.engine.connect() as conn:
            return layout_state(registry, entity, layout_of(entity), record, RecordValues(conn, registry))

    return evaluate


def test_field_shows_only_when_its_condition_holds(state):
    assert "lost_reason" not in state(stage="open").visible_fields
    assert "lost_reason" in state(stage="lost").visible_fields


def test_field_is_required_when_its_condition_holds(state):
    assert state(name="x", stage="lost").missing({"name": "x", "stage": "lost"}) == ["lost_reason"]
    assert state(name="x", stage="open").missing({"name": "x", "stage": "open"}) == []


def test_section_hides_with_its_fields_when_its_condition_fails(state):
    shown = state(amount=50)
    assert "pricing" not in shown.visible_sections and "discount" not in shown.visible_fields
    assert "pricing" in state(amount=5000).visible_sections


def test_field_required_by_metadata_is_always_required(state):
    assert "name" in state().required_fields
