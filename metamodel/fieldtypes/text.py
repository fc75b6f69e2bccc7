"""Text-like field types: text, textarea, email, phone, url and autonumber.

Their values are str; they differ in column width, format checks and widget.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from metamodel.fieldtypes.base import FieldType, FieldValueError, register
from metamodel.model import FieldDef

DEFAULT_MAX_LENGTH = 255
# C0 control characters and DEL, except tab, line feed and carriage return: NUL is refused by
# PostgreSQL and cuts strings short in C code, the rest are invisible on a page and garble exports.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\r\n]")


def refuse_control_characters(text: str) -> None:
    """Raises FieldValueError naming the first control character in `text` (tab and line breaks pass)."""
    found = _CONTROL_CHARACTER.search(text)
    if found:
        raise FieldValueError(f"contains a control character (U+{ord(found.group()):04X})")


class TextLike(FieldType):
    """Shared by the text types: input becomes a str without control characters; single-line input
    is stripped and may not break a line inside (a pasted trailing newline is stripped away)."""

    formula_type = "text"
    widget = "text"
    multiline = False

    def coerce_present(self, field: FieldDef, raw: Any) -> Any:
        # Numbers arrive from spreadsheets and JSON for codes such as postcodes; keep their digits.
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
            raise FieldValueError("must be text")
        text = str(raw)
        refuse_control_characters(text)
        if self.multiline:
            return self.normalise(text)
        text = text.strip()
        if _LINE_BREAK.search(text):
            raise FieldValueError("must be on one line (it contains a line break)")
        return self.normalise(text)

    def normalise(self, text: str) -> str:
        """Returns the canonical spelling of valid input, raising FieldValueError when invalid."""
        return text

    def max_length(self, field: FieldDef) -> int | None:
        return field.option("max_length")

    def check_value(self, field: FieldDef, value: Any) -> list[str]:
        limit = self.max_length(field)
        if value is not None and limit is not None and len(value) > limit:
            return [f"must be at most {limit} characters (it has {len(value)})"]
        return []


@register
class TextType(TextLike):
    name = "text"

    def extra_schema(self) -> dict[str, Any]:
        return {
            "max_length": {"type": "integer", "minimum": 1, "maximum": 10000},
            "pattern": {"type": "string", "minLength": 1, "format": "regex"},
        }

    def max_length(self, field: FieldDef) -> int:
        return field.option("max_length", DEFAULT_MAX_LENGTH)

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.String(self.max_length(field))

    def check_value(self, field: FieldDef, value: Any) -> list[str]:
        problems = super().check_value(field, value)
        pattern = field.option("pattern")
        if value is not None and pattern and not re.fullmatch(pattern, value):
            problems.append("does not match the required format")
        return problems


@register
class TextareaType(TextLike):
    name = "textarea"
    widget = "textarea"
    multiline = True  # line breaks, leading indentation and blank lines are part of long text

    def extra_schema(self) -> dict[str, Any]:
        return {"max_length": {"type": "integer", "minimum": 1}}

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.Text()


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


@register
class EmailType(TextLike):
    name = "email"
    widget = "email"

    def normalise(self, text: str) -> str:
        if len(text) > 254 or not _EMAIL.fullmatch(text):
            raise FieldValueError("not a valid email address")
        local, _, domain = text.rpartition("@")
        return f"{local}@{domain.lower()}"  # domains are case-insensitive, local parts are not

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.String(254)


_PHONE_CHARS = re.compile(r"\+?[0-9 ()\-.]+(?:\s*(?:ext\.?|x|#)\s*[0-9]+)?", re.IGNORECASE)


@register
class PhoneType(TextLike):
    name = "phone"

    def normalise(self, text: str) -> str:
        digits = sum(ch.isdigit() for ch in text)
        if not _PHONE_CHARS.fullmatch(text) or not 5 <= digits <= 20:
            raise FieldValueError(
                "not a valid phone number: use digits, spaces, +, - and parentheses (5 to 20 digits)")
        return text

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.String(40)


@register
class UrlType(TextLike):
    name = "url"

    def normalise(self, text: str) -> str:
        # People type "www.example.com"; a link needs a scheme, and https is the safe guess.
        if "://" not in text:
            text = "https://" + text
        parts = urlsplit(text)
        if (parts.scheme not in ("http", "https") or "." not in parts.netloc
                or any(ch.isspace() for ch in text) or len(text) > 2048):
            raise FieldValueError("not a valid URL: use a web address such as https://example.com")
        return text

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.String(2048)


_COUNTER = re.compile(r"\{(0+)\}")
_DATE_PARTS = {"{YYYY}": "%Y", "{YY}": "%y", "{MM}": "%m", "{DD}": "%d"}


@register
class AutonumberType(TextLike):
    name = "autonumber"
    widget = "readonly"
    generated = True

    def extra_schema(self) -> dict[str, Any]:
        return {"format": {"type": "string", "pattern": r"\{0+\}",
                           "description": "a format with a counter such as QT-{YYYY}-{0000}"}}

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine:
        return sa.String(64)

    def always_indexed(self, field: FieldDef) -> bool:
        return True

    def always_unique(self, field: FieldDef) -> bool:
        return True

    def format_value(self, field: FieldDef, counter: int, today: dt.date) -> str:
        """Returns the number for `counter` on `today`, e.g. QT-2024-0042 for QT-{YYYY}-{0000}."""
        text = field.option("format", "{0000}")
        for part, code in _DATE_PARTS.items():
            text = text.replace(part, today.strftime(code))
        return _COUNTER.sub(lambda m: str(counter).zfill(len(m.group(1))), text)

    def period(self, field: FieldDef, today: dt.date) -> str:
        """Returns the period the counter restarts in: '2026' for QT-{YYYY}-{0000}, '' if it never does."""
        text = field.option("format", "{0000}")
        return "".join(today.strftime(code) for part, code in _DATE_PARTS.items() if part in text)
