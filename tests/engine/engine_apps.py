"""Small apps built in memory for the engine tests: entity documents and a builder."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

CRM_FOLDER = Path(__file__).resolve().parents[2] / "apps" / "crm_default"


def label(text: str) -> dict[str, str]:
    return {"en": text}


def entity_doc(name: str, fields: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    doc = {"name": name, "label": label(name.title()), "plural_label": label(name.title() + "s"),
           "fields": [{"label": label(f["name"].title()), **f} for f in fields]}
    doc.update(extra)
    return doc


def app_documents(*entities: dict[str, Any], name: str = "test_app", version: str = "1.0.0") -> dict[str, Any]:
    docs: dict[str, Any] = {"app.json": {"name": name, "version": version, "label": label("Test app")}}
    for entity in entities:
        docs[f"entities/{entity['name']}.json"] = copy.deepcopy(entity)
    return docs


def build_app(*entities: dict[str, Any], name: str = "test_app", version: str = "1.0.0"):
    from metamodel import app_from_documents

    return app_from_documents(app_documents(*entities, name=name, version=version))


ACCOUNT = entity_doc("account", [
    {"name": "name", "type": "text", "required": True, "max_length": 100},
    {"name": "code", "type": "text", "unique": True},
    {"name": "grade", "type": "picklist", "values": [{"value": "vip", "label": label("VIP")},
                                                      {"value": "regular", "label": label("Regular")}]},
    {"name": "employees", "type": "integer", "min": 0},
    {"name": "revenue", "type": "currency"},
    {"name": "email", "type": "email"},
    {"name": "region", "type": "text", "default": "north"},
])

QUOTE = entity_doc("quote", [
    {"name": "number", "type": "autonumber", "format": "QT-{YYYY}-{0000}"},
    {"name": "account", "type": "lookup", "target": "account"},
    {"name": "title", "type": "text"},
])

QUOTE_LINE = entity_doc("quote_line", [
    {"name": "quote", "type": "master_detail", "target": "quote"},
    {"name": "product", "type": "text", "required": True},
    {"name": "amount", "type": "number"},
])
