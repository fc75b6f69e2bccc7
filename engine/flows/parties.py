"""Who a flow tells, assigns or asks to decide, resolved when it runs: people of the record (and an
approval's submitter), managers, roles, departments, named users, and the round-robin turn."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.data.computed import SYSTEM_USER_FIELDS
from engine.errors import FormworkError
from engine.storage.db import fw_department, fw_flow_assignment, fw_user, fw_user_role
from metamodel.flows import SUBMITTER, Assignee, Party


class PartyError(FormworkError):
    """Nobody fits an assignee (the assignment is skipped and the record keeps its owner)."""


@dataclass(frozen=True)
class Recipient:
    user_id: int
    username: str
    email: str | None
    locale: str


def person_id(record: Mapping[str, Any], person: str) -> int | None:
    """Returns the user id of owner, created_by, updated_by or a user field of the record (an
    approval passes its submitter in the record under SUBMITTER)."""
    return record.get(SYSTEM_USER_FIELDS.get(person, person))


def _active() -> sa.ColumnElement[bool]:
    return fw_user.c.active.is_(True)


def _recipients(conn: Connection, where: sa.ColumnElement[bool]) -> list[Recipient]:
    query = (sa.select(fw_user.c.id, fw_user.c.username, fw_user.c.email, fw_user.c.locale)
             .where(where, _active()).order_by(fw_user.c.id))
    return [Recipient(*row) for row in conn.execute(query)]


def _managers(conn: Connection, user_id: int | None, levels: int) -> list[int]:
    found: list[int] = []
    for _ in range(levels):
        if user_id is None:
            break
        user_id = conn.execute(sa.select(fw_user.c.manager_id).where(fw_user.c.id == user_id)).scalar()
        if user_id is not None and user_id not in found:
            found.append(user_id)
    return found


def _head_of_department_of(conn: Connection, user_id: int | None) -> list[int]:
    if user_id is None:
        return []
    head = conn.execute(sa.select(fw_department.c.head_id).select_from(
        fw_user.join(fw_department, fw_department.c.id == fw_user.c.department_id))
        .where(fw_user.c.id == user_id)).scalar()
    return [head] if head is not None else []


def _party_where(conn: Connection, party: Party, record: Mapping[str, Any]) -> sa.ColumnElement[bool] | None:
    if party.kind == "person":
        user = person_id(record, party.value)
        return fw_user.c.id == user if user is not None else None
    if party.kind == "manager_of":
        return fw_user.c.id.in_(_managers(conn, person_id(record, party.value), party.levels))
    if party.kind == "department_head_of":
        return fw_user.c.id.in_(_head_of_department_of(conn, person_id(record, party.value)))
    if party.kind == "department_head":
        return fw_user.c.id.in_(sa.select(fw_department.c.head_id).where(fw_department.c.name == party.value))
    if party.kind == "role":
        return fw_user.c.id.in_(sa.select(fw_user_role.c.user_id).where(fw_user_role.c.role == party.value))
    if party.kind == "user":
        return fw_user.c.username == party.value
    return None   # email_field and address name addresses, not users


def resolve_users(conn: Connection, parties: tuple[Party, ...], record: Mapping[str, Any], *,
                  submitter_id: int | None = None) -> list[Recipient]:
    """Returns the active users the parties name for `record`, each once, in the parties' order; a
    chain of managers comes nearest first (连续多级主管 decide in that order). `submitter_id` is who
    "submitter" names in an approval."""
    if submitter_id is not None:
        record = {**record, SUBMITTER: submitter_id}
    seen: dict[int, Recipient] = {}
    for party in parties:
        where = _party_where(conn, party, record)
        if where is None:
            continue
        found = _recipients(conn, where)
        if party.kind == "manager_of":
            chain = _managers(conn, person_id(record, party.value), party.levels)
            found.sort(key=lambda r: chain.index(r.user_id))
        for recipient in found:
            seen.setdefault(recipient.user_id, recipient)
    return list(seen.values())


# -- assignment ---------------------------------------------------------------------------------
def _pool(conn: Connection, assignee: Assignee) -> list[int]:
    if assignee.kind == "role":
        where = fw_user.c.id.in_(sa.select(fw_user_role.c.user_id).where(fw_user_role.c.role == assignee.value))
    else:
        where = fw_user.c.department_id.in_(
            sa.select(fw_department.c.id).where(fw_department.c.name == assignee.value))
    return [r.user_id for r in _recipients(conn, where)]


def nobody_message(assignee: Assignee) -> str:
    if assignee.kind == "user":
        return f"there is no active user {assignee.value!r}"
    return f"no active user has {assignee.kind} {assignee.value}"


def can_assign(conn: Connection, assignee: Assignee) -> bool:
    """Whether anybody active fits the assignee (a mapped pool without one falls to `otherwise`)."""
    if assignee.kind == "user":
        return bool(_recipients(conn, fw_user.c.username == assignee.value))
    return bool(_pool(conn, assignee))


def assigned_user(conn: Connection, flow: str, assignee: Assignee) -> int:
    """Returns the user to assign: the named one, or the next in the pool after the one this flow
    assigned last from it (by user id, wrapping round). Raises PartyError when nobody fits."""
    if assignee.kind == "user":
        found = _recipients(conn, fw_user.c.username == assignee.value)
        if not found:
            raise PartyError(nobody_message(assignee))
        return found[0].user_id
    pool = _pool(conn, assignee)
    if not pool:
        raise PartyError(nobody_message(assignee))
    key = f"{assignee.kind}:{assignee.value}"
    last = _last_assigned(conn, flow, key)
    chosen = next((user for user in pool if last is None or user > last), pool[0])
    where = (fw_flow_assignment.c.flow == flow) & (fw_flow_assignment.c.pool == key)
    if last is None and conn.dialect.name != "postgresql":
        conn.execute(sa.insert(fw_flow_assignment).values(flow=flow, pool=key, last_user_id=chosen))
    else:
        conn.execute(sa.update(fw_flow_assignment).where(where).values(last_user_id=chosen))
    return chosen


def _last_assigned(conn: Connection, flow: str, key: str) -> int | None:
    where = (fw_flow_assignment.c.flow == flow) & (fw_flow_assignment.c.pool == key)
    query = sa.select(fw_flow_assignment.c.last_user_id).where(where)
    if conn.dialect.name == "postgresql":
        # Two saves at once must take turns: the first creates the row, the second waits on its lock.
        from sqlalchemy.dialects.postgresql import insert

        conn.execute(insert(fw_flow_assignment).values(flow=flow, pool=key, last_user_id=0)
                     .on_conflict_do_nothing())
        last = conn.execute(query.with_for_update()).scalar()
        return None if last == 0 else last
    return conn.execute(query).scalar()
