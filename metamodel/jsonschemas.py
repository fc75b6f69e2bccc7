"""The JSON Schemas of metadata documents, and their errors turned into MetadataIssues.

The entity schema's per-type field rules are assembled from the field-type registry at load time.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from metamodel.fieldtypes import FIELD_TYPES
from metamodel.issues import MetadataIssue, did_you_mean, json_pointer

SCHEMA_NAMES = ("app", "entity", "flow", "report", "dashboard", "email_template")
# Schemas the flow envelope refers to, by the envelope's kind; not document kinds of their own.
PART_SCHEMA_NAMES = ("flow_pipeline", "flow_approval", "flow_automation", "flow_parts")


def _read_schema(name: str) -> dict[str, Any]:
    text = resources.files("metamodel").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


def field_schema_rules() -> list[dict[str, Any]]:
    """Returns one if/then rule per field type: a field of that type takes exactly these keys."""
    common = _read_schema("entity")["$defs"]["field_common"]["properties"]
    rules = []
    for name, ftype in FIELD_TYPES.items():
        then = {
            "properties": {**common, **ftype.extra_schema()},
            "additionalProperties": False,
        }
        if ftype.required_options:
            then["required"] = list(ftype.required_options)
        rules.append({"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                      "then": then})
    return rules


@cache
def schema(name: str) -> dict[str, Any]:
    """Returns the JSON Schema of a document kind ("app", "entity", "flow"...) or of a part of one."""
    document = _read_schema(name)
    if name == "entity":
        field = document["$defs"]["field"]
        field["properties"]["type"]["enum"] = list(FIELD_TYPES)
        field["allOf"] = field_schema_rules()
    return document


@cache
def _validator(name: str) -> Draft202012Validator:
    registry: Registry = Registry()
    for other in (*SCHEMA_NAMES, *PART_SCHEMA_NAMES):
        document = schema(other)
        resource = Resource.from_contents(document)
        registry = registry.with_resources([(document["$id"], resource)])
    return Draft202012Validator(schema(name), registry=registry,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_issues(kind: str, file: str, document: Any) -> Iterator[MetadataIssue]:
    """Yields an issue for every way `document` breaks the schema of `kind`, best error first."""
    errors = sorted(_validator(kind).iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    seen: set[MetadataIssue] = set()
    for error in errors:
        for issue in _issues_of(file, _most_useful(error)):
            if issue not in seen:   # an unknown key can break both an if/then rule and its neighbours
                seen.add(issue)
                yield issue


def _most_useful(error: ValidationError) -> ValidationError:
    # anyOf/oneOf errors wrap one error per branch; the deepest relevant branch says what to fix.
    if _exclusive_keys(error):
        return error
    return best_match(error.context) if error.context else error


def _exclusive_keys(error: ValidationError) -> list[str]:
    """Returns the keys of a oneOf whose branches each require one key ("exactly one of"), else []."""
    branches = error.schema.get(error.validator) if isinstance(error.schema, dict) else None
    if error.validator != "oneOf" or not all(set(b) == {"required"} and len(b["required"]) == 1
                                             for b in branches):
        return []
    return [b["required"][0] for b in branches]


def _issues_of(file: str, error: ValidationError) -> Iterator[MetadataIssue]:
    path = json_pointer(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(allowed)):
            yield MetadataIssue(file, json_pointer([*error.absolute_path, key]),
                                f"{key!r} is not a known key here", did_you_mean(key, allowed))
        return
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        yield MetadataIssue(file, path, f"{missing!r} is required")
        return
    keys = _exclusive_keys(error)
    if keys:
        given = [k for k in keys if isinstance(error.instance, dict) and k in error.instance]
        told = f" (it has {', '.join(given)})" if given else ""
        yield MetadataIssue(file, path, f"give exactly one of {', '.join(keys)}{told}")
        return
    yield MetadataIssue(file, path, *_message(error))


def _message(error: ValidationError) -> tuple[str, str | None]:
    schema_ = error.schema if isinstance(error.schema, dict) else {}
    if error.validator in ("enum", "const"):
        choices = [str(c) for c in schema_.get("enum", [schema_.get("const")])]
        noun = schema_.get("title", "allowed value")
        hint = did_you_mean(error.instance, choices) or f"use one of: {', '.join(choices)}"
        return f"{error.instance!r} is not a {noun}", hint
    if error.validator in ("pattern", "format") and "description" in schema_:
        return f"{error.instance!r} is not {schema_['description']}", None
    return error.message, None


def entity_schema() -> dict[str, Any]:
    """Returns a copy of the assembled entity schema (for editors and the builder)."""
    return copy.deepcopy(schema("entity"))
