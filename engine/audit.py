"""The audit log: who did what to which record, when, with every field's old and new value.

Rows are only ever inserted; nothing in the application updates or deletes them.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.db import fw_audit
from engine.security import Actor

Changes = Mapping[str, tuple[Any, Any]]   # field -> (old, new), JSON-safe values


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor_id: int | None
    action: str
    entity: str | None
    record_id: int | None
    changes: Mapping[str, list[Any]]
    detail: Mapping[str, Any]


def write_entry(conn: Connection, actor: Actor, action: str, entity: str | None = None,
                record_id: int | None = None, changes: Changes | None = None,
                detail: Mapping[str, Any] | None = None, *, at: datetime) -> None:
    conn.execute(sa.insert(fw_audit).values(
        at=at, actor_id=actor.id, action=action, entity=entity, record_id=record_id,
        changes={k: list(v) for k, v in (changes or {}).items()}, detail=dict(detail or {})))


def write_entries(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Inserts many prepared audit rows at once (bulk writes)."""
    rows = list(rows)
    if rows:
        conn.execute(sa.insert(fw_audit), rows)


def record_history(conn: Connection, entity: str, record_id: int) -> list[AuditEntry]:
    """Returns the audit entries of one record, newest first."""
    rows = conn.execute(sa.select(fw_audit).where(fw_audit.c.entity == entity,
                                                  fw_audit.c.record_id == record_id)
                        .order_by(fw_audit.c.id.desc()))
    return [AuditEntry(r.id, r.at, r.actor_id, r.action, r.entity, r.record_id, r.changes or {},
                       r.detail or {}) for r in rows]
