"""The organisation: departments as a tree with a head, and the department sets scopes are made of.

A department's subtree (itself and every department below it) is what `department_and_below` means.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.errors import FormworkError
from engine.security import audit
from engine.security.actors import SYSTEM, Actor
from engine.storage.db import fw_department, fw_user, utcnow


class OrgError(FormworkError):
    """A department change that cannot be made (unknown name, a loop in the tree...)."""


@dataclass(frozen=True)
class Department:
    id: int
    name: str
    parent_id: int | None
    head_id: int | None
    path: str               # "Sales / 华北 North", for lists
    head: str | None        # the head's username
    members: int


def department_id(conn: Connection, name: str) -> int:
    """Returns the id of the department called `name`; OrgError when there is none."""
    found = conn.execute(sa.select(fw_department.c.id).where(fw_department.c.name == name)).scalar()
    if found is None:
        raise OrgError(f"there is no department {name!r}")
    return found


def create_department(conn: Connection, name: str, *, parent: str | None = None, head_id: int | None = None,
                      actor: Actor = SYSTEM, now: datetime | None = None) -> int:
    """Creates a department under `parent` (a name; None for a top-level one); returns its id."""
    name = name.strip()
    if not name:
        raise OrgError("a department needs a name")
    if conn.execute(sa.select(fw_department.c.id).where(fw_department.c.name == name)).first():
        raise OrgError(f"a department named {name!r} already exists")
    parent_id = department_id(conn, parent) if parent else None
    new_id = conn.execute(sa.insert(fw_department).values(name=name, parent_id=parent_id, head_id=head_id)
                          ).inserted_primary_key[0]
    audit.write_entry(conn, actor, "department_create", detail={"department": name, "parent": parent,
                                                                "head_id": head_id}, at=now or utcnow())
    return new_id


def set_head(conn: Connection, name: str, head_id: int | None, *, actor: Actor = SYSTEM,
             now: datetime | None = None) -> None:
    """Makes user `head_id` the head of department `name`; audited."""
    dept = department_id(conn, name)
    old = conn.execute(sa.select(fw_department.c.head_id).where(fw_department.c.id == dept)).scalar()
    conn.execute(sa.update(fw_department).where(fw_department.c.id == dept).values(head_id=head_id))
    audit.write_entry(conn, actor, "department_change", detail={"department": name},
                      changes={"head_id": (old, head_id)}, at=now or utcnow())


def set_parent(conn: Connection, name: str, parent: str | None, *, actor: Actor = SYSTEM,
               now: datetime | None = None) -> None:
    """Moves department `name` under `parent`; refuses a move that would make a loop; audited."""
    dept = department_id(conn, name)
    parent_id = department_id(conn, parent) if parent else None
    if parent_id is not None and parent_id in subtree(conn, dept):
        raise OrgError(f"{parent!r} lies below {name!r}; a department cannot be moved under itself")
    old = conn.execute(sa.select(fw_department.c.parent_id).where(fw_department.c.id == dept)).scalar()
    conn.execute(sa.update(fw_department).where(fw_department.c.id == dept).values(parent_id=parent_id))
    audit.write_entry(conn, actor, "department_change", detail={"department": name},
                      changes={"parent_id": (old, parent_id)}, at=now or utcnow())


def rename_department(conn: Connection, name: str, new_name: str, *, actor: Actor = SYSTEM,
                      now: datetime | None = None) -> None:
    """Renames department `name`; refuses an empty or taken name; audited."""
    dept = department_id(conn, name)
    new_name = new_name.strip()
    if not new_name:
        raise OrgError("a department needs a name")
    if new_name != name and conn.execute(sa.select(fw_department.c.id).where(fw_department.c.name == new_name)).first():
        raise OrgError(f"a department named {new_name!r} already exists")
    conn.execute(sa.update(fw_department).where(fw_department.c.id == dept).values(name=new_name))
    audit.write_entry(conn, actor, "department_change", detail={"department": new_name},
                      changes={"name": (name, new_name)}, at=now or utcnow())


def delete_department(conn: Connection, name: str, *, actor: Actor = SYSTEM, now: datetime | None = None) -> None:
    """Deletes an empty department; one with members or departments below it is refused."""
    dept = department_id(conn, name)
    below = conn.execute(sa.select(sa.func.count()).where(fw_department.c.parent_id == dept)).scalar_one()
    staff = conn.execute(sa.select(sa.func.count()).where(fw_user.c.department_id == dept)).scalar_one()
    if below or staff:
        raise OrgError(f"{name!r} still has {below} department(s) below it and {staff} member(s); "
                       "move them first")
    conn.execute(sa.delete(fw_department).where(fw_department.c.id == dept))
    audit.write_entry(conn, actor, "department_delete", detail={"department": name}, at=now or utcnow())


def _children(conn: Connection) -> Mapping[int | None, list[int]]:
    children: dict[int | None, list[int]] = {}
    for dept_id, parent_id in conn.execute(sa.select(fw_department.c.id, fw_department.c.parent_id)):
        children.setdefault(parent_id, []).append(dept_id)
    return children


def subtree(conn: Connection, root_id: int) -> frozenset[int]:
    """Returns `root_id` and the ids of every department below it."""
    # Departments number in the tens or hundreds: one read and a walk beats a recursive CTE
    # that both dialects would have to agree on.
    children = _children(conn)
    found, todo = {root_id}, [root_id]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return frozenset(found)


def members(conn: Connection, department_ids: frozenset[int]) -> frozenset[int]:
    """Returns the ids of the users (active or not: they still own records) in those departments."""
    if not department_ids:
        return frozenset()
    return frozenset(conn.execute(sa.select(fw_user.c.id).where(
        fw_user.c.department_id.in_(sorted(department_ids)))).scalars())


def list_departments(conn: Connection) -> list[Department]:
    """Returns every department in tree order (parents before their children, siblings by name)."""
    rows = {r.id: r for r in conn.execute(sa.select(fw_department))}
    heads = dict(conn.execute(sa.select(fw_user.c.id, fw_user.c.username).where(
        fw_user.c.id.in_([r.head_id for r in rows.values() if r.head_id is not None]))).all())
    counts = dict(conn.execute(sa.select(fw_user.c.department_id, sa.func.count()).where(
        fw_user.c.active.is_(True)).group_by(fw_user.c.department_id)).all())
    children = _children(conn)
    ordered: list[Department] = []

    def walk(parent_id: int | None, prefix: str) -> None:
        for dept_id in sorted(children.get(parent_id, ()), key=lambda i: rows[i].name):
            row = rows[dept_id]
            path = f"{prefix}{row.name}"
            ordered.append(Department(row.id, row.name, row.parent_id, row.head_id, path,
                                      heads.get(row.head_id), counts.get(row.id, 0)))
            walk(dept_id, f"{path} / ")

    walk(None, "")
    return ordered
