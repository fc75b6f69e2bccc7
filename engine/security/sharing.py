"""Record shares: one record opened to one more user, for reading or for editing.

Whoever may update a record may share it; `read_scope` and `check_write` honour the shares.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.data.registry import Registry
from engine.errors import FormworkError
from engine.security import audit
from engine.security.actors import Actor
from engine.security.scopes import ACCESS, check_write
from engine.storage.db import fw_share, fw_user, utcnow


class ShareError(FormworkError):
    pass


@dataclass(frozen=True)
class Share:
    user_id: int
    username: str
    access: str
    created_at: datetime


def _shareable(conn: Connection, registry: Registry, actor: Actor, entity_name: str, record_id: int) -> None:
    from engine.data.query import QueryService

    # Reading through the query service first makes an unreadable record NotFound, as everywhere.
    record = QueryService(conn.engine, registry, actor, conn=conn).get(entity_name, record_id)
    check_write(actor, registry.entity(entity_name), "update", record, conn=conn, registry=registry)


def share_record(conn: Connection, registry: Registry, actor: Actor, entity_name: str, record_id: int,
                 user_id: int, access: str = "read", *, now: datetime | None = None) -> None:
    """Shares a record with a user for `access` ('read' or 'edit'), replacing an earlier share; audited."""
    if access not in ACCESS:
        raise ShareError(f"{access!r} is not a share access (use read or edit)")
    _shareable(conn, registry, actor, entity_name, record_id)
    if conn.execute(sa.select(fw_user.c.id).where(fw_user.c.id == user_id)).first() is None:
        raise ShareError(f"there is no user with id {user_id}")
    where = (fw_share.c.entity == entity_name, fw_share.c.record_id == record_id, fw_share.c.user_id == user_id)
    old = conn.execute(sa.select(fw_share.c.access).where(*where)).scalar()
    now = now or utcnow()
    conn.execute(sa.delete(fw_share).where(*where))
    conn.execute(sa.insert(fw_share).values(entity=entity_name, record_id=record_id, user_id=user_id,
                                            access=access, created_at=now, created_by=actor.id))
    audit.write_entry(conn, actor, "share", entity_name, record_id, changes={"access": (old, access)},
                      detail={"user_id": user_id}, at=now)


def unshare_record(conn: Connection, registry: Registry, actor: Actor, entity_name: str, record_id: int,
                   user_id: int, *, now: datetime | None = None) -> None:
    """Withdraws a record's share with a user; audited."""
    _shareable(conn, registry, actor, entity_name, record_id)
    where = (fw_share.c.entity == entity_name, fw_share.c.record_id == record_id, fw_share.c.user_id == user_id)
    old = conn.execute(sa.select(fw_share.c.access).where(*where)).scalar()
    if old is None:
        return
    conn.execute(sa.delete(fw_share).where(*where))
    audit.write_entry(conn, actor, "unshare", entity_name, record_id, changes={"access": (old, None)},
                      detail={"user_id": user_id}, at=now or utcnow())


def record_shares(conn: Connection, entity_name: str, record_id: int) -> list[Share]:
    """Returns who a record is shared with (the record page's collaborators), by username."""
    rows = conn.execute(sa.select(fw_share.c.user_id, fw_user.c.username, fw_share.c.access, fw_share.c.created_at)
                        .join(fw_user, fw_user.c.id == fw_share.c.user_id)
                        .where(fw_share.c.entity == entity_name, fw_share.c.record_id == record_id)
                        .order_by(fw_user.c.username))
    return [Share(*row) for row in rows]
