"""Web sessions on the server: each user's session generation, and "remember me" tokens.

A session or token is valid only while it carries its user's current generation; `end_sessions`
raises the generation, so every session and token of that user stops working on its next request.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.security import audit
from engine.security.actors import SYSTEM, Actor
from engine.storage.db import fw_remember_token, fw_user, utcnow

DEFAULT_REMEMBER = timedelta(days=30)


@dataclass(frozen=True)
class SessionKey:
    """What a web session stores to name its user: the id and the generation it began in."""
    user_id: int
    generation: int

    def __str__(self) -> str:
        return f"{self.user_id}:{self.generation}"

    @classmethod
    def parse(cls, text: str) -> SessionKey | None:
        """Returns the key written by `str(key)`, or None for anything else (older cookies too)."""
        user, _, generation = text.partition(":")
        if not (user.isdigit() and generation.isdigit()):
            return None
        return cls(int(user), int(generation))


def current_key(conn: Connection, user_id: int) -> SessionKey | None:
    """Returns the session key a new session of an active user gets, or None for an inactive one."""
    generation = conn.execute(sa.select(fw_user.c.session_generation)
                              .where(fw_user.c.id == user_id, fw_user.c.active.is_(True))).scalar()
    return SessionKey(user_id, generation) if generation is not None else None


def session_valid(conn: Connection, key: SessionKey) -> bool:
    """Whether a session begun with `key` may still act: its user is active and no end since."""
    return current_key(conn, key.user_id) == key


def end_sessions(conn: Connection, user_id: int, reason: str, *, actor: Actor = SYSTEM,
                 now: datetime | None = None) -> None:
    """Ends every web session and remember-me token of a user (on their next request); audited
    with `reason` (logout, password_change, deactivation, role_change, admin)."""
    now = now or utcnow()
    conn.execute(sa.update(fw_user).where(fw_user.c.id == user_id)
                 .values(session_generation=fw_user.c.session_generation + 1))
    conn.execute(sa.update(fw_remember_token).where(fw_remember_token.c.user_id == user_id,
                                                    fw_remember_token.c.revoked_at.is_(None))
                 .values(revoked_at=now))
    audit.write_entry(conn, actor, "sessions_end", "fw_user", user_id, detail={"reason": reason}, at=now)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_remember_token(conn: Connection, key: SessionKey, *, lifetime: timedelta = DEFAULT_REMEMBER,
                         now: datetime | None = None) -> str:
    """Returns a new random remember-me token for the session `key`; only its digest is stored.

    256 random bits, so a fast digest cannot be guessed back; every login gets its own.
    """
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    conn.execute(sa.insert(fw_remember_token).values(
        user_id=key.user_id, digest=_digest(token), generation=key.generation, created_at=now,
        expires_at=now + lifetime))
    return token


def redeem_remember_token(conn: Connection, token: str, *, now: datetime | None = None) -> SessionKey | None:
    """Returns the session key a remember-me token signs its bearer in with, or None when the token
    is unknown, revoked, expired, from an earlier session generation or its user inactive."""
    now = now or utcnow()
    row = conn.execute(sa.select(fw_remember_token).where(fw_remember_token.c.digest == _digest(token),
                                                          fw_remember_token.c.revoked_at.is_(None))).first()
    if row is None or row.expires_at <= now:
        return None
    key = SessionKey(row.user_id, row.generation)
    if not session_valid(conn, key):
        return None
    conn.execute(sa.update(fw_remember_token).where(fw_remember_token.c.id == row.id).values(last_used_at=now))
    return key


def revoke_remember_token(conn: Connection, token: str, *, now: datetime | None = None) -> None:
    """Revokes one remember-me token (the one of the browser logging out); unknown tokens are ignored."""
    conn.execute(sa.update(fw_remember_token).where(fw_remember_token.c.digest == _digest(token),
                                                    fw_remember_token.c.revoked_at.is_(None))
                 .values(revoked_at=now or utcnow()))
