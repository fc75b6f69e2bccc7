"""The audit log: who did what to which record, when, with every field's old and new value.

Rows are only ever inserted; the one deletion is `purge_expired`, past the retention period.
"""
from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.storage.db import fw_audit, fw_user

if TYPE_CHECKING:   # security's permission changes are audited, so this module cannot import it
    from engine.security.actors import Actor

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
    return [_entry(r) for r in rows]


# -- searching, exports and retention -------------------------------------------------------------
@dataclass(frozen=True)
class AuditRow:
    """An audit entry as the admin search lists it: the entry and the acting user's name."""
    entry: AuditEntry
    username: str | None


def search(conn: Connection, *, user: int | str | None = None, entity: str | None = None,
           action: str | None = None, record_id: int | None = None, since: datetime | None = None,
           until: datetime | None = None, before_id: int | None = None, limit: int = 100) -> list[AuditRow]:
    """Returns audit entries matching every given criterion, newest first, at most `limit` (max 1000).

    `user` is a user id or username; `since` is inclusive and `until` exclusive; pass the last
    entry's id as `before_id` for the next page.
    """
    query = (sa.select(fw_audit, fw_user.c.username).outerjoin(fw_user, fw_user.c.id == fw_audit.c.actor_id)
             .order_by(fw_audit.c.id.desc()).limit(max(1, min(limit, 1000))))
    if isinstance(user, str):
        query = query.where(fw_user.c.username == user)
    elif user is not None:
        query = query.where(fw_audit.c.actor_id == user)
    criteria = [(fw_audit.c.entity, "eq", entity), (fw_audit.c.action, "eq", action),
                (fw_audit.c.record_id, "eq", record_id), (fw_audit.c.at, "ge", since),
                (fw_audit.c.at, "lt", until), (fw_audit.c.id, "lt", before_id)]
    compare = {"eq": operator.eq, "ge": operator.ge, "lt": operator.lt}
    query = query.where(*(compare[op](column, value) for column, op, value in criteria if value is not None))
    return [AuditRow(_entry(r), r.username) for r in conn.execute(query)]


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(row.id, row.at, row.actor_id, row.action, row.entity, row.record_id, row.changes or {},
                      row.detail or {})


def record_export(conn: Connection, actor: Actor, entity: str, filters: str, rows: int, *, at: datetime,
                  file_format: str = "csv") -> None:
    """Audits an export: who, which entity, the filter as the user read it, and how many rows."""
    write_entry(conn, actor, "export", entity, detail={"filters": filters, "rows": rows, "format": file_format},
                at=at)


def purge_expired(conn: Connection, actor: Actor, retention_days: int, *, now: datetime) -> int:
    """Deletes the audit entries older than `retention_days`; returns how many. The only deletion
    path of the log, and itself audited. Refuses a retention under one day."""
    if retention_days < 1:
        raise ValueError("audit retention must be at least one day")
    cutoff = now - timedelta(days=retention_days)
    removed = conn.execute(sa.delete(fw_audit).where(fw_audit.c.at < cutoff)).rowcount
    write_entry(conn, actor, "audit_purge", detail={"before": cutoff.isoformat(), "removed": removed,
                                                    "retention_days": retention_days}, at=now)
    return removed
