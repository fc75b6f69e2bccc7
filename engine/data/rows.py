"""Records as Python values: the system columns every entity table has, and a row turned into a record.

Below the write path, the read path and computed fields alike, which all read rows this way.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metamodel.fieldtypes import field_type
from metamodel.model import EntityDef, FieldDef

RECORD_COLUMNS = ("id", "owner_id", "created_at", "created_by", "updated_at", "updated_by", "version",
                  "deleted_at")


def row_to_record(entity: EntityDef, row: Mapping[str, Any]) -> dict[str, Any]:
    """Returns a record (Python values keyed by field name) from a table row."""
    record = {name: row[name] for name in RECORD_COLUMNS if name in row}
    for f in entity.fields:
        if f.name in row:
            record[f.name] = field_type(f.type).from_db(f, row[f.name])
    return record


def json_value(f: FieldDef, value: Any) -> Any:
    return None if value is None else field_type(f.type).to_json(f, value)
