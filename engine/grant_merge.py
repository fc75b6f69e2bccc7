"""Role grants an admin changed since install, kept across upgrades and written out on export.

A role's grants are flattened to keys (`scope.course.create`, `field.contract.terms`, `right.export`);
a key whose live value differs from the installed package's was changed by an admin.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.storage.db import fw_field_permission, fw_permission, fw_role_right
from metamodel.model import ACTIONS, AppDef, EntityGrant, Role, deep_freeze, frozen_mapping

Grants = Mapping[str, str]   # grant key -> value; an absent key grants nothing
GRANTED = "granted"


@dataclass(frozen=True)
class KeptGrant:
    """An admin's value of one grant that an upgrade keeps over the new template's."""
    role: str
    key: str
    value: str | None
    template: str | None

    @property
    def subject(self) -> str:
        return f"role {self.role}: {self.key}"

    def describe(self) -> str:
        return (f"role {self.role}: keeps {self.key}={shown(self.value)} set by an admin; "
                f"the new template says {shown(self.template)}")


def shown(value: str | None) -> str:
    return value if value is not None else "none"


def role_grants(role: Role) -> dict[str, str]:
    """Returns the grants of a role as written in its package."""
    grants = {f"scope.{entity}.{action}": grant.scope(action)
              for entity, grant in role.permissions.items() for action in ACTIONS}
    grants.update({f"field.{entity}.{name}": access
                   for entity, fields in role.field_access.items() for name, access in fields.items()})
    grants.update({f"right.{right}": GRANTED for right in role.rights})
    return grants


def live_grants(conn: Connection, role: str) -> dict[str, str]:
    """Returns the grants of `role` as stored now (install plus the admin pages' changes)."""
    grants: dict[str, str] = {}
    for row in conn.execute(sa.select(fw_permission).where(fw_permission.c.role == role)
                            .order_by(fw_permission.c.entity)):
        grants.update({f"scope.{row.entity}.{a}": getattr(row, f"{a}_scope") for a in ACTIONS})
    for row in conn.execute(sa.select(fw_field_permission).where(fw_field_permission.c.role == role)
                            .order_by(fw_field_permission.c.entity, fw_field_permission.c.field)):
        grants[f"field.{row.entity}.{row.field}"] = row.access
    for right in conn.execute(sa.select(fw_role_right.c.right).where(fw_role_right.c.role == role)
                              .order_by(fw_role_right.c.right)).scalars():
        grants[f"right.{right}"] = GRANTED
    return grants


def differing_keys(one: Grants, other: Grants) -> list[str]:
    return sorted(k for k in {*one, *other} if one.get(k) != other.get(k))


def admin_changes(installed: Role | None, live: Grants) -> dict[str, str | None]:
    """Returns key -> live value (None: removed) of every grant that differs from the installed package."""
    package = role_grants(installed) if installed is not None else {}
    return {key: live.get(key) for key in differing_keys(package, live)}


def role_with_grants(role: Role, grants: Grants) -> Role:
    """Returns `role` holding exactly `grants`; the package's order of entities, fields and rights stays."""
    if dict(grants) == role_grants(role):
        return role
    scoped = _ordered(role.permissions, {k.split(".")[1] for k in grants if k.startswith("scope.")})
    permissions = {entity: EntityGrant(**{a: grants.get(f"scope.{entity}.{a}", "none") for a in ACTIONS})
                   for entity in scoped}
    field_access: dict[str, dict[str, str]] = {}
    limited = {tuple(k.split(".")[1:3]) for k in grants if k.startswith("field.")}
    for entity in _ordered(role.field_access, {e for e, _f in limited}):
        names = _ordered(role.field_access.get(entity, {}), {f for e, f in limited if e == entity})
        field_access[entity] = {name: grants[f"field.{entity}.{name}"] for name in names}
    rights = _ordered(role.rights, {k.split(".", 1)[1] for k in grants if k.startswith("right.")})
    return replace(role, permissions=frozen_mapping(permissions), field_access=deep_freeze(field_access),
                   rights=tuple(rights))


def _ordered(first: Iterable[str], wanted: set[str]) -> list[str]:
    """Returns `wanted` in the order of `first`, then the rest sorted."""
    known = [name for name in first if name in wanted]
    return known + sorted(wanted - set(known))


@dataclass(frozen=True)
class MergedRoles:
    roles: tuple[Role, ...]
    kept: tuple[KeptGrant, ...]


def merge_admin_changes(conn: Connection, previous: AppDef | None, app: AppDef) -> MergedRoles:
    """Returns the roles of `app` with every grant an admin changed since `previous` was installed.

    On a first install (`previous` None) the template's roles are taken as they are.
    """
    if previous is None:
        return MergedRoles(app.roles, ())
    installed = {r.name: r for r in previous.roles}
    roles: list[Role] = []
    kept: list[KeptGrant] = []
    for role in app.roles:
        template = role_grants(role)
        merged = dict(template)
        for key, value in admin_changes(installed.get(role.name), live_grants(conn, role.name)).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
            if template.get(key) != value:
                kept.append(KeptGrant(role.name, key, value, template.get(key)))
        roles.append(role_with_grants(role, merged))
    return MergedRoles(tuple(roles), tuple(kept))


def live_roles(conn: Connection, app: AppDef) -> tuple[Role, ...]:
    """Returns the roles of installed `app` holding their live grants (what `app export` writes)."""
    return tuple(role_with_grants(role, live_grants(conn, role.name)) for role in app.roles)
