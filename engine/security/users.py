"""Users of an installation: creating them, their passwords and roles, deactivating, and their Actor.

Passwords are stored as werkzeug scrypt hashes; a generated password is shown once and never kept.
"""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from werkzeug.security import check_password_hash, generate_password_hash

from engine.errors import FormworkError
from engine.security import audit, org, sessions
from engine.security.actors import SYSTEM, Actor
from engine.security.delegation import (
    refuse_changing_own_roles,
    refuse_removing_last_administrator,
    refuse_roles_beyond,
    refuse_taking_over_someone_wider,
    refuse_unless_administrator,
)
from engine.security.grants import PermissionSet
from engine.security.passwords import is_common_password, is_one_repeated_character
from engine.security.permissions import load_permissions
from engine.storage.db import fw_api_token, fw_department, fw_role, fw_user, fw_user_role, utcnow

MIN_PASSWORD_LENGTH = 10


class UserError(FormworkError):
    pass


@dataclass(frozen=True)
class NewUser:
    id: int
    username: str
    password: str          # the clear text, to show once


@dataclass(frozen=True)
class UserInfo:
    """A user as the admin pages and the CLI list them."""
    id: int
    username: str
    display_name: str
    email: str | None
    active: bool
    is_admin: bool
    roles: tuple[str, ...]
    department: str | None
    manager: str | None
    locale: str
    timezone: str
    last_login_at: datetime | None
    failed_logins: int


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def password_matches(stored_hash: str | None, password: str) -> bool:
    return bool(stored_hash) and check_password_hash(stored_hash, password)


def password_problems(password: str, username: str) -> list[str]:
    """Returns what is wrong with `password` for `username` (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip().lower() == username.strip().lower():
        problems.append("a password cannot be the username")
    if password.isdigit():
        problems.append("a password cannot be only digits")
    if is_one_repeated_character(password):
        problems.append("a password cannot be one character repeated")
    if is_common_password(password):
        problems.append("that password is on the list of commonly used passwords; choose a less common one")
    return problems


def _require_good_password(password: str, username: str) -> None:
    problems = password_problems(password, username)
    if problems:
        raise UserError("; ".join(problems))


def create_user(conn: Connection, username: str, *, password: str | None = None, display_name: str | None = None,
                email: str | None = None, is_admin: bool = False, roles: Iterable[str] = (),
                department_id: int | None = None, manager_id: int | None = None,
                locale: str = "en", timezone: str = "UTC", actor: Actor = SYSTEM,
                now: datetime | None = None) -> NewUser:
    """Creates a user; returns their id and password (generated when none is given).

    A given password must pass `password_problems`; unknown roles are refused before anything is
    written. The creation is audited (without the password).
    """
    username = username.strip()
    if not username:
        raise UserError("a user needs a username")
    if conn.execute(sa.select(fw_user.c.id).where(fw_user.c.username == username)).first():
        raise UserError(f"a user named {username!r} already exists")
    roles = list(dict.fromkeys(roles))
    _require_roles(conn, roles)
    refuse_roles_beyond(actor, role_rules(conn, roles))
    if is_admin:
        refuse_unless_administrator(actor, f"make {username} an administrator")
    if password is not None:
        _require_good_password(password, username)
    password = password or generate_password()
    user_id = conn.execute(sa.insert(fw_user).values(
        username=username, display_name=display_name or username, email=email,
        password_hash=hash_password(password), is_admin=is_admin, active=True,
        department_id=department_id, manager_id=manager_id, locale=locale, timezone=timezone,
        failed_logins=0, created_at=now or utcnow())).inserted_primary_key[0]
    for role in roles:
        conn.execute(sa.insert(fw_user_role).values(user_id=user_id, role=role))
    audit.write_entry(conn, actor, "user_create", "fw_user", user_id, detail={
        "username": username, "roles": roles, "department_id": department_id, "manager_id": manager_id,
        "is_admin": is_admin}, at=now or utcnow())
    return NewUser(user_id, username, password)


def _require_roles(conn: Connection, roles: Iterable[str]) -> None:
    known = set(conn.execute(sa.select(fw_role.c.name)).scalars())
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise UserError(f"there is no role {unknown[0]!r} (roles: {', '.join(sorted(known)) or 'none'})")


def role_rules(conn: Connection, roles: Iterable[str]) -> dict[str, PermissionSet]:
    """Returns each role's own rules (not merged), to compare with what an actor may hand out."""
    return {role: load_permissions(conn, [role]) for role in roles}


def _target(conn: Connection, username: str) -> sa.Row:
    """Returns the fw_user row of `username`; UserError when there is none."""
    found = conn.execute(sa.select(fw_user).where(fw_user.c.username == username)).first()
    if found is None:
        raise UserError(f"there is no user {username!r}")
    return found


def user_id(conn: Connection, username: str) -> int:
    """Returns the id of user `username`; UserError when there is none."""
    found = conn.execute(sa.select(fw_user.c.id).where(fw_user.c.username == username)).scalar()
    if found is None:
        raise UserError(f"there is no user {username!r}")
    return found


def set_password(conn: Connection, username: str, password: str, *, actor: Actor = SYSTEM,
                 now: datetime | None = None) -> None:
    """Replaces a user's password (it must pass the policy), clears their failed-login count and
    ends their sessions, so whoever held the old password is signed out too.

    PermissionDenied when a non-administrator sets an administrator's password, or the password of
    someone whose roles grant more than the actor holds (that would be taking over their access)."""
    _require_good_password(password, username)
    row = _target(conn, username)
    if row.is_admin:
        refuse_unless_administrator(actor, f"reset the password of {username}")
    target = row.id
    held_roles = conn.execute(sa.select(fw_user_role.c.role).where(fw_user_role.c.user_id == target)).scalars()
    refuse_taking_over_someone_wider(actor, target, role_rules(conn, held_roles),
                                     f"reset the password of {username}")
    conn.execute(sa.update(fw_user).where(fw_user.c.id == target)
                 .values(password_hash=hash_password(password), failed_logins=0))
    sessions.end_sessions(conn, target, "password_change", actor=actor, now=now)
    audit.write_entry(conn, actor, "password_change", "fw_user", target, detail={"username": username},
                      at=now or utcnow())


def set_roles(conn: Connection, username: str, roles: Iterable[str], *, actor: Actor = SYSTEM,
              now: datetime | None = None) -> None:
    """Replaces a user's roles; audited with the old and new lists. A change ends the user's sessions.

    PermissionDenied when the roles change and `actor` is not an administrator but the user is, or is
    `actor` themselves, or an added role grants more than `actor` holds."""
    row = _target(conn, username)
    target = row.id
    roles = sorted(set(roles))
    _require_roles(conn, roles)
    old = sorted(conn.execute(sa.select(fw_user_role.c.role).where(fw_user_role.c.user_id == target)).scalars())
    if roles != old:
        refuse_changing_own_roles(actor, target)
        if row.is_admin:
            refuse_unless_administrator(actor, f"change the roles of {username}")
        refuse_roles_beyond(actor, role_rules(conn, set(roles) - set(old)))
    conn.execute(sa.delete(fw_user_role).where(fw_user_role.c.user_id == target))
    for role in roles:
        conn.execute(sa.insert(fw_user_role).values(user_id=target, role=role))
    audit.write_entry(conn, actor, "user_change", "fw_user", target, changes={"roles": (old, roles)},
                      detail={"username": username}, at=now or utcnow())
    if old != roles:
        sessions.end_sessions(conn, target, "role_change", actor=actor, now=now)


def update_user(conn: Connection, username: str, *, actor: Actor = SYSTEM, now: datetime | None = None,
                **values: object) -> None:
    """Changes a user's profile: display_name, email, department_id, manager_id, locale, timezone,
    is_admin; audited with every changed value. Granting or removing is_admin ends the user's sessions.

    PermissionDenied when a non-administrator changes an administrator or makes someone one, and
    when the last active administrator would stop being one."""
    allowed = {"display_name", "email", "department_id", "manager_id", "locale", "timezone", "is_admin"}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise UserError(f"cannot change {', '.join(unknown)} here (allowed: {', '.join(sorted(allowed))})")
    target = user_id(conn, username)
    old = conn.execute(sa.select(fw_user).where(fw_user.c.id == target)).mappings().one()
    changes = {k: (old[k], v) for k, v in values.items() if old[k] != v}
    if not changes:
        return
    if old["is_admin"] or values.get("is_admin"):
        refuse_unless_administrator(actor, f"change {', '.join(sorted(changes))} of {username}")
    if "is_admin" in changes and not values["is_admin"]:
        refuse_removing_last_administrator(conn, target, f"remove administrator from {username}")
    conn.execute(sa.update(fw_user).where(fw_user.c.id == target).values(values))
    audit.write_entry(conn, actor, "user_change", "fw_user", target, changes=changes,
                      detail={"username": username}, at=now or utcnow())
    if "is_admin" in changes:
        sessions.end_sessions(conn, target, "role_change", actor=actor, now=now)


def deactivate_user(conn: Connection, username: str, *, actor: Actor = SYSTEM, now: datetime | None = None) -> None:
    """Stops a user from signing in, ends their sessions and revokes their API tokens; their records
    stay theirs until reassigned (see ownership.reassign_records). PermissionDenied when a
    non-administrator deactivates an administrator, and for the last active administrator, whoever asks."""
    now = now or utcnow()
    row = _target(conn, username)
    target = row.id
    if row.is_admin:
        refuse_unless_administrator(actor, f"deactivate {username}")
        refuse_removing_last_administrator(conn, target, f"deactivate {username}")
    conn.execute(sa.update(fw_user).where(fw_user.c.id == target).values(active=False))
    conn.execute(sa.update(fw_api_token).where(fw_api_token.c.user_id == target,
                                               fw_api_token.c.revoked_at.is_(None)).values(revoked_at=now))
    sessions.end_sessions(conn, target, "deactivation", actor=actor, now=now)
    audit.write_entry(conn, actor, "user_deactivate", "fw_user", target, detail={"username": username}, at=now)


def reactivate_user(conn: Connection, username: str, *, actor: Actor = SYSTEM, now: datetime | None = None) -> None:
    """Lets a deactivated user sign in again (their old API tokens stay revoked); audited.
    PermissionDenied when a non-administrator reactivates an administrator."""
    row = _target(conn, username)
    target = row.id
    if row.is_admin:
        refuse_unless_administrator(actor, f"reactivate {username}")
    conn.execute(sa.update(fw_user).where(fw_user.c.id == target).values(active=True, failed_logins=0))
    audit.write_entry(conn, actor, "user_reactivate", "fw_user", target, detail={"username": username},
                      at=now or utcnow())


def list_users(conn: Connection, *, include_inactive: bool = True) -> list[UserInfo]:
    """Returns the users ordered by username, with their roles, department and manager names."""
    manager = fw_user.alias("manager")
    query = (sa.select(fw_user, fw_department.c.name.label("department_name"),
                       manager.c.username.label("manager_name"))
             .outerjoin(fw_department, fw_department.c.id == fw_user.c.department_id)
             .outerjoin(manager, manager.c.id == fw_user.c.manager_id)
             .order_by(fw_user.c.username))
    if not include_inactive:
        query = query.where(fw_user.c.active.is_(True))
    roles: dict[int, list[str]] = {}
    for uid, role in conn.execute(sa.select(fw_user_role.c.user_id, fw_user_role.c.role)
                                  .order_by(fw_user_role.c.role)):
        roles.setdefault(uid, []).append(role)
    return [UserInfo(r.id, r.username, r.display_name, r.email, r.active, r.is_admin, tuple(roles.get(r.id, ())),
                     r.department_name, r.manager_name, r.locale, r.timezone, r.last_login_at, r.failed_logins)
            for r in conn.execute(query)]


def actor_for(conn: Connection, user_id: int, *, can_write: bool = True) -> Actor | None:
    """Returns the Actor of an active user, with their merged permissions and department sets, or None."""
    row = conn.execute(sa.select(fw_user).where(fw_user.c.id == user_id, fw_user.c.active.is_(True))).first()
    if row is None:
        return None
    roles = frozenset(conn.execute(sa.select(fw_user_role.c.role).where(fw_user_role.c.user_id == user_id))
                      .scalars())
    own = frozenset({row.department_id}) if row.department_id is not None else frozenset()
    below = org.subtree(conn, row.department_id) if row.department_id is not None else frozenset()
    return Actor(row.id, row.username, is_admin=row.is_admin, roles=roles, department_id=row.department_id,
                 locale=row.locale, permissions=load_permissions(conn, roles), department_ids=own,
                 subtree_ids=below, department_members=org.members(conn, own),
                 subtree_members=org.members(conn, below), timezone=row.timezone, can_write=can_write)


def actor_by_name(conn: Connection, username: str) -> Actor | None:
    """Returns the Actor of the active user called `username`, or None."""
    found = conn.execute(sa.select(fw_user.c.id).where(fw_user.c.username == username)).scalar()
    return actor_for(conn, found) if found is not None else None


def user_count(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(fw_user)).scalar_one()
