"""What each formula function does to Python values, with Salesforce's rounding and blank rules.

The Python back end calls these; SQLite registers some of them as SQL functions so both back ends agree.
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
)

import regex as regex_engine

from formula.errors import FormulaError, Position

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
SECONDS_PER_DAY = Decimal(86400)
MS_PER_DAY = 86_400_000
#: Wide enough for any CRM amount; keeps ROUND and TRUNC exact where the default 28 digits would not.
WIDE = Context(prec=60)
#: A power whose result would need more digits than this is "#Too Big!" in Salesforce (64^64 is).
MAX_POWER_DIGITS = 100
EARTH_RADIUS = {"km": 6371.009, "mi": 3958.761}  # the radii Salesforce uses
EPOCH = date(1970, 1, 1)


def fail(position: Position | None, message: str, kind: str) -> FormulaError:
    """Build a run-time FormulaError at ``position``."""
    return FormulaError.at(position, message, kind)


def as_int(value: Decimal) -> int:
    """Truncate toward zero, as Salesforce does for day counts, digits and string positions."""
    return int(value)


# --- arithmetic -------------------------------------------------------------------------------


def divide(a: Decimal, b: Decimal, pos: Position | None = None) -> Decimal:
    if not b:
        raise fail(pos, "Division by zero.", "division_by_zero")
    return a / b


def power(a: Decimal, b: Decimal, pos: Position | None = None) -> Decimal:
    if b != b.to_integral_value():
        raise fail(pos, "The exponent of '^' must be a whole number.", "evaluation_error")
    exponent = int(b)
    if exponent == 0:
        return ONE
    if not a:
        if exponent < 0:
            raise fail(pos, "Division by zero: 0 raised to a negative power.", "division_by_zero")
        return ZERO
    magnitude = abs(exponent) * math.log10(abs(float(a))) if float(a) else 0.0
    if magnitude > MAX_POWER_DIGITS:
        raise fail(pos, "The result of '^' is too big.", "evaluation_error")
    result = WIDE.power(a, abs(exponent))
    return WIDE.divide(ONE, result) if exponent < 0 else result


def modulo(a: Decimal, b: Decimal, pos: Position | None = None) -> Decimal:
    if not b:
        raise fail(pos, "MOD divides by zero.", "division_by_zero")
    return WIDE.remainder(a, b)  # takes the dividend's sign, as MOD(-101, 10) = -1 in Salesforce


#: Whole-number functions first settle their argument to this many places, so (1/9)*9 is 1 and a
#: datetime difference times 86400 is a whole second count, as in Salesforce.
SETTLE_PLACES = Decimal("1e-15")


def settle(a: Decimal) -> Decimal:
    if a.as_tuple().exponent >= -15:
        return a
    return a.quantize(SETTLE_PLACES, rounding=ROUND_HALF_UP, context=WIDE)


def ceiling(a: Decimal) -> Decimal:
    return settle(a).to_integral_value(ROUND_UP)  # away from zero: CEILING(-1.3) = -2


def floor(a: Decimal) -> Decimal:
    return settle(a).to_integral_value(ROUND_DOWN)  # toward zero: FLOOR(-1.3) = -1


def mceiling(a: Decimal) -> Decimal:
    return settle(a).to_integral_value(ROUND_CEILING)


def mfloor(a: Decimal) -> Decimal:
    return settle(a).to_integral_value(ROUND_FLOOR)


def _quantize(a: Decimal, digits: Decimal, rounding: str) -> Decimal:
    places = as_int(digits)
    if places >= -a.as_tuple().exponent:
        return a  # already has no more decimals than asked for
    if places < -WIDE.prec + 2:
        return ZERO
    result = a.quantize(Decimal(1).scaleb(-places), rounding=rounding, context=WIDE)
    return result.quantize(ONE, context=WIDE) if places < 0 else result


def round_half_up(a: Decimal, digits: Decimal) -> Decimal:
    return _quantize(a, digits, ROUND_HALF_UP)  # ties away from zero, as Salesforce's ROUND


def trunc(a: Decimal, digits: Decimal = ZERO) -> Decimal:
    return _quantize(a, digits, ROUND_DOWN)


# Salesforce computes these four in double precision (EXP(30) is 10686474581524.463), so do we.
def _from_float(value: float) -> Decimal:
    return Decimal(repr(value))


def square_root(a: Decimal, pos: Position | None = None) -> Decimal:
    if a < 0:
        raise fail(pos, "SQRT of a negative number.", "math_domain")
    return _from_float(math.sqrt(a))


def natural_log(a: Decimal, pos: Position | None = None) -> Decimal:
    if a <= 0:
        raise fail(pos, "LN needs a number greater than zero.", "math_domain")
    return _from_float(math.log(a))


def log10(a: Decimal, pos: Position | None = None) -> Decimal:
    if a <= 0:
        raise fail(pos, "LOG needs a number greater than zero.", "math_domain")
    return _from_float(math.log10(a))


def exponential(a: Decimal, pos: Position | None = None) -> Decimal:
    try:
        return _from_float(math.exp(a))
    except OverflowError:
        raise fail(pos, "EXP result is too big.", "evaluation_error") from None


def geolocation(lat: Decimal | None, lon: Decimal | None, pos: Position | None = None):
    if lat is None and lon is None:
        return None
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        raise fail(
            pos, "GEOLOCATION needs a latitude within ±90 and a longitude within ±180.", "evaluation_error"
        )
    return (float(lat), float(lon))


def distance(a: tuple[float, float], b: tuple[float, float], unit: str) -> Decimal:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return Decimal(repr(2 * EARTH_RADIUS[unit] * math.asin(min(1.0, math.sqrt(h)))))


# --- text -------------------------------------------------------------------------------------


def blank_to_none(text: str | None) -> str | None:
    """Empty text is blank in Salesforce; the runtime spells blank as None."""
    return text or None


def length(text: str | None) -> Decimal:
    return Decimal(len(text)) if text else ZERO


def left(text: str, count: Decimal) -> str | None:
    return text[: max(as_int(count), 0)] or None


def right(text: str, count: Decimal) -> str | None:
    n = max(as_int(count), 0)
    return (text[-n:] if n else "") or None


def mid(text: str, start: Decimal, count: Decimal) -> str | None:
    begin = max(as_int(start), 1) - 1
    return text[begin : begin + max(as_int(count), 0)] or None


def find(needle: str | None, haystack: str | None, start: Decimal | None = ONE) -> Decimal:
    if not needle or not haystack or start is None:
        return ZERO
    begin = as_int(start)
    if begin < 1:
        return ZERO
    return Decimal(haystack.find(needle, begin - 1) + 1)


def contains(text: str | None, needle: str | None) -> bool | None:
    if not needle:
        return True
    if not text:
        return None
    return needle in text


def begins(text: str | None, prefix: str | None) -> bool | None:
    if not prefix:
        return True
    if not text:
        return None
    return text.startswith(prefix)


def _is_turkic(locale: str | None) -> bool:
    return bool(locale) and locale.lower().replace("-", "_").split("_")[0] in ("tr", "az")


def lower(text: str, locale: str | None = None) -> str:
    if _is_turkic(locale):  # dotted and dotless I are distinct letters in Turkish and Azeri
        text = text.replace("I", "ı").replace("İ", "i")  # noqa: RUF001 - the dotless i is the point
    return text.lower()


def upper(text: str, locale: str | None = None) -> str:
    if _is_turkic(locale):
        text = text.replace("i", "İ")
    return text.upper()


TRIM_CHARACTERS = " \t\r\n\f\v"


def trim(text: str) -> str | None:
    return text.strip(TRIM_CHARACTERS) or None


def substitute(text: str | None, old: str | None, new: str | None) -> str | None:
    if not text or not old:
        return text or None
    return text.replace(old, new or "") or None


def pad(text: str | None, width: Decimal, filler: str | None, *, on_left: bool) -> str | None:
    size = max(as_int(width), 0)
    text = text or ""
    if len(text) >= size:
        return text[:size] or None
    filler = filler if filler is not None else " "
    if not filler:
        return text or None
    padding = (filler * (size // len(filler) + 1))[: size - len(text)]
    return (padding + text) if on_left else (text + padding)


def lpad(text: str | None, width: Decimal, filler: str | None = " ") -> str | None:
    return pad(text, width, filler, on_left=True)


def rpad(text: str | None, width: Decimal, filler: str | None = " ") -> str | None:
    return pad(text, width, filler, on_left=False)


def text_of_number(value: Decimal) -> str:
    if value == value.to_integral_value():
        return f"{value.quantize(ONE, context=WIDE):f}"
    return f"{value.normalize(WIDE):f}"


_NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def value_of_text(text: str, pos: Position | None = None) -> Decimal:
    cleaned = text.strip()
    if not _NUMBER_TEXT.fullmatch(cleaned):
        raise fail(pos, f"VALUE cannot read '{text}' as a number.", "invalid_number")
    return Decimal(cleaned)


def is_number(text: str | None) -> bool:
    return bool(text) and _NUMBER_TEXT.fullmatch(text.strip()) is not None


_REGEX_CACHE: dict[str, regex_engine.Pattern[str]] = {}
_REGEX_CACHE_SIZE = 256
#: A pattern like (a+)+ backtracks for ever on "aaaa…!": a match that takes longer gives up.
REGEX_TIMEOUT_SECONDS = 0.5


class RegexTimeout(FormulaError):
    """REGEX gave up on a pattern that backtracks too much; SQL back ends stop the whole query."""


def regex(text: str | None, pattern: str | None, pos: Position | None = None) -> bool:
    if pattern is None:
        return False
    compiled = _compiled_regex(pattern, pos)
    try:
        return compiled.fullmatch(text or "", timeout=REGEX_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        raise RegexTimeout(
            f"REGEX gave up after {REGEX_TIMEOUT_SECONDS} seconds: the pattern backtracks too much "
            "on this text. Simplify the pattern (avoid nested repeats such as (a+)+).",
            *(pos.line, pos.column) if pos else (),
            kind="evaluation_error",
        ) from None


def _compiled_regex(pattern: str, pos: Position | None) -> regex_engine.Pattern[str]:
    compiled = _REGEX_CACHE.get(pattern)
    if compiled is None:
        try:
            compiled = regex_engine.compile(pattern)
        except (regex_engine.error, TimeoutError) as error:
            raise fail(pos, f"REGEX pattern is not valid: {error}.", "invalid_regex") from None
        if len(_REGEX_CACHE) >= _REGEX_CACHE_SIZE:
            _REGEX_CACHE.clear()  # user text must not grow a worker's memory without bound
        _REGEX_CACHE[pattern] = compiled
    return compiled


def hyperlink(url: str | None, label: str | None, target: str | None = None) -> str | None:
    if not url:
        return label
    target_attr = f' target="{_attr(target)}"' if target else ""
    return f'<a href="{_attr(url)}"{target_attr}>{_attr(label or url)}</a>'


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def casesafeid(record_id: str) -> str:
    if len(record_id) != 15:
        return record_id
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, ch in enumerate(record_id[chunk * 5 : chunk * 5 + 5]) if "A" <= ch <= "Z")
        suffix += _ID_ALPHABET[bits]
    return record_id + suffix


def includes(values: list[str] | None, wanted: str | None) -> bool:
    return bool(values) and wanted is not None and wanted in values


def is_blank(value: object) -> bool:
    return value is None or value == "" or value == []


# --- dates and times ----------------------------------------------------------------------------


def make_date(year: Decimal, month: Decimal, day: Decimal, pos: Position | None = None) -> date:
    try:
        return date(as_int(year), as_int(month), as_int(day))
    except (ValueError, OverflowError):
        raise fail(pos, f"DATE({year}, {month}, {day}) is not a valid date.", "invalid_date") from None


def add_days(day: date, count: Decimal, pos: Position | None = None) -> date:
    try:
        return day + timedelta(days=as_int(count))  # date + 0.7 is the same date, as in Salesforce
    except OverflowError:
        raise fail(pos, "The date is out of range.", "invalid_date") from None


def sub_days(day: date, count: Decimal, pos: Position | None = None) -> date:
    return add_days(day, -count, pos)


def days_between(a: date, b: date) -> Decimal:
    return Decimal((a - b).days)


def add_datetime_days(moment: datetime, count: Decimal, pos: Position | None = None) -> datetime:
    seconds = (count * SECONDS_PER_DAY).to_integral_value(ROUND_HALF_UP)
    try:
        return moment + timedelta(seconds=int(seconds))
    except OverflowError:
        raise fail(pos, "The date and time is out of range.", "invalid_date") from None


def sub_datetime_days(moment: datetime, count: Decimal, pos: Position | None = None) -> datetime:
    return add_datetime_days(moment, -count, pos)


def datetime_days_between(a: datetime, b: datetime) -> Decimal:
    delta = a - b
    micro = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micro) / Decimal(86_400_000_000)


def add_months(day: date, count: Decimal, pos: Position | None = None) -> date:
    months = day.year * 12 + day.month - 1 + as_int(count)
    year, month = divmod(months, 12)
    if not 1 <= year <= 9999:
        raise fail(pos, "ADDMONTHS goes beyond the year 9999.", "invalid_date")
    last = calendar.monthrange(year, month + 1)[1]
    is_month_end = day.day == calendar.monthrange(day.year, day.month)[1]
    return date(year, month + 1, last if is_month_end else min(day.day, last))


def add_months_datetime(moment: datetime, count: Decimal, pos: Position | None = None) -> datetime:
    moved = add_months(moment.date(), count, pos)
    return moment.replace(year=moved.year, month=moved.month, day=moved.day)


def weekday(day: date) -> Decimal:
    return Decimal(day.isoweekday() % 7 + 1)  # Sunday is 1, Saturday 7


def day_of_year(day: date) -> Decimal:
    return Decimal(day.timetuple().tm_yday)


def iso_week(day: date) -> Decimal:
    return Decimal(day.isocalendar()[1])


def iso_year(day: date) -> Decimal:
    return Decimal(day.isocalendar()[0])


def text_of_date(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def text_of_datetime(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{text_of_date(moment.date())} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"


def date_of_datetime(moment: datetime) -> date:
    return moment.astimezone(UTC).date()  # GMT, the only time zone the formula runtime knows


def datetime_of_date(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


_DATE_TEXT = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DATETIME_TEXT = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,3}))?Z?)?"
)


def date_of_text(text: str, pos: Position | None = None) -> date:
    match = _DATE_TEXT.fullmatch(text.strip()) or _DATETIME_TEXT.fullmatch(text.strip())
    if not match:
        raise fail(pos, f"DATEVALUE cannot read '{text}' as a date (use YYYY-MM-DD).", "invalid_date")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise fail(pos, f"'{text}' is not a valid date.", "invalid_date") from None


def datetime_of_text(text: str, pos: Position | None = None) -> datetime:
    match = _DATETIME_TEXT.fullmatch(text.strip())
    if not match:
        raise fail(pos, f"DATETIMEVALUE cannot read '{text}' (use YYYY-MM-DD HH:MM:SS).", "invalid_date")
    year, month, day, hour, minute, second, millis = match.groups()
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((millis or "0").ljust(3, "0")) * 1000,
            tzinfo=UTC,
        )
    except ValueError:
        raise fail(pos, f"'{text}' is not a valid date and time.", "invalid_date") from None


# Time of day is held as whole milliseconds since midnight, as Salesforce's Time type.
_TIME_TEXT = re.compile(r"(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,3}))?")


def time_of_text(text: str, pos: Position | None = None) -> int:
    match = _TIME_TEXT.fullmatch(text.strip())
    if not match:
        raise fail(pos, f"TIMEVALUE cannot read '{text}' (use HH:MM:SS.MMM).", "invalid_date")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3])
    if hour > 23 or minute > 59 or second > 59:
        raise fail(pos, f"'{text}' is not a valid time of day.", "invalid_date")
    return ((hour * 60 + minute) * 60 + second) * 1000 + int((match[4] or "0").ljust(3, "0"))


def time_of_datetime(moment: datetime) -> int:
    moment = moment.astimezone(UTC)
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1000 + moment.microsecond // 1000


def time_to_python(millis: int) -> time:
    seconds, ms = divmod(millis, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, second, ms * 1000)


def text_of_time(millis: int) -> str:
    value = time_to_python(millis)
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}"


def add_time(millis: int, count: Decimal) -> int:
    return (millis + as_int(count)) % MS_PER_DAY


def sub_time(millis: int, count: Decimal) -> int:
    return (millis - as_int(count)) % MS_PER_DAY


def time_between(a: int, b: int) -> Decimal:
    return Decimal((a - b) % MS_PER_DAY)


def hour(millis: int) -> Decimal:
    return Decimal(millis // 3_600_000)


def minute(millis: int) -> Decimal:
    return Decimal(millis // 60_000 % 60)


def second(millis: int) -> Decimal:
    return Decimal(millis // 1000 % 60)


def millisecond(millis: int) -> Decimal:
    return Decimal(millis % 1000)


def format_duration(seconds: Decimal | None, with_days: bool | None = False) -> str | None:
    if seconds is None:
        return None
    total = abs(as_int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if with_days:
        days, hours = divmod(hours, 24)
        return f"{days}:{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def format_duration_between(a: datetime, b: datetime) -> str | None:
    delta = abs(a - b)
    return format_duration(Decimal(delta.days * 86400 + delta.seconds), True)


def format_duration_times(a: int, b: int) -> str | None:
    return format_duration(Decimal(abs(a - b) // 1000), False)


def today(now: datetime) -> date:
    return now.astimezone(UTC).date()
