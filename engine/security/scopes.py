"""Who is acting, and the one place where read scopes, write checks and hidden fields are decided.

Every read passes through `read_scope` and `strip_hidden`; every write through `check_write`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.errors import FieldError, PermissionDenied, ValidationError
from engine.security.actors import Actor
from engine.storage.db import fw_approval, fw_approval_task, fw_share, fw_user
from metamodel.fieldtypes import field_type
from metamodel.model import EntityDef, entity_label

if TYPE_CHECKING:   # the registry builds on the engine's lower modules; only the type is needed here
    from engine.data.registry import Registry

ACCESS = ("read", "edit")



# -- reading -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MasterLink:
    """A master-detail field of a detail entity: the detail's access is its master's."""
    field: str
    master: EntityDef


def master_links(entity: EntityDef, registry: Registry) -> list[MasterLink]:
    """Returns the master-detail links of `entity` (none for an entity that is not a detail)."""
    links = []
    for f in entity.fields:
        master = field_type(f.type).master_entity(f)
        if master is not None and master in registry.entities:
            links.append(MasterLink(f.name, registry.entity(master)))
    return links


def granting_fields(entity: EntityDef, access: str = "read") -> list[str]:
    """Returns the user fields of `entity` that open the record to the user they name for `access`
    ('read': any grant; 'edit': edit grants only)."""
    wanted = ACCESS if access == "read" else ("edit",)
    return [f.name for f in entity.fields if field_type(f.type).access_grant(f) in wanted]


def may_act_on_entity(actor: Actor, entity: EntityDef, action: str) -> bool:
    """Whether `actor` may `action` some record of `entity` at all (navigation, New buttons):
    a role grants it, or (read) the entity has user fields that may name them."""
    if actor.is_admin:
        return True
    if actor.permissions.scope(entity.name, action) != "none":
        return True
    return action == "read" and bool(granting_fields(entity)) and not _is_detail(entity)


def read_scope(actor: Actor, entity: EntityDef, table: sa.FromClause,
               registry: Registry) -> sa.ColumnElement[bool] | None:
    """Returns the WHERE clause limiting `table` to the rows `actor` may read; None means all rows.

    A row is readable when its owner lies in the actor's read scope for the entity, when it is
    shared with the actor, when one of its granting user fields names the actor, or when it waits
    for the actor's decision on a pending approval (entities with approval flows only). A detail row
    (master_detail) is readable when its masters are, whoever owns it, provided a role lets the
    actor read the detail entity at all. Administrators and the system read everything.
    """
    if actor.is_admin:
        return None
    links = master_links(entity, registry)
    if links:
        return _detail_scope(actor, entity, table, registry, links)
    scope = actor.permissions.scope(entity.name, "read")
    if scope == "all":
        return None
    shared = sa.exists().where(fw_share.c.user_id == actor.id, fw_share.c.entity == entity.name,
                               fw_share.c.record_id == table.c.id)
    owned = _owner_clause(actor, scope, table.c.owner_id)
    named = [table.c[name] == actor.id for name in granting_fields(entity)] if actor.id is not None else []
    deciding = _deciding_approver(actor, entity, table, registry)
    return sa.or_(*(c for c in (owned, shared, *named, deciding) if c is not None))


def _deciding_approver(actor: Actor, entity: EntityDef, table: sa.FromClause,
                       registry: Registry) -> sa.ColumnElement[bool] | None:
    """The rows whose pending approval waits for the actor on its current step; None for an entity
    no approval flow runs on, so its queries stay as they were."""
    rules = getattr(registry, "approval_rules", None)
    if actor.id is None or rules is None or entity.name not in rules.flows:
        return None
    return sa.exists().where(
        fw_approval.c.entity == entity.name, fw_approval.c.record_id == table.c.id,
        fw_approval.c.state == "pending", fw_approval_task.c.approval_id == fw_approval.c.id,
        fw_approval_task.c.round == fw_approval.c.round, fw_approval_task.c.user_id == actor.id,
        fw_approval_task.c.state.in_(("pending", "waiting")))


def _detail_scope(actor: Actor, entity: EntityDef, table: sa.FromClause, registry: Registry,
                  links: list[MasterLink]) -> sa.ColumnElement[bool] | None:
    if actor.permissions.scope(entity.name, "read") == "none":
        return sa.false()
    clauses = []
    for link in links:
        master = registry.table(link.master.name).alias()
        inner = read_scope(actor, link.master, master, registry)
        if inner is not None:   # a master readable in full leaves its details unlimited too
            clauses.append(sa.exists().where(master.c.id == table.c[link.field], inner))
    return sa.and_(*clauses) if clauses else None


def _is_detail(entity: EntityDef) -> bool:
    return any(field_type(f.type).master_entity(f) is not None for f in entity.fields)


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
                values: Mapping[str, Any] | None = None, *, conn: Connection | None = None,
                registry: Registry | None = None) -> None:
    """Raises when `actor` may not `action` ('create', 'update', 'delete') this record.

    `record` is the stored record (for create: at least its owner_id), `values` the fields being
    written. PermissionDenied when the action or the record's owner lies outside the actor's
    scope; ValidationError naming the fields when `values` sets a hidden or read-only field.
    An update is also allowed on a record shared with the actor for edit (looked up on `conn`) or
    whose edit-granting user field names them. A detail record (master_detail) may be written
    when its masters may be updated (looked up on `conn` with `registry`), whoever owns it.
    """
    if not actor.can_write:
        raise PermissionDenied("this access token may only read")
    if actor.is_admin:
        return
    scope = actor.permissions.scope(entity.name, action)
    if _is_detail(entity):
        if scope == "none":
            raise PermissionDenied(f"you may not {action} {_noun(actor, entity)} records")
        _refuse_unwritable_masters(actor, entity, action, record, values, conn, registry)
    else:
        _refuse_out_of_scope(actor, entity, action, scope, record, values, conn)
    _refuse_locked_fields(actor, entity, values or {})


def _noun(actor: Actor, entity: EntityDef) -> str:
    """The entity as the actor reads it in a refusal: its label in their language, quoted."""
    return f"“{entity_label(entity, actor.locale)}”"


def _refuse_out_of_scope(actor: Actor, entity: EntityDef, action: str, scope: str,
                         record: Mapping[str, Any] | None, values: Mapping[str, Any] | None,
                         conn: Connection | None) -> None:
    in_scope = scope != "none" and (record is None or owner_in_scope(actor, scope, _owner_of(record)))
    if not in_scope and not (action == "update" and _opened_for_edit(actor, entity, record, conn)):
        raise PermissionDenied(f"you may not {action} {_noun(actor, entity)} records" if scope == "none"
                               else f"you may not {action} this {_noun(actor, entity)}")
    if values is not None and "owner_id" in values and action != "delete":
        if not owner_in_scope(actor, scope, _owner_of(values)):
            raise PermissionDenied(f"you may not give a {_noun(actor, entity)} to a user outside your scope")


def _refuse_unwritable_masters(actor: Actor, entity: EntityDef, action: str, record: Mapping[str, Any] | None,
                               values: Mapping[str, Any] | None, conn: Connection | None,
                               registry: Registry | None) -> None:
    for field_name, master_id in _master_ids(entity, record, values):
        if conn is None or registry is None:
            raise TypeError(f"checking a write of a {entity.name} needs the connection and the registry")
        link = next(link for link in master_links(entity, registry) if link.field == field_name)
        master = _readable_master(actor, link.master, master_id, conn, registry)
        if master is None:
            continue   # unreadable or missing: the write path reports it as a missing record
        try:
            check_write(actor, link.master, "update", master, conn=conn, registry=registry)
        except PermissionDenied:
            raise PermissionDenied(f"you may not {action} this {_noun(actor, entity)}: "
                                   f"you may not edit its {_noun(actor, link.master)}") from None


def _master_ids(entity: EntityDef, record: Mapping[str, Any] | None,
                values: Mapping[str, Any] | None) -> list[tuple[str, int]]:
    """(field, master id) of every master the write touches: the stored one and the new one."""
    found = []
    for f in entity.fields:
        if field_type(f.type).master_entity(f) is None:
            continue
        for source in (record, values):
            master_id = _id_in(source, f.name)
            if master_id is not None and (f.name, master_id) not in found:
                found.append((f.name, master_id))
    return found


def _readable_master(actor: Actor, master: EntityDef, master_id: int, conn: Connection,
                     registry: Registry) -> Mapping[str, Any] | None:
    table = registry.table(master.name)
    scope = read_scope(actor, master, table, registry)
    query = sa.select(table).where(table.c.id == master_id, *([] if scope is None else [scope]))
    return conn.execute(query).mappings().first()


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
    return _id_in(record, "owner_id")


def _id_in(record: Mapping[str, Any] | None, name: str) -> int | None:
    raw = (record or {}).get(name)
    if isinstance(raw, Mapping):   # APIs send {"id": 5} as often as 5
        raw = raw.get("id")
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None   # the write path reports a malformed id with the other field errors


def _opened_for_edit(actor: Actor, entity: EntityDef, record: Mapping[str, Any] | None,
                     conn: Connection | None) -> bool:
    """Whether the record is opened to the actor for edit beyond their role: shared, or named by
    an edit-granting user field."""
    if record is None or actor.id is None:
        return False
    if any(_id_in(record, name) == actor.id for name in granting_fields(entity, "edit")):
        return True
    return _shared_for_edit(actor, entity, record, conn)


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
