"""Why a user can, or cannot, see and edit one record: the answer an administrator reads.

It retraces the decisions of `security.read_scope` and `check_write` in words, role by role.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.data.registry import Registry
from engine.errors import NotFound
from engine.security.actors import Actor
from engine.security.permissions import load_permissions
from engine.security.scopes import owner_in_scope
from engine.storage.db import fw_department, fw_share, fw_user

SCOPE_WORDS = {
    "none": "no records",
    "own": "the records they own",
    "department": "the records of their department",
    "department_and_below": "the records of their department and the departments below it",
    "all": "every record",
}


@dataclass(frozen=True)
class AccessExplanation:
    can_read: bool
    can_edit: bool
    reasons: list[str]


def explain_access(conn: Connection, registry: Registry, user: Actor, entity_name: str,
                   record_id: int) -> AccessExplanation:
    """Returns whether `user` reads and edits the record, with one sentence per deciding rule."""
    entity = registry.entity(entity_name)
    table = registry.table(entity_name)
    row = conn.execute(sa.select(table.c.owner_id, table.c.deleted_at).where(table.c.id == record_id)).first()
    if row is None:
        raise NotFound(entity_name, record_id)
    if user.is_admin:
        return AccessExplanation(True, True, [f"{user.username} is an administrator and sees every record."])
    reasons = [_owner_sentence(conn, row.owner_id)]
    can_read = can_edit = False
    for role in sorted(user.roles):
        permissions = load_permissions(conn, [role])
        for action in ("read", "update"):
            scope = permissions.scope(entity.name, action)
            allowed = owner_in_scope(user, scope, row.owner_id)
            verb = "reads" if action == "read" else "edits"
            reasons.append(f"Role {role} {verb} {SCOPE_WORDS[scope]} of {entity.name}: "
                           + ("this one is among them." if allowed else "this one is not."))
            can_read |= allowed and action == "read"
            can_edit |= allowed and action == "update"
    share = conn.execute(sa.select(fw_share.c.access).where(
        fw_share.c.user_id == user.id, fw_share.c.entity == entity.name,
        fw_share.c.record_id == record_id)).scalar()
    if share is not None:
        reasons.append(f"The record is shared with {user.username} for {share}.")
        can_read = True
        can_edit |= share == "edit"
    if row.deleted_at is not None:
        reasons.append("The record is in the recycle bin: nobody sees it in lists until it is restored.")
    if not user.roles and share is None:
        reasons.append(f"{user.username} has no role, so no role grants anything.")
    return AccessExplanation(can_read, can_edit and can_read, reasons)


def _owner_sentence(conn: Connection, owner_id: int | None) -> str:
    if owner_id is None:
        return "The record has no owner, so only roles that read every record see it."
    owner = conn.execute(sa.select(fw_user.c.username, fw_department.c.name)
                         .select_from(fw_user.outerjoin(fw_department, fw_department.c.id == fw_user.c.department_id))
                         .where(fw_user.c.id == owner_id)).first()
    if owner is None:
        return "The record's owner no longer exists."
    department = f" in department {owner.name}" if owner.name else " without a department"
    return f"The record is owned by {owner.username}{department}."
