"""The outbox: mail and webhook calls waiting for the worker to deliver them.

Rows are written only inside a save's transaction, so a rolled-back save queues nothing and a
committed one loses nothing; delivery, retries and `status` changes are the worker's (delivery.py):
pending -> sending (claimed) -> sent, or back to pending with backoff, failed, or held.
In-app notifications never come here: they stay in the database (engine.flows.notifications).

Payloads, by kind:
- "email" from a template (the automation's email action): {"template", "to": [address], "cc":
  [address], "record": {field: JSON value}, "flow", "entity", "record_id"}; the worker renders it.
- "email" already rendered (a notification's copy for a user who asked for one, see
  `notifications.email_copy`): {"to": [address], "subject": str, "body": plain text, "flow",
  "entity", "record_id"}, in the reader's language; sent as it is, no template.
- "webhook": {"url", "secret": the name of a server secret or None, "body": JSON to POST}.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.storage.db import fw_outbox

KINDS = ("email", "webhook")


@dataclass(frozen=True)
class OutboxMessage:
    """One delivery to make: its kind and what the worker needs, already resolved and rendered."""
    kind: str
    payload: Mapping[str, Any]


def queue_messages(conn: Connection, messages: list[OutboxMessage], *, flow: str | None, run_id: int | None,
                   now: datetime) -> None:
    """Writes `messages` as pending outbox rows of the run `run_id` of `flow`, due at once."""
    if not messages:
        return
    conn.execute(sa.insert(fw_outbox), [
        {"kind": m.kind, "payload": dict(m.payload), "created_at": now, "flow": flow, "run_id": run_id,
         "status": "pending", "attempts": 0, "next_attempt_at": now} for m in messages])


def pending_messages(conn: Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    """Returns the oldest pending outbox rows, for the worker and for tests."""
    query = (sa.select(fw_outbox).where(fw_outbox.c.status == "pending")
             .order_by(fw_outbox.c.id).limit(limit))
    return [dict(row) for row in conn.execute(query).mappings()]


# -- delivery state, moved only by the worker (and an admin's retry) -----------------------------
# A claimed row is the claimer's for LEASE; a worker that died holding one gives it up that way.
LEASE = timedelta(minutes=10)
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
           timedelta(hours=12))
MAX_ATTEMPTS = len(BACKOFF) + 1
STATUSES = ("pending", "sending", "sent", "held", "failed")


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    payload: Mapping[str, Any]
    created_at: datetime
    flow: str | None
    run_id: int | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    claimed_at: datetime | None
    claimed_by: str | None
    sent_at: datetime | None
    message: Mapping[str, Any] | None

    @classmethod
    def from_row(cls, row: Any) -> OutboxRow:
        return cls(**{name: row._mapping[name] for name in cls.__dataclass_fields__})


def _claimable(now: datetime, lease: timedelta) -> sa.ColumnElement[bool]:
    return sa.or_(sa.and_(fw_outbox.c.status == "pending", fw_outbox.c.next_attempt_at <= now),
                  sa.and_(fw_outbox.c.status == "sending", fw_outbox.c.claimed_at <= now - lease))


def due_ids(conn: Connection, now: datetime, *, lease: timedelta = LEASE, limit: int = 100) -> list[int]:
    """Returns the ids of the rows a worker may claim at `now`, the oldest first: pending and due,
    or claimed longer than `lease` ago by a worker that never finished."""
    return list(conn.execute(sa.select(fw_outbox.c.id).where(_claimable(now, lease))
                             .order_by(fw_outbox.c.id).limit(limit)).scalars())


def claim(conn: Connection, row_id: int, token: str, *, now: datetime, lease: timedelta = LEASE) -> OutboxRow | None:
    """Claims the row for the holder of `token` if it is still claimable; returns it, or None when
    another worker has it. One conditional UPDATE: of two workers racing, only one matches (PostgreSQL
    re-checks the condition after the row lock; SQLite has one writer at a time). The attempt counts
    from here, so a row that kills its worker every time still runs out of attempts."""
    row = conn.execute(sa.update(fw_outbox).where(fw_outbox.c.id == row_id, _claimable(now, lease))
                       .values(status="sending", claimed_at=now, claimed_by=token,
                               attempts=fw_outbox.c.attempts + 1)
                       .returning(*fw_outbox.c)).first()
    return None if row is None else OutboxRow.from_row(row)


def _settle(conn: Connection, row_id: int, token: str, **values: Any) -> bool:
    """Moves a row the holder of `token` still holds; False when the lease passed to another worker."""
    return conn.execute(sa.update(fw_outbox).where(fw_outbox.c.id == row_id, fw_outbox.c.claimed_by == token,
                                                   fw_outbox.c.status == "sending")
                        .values(claimed_at=None, claimed_by=None, **values)).rowcount == 1


def mark_sent(conn: Connection, row_id: int, token: str, *, now: datetime,
              message: Mapping[str, Any] | None = None) -> bool:
    return _settle(conn, row_id, token, status="sent", sent_at=now, last_error=None,
                   **({"message": dict(message)} if message is not None else {}))


def mark_held(conn: Connection, row_id: int, token: str, *, reason: str, message: Mapping[str, Any] | None) -> bool:
    """Keeps a row that has nowhere to go (mail with no SMTP server) for admins to read and retry."""
    return _settle(conn, row_id, token, status="held", last_error=reason,
                   **({"message": dict(message)} if message is not None else {}))


def mark_failed(conn: Connection, row: OutboxRow, token: str, error: str, *, now: datetime,
                retry: bool = True) -> str:
    """Records a failed attempt: back to pending after the next backoff, or `failed` after the
    last attempt (or at once when `retry` is False); returns the row's new status."""
    again = retry and row.attempts < MAX_ATTEMPTS
    status = "pending" if again else "failed"
    next_attempt = now + BACKOFF[min(row.attempts, len(BACKOFF)) - 1] if again else row.next_attempt_at
    _settle(conn, row.id, token, status=status, last_error=error, next_attempt_at=next_attempt)
    return status


def retry_row(conn: Connection, row_id: int, *, now: datetime) -> bool:
    """An admin's retry of a failed or held row: pending again, due now, with fresh attempts."""
    return conn.execute(sa.update(fw_outbox).where(fw_outbox.c.id == row_id,
                                                   fw_outbox.c.status.in_(("failed", "held")))
                        .values(status="pending", attempts=0, next_attempt_at=now)).rowcount == 1


def outbox_rows(conn: Connection, *, status: str | None = None, limit: int = 100) -> list[OutboxRow]:
    """Returns outbox rows, the newest first (of one status, when given), for the admin page."""
    query = sa.select(fw_outbox).order_by(fw_outbox.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(fw_outbox.c.status == status)
    return [OutboxRow.from_row(row) for row in conn.execute(query)]


def outbox_row(conn: Connection, row_id: int) -> OutboxRow | None:
    row = conn.execute(sa.select(fw_outbox).where(fw_outbox.c.id == row_id)).first()
    return None if row is None else OutboxRow.from_row(row)
