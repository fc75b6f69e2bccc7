"""Timers: work due at a time, kept as rows and fired by the worker's sweep.

A timer is scheduled inside the transaction of what made it due (an approval step that started,
a record whose date field changed), so a rolled-back save leaves none. The sweep fires each due
timer in a transaction of its own that first flips the row from pending to fired: two workers
racing for one row both try that update and only one matches (PostgreSQL re-checks the condition
after the row lock; SQLite takes one writer at a time), and the handler's writes commit with the
flip, so a worker that dies mid-way leaves the timer pending for the next sweep. A handler that
raises leaves its writes undone; the timer is retried with backoff and fails after MAX_ATTEMPTS.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.storage.db import fw_timer, write_transaction

MAX_ATTEMPTS = 5
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))


@dataclass(frozen=True)
class Timer:
    id: int
    kind: str
    key: str
    due_at: datetime
    payload: Mapping[str, Any]
    status: str
    attempts: int
    last_error: str | None

    @classmethod
    def from_row(cls, row: Any) -> Timer:
        return cls(row.id, row.kind, row.key, row.due_at, row.payload, row.status, row.attempts, row.last_error)


@dataclass(frozen=True)
class Firing:
    """What a handler is given: the runtime (registry, services, clock), the connection of the
    firing's transaction and the time the sweep runs at."""
    runtime: Any
    conn: Connection
    now: datetime


TimerHandler = Callable[[Firing, Timer], None]


@dataclass
class SweepResult:
    fired: int = 0
    failed: int = 0                       # raised this time (retried later or given up)
    taken: int = 0                        # fired by another worker first
    errors: list[str] = field(default_factory=list)


# -- scheduling, inside the caller's transaction -------------------------------------------------
def schedule(conn: Connection, kind: str, key: str, due_at: datetime, payload: Mapping[str, Any] | None = None,
             *, now: datetime) -> int:
    """Makes `kind`/`key` due at `due_at`, replacing a pending timer of the same kind and key;
    returns the new timer's id."""
    cancel(conn, kind, key)
    return conn.execute(sa.insert(fw_timer).values(
        kind=kind, key=key, due_at=due_at, payload=dict(payload or {}), status="pending", attempts=0,
        created_at=now).returning(fw_timer.c.id)).scalar_one()


def cancel(conn: Connection, kind: str, key: str | None = None) -> int:
    """Cancels the pending timers of `kind` (and `key`, when given); returns how many."""
    query = sa.update(fw_timer).where(fw_timer.c.kind == kind, fw_timer.c.status == "pending")
    if key is not None:
        query = query.where(fw_timer.c.key == key)
    return conn.execute(query.values(status="cancelled")).rowcount


def cancel_prefix(conn: Connection, kind: str, prefix: str) -> int:
    """Cancels the pending timers of `kind` whose key starts with `prefix` (all of one record's)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return conn.execute(sa.update(fw_timer).where(
        fw_timer.c.kind == kind, fw_timer.c.status == "pending",
        fw_timer.c.key.like(escaped + "%", escape="\\")).values(status="cancelled")).rowcount


def pending(conn: Connection, kind: str | None = None, key: str | None = None) -> list[Timer]:
    """Returns the pending timers (of a kind, of a key), the soonest first."""
    query = sa.select(fw_timer).where(fw_timer.c.status == "pending").order_by(fw_timer.c.due_at, fw_timer.c.id)
    if kind is not None:
        query = query.where(fw_timer.c.kind == kind)
    if key is not None:
        query = query.where(fw_timer.c.key == key)
    return [Timer.from_row(row) for row in conn.execute(query)]


# -- firing, by the worker -----------------------------------------------------------------------
def due_ids(conn: Connection, now: datetime, *, limit: int = 1000) -> list[int]:
    return list(conn.execute(sa.select(fw_timer.c.id)
                             .where(fw_timer.c.status == "pending", fw_timer.c.due_at <= now)
                             .order_by(fw_timer.c.due_at, fw_timer.c.id).limit(limit)).scalars())


def sweep(runtime: Any, handlers: Mapping[str, TimerHandler], *, now: datetime | None = None,
          limit: int = 1000) -> SweepResult:
    """Fires up to `limit` due timers, each in its own transaction; returns what happened."""
    now = now or runtime.clock()
    result = SweepResult()
    with runtime.engine.connect() as conn:
        ids = due_ids(conn, now, limit=limit)
    for timer_id in ids:
        outcome = fire(runtime, handlers, timer_id, now=now)
        if outcome == "fired":
            result.fired += 1
        elif outcome == "taken":
            result.taken += 1
        else:
            result.failed += 1
            result.errors.append(outcome)
    return result


def fire(runtime: Any, handlers: Mapping[str, TimerHandler], timer_id: int, *, now: datetime) -> str:
    """Fires one timer if it is still pending and due; returns "fired", "taken" or the error."""
    try:
        with write_transaction(runtime.engine) as conn:
            row = conn.execute(sa.update(fw_timer)
                               .where(fw_timer.c.id == timer_id, fw_timer.c.status == "pending",
                                      fw_timer.c.due_at <= now)
                               .values(status="fired", fired_at=now, attempts=fw_timer.c.attempts + 1)
                               .returning(*fw_timer.c)).first()
            if row is None:
                return "taken"
            timer = Timer.from_row(row)
            handler = handlers.get(timer.kind)
            if handler is None:
                raise LookupError(f"no handler for timers of kind {timer.kind!r}")
            handler(Firing(runtime, conn, now), timer)
        return "fired"
    except Exception as exc:   # noqa: BLE001 - any failure is the timer's, recorded on its row
        error = f"{type(exc).__name__}: {exc}"
        _record_failure(runtime, timer_id, error, now)
        return error


def _record_failure(runtime: Any, timer_id: int, error: str, now: datetime) -> None:
    with write_transaction(runtime.engine) as conn:
        attempts = conn.execute(sa.select(fw_timer.c.attempts).where(fw_timer.c.id == timer_id)).scalar_one() + 1
        retry = attempts < MAX_ATTEMPTS
        conn.execute(sa.update(fw_timer).where(fw_timer.c.id == timer_id).values(
            attempts=attempts, last_error=error, status="pending" if retry else "failed",
            due_at=now + BACKOFF[min(attempts, len(BACKOFF)) - 1] if retry else fw_timer.c.due_at))
