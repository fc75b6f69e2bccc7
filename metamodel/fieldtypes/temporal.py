"""Date and datetime field types.

Dates are datetime.date; datetimes are always timezone-aware UTC, whatever the database returns.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import sqlalchemy as sa

from metamodel.fieldtypes.base import FieldType, FieldValueError, register
from metamodel.model import FieldDef

UTC = dt.UTC
# Spreadsheet and hand-typed dates, year first; day-first and month-first are ambiguous, so refused.
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")
_DATE_HINT = "not a valid date: use YYYY-MM-DD, e.g. 2024-03-31"
_DATETIME_HINT = "not a valid date and time: use ISO 8601, e.g. 2024-03-31T14:30:00+08:00"


def _parse_date_text(text: str) -> dt.date | None:
    text = re.sub(r"\s+", "", text)
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


@register
class DateType(FieldType):
    name = "date"
    formula_type = "date"
    widget = "date"

    def coerce_present(self, field: FieldDef, raw: Any) -> dt.date:
        if isinstance(raw, dt.datetime):
            return (raw.astimezone(UTC) if raw.tzinfo else raw).date()
        if isinstance(raw, dt.date):
            return raw
        if not isinstance(raw, str):
            raise FieldValueError(_DATE_HINT)
        text = raw.strip()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
        parsed = _parse_date_text(text)
        if parsed is None:
            raise FieldValueError(_DATE_HINT)
        return parsed

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.Date()

    def from_db(self, field: FieldDef, value: Any) -> Any:
        return None if value is None else self.coerce_present(field, value)

    def to_json(self, field: FieldDef, value: Any) -> Any:
        return None if value is None else value.isoformat()

    def display(self, field: FieldDef, value: Any, locale: str = "en") -> str:
        return "" if value is None else value.isoformat()

    def spreadsheet_value(self, field: FieldDef, value: Any, zone: dt.tzinfo = UTC) -> Any:
        return value

    def spreadsheet_format(self, field: FieldDef, locale: str = "en") -> str | None:
        return "yyyy-mm-dd"


@register
class DatetimeType(FieldType):
    name = "datetime"
    formula_type = "datetime"
    widget = "datetime"

    def coerce_present(self, field: FieldDef, raw: Any) -> dt.datetime:
        if isinstance(raw, dt.datetime):
            return self._as_utc(raw)
        if isinstance(raw, dt.date):
            return dt.datetime(raw.year, raw.month, raw.day, tzinfo=UTC)
        if not isinstance(raw, str):
            raise FieldValueError(_DATETIME_HINT)
        text = raw.strip()
        try:
            return self._as_utc(dt.datetime.fromisoformat(text))
        except ValueError:
            pass
        for fmt in _DATETIME_FORMATS:
            try:
                return self._as_utc(dt.datetime.strptime(text, fmt))
            except ValueError:
                continue
        day = _parse_date_text(text)
        if day is None:
            raise FieldValueError(_DATETIME_HINT)
        return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)

    @staticmethod
    def _as_utc(value: dt.datetime) -> dt.datetime:
        # Naive values are UTC by convention: SQLite drops the offset we stored.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.DateTime(timezone=True)

    def to_db(self, field: FieldDef, value: Any) -> Any:
        return None if value is None else self._as_utc(value)

    def from_db(self, field: FieldDef, value: Any) -> Any:
        return None if value is None else self.coerce_present(field, value)

    def to_json(self, field: FieldDef, value: Any) -> Any:
        return None if value is None else value.isoformat()

    def display(self, field: FieldDef, value: Any, locale: str = "en") -> str:
        return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")

    def spreadsheet_value(self, field: FieldDef, value: Any, zone: dt.tzinfo = UTC) -> Any:
        # Excel has no time zones: the cell holds the reader's wall-clock time, naive, as the list shows it.
        return self._as_utc(value).astimezone(zone).replace(tzinfo=None)

    def spreadsheet_format(self, field: FieldDef, locale: str = "en") -> str | None:
        return "yyyy-mm-dd hh:mm"
