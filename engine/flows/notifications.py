"""In-app notifications: written in the transaction of what caused them, read by the bell."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.storage.db import fw_notification

TITLE_LENGTH = 200


@dataclass(frozen=True)
class NewNotification:
    user_id: int
    message: str
    title: str | None = None
    entity: str | None = None
    record_id: int | None = None
    flow: str | None = None


@dataclass(frozen=True)
class Notification:
    id: int
    user_id: int
    created_at: datetime
    title: str | None
    message: str
    entity: str | None
    record_id: int | None
    flow: str | None
    read_at: datetime | None


def notify(conn: Connection, notifications: Sequence[NewNotification], *, now: datetime) -> None:
    """Writes the notifications, unread, in the caller's transaction."""
    if not notifications:
        return
    conn.execute(sa.insert(fw_notification), [
        {"user_id": n.user_id, "created_at": now, "title": (n.title or None) and n.title[:TITLE_LENGTH],
         "message": n.message, "entity": n.entity, "record_id": n.record_id, "flow": n.flow}
        for n in notifications])


def unread_count(conn: Connection, user_id: int) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(fw_notification).where(
        fw_notification.c.user_id == user_id, fw_notification.c.read_at.is_(None))).scalar_one()


def latest(conn: Connection, user_id: int, *, limit: int = 50, unread_only: bool = False,
           before_id: int | None = None) -> list[Notification]:
    """Returns the user's notifications, the newest first."""
    query = (sa.select(fw_notification).where(fw_notification.c.user_id == user_id)
             .order_by(fw_notification.c.id.desc()).limit(limit))
    if unread_only:
        query = query.where(fw_notification.c.read_at.is_(None))
    if before_id is not None:
        query = query.where(fw_notification.c.id < before_id)
    return [Notification(**row) for row in conn.execute(query).mappings()]


def mark_read(conn: Connection, user_id: int, ids: Iterable[int] | None = None, *, now: datetime) -> int:
    """Marks the user's notifications `ids` (all of them when None) read; returns how many changed.
    Another user's ids are ignored."""
    query = sa.update(fw_notification).where(fw_notification.c.user_id == user_id,
                                             fw_notification.c.read_at.is_(None))
    if ids is not None:
        query = query.where(fw_notification.c.id.in_(list(ids)))
    return conn.execute(query.values(read_at=now)).rowcount
