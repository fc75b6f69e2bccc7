"""Moving record ownership from one user to another, e.g. when a rep leaves.

Every record goes through the write path (RecordService.update), so each move is checked and audited.
"""
from __future__ import annotations

import sqlalchemy as sa

from engine.errors import PermissionDenied
from engine.runtime import Runtime
from engine.security.actors import SYSTEM, Actor
from engine.security.users import user_id
from engine.storage.db import write_transaction


def reassign_records(runtime: Runtime, from_username: str, to_username: str, *,
                     actor: Actor = SYSTEM) -> dict[str, int]:
    """Gives every live record owned by `from_username` to `to_username`; returns entity -> count.

    One transaction: all records move or none do. Records in the recycle bin keep their owner;
    restoring one brings it back to whoever restores it for reassignment.
    """
    if not actor.has_right("users"):
        raise PermissionDenied("reassigning records needs the users right")
    moved: dict[str, int] = {}
    with write_transaction(runtime.engine) as conn:
        source, target = user_id(conn, from_username), user_id(conn, to_username)
        registry = runtime.registry(conn)
        records = runtime.records(actor, registry=registry, conn=conn)
        for name in sorted(registry.entities):
            table = registry.table(name)
            ids = list(conn.execute(sa.select(table.c.id).where(table.c.owner_id == source,
                                                                table.c.deleted_at.is_(None))
                                    .order_by(table.c.id)).scalars())
            for record_id in ids:
                records.update(name, record_id, {"owner_id": target})
            if ids:
                moved[name] = len(ids)
    return moved
