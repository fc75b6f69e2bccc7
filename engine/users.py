"""Users of an installation: creating them, their passwords, and finding them by name.

Passwords are stored as werkzeug scrypt hashes; a generated password is shown once and never kept.
"""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from werkzeug.security import check_password_hash, generate_password_hash

from engine.db import fw_role, fw_user, fw_user_role, utcnow
from engine.errors import FormworkError
from engine.security import Actor


class UserError(FormworkError):
    pass


@dataclass(frozen=True)
class NewUser:
    id: int
    username: str
    password: str          # the clear text, to show once


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def password_matches(stored_hash: str | None, password: str) -> bool:
    return bool(stored_hash) and check_password_hash(stored_hash, password)


def create_user(conn: Connection, username: str, *, password: str | None = None, display_name: str | None = None,
                email: str | None = None, is_admin: bool = False, roles: Iterable[str] = (),
                department_id: int | None = None, manager_id: int | None = None,
                locale: str = "en") -> NewUser:
    """Creates a user; returns their id and password (generated when none is given)."""
    if conn.execute(sa.select(fw_user.c.id).where(fw_user.c.username == username)).first():
        raise UserError(f"a user named {username!r} already exists")
    password = password or generate_password()
    user_id = conn.execute(sa.insert(fw_user).values(
        username=username, display_name=display_name or username, email=email,
        password_hash=hash_password(password), is_admin=is_admin, active=True,
        department_id=department_id, manager_id=manager_id, locale=locale, timezone="UTC",
        failed_logins=0, created_at=utcnow())).inserted_primary_key[0]
    for role in roles:
        if not conn.execute(sa.select(fw_role.c.name).where(fw_role.c.name == role)).first():
            raise UserError(f"there is no role {role!r}")
        conn.execute(sa.insert(fw_user_role).values(user_id=user_id, role=role))
    return NewUser(user_id, username, password)


def set_password(conn: Connection, username: str, password: str) -> None:
    result = conn.execute(sa.update(fw_user).where(fw_user.c.username == username)
                          .values(password_hash=hash_password(password)))
    if result.rowcount != 1:
        raise UserError(f"there is no user {username!r}")


def actor_for(conn: Connection, user_id: int) -> Actor | None:
    """Returns the Actor of an active user, with their roles, or None."""
    row = conn.execute(sa.select(fw_user).where(fw_user.c.id == user_id, fw_user.c.active.is_(True))).first()
    if row is None:
        return None
    roles = frozenset(conn.execute(sa.select(fw_user_role.c.role).where(fw_user_role.c.user_id == user_id))
                      .scalars())
    return Actor(row.id, row.username, is_admin=row.is_admin, roles=roles, department_id=row.department_id,
                 locale=row.locale)


def user_count(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(fw_user)).scalar_one()
