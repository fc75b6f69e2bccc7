"""Formwork's metamodel: JSON Schemas of the metadata, loading, semantic checks and field types.

Pure: it reads and writes JSON documents and builds the frozen dataclasses of `metamodel.model`.
"""
from metamodel.fieldtypes import FIELD_TYPES, FieldType, FieldValueError, field_type
from metamodel.formula_checks import check_formulas, formula_fields
from metamodel.issues import MetadataError, MetadataIssue, ValidationReport
from metamodel.loader import (
    app_from_documents,
    app_to_documents,
    load_app,
    validate_app,
    validate_documents,
    write_app,
)

__all__ = [
    "FIELD_TYPES", "FieldType", "FieldValueError", "field_type",
    "MetadataError", "MetadataIssue", "ValidationReport",
    "load_app", "validate_app", "validate_documents", "app_from_documents", "app_to_documents",
    "write_app", "check_formulas", "formula_fields",
]
