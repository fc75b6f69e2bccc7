"""The outbox: mail, in-app notifications and webhook calls waiting for the worker to deliver them.

Rows are written only inside a save's transaction, so a rolled-back save queues nothing and a
committed one loses nothing; delivery, retries and `status` changes are the worker's.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.storage.db import fw_outbox

KINDS = ("email", "notification", "webhook")


@dataclass(frozen=True)
class OutboxMessage:
    """One delivery to make: its kind and what the worker needs, already resolved and rendered."""
    kind: str
    payload: Mapping[str, Any]


def queue_messages(conn: Connection, messages: list[OutboxMessage], *, flow: str, run_id: int | None,
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
