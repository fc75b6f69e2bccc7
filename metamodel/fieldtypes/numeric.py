"""Numeric field types: integer, number, currency and percent.

Integers are int; the others are Decimal quantized to the field's precision (never float).
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from metamodel.fieldtypes.base import FieldType, FieldValueError, register
from metamodel.model import FieldDef

DEFAULT_PRECISION = 2
TOTAL_DIGITS = 20  # Numeric(20, precision): the column's digits before and after the point
DEFAULT_CURRENCY = "CNY"
# Symbols shown instead of the ISO code; CNY's ¥ only in Chinese, where it cannot mean yen.
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
_LOCALE_SYMBOLS = {"zh": {"CNY": "¥"}}
# Decorations people type around numbers: thousands separators, currency signs and codes.
_DECORATION = re.compile(r"[,_\s¥￥$€£]|^[A-Z]{3}|[A-Z]{3}$")

_RANGE_SCHEMA = {"min": {"type": "number"}, "max": {"type": "number"}}
# An integer field is a BIGINT column, and SQLite binds nothing wider.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _number_text(raw: Any) -> str:
    """Returns the digits of numeric input as text, or raises FieldValueError."""
    if isinstance(raw, bool):
        raise FieldValueError("must be a number")
    if isinstance(raw, (int, Decimal)):
        return str(raw)
    if isinstance(raw, float):
        return repr(raw)  # shortest text that round-trips: 0.1 stays 0.1, not 0.1000000000000000055
    if isinstance(raw, str):
        text = _DECORATION.sub("", raw.strip().upper())
        return "-" + text[1:-1] if text.startswith("(") and text.endswith(")") else text
    raise FieldValueError("must be a number")


class NumberLike(FieldType):
    """Shared range checks and grouping of digits for display."""

    formula_type = "number"
    widget = "number"

    def extra_schema(self) -> dict[str, Any]:
        return {"precision": {"type": "integer", "minimum": 0, "maximum": 10}, **_RANGE_SCHEMA}

    def check_value(self, field: FieldDef, value: Any) -> list[str]:
        if value is None:
            return []
        problems = []
        low, high = field.option("min"), field.option("max")
        if low is not None and value < Decimal(str(low)):
            problems.append(f"must be at least {self.display(field, self._bound(field, low))}")
        if high is not None and value > Decimal(str(high)):
            problems.append(f"must be at most {self.display(field, self._bound(field, high))}")
        return problems

    def _bound(self, field: FieldDef, bound: Any) -> Any:
        return self.coerce(field, bound)


@register
class IntegerType(NumberLike):
    name = "integer"

    def extra_schema(self) -> dict[str, Any]:
        return dict(_RANGE_SCHEMA)

    def coerce_present(self, field: FieldDef, raw: Any) -> int:
        text = _number_text(raw)
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise FieldValueError("must be a whole number") from None
        if not number.is_finite() or number != number.to_integral_value():
            raise FieldValueError("must be a whole number")
        # Compared as a Decimal: int() of "1e999999999" would build a billion-digit number first.
        if not INT64_MIN <= number <= INT64_MAX:
            raise FieldValueError(f"is out of range: a whole number must be between {INT64_MIN:,} and {INT64_MAX:,}")
        return int(number)

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.BigInteger()

    def from_db(self, field: FieldDef, value: Any) -> Any:
        return None if value is None else int(value)

    def display(self, field: FieldDef, value: Any, locale: str = "en") -> str:
        return "" if value is None else f"{value:,}"

    def spreadsheet_value(self, field: FieldDef, value: Any, zone: dt.tzinfo = dt.UTC) -> Any:
        return value

    def spreadsheet_format(self, field: FieldDef, locale: str = "en") -> str | None:
        return "#,##0"


class DecimalType(NumberLike):
    """number, currency and percent: a Decimal with `precision` places."""

    def precision(self, field: FieldDef) -> int:
        return field.option("precision", DEFAULT_PRECISION)

    def quantize(self, field: FieldDef, number: Decimal) -> Decimal:
        return number.quantize(Decimal(1).scaleb(-self.precision(field)), rounding=ROUND_HALF_UP)

    def coerce_present(self, field: FieldDef, raw: Any) -> Decimal:
        try:
            number = Decimal(_number_text(raw))
        except InvalidOperation:
            raise FieldValueError("must be a number") from None
        if not number.is_finite():
            raise FieldValueError("must be a number")
        if abs(number) >= Decimal(10) ** (TOTAL_DIGITS - self.precision(field)):
            raise FieldValueError("is too large")
        return self.quantize(field, number)

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.Numeric(TOTAL_DIGITS, self.precision(field), asdecimal=True)

    def from_db(self, field: FieldDef, value: Any) -> Any:
        # SQLite hands back floats for computed numeric expressions; go through text, not binary.
        return None if value is None else self.coerce_present(field, value)

    def to_json(self, field: FieldDef, value: Any) -> Any:
        return None if value is None else str(value)

    def display(self, field: FieldDef, value: Any, locale: str = "en") -> str:
        return "" if value is None else f"{value:,.{self.precision(field)}f}"

    def spreadsheet_value(self, field: FieldDef, value: Any, zone: dt.tzinfo = dt.UTC) -> Any:
        return value

    def spreadsheet_format(self, field: FieldDef, locale: str = "en") -> str | None:
        return "#,##0" + _excel_decimals(self.precision(field))


@register
class NumberType(DecimalType):
    name = "number"


@register
class CurrencyType(DecimalType):
    name = "currency"
    formula_type = "currency"

    def extra_schema(self) -> dict[str, Any]:
        return {**super().extra_schema(),
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$",
                             "description": "an ISO 4217 code such as CNY or USD"}}

    def currency(self, field: FieldDef) -> str:
        return field.option("currency", DEFAULT_CURRENCY)

    def sign_of(self, field: FieldDef, locale: str) -> str:
        """Returns what stands before an amount: the currency's symbol ("$"), else its code and a space."""
        code = self.currency(field)
        return _LOCALE_SYMBOLS.get(locale, {}).get(code) or _SYMBOLS.get(code) or f"{code} "

    def display(self, field: FieldDef, value: Any, locale: str = "en") -> str:
        if value is None:
            return ""
        digits = f"{abs(value):,.{self.precision(field)}f}"
        sign = "-" if value < 0 else ""
        return f"{sign}{self.sign_of(field, locale)}{digits}"

    def spreadsheet_format(self, field: FieldDef, locale: str = "en") -> str | None:
        # The sign is a quoted literal, so Excel shows it as written (one section: "-$5.00" below zero).
        return f'"{self.sign_of(field, locale)}"' + super().spreadsheet_format(field, locale)


@register
class PercentType(DecimalType):
    name = "percent"
    formula_type = "percent"

    def coerce_present(self, field: FieldDef, raw: Any) -> Decimal:
        if isinstance(raw, str):
            raw = raw.strip().removesuffix("%")
        return super().coerce_present(field, raw)

    def display(self, field: FieldDef, value: Any, locale: str = "en") -> str:
        if value is None:
            return ""
        text = f"{value:,.{self.precision(field)}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
        return f"{text}%"

    def spreadsheet_value(self, field: FieldDef, value: Any, zone: dt.tzinfo = dt.UTC) -> Any:
        # A stored 25 means 25 %; a spreadsheet percentage is the fraction, 0.25 shown as "25%".
        return value / 100

    def spreadsheet_format(self, field: FieldDef, locale: str = "en") -> str | None:
        return "0" + _excel_decimals(self.precision(field)) + "%"


def _excel_decimals(places: int) -> str:
    """Returns the decimal part of an Excel number format with `places` digits ("" for none)."""
    return "." + "0" * places if places else ""
