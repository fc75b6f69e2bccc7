"""The JSON Schemas: valid draft 2020-12, and the entity schema agrees with the field-type registry."""
from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from metamodel import FIELD_TYPES
from metamodel.jsonschemas import SCHEMA_NAMES, entity_schema, schema


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_schema_is_valid_draft_2020_12(name):
    Draft202012Validator.check_schema(schema(name))


def test_entity_schema_lists_every_registered_field_type():
    field = entity_schema()["$defs"]["field"]
    assert field["properties"]["type"]["enum"] == list(FIELD_TYPES)


def test_entity_schema_has_one_rule_per_field_type_with_its_own_keys():
    rules = {r["if"]["properties"]["type"]["const"]: r["then"] for r in entity_schema()["$defs"]["field"]["allOf"]}
    assert set(rules) == set(FIELD_TYPES)
    for name, ftype in FIELD_TYPES.items():
        assert set(ftype.extra_schema()) <= set(rules[name]["properties"])
        assert rules[name]["additionalProperties"] is False
        assert set(ftype.required_options) == set(rules[name].get("required", ()))


def test_a_user_field_may_grant_read_or_edit_and_nothing_else():
    rules = {r["if"]["properties"]["type"]["const"]: r["then"] for r in entity_schema()["$defs"]["field"]["allOf"]}
    assert rules["user"]["properties"]["grants"] == {"enum": ["read", "edit"]}
    assert "grants" not in rules["lookup"]["properties"]
