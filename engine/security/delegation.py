"""What one user may hand to another: entity scopes, field access, roles and admin rights, and who may
change an administrator. Nobody grants more than they hold; only an administrator changes one.

Every check raises PermissionDenied naming what was refused and why; administrators (and the system,
which the CLI acts as) pass them all, except that the last active administrator always stays one.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.errors import PermissionDenied
from engine.storage.db import fw_user
from metamodel.model import ACTIONS, ANY_ENTITY, SCOPES, EntityGrant

if TYPE_CHECKING:   # security and permissions build on this module; only their types are needed here
    from engine.security.actors import Actor
    from engine.security.grants import PermissionSet

WRITES = ("create", "update")


def wider(scope: str, than: str) -> bool:
    """Whether `scope` reaches records `than` does not (scopes nest: none < own < ... < all)."""
    return SCOPES.index(scope) > SCOPES.index(than)


# -- roles' grants -----------------------------------------------------------------------------------
def refuse_scopes_beyond(actor: Actor, entity: str, old: EntityGrant, new: EntityGrant) -> None:
    """Raises when `new` widens an action on `entity` beyond the scope `actor` holds for it.

    Narrowing, or keeping what the role already had, is always allowed."""
    if actor.is_admin:
        return
    for action in ACTIONS:
        wanted, held = new.scope(action), actor.permissions.scope(entity, action)
        if wider(wanted, old.scope(action)) and wider(wanted, held):
            raise PermissionDenied(f"you cannot grant {action} on {entity} with scope {wanted}: you hold {held}")


def refuse_field_access_beyond(actor: Actor, entity: str, field: str, old: str | None, new: str | None) -> None:
    """Raises when a field limit is lifted (`old` -> `new`: hidden, read_only or None) further than
    the field is open to `actor`: nobody shows a field hidden from them or opens one they cannot write."""
    if actor.is_admin:
        return
    if old == "hidden" and new != "hidden":
        reason = _why_not_visible(actor.permissions, entity, field)
        if reason:
            raise PermissionDenied(f"you cannot make {entity}.{field} visible: {reason}")
    if old in ("hidden", "read_only") and new is None:
        reason = _why_not_writable(actor.permissions, entity, field)
        if reason:
            raise PermissionDenied(f"you cannot make {entity}.{field} writable: {reason}")


def _why_not_visible(held: PermissionSet, entity: str, field: str) -> str | None:
    if held.scope(entity, "read") == "none":
        return f"you cannot read {entity}"
    return "it is hidden from you" if field in held.hidden_fields(entity) else None


def _why_not_writable(held: PermissionSet, entity: str, field: str) -> str | None:
    if all(held.scope(entity, action) == "none" for action in WRITES):
        return f"you cannot create or update {entity}"
    return "it is read-only for you" if field in held.locked_fields(entity) else None


def refuse_rights_beyond(actor: Actor, rights: Iterable[str]) -> None:
    """Raises when `actor` would hand out admin rights they do not hold themselves:
    managing users must not be a way to become an administrator."""
    if actor.is_admin:
        return
    missing = sorted(set(rights) - set(actor.permissions.rights))
    if missing:
        raise PermissionDenied(f"you cannot grant rights you do not hold: {', '.join(missing)}")


def refuse_changing_own_role(actor: Actor, role: str) -> None:
    """Raises when a non-administrator changes the grants of a role they hold (they would widen themselves)."""
    if not actor.is_admin and role in actor.roles:
        raise PermissionDenied(f"you cannot change role {role}: you hold it yourself, "
                               "and only an administrator may change their own role")


# -- role membership -----------------------------------------------------------------------------
def refuse_roles_beyond(actor: Actor, roles: dict[str, PermissionSet]) -> None:
    """Raises when any of `roles` (name -> that role's own rules) grants more than `actor` holds."""
    if actor.is_admin:
        return
    for name, rules in sorted(roles.items()):
        excess = list(grants_beyond(rules, actor.permissions))
        if excess:
            shown = "; ".join(excess[:3]) + ("; …" if len(excess) > 3 else "")
            raise PermissionDenied(f"you cannot assign role {name}: it grants what you do not hold ({shown})")


def refuse_taking_over_someone_wider(actor: Actor, target_id: int, roles: dict[str, PermissionSet],
                                     change: str) -> None:
    """Raises when `actor` would act as someone whose roles (name -> rules) grant more than `actor`
    holds: resetting their password would hand over that access. One's own account is one's own."""
    if actor.is_admin or actor.id == target_id:
        return
    for name, rules in sorted(roles.items()):
        excess = list(grants_beyond(rules, actor.permissions))
        if excess:
            shown = "; ".join(excess[:3]) + ("; …" if len(excess) > 3 else "")
            raise PermissionDenied(f"you cannot {change}: their role {name} grants what you do not hold ({shown})")


def grants_beyond(rules: PermissionSet, held: PermissionSet) -> Iterator[str]:
    """Yields, in words, each thing `rules` grants that `held` does not: a wider scope, a field shown
    or writable that is hidden or read-only in `held`, an admin right."""
    # Comparing the named entities and the wildcard covers every entity, named or not.
    for entity in sorted({*rules.scopes, *held.scopes, ANY_ENTITY}):
        for action in ACTIONS:
            granted, have = rules.scope(entity, action), held.scope(entity, action)
            if wider(granted, have):
                yield f"{action} on {_entity_words(entity)} with scope {granted}, you hold {have}"
    for entity in sorted({*held.hidden, *held.read_only}):
        if rules.scope(entity, "read") != "none":
            for field in sorted(held.hidden_fields(entity) - rules.hidden_fields(entity)):
                yield f"{entity}.{field} visible, it is hidden from you"
        if any(rules.scope(entity, action) != "none" for action in WRITES):
            for field in sorted(held.locked_fields(entity) - rules.locked_fields(entity)
                                - held.hidden_fields(entity)):
                yield f"{entity}.{field} writable, it is read-only for you"
    for right in sorted(rules.rights - held.rights):
        yield f"the {right} right"


def _entity_words(entity: str) -> str:
    return "every other entity" if entity == ANY_ENTITY else entity


def refuse_changing_own_roles(actor: Actor, target_id: int) -> None:
    """Raises when a non-administrator changes their own roles."""
    if not actor.is_admin and actor.id == target_id:
        raise PermissionDenied("you cannot change your own roles: only an administrator may")


# -- administrators ------------------------------------------------------------------------------
def refuse_unless_administrator(actor: Actor, change: str) -> None:
    """Raises unless `actor` is an administrator; called before anything is done to an administrator
    (or someone is made one), so that managing users is not a way to take one over.

    `change` says what was attempted, e.g. "reset the password of admin"."""
    if not actor.is_admin:
        raise PermissionDenied(f"you cannot {change}: only an administrator may change or make an administrator")


def refuse_removing_last_administrator(conn: Connection, target_id: int, change: str) -> None:
    """Raises when `target_id` is the only active administrator: without one, nobody could manage the
    installation. The active administrators' rows are locked, so two concurrent removals cannot both pass."""
    admins = conn.execute(sa.select(fw_user.c.id).where(fw_user.c.is_admin.is_(True), fw_user.c.active.is_(True))
                          .with_for_update()).scalars().all()
    if admins == [target_id]:
        raise PermissionDenied(f"you cannot {change}: they are the last active administrator")
