"""Role permissions in the fw_ tables: stored from app metadata, changed by admins, merged per user.

A user's rights are the union of their roles: the widest scope per action, a field limit only when
every role that grants the action imposes it, and every admin right any role carries.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.errors import FormworkError
from engine.security import audit
from engine.security.delegation import (
    refuse_changing_own_role,
    refuse_field_access_beyond,
    refuse_rights_beyond,
    refuse_scopes_beyond,
)
from engine.security.grants import NO_PERMISSIONS, PermissionSet, RoleRules, merge_roles
from engine.storage.db import fw_field_permission, fw_permission, fw_role, fw_role_right, utcnow
from metamodel.model import ACTIONS, FIELD_ACCESS, RIGHTS, SCOPES, AppDef, EntityGrant, Role

if TYPE_CHECKING:   # security builds on this module; only the type is needed here
    from engine.security.actors import Actor



class RoleError(FormworkError):
    """A permission change that names an unknown role, scope, access or right."""


def load_permissions(conn: Connection, roles: Iterable[str]) -> PermissionSet:
    """Returns the merged permissions of `roles` as stored in the fw_ tables."""
    roles = sorted(set(roles))
    if not roles:
        return NO_PERMISSIONS
    grants: dict[str, dict[str, EntityGrant]] = {r: {} for r in roles}
    for row in conn.execute(sa.select(fw_permission).where(fw_permission.c.role.in_(roles))):
        grants[row.role][row.entity] = EntityGrant(row.create_scope, row.read_scope, row.update_scope,
                                                   row.delete_scope)
    limits: dict[str, dict[str, dict[str, str]]] = {r: {} for r in roles}
    for row in conn.execute(sa.select(fw_field_permission).where(fw_field_permission.c.role.in_(roles))):
        limits[row.role].setdefault(row.entity, {})[row.field] = row.access
    rights = conn.execute(sa.select(fw_role_right.c.right).where(fw_role_right.c.role.in_(roles))).scalars()
    return merge_roles((RoleRules(grants[r], limits[r]) for r in roles), rights)


# -- storing ---------------------------------------------------------------------------------------
def store_app_permissions(conn: Connection, app: AppDef, actor: Actor | None = None, *,
                          now: datetime | None = None) -> None:
    """Replaces the stored permissions of the app's roles with those of its metadata (install, upgrade).

    The roles themselves must already be in fw_role. The change is audited.
    """
    if not app.roles:
        return
    for role in app.roles:
        _replace_role_rules(conn, role)
    audit.write_entry(conn, actor or _system(), "permissions_installed", detail={
        "app": app.name, "version": app.version, "roles": [r.name for r in app.roles]}, at=now or utcnow())


def _replace_role_rules(conn: Connection, role: Role) -> None:
    for table in (fw_permission, fw_field_permission, fw_role_right):
        conn.execute(sa.delete(table).where(table.c.role == role.name))
    if role.permissions:
        conn.execute(sa.insert(fw_permission), [_grant_row(role.name, entity, grant)
                                                 for entity, grant in role.permissions.items()])
    limits = [{"role": role.name, "entity": entity, "field": name, "access": access}
              for entity, fields in role.field_access.items() for name, access in fields.items()]
    if limits:
        conn.execute(sa.insert(fw_field_permission), limits)
    if role.rights:
        conn.execute(sa.insert(fw_role_right), [{"role": role.name, "right": r} for r in role.rights])


def _grant_row(role: str, entity: str, grant: EntityGrant) -> dict[str, str]:
    return {"role": role, "entity": entity, **{f"{a}_scope": grant.scope(a) for a in ACTIONS}}


def set_grant(conn: Connection, actor: Actor, role: str, entity: str, grant: EntityGrant,
              *, now: datetime | None = None) -> None:
    """Sets what `role` may do with `entity` (admin pages); audited with the old and new scopes.

    PermissionDenied when `actor` holds the role, or would widen an action beyond their own scope."""
    _require_role(conn, role)
    for action in ACTIONS:
        if grant.scope(action) not in SCOPES:
            raise RoleError(f"{grant.scope(action)!r} is not a scope (use one of {', '.join(SCOPES)})")
    refuse_changing_own_role(actor, role)
    current = load_permissions(conn, [role])
    refuse_scopes_beyond(actor, entity, EntityGrant(**{a: current.scope(entity, a) for a in ACTIONS}), grant)
    old = conn.execute(sa.select(fw_permission).where(fw_permission.c.role == role,
                                                      fw_permission.c.entity == entity)).first()
    conn.execute(sa.delete(fw_permission).where(fw_permission.c.role == role, fw_permission.c.entity == entity))
    conn.execute(sa.insert(fw_permission).values(_grant_row(role, entity, grant)))
    changes = {a: (getattr(old, f"{a}_scope") if old else "none", grant.scope(a)) for a in ACTIONS}
    audit.write_entry(conn, actor, "permission_change", detail={"role": role, "entity": entity},
                      changes={a: c for a, c in changes.items() if c[0] != c[1]}, at=now or utcnow())


def set_field_access(conn: Connection, actor: Actor, role: str, entity: str, field_name: str,
                     access: str | None, *, now: datetime | None = None) -> None:
    """Makes a field hidden or read_only for `role`, or (access None) lifts the limit; audited.

    PermissionDenied when `actor` holds the role, or would open the field further than it is open to them."""
    _require_role(conn, role)
    if access is not None and access not in FIELD_ACCESS:
        raise RoleError(f"{access!r} is not a field access (use hidden or read_only)")
    refuse_changing_own_role(actor, role)
    where = (fw_field_permission.c.role == role, fw_field_permission.c.entity == entity,
             fw_field_permission.c.field == field_name)
    old = conn.execute(sa.select(fw_field_permission.c.access).where(*where)).scalar()
    refuse_field_access_beyond(actor, entity, field_name, old, access)
    conn.execute(sa.delete(fw_field_permission).where(*where))
    if access is not None:
        conn.execute(sa.insert(fw_field_permission).values(role=role, entity=entity, field=field_name,
                                                            access=access))
    audit.write_entry(conn, actor, "permission_change",
                      detail={"role": role, "entity": entity, "field": field_name},
                      changes={"access": (old, access)}, at=now or utcnow())


def set_rights(conn: Connection, actor: Actor, role: str, rights: Iterable[str],
               *, now: datetime | None = None) -> None:
    """Replaces the admin rights of `role`; audited. PermissionDenied when `actor` holds the role or
    would add rights they do not hold."""
    _require_role(conn, role)
    refuse_changing_own_role(actor, role)
    rights = sorted(set(rights))
    unknown = [r for r in rights if r not in RIGHTS]
    if unknown:
        raise RoleError(f"unknown right(s) {', '.join(unknown)} (known: {', '.join(RIGHTS)})")
    old = sorted(conn.execute(sa.select(fw_role_right.c.right).where(fw_role_right.c.role == role)).scalars())
    refuse_rights_beyond(actor, set(rights) - set(old))
    conn.execute(sa.delete(fw_role_right).where(fw_role_right.c.role == role))
    if rights:
        conn.execute(sa.insert(fw_role_right), [{"role": role, "right": r} for r in rights])
    audit.write_entry(conn, actor, "permission_change", detail={"role": role},
                      changes={"rights": (old, rights)}, at=now or utcnow())


def role_names(conn: Connection) -> list[str]:
    return list(conn.execute(sa.select(fw_role.c.name).order_by(fw_role.c.name)).scalars())


def _require_role(conn: Connection, role: str) -> None:
    if role not in role_names(conn):
        raise RoleError(f"there is no role {role!r}")


def _system() -> Actor:
    from engine.security.actors import SYSTEM

    return SYSTEM
