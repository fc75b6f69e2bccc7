"""In-app notifications: written in the transaction of what caused them, read by the bell;
and `notify_users`, which tells users in their language and emails those who want it too."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.flows.outbox import OutboxMessage, queue_messages
from engine.storage.db import fw_notification, fw_user
from metamodel.model import Label, label_text

TITLE_LENGTH = 200
SUBJECT_LENGTH = 120
# The last lines of a notification's email copy, so the reader knows why it came and how to stop it.
EMAIL_FOOTER: Label = {
    "en": "You get this email because you chose to receive your Formwork notifications by email too. "
          "You can turn that off on your account page.",
    "zh": "您收到这封邮件，是因为您选择了同时通过邮件接收 Formwork 的通知。可以在“我的账户”页面关闭。",
}


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


@dataclass(frozen=True)
class Note:
    """What to tell users, in every language the flow wrote it in; each user reads their own."""
    message: Label
    title: Label | None = None
    entity: str | None = None
    record_id: int | None = None
    flow: str | None = None


@dataclass(frozen=True)
class Notified:
    """Whom a note told: every user in-app, in their order; those owed an email copy, and the copies."""
    users: tuple[int, ...]
    emailed: tuple[int, ...]
    emails: tuple[OutboxMessage, ...] = ()


@dataclass(frozen=True)
class _Reader:
    user_id: int
    locale: str
    email: str | None
    notify_by_email: bool


def notify_users(conn: Connection, user_ids: Iterable[int], note: Note, *, now: datetime,
                 run_id: int | None = None) -> Notified:
    """Writes `note` as an unread notification for each active user among `user_ids`, in their
    language, and queues an outbox email copy for those who asked for one and have an address;
    all in the caller's transaction, so a rolled-back save tells nobody. Returns whom it told.

    `run_id` is the flow run the email copies belong to, when the caller has one already.
    """
    notified = write_notifications(conn, user_ids, note, now=now)
    queue_messages(conn, list(notified.emails), flow=note.flow, run_id=run_id, now=now)
    return notified


def write_notifications(conn: Connection, user_ids: Iterable[int], note: Note, *, now: datetime) -> Notified:
    """`notify_users` without the queueing: writes the notifications and returns the email copies
    owed, rendered (see `email_copy`), for a caller that queues them later with its run (an
    automation's run row is written once every triggered automation has run)."""
    readers = _readers(conn, user_ids)
    notify(conn, [NewNotification(r.user_id, label_text(note.message, r.locale),
                                  label_text(note.title, r.locale) or None, note.entity, note.record_id, note.flow)
                  for r in readers], now=now)
    wanting = [(r, r.email) for r in readers if r.notify_by_email and r.email]
    return Notified(tuple(r.user_id for r in readers), tuple(r.user_id for r, _ in wanting),
                    tuple(email_copy(note, address, r.locale) for r, address in wanting))


def email_copy(note: Note, address: str, locale: str) -> OutboxMessage:
    """The outbox email of a notification for one reader: subject and plain-text body in `locale`
    (the payload shape is documented in engine.flows.outbox)."""
    message = label_text(note.message, locale)
    subject = label_text(note.title, locale) or next(iter(message.splitlines()), "")
    if len(subject) > SUBJECT_LENGTH:
        subject = subject[:SUBJECT_LENGTH - 1] + "…"
    body = f"{message}\n\n-- \n{label_text(EMAIL_FOOTER, locale)}\n"
    return OutboxMessage("email", {"to": [address], "subject": subject, "body": body, "flow": note.flow,
                                   "entity": note.entity, "record_id": note.record_id})


def _readers(conn: Connection, user_ids: Iterable[int]) -> list[_Reader]:
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return []
    query = sa.select(fw_user.c.id, fw_user.c.locale, fw_user.c.email, fw_user.c.notify_by_email).where(
        fw_user.c.id.in_(wanted), fw_user.c.active.is_(True))
    found: Mapping[int, _Reader] = {row.id: _Reader(*row) for row in conn.execute(query)}
    return [found[user_id] for user_id in wanted if user_id in found]


def notify(conn: Connection, notifications: Sequence[NewNotification], *, now: datetime) -> None:
    """Writes the notifications, unread, in the caller's transaction."""
    if not notifications:
        return
    conn.execute(sa.insert(fw_notification), [
        {"user_id": n.user_id, "created_at": now, "title": (n.title or None) and n.title[:TITLE_LENGTH],
         "message": n.message, "entity": n.entity, "record_id": n.record_id, "flow": n.flow}
        for n in notifications])


def unread_count(conn: Connection, user_id: int) -> int:
    """How many of the user's notifications are unread: one query on (user_id, read_at)'s index."""
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


def notification(conn: Connection, user_id: int, notification_id: int) -> Notification | None:
    """Returns the user's notification `notification_id`; None when there is none or it is another's."""
    row = conn.execute(sa.select(fw_notification).where(fw_notification.c.id == notification_id,
                                                        fw_notification.c.user_id == user_id)).mappings().first()
    return Notification(**row) if row else None


def mark_read(conn: Connection, user_id: int, ids: Iterable[int] | None = None, *, now: datetime) -> int:
    """Marks the user's notifications `ids` (all of them when None) read; returns how many changed.
    Another user's ids are ignored."""
    query = sa.update(fw_notification).where(fw_notification.c.user_id == user_id,
                                             fw_notification.c.read_at.is_(None))
    if ids is not None:
        query = query.where(fw_notification.c.id.in_(list(ids)))
    return conn.execute(query.values(read_at=now)).rowcount
