"""The gap-free counter behind autonumber fields such as QT-2026-0042.

The counter row is locked in the inserting transaction, so a rolled-back insert returns its number.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.storage.db import fw_counter
from metamodel.fieldtypes import field_type
from metamodel.model import FieldDef


def allocate(conn: Connection, entity: str, field: FieldDef, count: int, now: datetime) -> list[str]:
    """Reserves `count` consecutive numbers for entity.field in the current period; returns their text."""
    if count <= 0:
        return []
    kind = field_type(field.type)
    period = kind.period(field, now.date())
    key = (fw_counter.c.entity == entity) & (fw_counter.c.field == field.name) & (fw_counter.c.period == period)
    query = sa.select(fw_counter.c.value).where(key)
    if conn.dialect.name == "postgresql":
        _ensure_counter_row(conn, entity, field.name, period)
        query = query.with_for_update()
    current = conn.execute(query).scalar()
    if current is None:
        conn.execute(sa.insert(fw_counter).values(entity=entity, field=field.name, period=period, value=count))
        current = 0
    else:
        conn.execute(sa.update(fw_counter).where(key).values(value=current + count))
    return [kind.format_value(field, n, now.date()) for n in range(current + 1, current + count + 1)]


def _ensure_counter_row(conn: Connection, entity: str, field: str, period: str) -> None:
    # Concurrent first inserts of a period must not both create the row: ON CONFLICT makes the
    # second a no-op, and the FOR UPDATE that follows then queues behind the first.
    from sqlalchemy.dialects.postgresql import insert

    conn.execute(insert(fw_counter).values(entity=entity, field=field, period=period, value=0)
                 .on_conflict_do_nothing())
