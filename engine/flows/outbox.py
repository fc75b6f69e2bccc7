"""The outbox: mail and webhook calls waiting for the worker to deliver them.

Rows are written only inside a save's transaction, so a rolled-back save queues nothing and a
committed one loses nothing; delivery, retries and `status` changes are the worker's.
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
from datetime import datetime
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
