"""The function catalogue: every function's signature, typing overloads and one-line description.

The checker reads the overloads; the builder reads FUNCTIONS to list and explain functions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Overload:
    """One accepted shape of arguments: parameter kinds, result type and the back-end operation.

    Parameter kinds are type names, ``number`` (any of number/currency/percent), ``any``, or
    ``literal_text`` (a text constant). ``repeat`` makes the last parameter take 0..n more values.
    A result of ``arg0`` means "the type of the first argument".
    """

    params: tuple[str, ...]
    result: str
    op: str
    repeat: bool = False


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    """What the builder shows for a function, and what the checker needs to type a call."""

    name: str
    category: str
    signature: str
    description: str
    overloads: tuple[Overload, ...] = ()
    #: Needs the record in memory (prior values, is-new flag), so it has no SQL form.
    record_only: bool = False
    #: Typed by a dedicated checker rule instead of overloads (IF, CASE, BLANKVALUE...).
    special: bool = False

    @property
    def min_args(self) -> int:
        if self.special:
            return _SPECIAL_ARITY[self.name][0]
        return min(len(o.params) for o in self.overloads)

    @property
    def max_args(self) -> int | None:
        if self.special:
            return _SPECIAL_ARITY[self.name][1]
        if any(o.repeat for o in self.overloads):
            return None
        return max(len(o.params) for o in self.overloads)


_SPECIAL_ARITY = {
    "IF": (3, 3),
    "CASE": (4, None),
    "BLANKVALUE": (2, 2),
    "NULLVALUE": (2, 2),
    "ISCHANGED": (1, 1),
    "PRIORVALUE": (1, 1),
}


def _o(params: str, result: str, op: str, repeat: bool = False) -> Overload:
    return Overload(tuple(params.split()) if params else (), result, op, repeat)


def _f(name, category, signature, description, *overloads, record_only=False, special=False) -> FunctionInfo:
    return FunctionInfo(name, category, signature, description, tuple(overloads), record_only, special)


_CATALOGUE = [
    # logical
    _f(
        "IF",
        "logical",
        "IF(test, if_true, if_false)",
        "Returns if_true when test is TRUE, otherwise if_false (a blank test counts as FALSE).",
        special=True,
    ),
    _f(
        "CASE",
        "logical",
        "CASE(expr, value1, result1, ..., else_result)",
        "Returns the result paired with the first value equal to expr, or else_result.",
        special=True,
    ),
    _f(
        "AND",
        "logical",
        "AND(test1, test2, ...)",
        "TRUE when every test is TRUE; blank tests count as FALSE.",
        _o("boolean", "boolean", "and", repeat=True),
    ),
    _f(
        "OR",
        "logical",
        "OR(test1, test2, ...)",
        "TRUE when any test is TRUE; blank tests count as FALSE.",
        _o("boolean", "boolean", "or", repeat=True),
    ),
    _f(
        "NOT",
        "logical",
        "NOT(test)",
        "Returns FALSE for TRUE and TRUE for FALSE.",
        _o("boolean", "boolean", "not"),
    ),
    _f(
        "ISBLANK",
        "logical",
        "ISBLANK(expr)",
        "TRUE when expr has no value (empty text counts as blank).",
        _o("any", "boolean", "isblank"),
    ),
    _f(
        "ISNULL",
        "logical",
        "ISNULL(expr)",
        "TRUE when expr is null; always FALSE for text (use ISBLANK).",
        _o("any", "boolean", "isnull"),
    ),
    _f(
        "BLANKVALUE",
        "logical",
        "BLANKVALUE(expr, substitute)",
        "Returns substitute when expr is blank, otherwise expr.",
        special=True,
    ),
    _f(
        "NULLVALUE",
        "logical",
        "NULLVALUE(expr, substitute)",
        "Returns substitute when expr is null, otherwise expr; text is never null (use BLANKVALUE).",
        special=True,
    ),
    _f(
        "ISNUMBER",
        "logical",
        "ISNUMBER(text)",
        "TRUE when text can be read as a number.",
        _o("text", "boolean", "isnumber"),
    ),
    _f(
        "ISPICKVAL",
        "logical",
        "ISPICKVAL(picklist_field, text)",
        "TRUE when the picklist field's value is text.",
        _o("picklist text", "boolean", "ispickval"),
    ),
    _f(
        "INCLUDES",
        "logical",
        "INCLUDES(multipicklist_field, text)",
        "TRUE when the multi-select picklist field has the value text selected.",
        _o("multipicklist literal_text", "boolean", "includes"),
    ),
    _f(
        "ISNEW",
        "logical",
        "ISNEW()",
        "TRUE while the record is being created.",
        _o("", "boolean", "isnew"),
        record_only=True,
    ),
    _f(
        "ISCHANGED",
        "logical",
        "ISCHANGED(field)",
        "TRUE when field's value differs from its value before this edit.",
        special=True,
        record_only=True,
    ),
    _f(
        "PRIORVALUE",
        "logical",
        "PRIORVALUE(field)",
        "Returns field's value before this edit.",
        special=True,
        record_only=True,
    ),
    # math
    _f("ABS", "math", "ABS(number)", "Returns number without its sign.", _o("number", "number", "abs")),
    _f(
        "CEILING",
        "math",
        "CEILING(number)",
        "Rounds number away from zero to a whole number (CEILING(-1.3) = -2).",
        _o("number", "number", "ceiling"),
    ),
    _f(
        "FLOOR",
        "math",
        "FLOOR(number)",
        "Rounds number toward zero to a whole number (FLOOR(-1.3) = -1).",
        _o("number", "number", "floor"),
    ),
    _f(
        "MCEILING",
        "math",
        "MCEILING(number)",
        "Rounds number up to the next whole number (MCEILING(-1.3) = -1).",
        _o("number", "number", "mceiling"),
    ),
    _f(
        "MFLOOR",
        "math",
        "MFLOOR(number)",
        "Rounds number down to the next whole number (MFLOOR(-1.3) = -2).",
        _o("number", "number", "mfloor"),
    ),
    _f(
        "ROUND",
        "math",
        "ROUND(number, digits)",
        "Rounds number to digits decimal places, halves away from zero; negative digits round left of the point.",
        _o("number number", "number", "round"),
    ),
    _f(
        "TRUNC",
        "math",
        "TRUNC(number[, digits])",
        "Cuts number to digits decimal places (default 0) without rounding.",
        _o("number", "number", "trunc"),
        _o("number number", "number", "trunc"),
    ),
    _f(
        "MOD",
        "math",
        "MOD(number, divisor)",
        "Returns the remainder of number divided by divisor, with number's sign.",
        _o("number number", "number", "mod"),
    ),
    _f(
        "MAX",
        "math",
        "MAX(number, ...)",
        "Returns the largest number; blank if any is blank.",
        _o("number", "number", "max", repeat=True),
    ),
    _f(
        "MIN",
        "math",
        "MIN(number, ...)",
        "Returns the smallest number; blank if any is blank.",
        _o("number", "number", "min", repeat=True),
    ),
    _f(
        "SQRT",
        "math",
        "SQRT(number)",
        "Returns the square root of a number that is not negative.",
        _o("number", "number", "sqrt"),
    ),
    _f(
        "EXP",
        "math",
        "EXP(number)",
        "Returns e raised to the power of number.",
        _o("number", "number", "exp"),
    ),
    _f(
        "LN",
        "math",
        "LN(number)",
        "Returns the natural logarithm of a positive number.",
        _o("number", "number", "ln"),
    ),
    _f(
        "LOG",
        "math",
        "LOG(number)",
        "Returns the base-10 logarithm of a positive number.",
        _o("number", "number", "log"),
    ),
    _f(
        "GEOLOCATION",
        "math",
        "GEOLOCATION(latitude, longitude)",
        "Returns a location for DISTANCE from a latitude and a longitude.",
        _o("number number", "geolocation", "geolocation"),
    ),
    _f(
        "DISTANCE",
        "math",
        "DISTANCE(location1, location2, unit)",
        "Returns the distance between two locations in 'mi' or 'km'.",
        _o("geolocation geolocation literal_text", "number", "distance"),
    ),
    # text
    _f(
        "LEN",
        "text",
        "LEN(text)",
        "Returns the number of characters in text (0 when blank).",
        _o("text", "number", "len"),
    ),
    _f(
        "LEFT",
        "text",
        "LEFT(text, count)",
        "Returns the first count characters of text.",
        _o("text number", "text", "left"),
    ),
    _f(
        "RIGHT",
        "text",
        "RIGHT(text, count)",
        "Returns the last count characters of text.",
        _o("text number", "text", "right"),
    ),
    _f(
        "MID",
        "text",
        "MID(text, start, count)",
        "Returns count characters of text from position start (1 is the first).",
        _o("text number number", "text", "mid"),
    ),
    _f(
        "FIND",
        "text",
        "FIND(search, text[, start])",
        "Returns the position of search in text from start, or 0 when absent.",
        _o("text text", "number", "find"),
        _o("text text number", "number", "find"),
    ),
    _f(
        "CONTAINS",
        "text",
        "CONTAINS(text, search)",
        "TRUE when text contains search (case-sensitive).",
        _o("text text", "boolean", "contains"),
    ),
    _f(
        "BEGINS",
        "text",
        "BEGINS(text, prefix)",
        "TRUE when text starts with prefix (case-sensitive).",
        _o("text text", "boolean", "begins"),
    ),
    _f(
        "LOWER",
        "text",
        "LOWER(text[, locale])",
        "Returns text in lower case.",
        _o("text", "text", "lower"),
        _o("text text", "text", "lower"),
    ),
    _f(
        "UPPER",
        "text",
        "UPPER(text[, locale])",
        "Returns text in upper case.",
        _o("text", "text", "upper"),
        _o("text text", "text", "upper"),
    ),
    _f(
        "TRIM",
        "text",
        "TRIM(text)",
        "Removes spaces at the start and end of text.",
        _o("text", "text", "trim"),
    ),
    _f(
        "SUBSTITUTE",
        "text",
        "SUBSTITUTE(text, old, new)",
        "Replaces every occurrence of old in text with new.",
        _o("text text text", "text", "substitute"),
    ),
    _f(
        "TEXT",
        "text",
        "TEXT(value)",
        "Converts a number, date, date/time, time or picklist value to text.",
        _o("number", "text", "text_number"),
        _o("date", "text", "text_date"),
        _o("datetime", "text", "text_datetime"),
        _o("time", "text", "text_time"),
        _o("picklist", "text", "as_text"),
        _o("text", "text", "as_text"),
    ),
    _f(
        "VALUE",
        "text",
        "VALUE(text)",
        "Converts text to a number; text that is not a number is an error.",
        _o("text", "number", "value"),
    ),
    _f(
        "LPAD",
        "text",
        "LPAD(text, length[, pad])",
        "Pads text on the left with pad (default space) to length, or cuts it to length.",
        _o("text number", "text", "lpad"),
        _o("text number text", "text", "lpad"),
    ),
    _f(
        "RPAD",
        "text",
        "RPAD(text, length[, pad])",
        "Pads text on the right with pad (default space) to length, or cuts it to length.",
        _o("text number", "text", "rpad"),
        _o("text number text", "text", "rpad"),
    ),
    _f(
        "REGEX",
        "text",
        "REGEX(text, pattern)",
        "TRUE when the whole of text matches the regular expression pattern.",
        _o("text text", "boolean", "regex"),
    ),
    _f(
        "HYPERLINK",
        "text",
        "HYPERLINK(url, label[, target])",
        "Returns an HTML link to url showing label.",
        _o("text text", "text", "hyperlink"),
        _o("text text text", "text", "hyperlink"),
    ),
    _f("BR", "text", "BR()", "Returns an HTML line break.", _o("", "text", "br")),
    _f(
        "CASESAFEID",
        "text",
        "CASESAFEID(id)",
        "Converts a 15-character record id to its 18-character case-safe form.",
        _o("text", "text", "casesafeid"),
    ),
    # date and time
    _f("TODAY", "date", "TODAY()", "Returns the current date (GMT).", _o("", "date", "today")),
    _f("NOW", "date", "NOW()", "Returns the current date and time.", _o("", "datetime", "now")),
    _f(
        "DATE",
        "date",
        "DATE(year, month, day)",
        "Returns the date for year, month and day; an impossible date is an error.",
        _o("number number number", "date", "date"),
    ),
    _f(
        "DATEVALUE",
        "date",
        "DATEVALUE(value)",
        "Converts text (YYYY-MM-DD) or a date/time (GMT) to a date.",
        _o("text", "date", "datevalue_text"),
        _o("datetime", "date", "datevalue_datetime"),
        _o("date", "date", "identity"),
    ),
    _f(
        "DATETIMEVALUE",
        "date",
        "DATETIMEVALUE(value)",
        "Converts text (YYYY-MM-DD HH:MM:SS, GMT) or a date to a date/time.",
        _o("text", "datetime", "datetimevalue_text"),
        _o("date", "datetime", "datetimevalue_date"),
        _o("datetime", "datetime", "identity"),
    ),
    _f("YEAR", "date", "YEAR(date)", "Returns the year of date.", _o("date", "number", "year")),
    _f("MONTH", "date", "MONTH(date)", "Returns the month of date (1 to 12).", _o("date", "number", "month")),
    _f(
        "DAY",
        "date",
        "DAY(date)",
        "Returns the day of the month of date (1 to 31).",
        _o("date", "number", "day"),
    ),
    _f(
        "WEEKDAY",
        "date",
        "WEEKDAY(date)",
        "Returns the day of the week of date, Sunday = 1 to Saturday = 7.",
        _o("date", "number", "weekday"),
    ),
    _f(
        "DAYOFYEAR",
        "date",
        "DAYOFYEAR(date)",
        "Returns the day of the year of date (1 to 366).",
        _o("date", "number", "dayofyear"),
        _o("datetime", "number", "dayofyear"),
    ),
    _f(
        "ISOWEEK",
        "date",
        "ISOWEEK(date)",
        "Returns the ISO 8601 week number of date.",
        _o("date", "number", "isoweek"),
        _o("datetime", "number", "isoweek"),
    ),
    _f(
        "ISOYEAR",
        "date",
        "ISOYEAR(date)",
        "Returns the ISO 8601 week-numbering year of date.",
        _o("date", "number", "isoyear"),
        _o("datetime", "number", "isoyear"),
    ),
    _f(
        "ADDMONTHS",
        "date",
        "ADDMONTHS(date, months)",
        "Adds months to date; a month's last day stays the last day.",
        _o("date number", "date", "addmonths"),
        _o("datetime number", "datetime", "addmonths_datetime"),
    ),
    _f("HOUR", "date", "HOUR(time)", "Returns the hour of a time (0 to 23).", _o("time", "number", "hour")),
    _f(
        "MINUTE",
        "date",
        "MINUTE(time)",
        "Returns the minute of a time (0 to 59).",
        _o("time", "number", "minute"),
    ),
    _f(
        "SECOND",
        "date",
        "SECOND(time)",
        "Returns the second of a time (0 to 59).",
        _o("time", "number", "second"),
    ),
    _f(
        "MILLISECOND",
        "date",
        "MILLISECOND(time)",
        "Returns the millisecond of a time (0 to 999).",
        _o("time", "number", "millisecond"),
    ),
    _f(
        "TIMEVALUE",
        "date",
        "TIMEVALUE(value)",
        "Converts text (HH:MM:SS.MMM) or a date/time (GMT) to a time of day.",
        _o("text", "time", "timevalue_text"),
        _o("datetime", "time", "timevalue_datetime"),
        _o("time", "time", "identity"),
    ),
    _f(
        "FORMATDURATION",
        "date",
        "FORMATDURATION(seconds[, include_days]) or FORMATDURATION(start, end)",
        "Formats a number of seconds, or the time between two date/times or times, as [D:]HH:MM:SS.",
        _o("number", "text", "formatduration"),
        _o("number boolean", "text", "formatduration"),
        _o("datetime datetime", "text", "formatduration_datetime"),
        _o("time time", "text", "formatduration_time"),
    ),
]

#: Function name (upper case) -> FunctionInfo, for the checker and the formula builder.
FUNCTIONS: dict[str, FunctionInfo] = {info.name: info for info in _CATALOGUE}

#: Operations that read a record's previous state; the SQL back end refuses them.
RECORD_ONLY_OPS = frozenset({"isnew", "ischanged", "priorvalue"})
