"""Keyset page cursors: the sort values of a page's edge row, encoded for a URL and decoded back.

A cursor comes back from the browser, so decoding trusts nothing: its size first, then the JSON,
then its flat shape (one plain value per sort key, of that key's type). Anything else is CursorError.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from engine.errors import CursorError

# Far above any real cursor (a few sort values, text ones at most a long text field's worth).
MAX_CURSOR_CHARS = 16_384
# The range of a 64-bit signed integer: every integer column's, and what SQLite can bind.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# No stored or computed number comes near 10**100; beyond it PostgreSQL's numeric overflows.
MAX_DECIMAL_EXPONENT = 100
# Values JSON cannot hold, written as {"$": type name, "v": text}.
_TAGGED = {"Decimal": Decimal, "datetime": datetime.fromisoformat, "date": date.fromisoformat}
_PLAIN = (str, int, float, bool)


def encode_cursor(values: Sequence[Any]) -> str:
    """Returns the URL-safe cursor of one row's sort values."""
    text = json.dumps([_jsonable(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_cursor(cursor: str, expressions: Sequence[sa.ColumnElement]) -> list[Any]:
    """Returns the sort values of a cursor made for `expressions` (the sort keys, in order).

    Raises CursorError for a cursor too long, not base64 JSON, not a flat list of one value per
    key, or holding a value of another type than its key's.
    """
    if len(cursor) > MAX_CURSOR_CHARS:
        raise CursorError(f"is too long to be a page cursor (more than {MAX_CURSOR_CHARS} characters)")
    values = _parsed(cursor)
    if not isinstance(values, list) or len(values) != len(expressions):
        raise CursorError("belongs to another sort order")
    return [_checked(_restored(value), expression) for value, expression in zip(values, expressions, strict=True)]


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, _PLAIN):
        return value
    return {"$": type(value).__name__, "v": value.isoformat() if hasattr(value, "isoformat") else str(value)}


def _parsed(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()), parse_constant=_refuse_constant)
    # RecursionError: deeply nested brackets, which no cursor of ours holds.
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise CursorError("is not a valid page cursor") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a sort value")


def _restored(value: Any) -> Any:
    """Returns the Python value of one decoded cursor entry, refusing anything not flat and bounded."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise CursorError("holds a whole number outside the 64-bit range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CursorError("holds a number that is not finite")
        return value
    if isinstance(value, dict) and set(value) == {"$", "v"} and value["$"] in _TAGGED \
            and isinstance(value["v"], str):
        return _tagged(value["$"], value["v"])
    raise CursorError("is not a valid page cursor")


def _tagged(kind: str, text: str) -> Any:
    try:
        restored = _TAGGED[kind](text)
    except (ValueError, InvalidOperation):
        raise CursorError(f"holds {text[:40]!r}, which is not a {kind}") from None
    if isinstance(restored, Decimal) and (not restored.is_finite()
                                          or abs(restored.adjusted()) > MAX_DECIMAL_EXPONENT):
        raise CursorError("holds a number out of range")
    return restored


def _checked(value: Any, expression: sa.ColumnElement) -> Any:
    """Returns `value` when its key's column could hold it (the database would refuse a mismatch)."""
    if value is None:
        return value
    try:
        expected = expression.type.python_type
    except NotImplementedError:   # an expression of no declared type: any plain value will do
        return value
    if not isinstance(value, _ACCEPTED.get(expected, (expected,))):
        raise CursorError("belongs to another sort order")
    return value


# The decoded values each column type takes: numbers arrive as int, float or Decimal alike.
_ACCEPTED: dict[type, tuple[type, ...]] = {
    int: (int,),
    Decimal: (int, float, Decimal),
    float: (int, float, Decimal),
    bool: (bool, int),
    date: (date,),
}
