"""Who is acting, and the one place where read scopes and write checks are decided.

Every read passes through `read_scope`; every write through `check_write`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from engine.errors import PermissionDenied
from metamodel.model import EntityDef


@dataclass(frozen=True)
class Actor:
    """The user a service call acts for. `id` is None for the system itself (CLI, flows, demo)."""
    id: int | None
    username: str
    is_admin: bool = False
    roles: frozenset[str] = field(default_factory=frozenset)
    department_id: int | None = None
    locale: str = "en"


SYSTEM = Actor(None, "system", is_admin=True)


def read_scope(actor: Actor, entity: EntityDef, table: sa.Table) -> sa.ColumnElement[bool] | None:
    """Returns the WHERE clause limiting `table` to the rows `actor` may read; None means all rows.

    Administrators and the system read everything. Other users read what their roles grant;
    until roles carry record permissions, a user reads the records they own.
    """
    if actor.is_admin:
        return None
    return table.c.owner_id == actor.id


def check_write(actor: Actor, entity: EntityDef, action: str, record: dict | None = None) -> None:
    """Raises PermissionDenied when `actor` may not `action` ('create', 'update', 'delete') here."""
    if actor.is_admin:
        return
    if action == "create":
        return
    if record is not None and record.get("owner_id") == actor.id:
        return
    raise PermissionDenied(f"you may not {action} this {entity.name}")
