"""Who is acting, and the one place where read scopes, write checks and hidden fields are decided.

Every read passes through `read_scope` and `strip_hidden`; every write through `check_write`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.errors import FieldError, PermissionDenied, ValidationError
from engine.security.actors import Actor
from engine.storage.db import fw_share, fw_user
from metamodel.model import EntityDef

if TYPE_CHECKING:   # the registry builds on the engine's lower modules; only the type is needed here
    from engine.data.registry import Registry

ACCESS = ("read", "edit")



# -- reading -------------------------------------------------------------------------------------
def read_scope(actor: Actor, entity: EntityDef, table: sa.Table) -> sa.ColumnElement[bool] | None:
    """Returns the WHERE clause limiting `table` to the rows `actor` may read; None means all rows.

    A row is readable when its owner lies in the actor's read scope for the entity, or when it
    is shared with the actor. Administrators and the system read everything.
    """
    if actor.is_admin:
        return None
    scope = actor.permissions.scope(entity.name, "read")
    if scope == "all":
        return None
    shared = sa.exists().where(fw_share.c.user_id == actor.id, fw_share.c.entity == entity.name,
                               fw_share.c.record_id == table.c.id)
    owned = _owner_clause(actor, scope, table.c.owner_id)
    return shared if owned is None else sa.or_(owned, shared)


def _owner_clause(actor: Actor, scope: str, owner: sa.ColumnElement) -> sa.ColumnElement[bool] | None:
    if scope == "none" or actor.id is None:
        return None
    departments = {"department": actor.department_ids, "department_and_below": actor.subtree_ids}.get(scope)
    if not departments:
        return owner == actor.id
    # A subquery rather than the precomputed members: the department sets are small, the member
    # lists of a large organisation are not, and SQL keeps the owner index usable.
    members = sa.select(fw_user.c.id).where(fw_user.c.department_id.in_(sorted(departments)))
    return sa.or_(owner == actor.id, owner.in_(members))


def hidden_fields(actor: Actor, entity: EntityDef, registry: Registry) -> frozenset[str]:
    """Returns the names of the fields of `entity` the actor may never see nor set.

    Those are the fields the actor's roles hide, and every formula or rollup field computed from
    one of them (at any hop, through any other computed field): its value would reveal theirs.
    """
    if actor.is_admin:
        return frozenset()
    own = actor.permissions.hidden_fields(entity.name)
    formulas = registry.formulas.get(entity.name)
    if formulas is None:
        return own
    hides = actor.permissions.hidden_fields
    derived = {name for name, reads in formulas.reads.items() if any(f in hides(e) for e, f in reads)}
    return own | derived if derived else own


def visible_fields(actor: Actor, entity: EntityDef, registry: Registry) -> set[str]:
    """Returns the names of the fields of `entity` the actor may see (forms, list columns, exports)."""
    hidden = hidden_fields(actor, entity, registry)
    return {f.name for f in entity.fields if f.name not in hidden}


def strip_hidden(actor: Actor, entity: EntityDef, record: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """Returns `record` without the fields hidden from the actor."""
    hidden = hidden_fields(actor, entity, registry)
    if not hidden:
        return record
    return {name: value for name, value in record.items() if name not in hidden}


# -- writing -------------------------------------------------------------------------------------
def check_write(actor: Actor, entity: EntityDef, action: str, record: Mapping[str, Any] | None = None,
                values: Mapping[str, Any] | None = None, *, conn: Connection | None = None) -> None:
    """Raises when `actor` may not `action` ('create', 'update', 'delete') this record.

    `record` is the stored record (for create: at least its owner_id), `values` the fields being
    written. PermissionDenied when the action or the record's owner lies outside the actor's
    scope; ValidationError naming the fields when `values` sets a hidden or read-only field.
    An update is also allowed on a record shared with the actor for edit (looked up on `conn`).
    """
    if not actor.can_write:
        raise PermissionDenied("this access token may only read")
    if actor.is_admin:
        return
    scope = actor.permissions.scope(entity.name, action)
    in_scope = scope != "none" and (record is None or owner_in_scope(actor, scope, _owner_of(record)))
    if not in_scope and not (action == "update" and _shared_for_edit(actor, entity, record, conn)):
        raise PermissionDenied(f"you may not {action} {entity.name} records" if scope == "none"
                               else f"you may not {action} this {entity.name}")
    if values is not None and "owner_id" in values and action != "delete":
        if not owner_in_scope(actor, scope, _owner_of(values)):
            raise PermissionDenied(f"you may not give a {entity.name} to a user outside your scope")
    _refuse_locked_fields(actor, entity, values or {})


def owner_in_scope(actor: Actor, scope: str, owner: int | None) -> bool:
    """Whether a record owned by `owner` lies in `scope` as seen by `actor` (the write-side twin of
    `read_scope`, answered from the sets computed with the Actor)."""
    if scope == "all":
        return True
    if scope == "none" or owner is None or actor.id is None:
        return False
    if owner == actor.id:
        return True
    members = {"department": actor.department_members, "department_and_below": actor.subtree_members}
    return owner in members.get(scope, frozenset())


def _owner_of(record: Mapping[str, Any] | None) -> int | None:
    raw = (record or {}).get("owner_id")
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None   # the write path reports a malformed owner with the other field errors


def _shared_for_edit(actor: Actor, entity: EntityDef, record: Mapping[str, Any] | None,
                     conn: Connection | None) -> bool:
    if conn is None or record is None or record.get("id") is None or actor.id is None:
        return False
    return conn.execute(sa.select(fw_share.c.id).where(
        fw_share.c.user_id == actor.id, fw_share.c.entity == entity.name,
        fw_share.c.record_id == record["id"], fw_share.c.access == "edit")).first() is not None


def _refuse_locked_fields(actor: Actor, entity: EntityDef, values: Mapping[str, Any]) -> None:
    hidden = actor.permissions.hidden_fields(entity.name)
    locked = actor.permissions.locked_fields(entity.name)
    errors = [FieldError(name, "is hidden from you and cannot be set" if name in hidden
                         else "is read-only for your role")
              for name in values if name in locked]
    if errors:
        raise ValidationError(entity.name, errors)
