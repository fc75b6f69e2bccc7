"""Why a user can, or cannot, see and edit one record: the answer an administrator reads.

It retraces the decisions of `security.read_scope` and `check_write` in words, role by role;
a detail record is explained through its master.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.data.registry import Registry
from engine.errors import NotFound
from engine.security.actors import Actor
from engine.security.permissions import load_permissions
from engine.security.scopes import MasterLink, granting_fields, master_links, owner_in_scope
from engine.storage.db import fw_department, fw_share, fw_user
from metamodel.fieldtypes import field_type
from metamodel.model import EntityDef, FieldDef, label_text

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
    basis: str = ""        # why it is readable, in a few words ("own record"); "" when it is not


def explain_access(conn: Connection, registry: Registry, user: Actor, entity_name: str,
                   record_id: int) -> AccessExplanation:
    """Returns whether `user` reads and edits the record, with one sentence per deciding rule.

    A detail record (master_detail) is explained through its master, at every hop of the chain."""
    entity = registry.entity(entity_name)
    table = registry.table(entity_name)
    row = conn.execute(sa.select(table).where(table.c.id == record_id)).mappings().first()
    if row is None:
        raise NotFound(entity_name, record_id)
    if user.is_admin:
        return AccessExplanation(True, True, [f"{user.username} is an administrator and sees every record."],
                                 "administrator")
    links = master_links(entity, registry)
    answer = (_explain_detail(conn, registry, user, entity, row, links) if links
              else _explain_owned(conn, user, entity, row))
    if row["deleted_at"] is not None:
        answer.reasons.append("The record is in the recycle bin: nobody sees it in lists until it is restored.")
    return answer


def _explain_owned(conn: Connection, user: Actor, entity: EntityDef, row: Mapping[str, Any]) -> AccessExplanation:
    reasons = [_owner_sentence(conn, row["owner_id"])]
    bases: list[str] = []
    can_read = can_edit = False
    for role in sorted(user.roles):
        permissions = load_permissions(conn, [role])
        for action in ("read", "update"):
            scope = permissions.scope(entity.name, action)
            allowed = owner_in_scope(user, scope, row["owner_id"])
            verb = "reads" if action == "read" else "edits"
            reasons.append(f"Role {role} {verb} {SCOPE_WORDS[scope]} of {entity.name}: "
                           + ("this one is among them." if allowed else "this one is not."))
            if allowed and action == "read":
                bases.append("own record" if row["owner_id"] == user.id else f"role {role} reads {SCOPE_WORDS[scope]}")
            can_read |= allowed and action == "read"
            can_edit |= allowed and action == "update"
    share = conn.execute(sa.select(fw_share.c.access).where(
        fw_share.c.user_id == user.id, fw_share.c.entity == entity.name,
        fw_share.c.record_id == row["id"])).scalar()
    if share is not None:
        reasons.append(f"The record is shared with {user.username} for {share}.")
        bases.append(f"shared with them for {share}")
        can_read = True
        can_edit |= share == "edit"
    for f in _fields_naming(user, entity, row):
        grant = field_type(f.type).access_grant(f)
        label = label_text(f.label, "en")
        reasons.append(f"{user.username} is the record's {label}, which lets them {_GRANT_WORDS[grant]} it.")
        bases.append(f"they are its {label}")
        can_read = True
        can_edit |= grant == "edit"
    if not user.roles and share is None and not bases:
        reasons.append(f"{user.username} has no role, so no role grants anything.")
    return AccessExplanation(can_read, can_edit and can_read, reasons, bases[0] if bases else "")


_GRANT_WORDS = {"read": "read", "edit": "read and edit"}


def _fields_naming(user: Actor, entity: EntityDef, row: Mapping[str, Any]) -> list[FieldDef]:
    """The granting user fields of the record that name `user`."""
    named = set(granting_fields(entity))
    return [f for f in entity.fields if f.name in named and user.id is not None and row[f.name] == user.id]


def _explain_detail(conn: Connection, registry: Registry, user: Actor, entity: EntityDef,
                    row: Mapping[str, Any], links: list[MasterLink]) -> AccessExplanation:
    reasons: list[str] = []
    can_read = user.permissions.scope(entity.name, "read") != "none"
    can_edit = user.permissions.scope(entity.name, "update") != "none"
    if not can_read:
        reasons.append(f"No role of {user.username} reads {entity.name} records at all.")
    elif not can_edit:
        reasons.append(f"No role of {user.username} edits {entity.name} records at all.")
    bases = []
    for link in links:
        master = explain_access(conn, registry, user, link.master.name, row[link.field])
        named = f"{link.master.name} {_title(conn, registry, link.master, row[link.field])}"
        reasons.append(f"A {entity.name} follows its {link.master.name}: who can read or edit the "
                       f"{link.master.name} can read or edit its {entity.name} records, whoever owns them.")
        reasons.append(f"Visible because they can read {named}: {master.basis}." if master.can_read
                       else f"Not visible: they cannot read {named}.")
        reasons.append(f"Editable because they can edit {named}." if master.can_edit
                       else f"Not editable: they cannot edit {named}.")
        reasons.extend(f"{named}: {reason}" for reason in master.reasons)
        bases.append(f"detail of {named}")
        can_read &= master.can_read
        can_edit &= master.can_edit
    return AccessExplanation(can_read, can_edit and can_read, reasons, ", ".join(bases) if can_read else "")


def _title(conn: Connection, registry: Registry, entity: EntityDef, record_id: int) -> str:
    table = registry.table(entity.name)
    if entity.title not in table.c:
        return f"#{record_id}"
    title = conn.execute(sa.select(table.c[entity.title]).where(table.c.id == record_id)).scalar()
    return str(title) if title not in (None, "") else f"#{record_id}"


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
