"""Signing in: password checks, account locks and throttling per address, and the audit of logins.

The web UI calls `authenticate`; a throttled attempt is refused before the password is looked at.
Five failures in a row lock the username for a minute, each further burst doubles the lock up to
an hour; a successful sign-in or an administrator's unlock resets it. Unknown usernames lock alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.security import audit
from engine.security.actors import SYSTEM, Actor
from engine.security.users import actor_for, hash_password, password_matches
from engine.security.users import user_id as id_of_user
from engine.storage.db import fw_login_attempt, fw_login_lock, fw_user, utcnow

WINDOW = timedelta(minutes=1)
MAX_FAILURES_PER_ACCOUNT = 5      # the fifth wrong password in a burst locks the username
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
# A failure this long after the previous one starts a new burst; a day without failures forgets
# the earlier locks, so a mistyped password next week costs one minute again, not an hour.
BURST_GAP = timedelta(minutes=15)
FORGET_LOCKS = timedelta(days=1)
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


def lock_length(strikes: int) -> timedelta:
    """How long the `strikes`-th lock in a row lasts: a minute, doubling each time, at most an hour."""
    return min(FIRST_LOCK * 2 ** (strikes - 1), LONGEST_LOCK)


def locked_until(conn: Connection, username: str, now: datetime) -> datetime | None:
    """Returns when the lock on `username` ends, or None when it is not locked at `now`."""
    until = conn.execute(sa.select(fw_login_lock.c.locked_until)
                         .where(fw_login_lock.c.username == username)).scalar()
    return until if until is not None and until > now else None


def login_allowed(conn: Connection, username: str, address: str | None, now: datetime) -> bool:
    """Whether a sign-in for `username` from `address` may be tried now (not locked nor throttled)."""
    if locked_until(conn, username, now) is not None:
        return False
    failures = sa.select(sa.func.count()).where(fw_login_attempt.c.success.is_(False),
                                                fw_login_attempt.c.at > now - WINDOW)
    if address and conn.execute(failures.where(fw_login_attempt.c.address == address)
                                ).scalar_one() >= MAX_FAILURES_PER_ADDRESS:
        return False
    return True


def _count_failure(conn: Connection, username: str, now: datetime) -> None:
    """Adds a failure to `username`'s burst; the burst's last allowed failure locks the name."""
    conn.execute(_insert_lock_row(conn).values(username=username, failures=0, strikes=0, last_failure_at=now)
                 .on_conflict_do_nothing(index_elements=["username"]))
    row = conn.execute(sa.select(fw_login_lock).where(fw_login_lock.c.username == username)
                       .with_for_update()).one()
    quiet = now - row.last_failure_at
    failures = (row.failures if quiet < BURST_GAP else 0) + 1
    strikes = row.strikes if quiet < FORGET_LOCKS else 0
    until = row.locked_until
    if failures >= MAX_FAILURES_PER_ACCOUNT:
        failures, strikes = 0, strikes + 1
        until = now + lock_length(strikes)
    conn.execute(sa.update(fw_login_lock).where(fw_login_lock.c.username == username).values(
        failures=failures, strikes=strikes, last_failure_at=now, locked_until=until))


def _insert_lock_row(conn: Connection):
    # Two first failures at once must not collide on the primary key: insert-or-nothing, both dialects.
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(fw_login_lock)


def unlock_account(conn: Connection, username: str, *, actor: Actor = SYSTEM, now: datetime | None = None) -> None:
    """Lifts the lock on a user's sign-in and forgets their failures (an administrator's unlock); audited."""
    target = id_of_user(conn, username)
    conn.execute(sa.delete(fw_login_lock).where(fw_login_lock.c.username == username))
    conn.execute(sa.update(fw_user).where(fw_user.c.id == target).values(failed_logins=0))
    audit.write_entry(conn, actor, "login_unlock", "fw_user", target, detail={"username": username},
                      at=now or utcnow())


def record_login(conn: Connection, username: str, success: bool, address: str | None, now: datetime,
                 *, throttled: bool = False) -> None:
    """Records a sign-in attempt for throttling and in the audit log; updates the user's counters."""
    user_id = conn.execute(sa.select(fw_user.c.id).where(fw_user.c.username == username)).scalar()
    if not throttled:   # a throttled attempt must not extend the lock it was refused by
        conn.execute(sa.insert(fw_login_attempt).values(at=now, username=username, address=address,
                                                        success=success))
        conn.execute(sa.delete(fw_login_attempt).where(fw_login_attempt.c.at < now - KEEP_ATTEMPTS))
    if success:
        conn.execute(sa.delete(fw_login_lock).where(fw_login_lock.c.username == username))
    elif not throttled:
        _count_failure(conn, username, now)
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


def current_password_matches(conn: Connection, actor: Actor, password: str, *, now: datetime | None = None) -> bool:
    """Whether `password` is the actor's current one, asked before they change it (then
    users.set_password). A wrong one counts towards the sign-in lock, and while the lock holds every
    answer is False, so a stolen session cannot be used to guess the password behind it; call it in
    a transaction of its own, committed whatever the answer."""
    now = now or utcnow()
    if actor.id is None or locked_until(conn, actor.username, now) is not None:
        return False
    stored = conn.execute(sa.select(fw_user.c.password_hash).where(fw_user.c.id == actor.id)).scalar()
    if password_matches(stored, password):
        return True
    _count_failure(conn, actor.username, now)
    return False
