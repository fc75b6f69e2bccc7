"""SQL functions the SQL back end needs on SQLite, registered on each DB-API connection.

The engine calls ``register(dbapi_connection)`` from an SQLAlchemy ``connect`` event; each function
reuses formula.semantics, so SQLite and the Python back end agree, and returns NULL for #Error!.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from formula import semantics as s
from formula.errors import FormulaError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_decimal(value: Any) -> Decimal | None:
    """SQLite hands numbers over as int or float; read a float by its shortest repr, as stored."""
    if value is None:
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def from_decimal(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    if value == value.to_integral_value() and abs(value) < 2**62:
        return int(value)
    return float(value)


def to_date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(str(value)[:10])


def to_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else _EPOCH + timedelta(milliseconds=round(float(epoch) * 1000))


def from_datetime(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) + delta.microseconds // 1000 / 1000


def _safe(function: Callable[..., Any]) -> Callable[..., Any]:
    """A #Error! becomes NULL: one bad row must not abort a whole query."""

    def call(*args: Any) -> Any:
        try:
            return function(*args)
        except (FormulaError, ArithmeticError, ValueError, TypeError, OverflowError):
            return None

    return call


def _numeric(function: Callable[..., Decimal | None]) -> Callable[..., Any]:
    return lambda *args: from_decimal(
        function(*(to_decimal(a) if isinstance(a, int | float) else a for a in args))
    )


def _round(value: Any, digits: Any) -> Any:
    if value is None or digits is None:
        return None
    return from_decimal(s.round_half_up(to_decimal(value), to_decimal(digits)))


def _trunc(value: Any, digits: Any) -> Any:
    if value is None or digits is None:
        return None
    return from_decimal(s.trunc(to_decimal(value), to_decimal(digits)))


def _strict(function: Callable[..., Any]) -> Callable[..., Any]:
    return lambda *args: None if any(a is None for a in args) else function(*args)


def _date_of_parts(year: Any, month: Any, day: Any) -> str | None:
    return s.text_of_date(s.make_date(to_decimal(year), to_decimal(month), to_decimal(day)))


def _add_months(day: str, months: Any) -> str:
    return s.text_of_date(s.add_months(to_date(day), to_decimal(months)))


def _add_months_epoch(epoch: float, months: Any) -> float | None:
    return from_datetime(s.add_months_datetime(to_datetime(epoch), to_decimal(months)))


def _format_duration(seconds: Any, with_days: Any) -> str | None:
    return s.format_duration(to_decimal(seconds), bool(with_days))


def _distance(lat1: Any, lon1: Any, lat2: Any, lon2: Any, unit: str) -> float | None:
    first = s.geolocation(to_decimal(lat1), to_decimal(lon1))
    second = s.geolocation(to_decimal(lat2), to_decimal(lon2))
    if first is None or second is None:
        return None
    return from_decimal(s.distance(first, second, unit))


def _lpad(text: str | None, width: Any, filler: str | None) -> str | None:
    return None if text is None or width is None else s.lpad(text, to_decimal(width), filler)


def _rpad(text: str | None, width: Any, filler: str | None) -> str | None:
    return None if text is None or width is None else s.rpad(text, to_decimal(width), filler)


#: name -> (number of arguments, implementation)
FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "formula_power": (2, _strict(_numeric(s.power))),
    "formula_mod": (2, _strict(_numeric(s.modulo))),
    "formula_round": (2, _round),
    "formula_trunc": (2, _trunc),
    "formula_sqrt": (1, _strict(_numeric(s.square_root))),
    "formula_exp": (1, _strict(_numeric(s.exponential))),
    "formula_ln": (1, _strict(_numeric(s.natural_log))),
    "formula_log10": (1, _strict(_numeric(s.log10))),
    "formula_text_number": (1, _strict(lambda x: s.text_of_number(to_decimal(x)))),
    "formula_value": (1, _strict(lambda t: from_decimal(s.value_of_text(t)))),
    "formula_isnumber": (1, lambda t: 1 if s.is_number(t) else 0),
    "formula_lpad": (3, _lpad),
    "formula_rpad": (3, _rpad),
    "formula_lower": (2, lambda t, loc: None if t is None else s.lower(t, loc)),
    "formula_upper": (2, lambda t, loc: None if t is None else s.upper(t, loc)),
    "formula_casesafeid": (1, _strict(s.casesafeid)),
    "formula_date": (3, _strict(_date_of_parts)),
    "formula_datevalue": (1, _strict(lambda t: s.text_of_date(s.date_of_text(t)))),
    "formula_datetimevalue": (1, _strict(lambda t: from_datetime(s.datetime_of_text(t)))),
    "formula_timevalue": (1, _strict(s.time_of_text)),
    "formula_isoweek": (1, _strict(lambda d: int(s.iso_week(to_date(d))))),
    "formula_isoyear": (1, _strict(lambda d: int(s.iso_year(to_date(d))))),
    "formula_addmonths": (2, _strict(_add_months)),
    "formula_addmonths_epoch": (2, _strict(_add_months_epoch)),
    "formula_formatduration": (2, _format_duration),
    "formula_distance": (5, _distance),
}


def register(dbapi_connection: sqlite3.Connection) -> None:
    """Register every formula_* SQL function on a sqlite3 connection (call it on each connect)."""
    for name, (arity, function) in FUNCTIONS.items():
        dbapi_connection.create_function(name, arity, _safe(function), deterministic=True)
    dbapi_connection.create_function("formula_regex", 2, _regex_stopping(dbapi_connection), deterministic=True)


def _regex_stopping(dbapi_connection: sqlite3.Connection) -> Callable[[Any, Any], int | None]:
    """REGEX for SQLite; a match that gives up interrupts the statement, as a query timeout does,
    rather than answer NULL on every row at half a second each."""

    def formula_regex(text: Any, pattern: Any) -> int | None:
        try:
            return int(s.regex(text, pattern))
        except s.RegexTimeout:
            dbapi_connection.interrupt()
            return None
        except FormulaError:
            return None

    return formula_regex
