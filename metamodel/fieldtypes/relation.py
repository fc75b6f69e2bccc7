"""Field types that point at another record: lookup, master_detail and user.

Values are integer ids; whether the record exists is the engine's check, not the type's.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from metamodel.fieldtypes.base import FieldType, FieldValueError, register
from metamodel.model import FieldDef

USER_TABLE = "fw_user"
# Record ids are `integer` columns: 32-bit on PostgreSQL, so no id lies beyond this.
MAX_RECORD_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]+")
# What a user field may open to the user it names: reading the record, or reading and editing it.
GRANTS = ("read", "edit")
_ON_DELETE = {"set_null": "SET NULL", "restrict": "RESTRICT"}


class ReferenceType(FieldType):
    """Shared by the reference types: ids in, integer foreign-key column, always indexed."""

    formula_type = None  # the formula layer reads a reference as a nested record, not a value

    def coerce_present(self, field: FieldDef, raw: Any) -> int:
        # APIs send {"id": 5} as often as 5; forms send "5".
        if isinstance(raw, Mapping):
            raw = raw.get("id")
        if isinstance(raw, str) and _DIGITS.fullmatch(raw.strip()):
            raw = int(raw.strip())
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_RECORD_ID:
            raise FieldValueError(f"must be the id of a record (a whole number from 1 to {MAX_RECORD_ID:,})")
        return raw

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.Integer()

    def always_indexed(self, field: FieldDef) -> bool:
        return True

    def from_db(self, field: FieldDef, value: Any) -> Any:
        return None if value is None else int(value)


@register
class LookupType(ReferenceType):
    name = "lookup"
    widget = "lookup"
    required_options = ("target",)

    def extra_schema(self) -> dict[str, Any]:
        return {
            "target": {"type": "string"},
            "on_delete": {"enum": list(_ON_DELETE)},
            "related_label": {"$ref": "#/$defs/label"},
        }

    def target_entity(self, field: FieldDef) -> str | None:
        return field.option("target")

    def foreign_key(self, field: FieldDef) -> tuple[str, str]:
        return field.option("target"), _ON_DELETE[field.option("on_delete", "set_null")]


@register
class MasterDetailType(LookupType):
    name = "master_detail"
    implicitly_required = True

    def extra_schema(self) -> dict[str, Any]:
        return {"target": {"type": "string"}, "related_label": {"$ref": "#/$defs/label"}}

    def master_entity(self, field: FieldDef) -> str | None:
        return field.option("target")

    def foreign_key(self, field: FieldDef) -> tuple[str, str]:
        return field.option("target"), "CASCADE"  # a detail record cannot outlive its master


@register
class UserType(ReferenceType):
    name = "user"
    widget = "user"

    def extra_schema(self) -> dict[str, Any]:
        return {"grants": {"enum": list(GRANTS)}}

    def access_grant(self, field: FieldDef) -> str | None:
        return field.option("grants")

    def foreign_key(self, field: FieldDef) -> tuple[str, str]:
        return USER_TABLE, "SET NULL"
