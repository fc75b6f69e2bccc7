"""API tokens: created for a user with a read or write scope and an expiry, verified, revoked.

Only a SHA-256 digest is stored; the token is 256 random bits, so a fast hash cannot be guessed back.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.errors import FormworkError, PermissionDenied
from engine.security import audit
from engine.security.actors import Actor
from engine.security.users import actor_for
from engine.storage.db import fw_api_token, fw_user, utcnow

PREFIX = "fw_"
SCOPES = ("read", "write")
DEFAULT_LIFETIME = timedelta(days=90)


class TokenError(FormworkError):
    pass


@dataclass(frozen=True)
class NewToken:
    id: int
    token: str          # the clear text, to show once
    expires_at: datetime | None


@dataclass(frozen=True)
class TokenInfo:
    """A token as its owner's settings page lists it (never the token itself)."""
    id: int
    user_id: int
    name: str
    prefix: str
    scope: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, actor: Actor, name: str, *, scope: str = "read", user_id: int | None = None,
                 lifetime: timedelta | None = DEFAULT_LIFETIME, now: datetime | None = None) -> NewToken:
    """Creates a token for `user_id` (default: the actor); returns it in clear, once.

    The actor needs the `api` right for their own tokens and the `users` right for another's.
    `lifetime` None makes a token that does not expire.
    """
    now = now or utcnow()
    owner = actor.id if user_id is None else user_id
    if owner is None:
        raise TokenError("a token belongs to a user; name one")
    if not actor.has_right("api" if owner == actor.id else "users"):
        raise PermissionDenied("you may not create API tokens")
    if scope not in SCOPES:
        raise TokenError(f"{scope!r} is not a token scope (use read or write)")
    token = PREFIX + secrets.token_urlsafe(32)
    expires_at = now + lifetime if lifetime is not None else None
    token_id = conn.execute(sa.insert(fw_api_token).values(
        user_id=owner, name=name, digest=_digest(token), prefix=token[:10], scope=scope, created_at=now,
        expires_at=expires_at)).inserted_primary_key[0]
    audit.write_entry(conn, actor, "token_create", "fw_api_token", token_id,
                      detail={"user_id": owner, "name": name, "scope": scope}, at=now)
    return NewToken(token_id, token, expires_at)


def verify_token(conn: Connection, token: str, *, now: datetime | None = None) -> Actor | None:
    """Returns the Actor a request bearing `token` acts as, or None when the token is unknown,
    revoked, expired or its user inactive. A read-scoped token gives an Actor that cannot write.
    Records the token's last use."""
    now = now or utcnow()
    row = conn.execute(sa.select(fw_api_token).join(fw_user, fw_user.c.id == fw_api_token.c.user_id)
                       .where(fw_api_token.c.digest == _digest(token), fw_api_token.c.revoked_at.is_(None),
                              fw_user.c.active.is_(True))).first()
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    conn.execute(sa.update(fw_api_token).where(fw_api_token.c.id == row.id).values(last_used_at=now))
    return actor_for(conn, row.user_id, can_write=row.scope == "write")


def revoke_token(conn: Connection, actor: Actor, token_id: int, *, now: datetime | None = None) -> None:
    """Revokes a token: its owner may, and so may an actor with the `users` right. Audited."""
    now = now or utcnow()
    owner = conn.execute(sa.select(fw_api_token.c.user_id).where(fw_api_token.c.id == token_id)).scalar()
    if owner is None or (owner != actor.id and not actor.has_right("users")):
        raise TokenError(f"there is no token {token_id} of yours")
    conn.execute(sa.update(fw_api_token).where(fw_api_token.c.id == token_id, fw_api_token.c.revoked_at.is_(None))
                 .values(revoked_at=now))
    audit.write_entry(conn, actor, "token_revoke", "fw_api_token", token_id, detail={"user_id": owner}, at=now)


def list_tokens(conn: Connection, user_id: int) -> list[TokenInfo]:
    """Returns a user's tokens, newest first."""
    rows = conn.execute(sa.select(fw_api_token).where(fw_api_token.c.user_id == user_id)
                        .order_by(fw_api_token.c.id.desc()))
    return [TokenInfo(r.id, r.user_id, r.name, r.prefix, r.scope, r.created_at, r.expires_at, r.last_used_at,
                      r.revoked_at) for r in rows]
