"""The field-type registry: one class per field type, found by its `type` name.

`field_type("currency")` returns the type; `FIELD_TYPES` maps every name to its type.
"""
# Importing the modules registers their types (each module groups a family of types).
from metamodel.fieldtypes import choice, computed, file, numeric, relation, temporal, text  # noqa: F401
from metamodel.fieldtypes.base import (
    FIELD_TYPES,
    FieldType,
    FieldValueError,
    field_type,
    is_blank,
    register,
)

__all__ = ["FIELD_TYPES", "FieldType", "FieldValueError", "field_type", "is_blank", "register"]
