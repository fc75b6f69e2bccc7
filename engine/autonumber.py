"""Autonumber values such as QT-2026-0042: the format, its period and the gap-free counter.

The counter row is locked in the inserting transaction, so a rolled-back insert returns its number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.db import fw_counter

_TOKEN = re.compile(r"\{(YYYY|YY|MM|DD|0+)\}")
_PERIOD_TOKENS = {"YYYY": "%Y", "YY": "%y", "MM": "%m", "DD": "%d"}


@dataclass(frozen=True)
class AutonumberFormat:
    pattern: str

    def period(self, now: datetime) -> str:
        """Returns the period the counter restarts in: '2026' for QT-{YYYY}-{0000}, '' if none."""
        return "".join(now.strftime(_PERIOD_TOKENS[t]) for t in _TOKEN.findall(self.pattern)
                       if t in _PERIOD_TOKENS)

    def render(self, number: int, now: datetime) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token in _PERIOD_TOKENS:
                return now.strftime(_PERIOD_TOKENS[token])
            return str(number).zfill(len(token))

        text = _TOKEN.sub(replace, self.pattern)
        return text if "{0" in self.pattern else f"{text}{number}"


def allocate(conn: Connection, entity: str, field: str, fmt: AutonumberFormat, count: int,
             now: datetime) -> list[str]:
    """Reserves `count` consecutive numbers for entity.field in the current period; returns their text."""
    if count <= 0:
        return []
    period = fmt.period(now)
    key = (fw_counter.c.entity == entity) & (fw_counter.c.field == field) & (fw_counter.c.period == period)
    query = sa.select(fw_counter.c.value).where(key)
    if conn.dialect.name == "postgresql":
        _ensure_counter_row(conn, entity, field, period)
        query = query.with_for_update()
    current = conn.execute(query).scalar()
    if current is None:
        conn.execute(sa.insert(fw_counter).values(entity=entity, field=field, period=period, value=count))
        current = 0
    else:
        conn.execute(sa.update(fw_counter).where(key).values(value=current + count))
    return [fmt.render(n, now) for n in range(current + 1, current + count + 1)]


def _ensure_counter_row(conn: Connection, entity: str, field: str, period: str) -> None:
    # Concurrent first inserts of a period must not both create the row: ON CONFLICT makes the
    # second a no-op, and the FOR UPDATE that follows then queues behind the first.
    from sqlalchemy.dialects.postgresql import insert

    conn.execute(insert(fw_counter).values(entity=entity, field=field, period=period, value=0)
                 .on_conflict_do_nothing())
