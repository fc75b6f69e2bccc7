"""Timers: scheduled in the caller's transaction, fired once each by the sweep, retried on failure."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from engine.flows import timers
from engine.flows.notifications import NewNotification, latest, mark_read, notify, unread_count
from engine.security.users import create_user
from engine.storage.db import fw_notification, fw_timer

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _schedule(runtime, key: str, due: datetime, payload: dict | None = None, kind: str = "test") -> int:
    with runtime.engine.begin() as conn:
        return timers.schedule(conn, kind, key, due, payload or {}, now=T0)


def _notes(runtime) -> list[str]:
    with runtime.engine.connect() as conn:
        return [row.message for row in conn.execute(sa.select(fw_notification).order_by(fw_notification.c.id))]


def _user(runtime, name: str = "ann") -> int:
    with runtime.engine.begin() as conn:
        return create_user(conn, name, display_name=name.title(), password="correct horse battery").id


def _writing(user_id: int):
    def handler(firing: timers.Firing, timer: timers.Timer) -> None:
        notify(firing.conn, [NewNotification(user_id, timer.payload["say"])], now=firing.now)
    return handler


def test_a_timer_scheduled_again_under_its_key_replaces_the_pending_one(runtime):
    _schedule(runtime, "quote:1", T0 + timedelta(days=1))
    _schedule(runtime, "quote:1", T0 + timedelta(days=2))
    with runtime.engine.connect() as conn:
        assert [t.due_at for t in timers.pending(conn, "test")] == [T0 + timedelta(days=2)]


def test_a_rolled_back_transaction_schedules_nothing(runtime):
    try:
        with runtime.engine.begin() as conn:
            timers.schedule(conn, "test", "quote:1", T0, now=T0)
            raise RuntimeError("the save failed")
    except RuntimeError:
        pass
    with runtime.engine.connect() as conn:
        assert timers.pending(conn) == []


def test_the_sweep_fires_only_the_timers_that_are_due(runtime):
    user = _user(runtime)
    _schedule(runtime, "a", T0, {"say": "due"})
    _schedule(runtime, "b", T0 + timedelta(hours=1), {"say": "later"})
    result = timers.sweep(runtime, {"test": _writing(user)}, now=T0 + timedelta(minutes=30))
    assert (result.fired, result.failed) == (1, 0)
    assert _notes(runtime) == ["due"]


def test_a_fired_timer_does_not_fire_again(runtime):
    user = _user(runtime)
    _schedule(runtime, "a", T0, {"say": "once"})
    handlers = {"test": _writing(user)}
    timers.sweep(runtime, handlers, now=T0)
    assert timers.sweep(runtime, handlers, now=T0 + timedelta(days=1)).fired == 0
    assert _notes(runtime) == ["once"]


def test_a_cancelled_timer_never_fires(runtime):
    user = _user(runtime)
    _schedule(runtime, "quote:1:step", T0, {"say": "x"})
    with runtime.engine.begin() as conn:
        assert timers.cancel_prefix(conn, "test", "quote:1:") == 1
    assert timers.sweep(runtime, {"test": _writing(user)}, now=T0).fired == 0


def test_a_failing_handler_leaves_nothing_written_and_is_retried_later(runtime):
    user = _user(runtime)
    _schedule(runtime, "a", T0, {"say": "half"})

    def failing(firing: timers.Firing, timer: timers.Timer) -> None:
        _writing(user)(firing, timer)
        raise RuntimeError("mail server said no")

    result = timers.sweep(runtime, {"test": failing}, now=T0)
    assert result.failed == 1 and "mail server said no" in result.errors[0]
    assert _notes(runtime) == []
    with runtime.engine.connect() as conn:
        (timer,) = timers.pending(conn)
    assert timer.attempts == 1 and timer.due_at == T0 + timers.BACKOFF[0]
    assert timers.sweep(runtime, {"test": _writing(user)}, now=timer.due_at).fired == 1
    assert _notes(runtime) == ["half"]


def test_a_timer_that_keeps_failing_is_given_up_with_its_error(runtime):
    _schedule(runtime, "a", T0)
    now = T0
    for _ in range(timers.MAX_ATTEMPTS):
        timers.sweep(runtime, {}, now=now)
        now += timedelta(days=1)
    with runtime.engine.connect() as conn:
        row = conn.execute(sa.select(fw_timer)).one()
    assert (row.status, row.attempts) == ("failed", timers.MAX_ATTEMPTS)
    assert "no handler for timers of kind 'test'" in row.last_error


def test_two_workers_sweeping_at_once_fire_each_timer_once(runtime):
    user = _user(runtime)
    for n in range(20):
        _schedule(runtime, f"k{n}", T0, {"say": f"n{n}"})
    results: list[timers.SweepResult] = []
    start = threading.Barrier(2)

    def worker() -> None:
        start.wait()
        results.append(timers.sweep(runtime, {"test": _writing(user)}, now=T0))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.fired for r in results) == 20
    assert sorted(_notes(runtime)) == sorted(f"n{n}" for n in range(20))


def test_notifications_count_unread_and_are_marked_read_only_for_their_user(runtime):
    ann, bob = _user(runtime, "ann"), _user(runtime, "bob")
    with runtime.engine.begin() as conn:
        notify(conn, [NewNotification(ann, "one"), NewNotification(ann, "two"), NewNotification(bob, "bob's")],
               now=T0)
    with runtime.engine.begin() as conn:
        first = latest(conn, ann)[-1]
        assert mark_read(conn, bob, [first.id], now=T0) == 0
        assert mark_read(conn, ann, [first.id], now=T0) == 1
        assert unread_count(conn, ann) == 1
        assert [n.message for n in latest(conn, ann, unread_only=True)] == ["two"]
        assert mark_read(conn, ann, now=T0) == 1
        assert unread_count(conn, ann) == 0 and unread_count(conn, bob) == 1
