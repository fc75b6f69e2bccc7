"""Times in the user's time zone: shown in it, and datetime inputs read in it; dates stay as they are.

Stored datetimes are timezone-aware UTC; `actor().timezone` names the user's zone (IANA).
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import g

from ui.context import actor

INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def user_zone() -> dt.tzinfo:
    """The logged-in user's time zone; UTC when theirs is unknown."""
    if "fw_zone" not in g:
        try:
            g.fw_zone = ZoneInfo(actor().timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            g.fw_zone = dt.UTC
    return g.fw_zone


def to_local(value: dt.datetime) -> dt.datetime:
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(user_zone())


def local_text(value: dt.datetime | dt.date | None, seconds: bool = False) -> str:
    """A datetime as the user reads it, in their zone ("2025-03-01 09:30"); a date as ISO."""
    if value is None:
        return ""
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    return to_local(value).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def local_input(value: dt.datetime) -> str:
    """A datetime as a datetime-local input holds it, in the user's zone."""
    return to_local(value).strftime(INPUT_FORMAT)


def from_local_input(text: str) -> str:
    """A datetime-local input's text read in the user's zone, as ISO UTC; other text unchanged
    (the engine reports what it cannot read)."""
    text = (text or "").strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=user_zone())
    return parsed.astimezone(dt.UTC).isoformat()
