"""Signing in: password checks, throttling per account and per address, and the audit of logins.

The web UI calls `authenticate`; a throttled attempt is refused before the password is looked at.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine import audit
from engine.db import fw_login_attempt, fw_user, utcnow
from engine.security import SYSTEM, Actor
from engine.users import actor_for, hash_password, password_matches

WINDOW = timedelta(minutes=1)
MAX_FAILURES_PER_ACCOUNT = 5      # the sixth wrong password within WINDOW is throttled
# One office behind one address may mistype several accounts' passwords; many failures from one
# address across accounts is password spraying.
MAX_FAILURES_PER_ADDRESS = 20
KEEP_ATTEMPTS = timedelta(days=1)

# Checked when the username is unknown, so that an unknown name costs as long as a wrong password
# and response times do not tell which usernames exist.
_DUMMY_HASH = hash_password("formwork-timing-equaliser")


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a sign-in: the Actor on success, else why ('invalid' or 'throttled').

    'invalid' covers an unknown user, a wrong password and a deactivated account alike, so the
    page cannot tell a stranger which accounts exist.
    """
    actor: Actor | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.actor is not None


def login_allowed(conn: Connection, username: str, address: str | None, now: datetime) -> bool:
    """Whether a sign-in for `username` from `address` may be tried now (not throttled)."""
    since = now - WINDOW
    failures = sa.select(sa.func.count()).where(fw_login_attempt.c.success.is_(False),
                                                fw_login_attempt.c.at > since)
    if conn.execute(failures.where(fw_login_attempt.c.username == username)).scalar_one() >= MAX_FAILURES_PER_ACCOUNT:
        return False
    if address and conn.execute(failures.where(fw_login_attempt.c.address == address)
                                ).scalar_one() >= MAX_FAILURES_PER_ADDRESS:
        return False
    return True


def record_login(conn: Connection, username: str, success: bool, address: str | None, now: datetime,
                 *, throttled: bool = False) -> None:
    """Records a sign-in attempt for throttling and in the audit log; updates the user's counters."""
    user_id = conn.execute(sa.select(fw_user.c.id).where(fw_user.c.username == username)).scalar()
    if not throttled:   # a throttled attempt must not extend the lock it was refused by
        conn.execute(sa.insert(fw_login_attempt).values(at=now, username=username, address=address,
                                                        success=success))
        conn.execute(sa.delete(fw_login_attempt).where(fw_login_attempt.c.at < now - KEEP_ATTEMPTS))
    if user_id is not None and success:
        conn.execute(sa.update(fw_user).where(fw_user.c.id == user_id).values(failed_logins=0, last_login_at=now))
    elif user_id is not None and not throttled:
        conn.execute(sa.update(fw_user).where(fw_user.c.id == user_id)
                     .values(failed_logins=fw_user.c.failed_logins + 1))
    action = "login" if success else "login_throttled" if throttled else "login_failed"
    actor = Actor(user_id, username) if user_id is not None else SYSTEM
    audit.write_entry(conn, actor, action, detail={"username": username, "address": address}, at=now)


def authenticate(conn: Connection, username: str, password: str, address: str | None,
                 now: datetime | None = None) -> LoginResult:
    """Checks a sign-in and records it; returns the user's Actor, or the reason it was refused.

    Call inside a write transaction: the attempt is recorded whatever the outcome.
    """
    now = now or utcnow()
    username = username.strip()
    if not login_allowed(conn, username, address, now):
        record_login(conn, username, False, address, now, throttled=True)
        return LoginResult(None, "throttled")
    row = conn.execute(sa.select(fw_user.c.id, fw_user.c.password_hash, fw_user.c.active)
                       .where(fw_user.c.username == username)).first()
    matches = password_matches(row.password_hash if row else _DUMMY_HASH, password)
    actor = actor_for(conn, row.id) if row is not None and matches and row.active else None
    record_login(conn, username, actor is not None, address, now)
    return LoginResult(actor, "ok" if actor is not None else "invalid")
