"""The file field type: a reference to stored content, kept as a small JSON object.

The value is {"key", "name", "size", "content_type"}; the bytes live in the engine's file store.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa

from metamodel.fieldtypes.base import FieldType, FieldValueError, register
from metamodel.model import FieldDef

FILE_KEYS = ("key", "name", "size", "content_type")


def _human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


@register
class FileType(FieldType):
    name = "file"
    formula_type = None
    widget = "file"

    def extra_schema(self) -> dict[str, Any]:
        return {
            "max_size": {"type": "integer", "minimum": 1},
            "accept": {"type": "array", "items": {"type": "string", "pattern": r"^\.?[A-Za-z0-9]+$"}},
        }

    def coerce_present(self, field: FieldDef, raw: Any) -> dict[str, Any]:
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise FieldValueError("must be an uploaded file") from None
        if not isinstance(raw, Mapping) or any(k not in raw for k in FILE_KEYS):
            raise FieldValueError("must be an uploaded file with key, name, size and content_type")
        size = raw["size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise FieldValueError("must have a size in bytes")
        if not all(isinstance(raw[k], str) and raw[k] for k in ("key", "name")):
            raise FieldValueError("must have a storage key and a file name")
        return {k: raw[k] for k in FILE_KEYS}

    def check_value(self, field: FieldDef, value: Any) -> list[str]:
        if value is None:
            return []
        problems = []
        limit = field.option("max_size")
        if limit is not None and value["size"] > limit:
            problems.append(f"is too large: at most {_human_size(limit)}")
        accept = [a.lower().lstrip(".") for a in field.option("accept", ())]
        suffix = PurePosixPath(value["name"]).suffix.lower().lstrip(".")
        if accept and suffix not in accept:
            problems.append("must be a file of type " + ", ".join("." + a for a in accept))
        return problems

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.JSON()

    def from_db(self, field: FieldDef, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def to_json(self, field: FieldDef, value: Any) -> Any:
        return None if value is None else dict(value)

    def display(self, field: FieldDef, value: Any, locale: str = "en") -> str:
        return "" if value is None else value["name"]
