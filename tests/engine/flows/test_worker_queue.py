"""The worker: one sweep fires the due timers and delivers the outbox; Huey runs that sweep as a
periodic task on SQLite by default and on Redis when FORMWORK_REDIS_URL is set."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from databases import redis_url_or_skip
from worker_fixtures import NOTIFY_OWNER, T0, install_with, make_user

from engine.config import load_config
from engine.flows import outbox, timers
from engine.flows.notifications import latest
from engine.flows.outbox import OutboxMessage, queue_messages
from engine.flows.worker import make_huey, make_worker, sweep_once
from engine.storage.db import fw_notification, write_transaction


def notifications(runtime, user_id: int) -> list[str]:
    with runtime.engine.connect() as conn:
        return [n.message for n in latest(conn, user_id)]


def queue_notification(runtime, user_id: int, message: str) -> None:
    with write_transaction(runtime.engine) as conn:
        queue_messages(conn, [OutboxMessage("notification", {
            "entity": "lead", "record_id": 7, "recipients": [{"user_id": user_id, "message": message}]})],
            flow="tell_owner", run_id=None, now=runtime.clock())


def test_a_notify_action_needs_no_delivery_and_a_queued_notification_is_delivered_once(runtime, clock):
    install_with(runtime, NOTIFY_OWNER)
    owner = make_user(runtime, "ann")
    lead = runtime.records().create("lead", {"name": "Bo", "owner_id": owner})
    assert sweep_once(runtime).delivered.sent == 0   # written with the save, in the app at once
    queue_notification(runtime, owner, "queued before the upgrade")
    assert sweep_once(runtime).delivered.sent == 1
    assert sweep_once(runtime, now=T0 + timedelta(days=1)).delivered.sent == 0
    with runtime.engine.connect() as conn:
        queued, note = latest(conn, owner)
    assert queued.message == "queued before the upgrade"
    assert (note.message, note.entity, note.record_id, note.flow) == ("New lead", "lead", lead["id"], "tell_owner")


def test_a_notification_whose_user_is_gone_is_retried_and_writes_nothing(runtime, clock):
    queue_notification(runtime, 999_999, "to nobody")
    assert sweep_once(runtime).delivered.retried == 1
    with runtime.engine.connect() as conn:
        [row] = outbox.outbox_rows(conn)
        assert conn.execute(sa.select(sa.func.count()).select_from(fw_notification)).scalar_one() == 0
    assert row.status == "pending" and row.last_error


def test_a_sweep_fires_due_timers_and_delivers_what_they_queued_in_the_same_pass(runtime, clock):
    user = make_user(runtime, "ann")
    with write_transaction(runtime.engine) as conn:
        timers.schedule(conn, "remind", "quote:1", T0 + timedelta(hours=1), {"user": user}, now=T0)

    def remind(firing: timers.Firing, timer: timers.Timer) -> None:
        queue_messages(firing.conn, [OutboxMessage("notification", {
            "recipients": [{"user_id": timer.payload["user"], "message": "Quote 1 waits for you"}]})],
            flow="quote_approval", run_id=None, now=firing.now)

    assert sweep_once(runtime, handlers={"remind": remind}).timers.fired == 0
    report = sweep_once(runtime, now=T0 + timedelta(hours=1), handlers={"remind": remind})
    assert (report.timers.fired, report.delivered.sent) == (1, 1)
    assert notifications(runtime, user) == ["Quote 1 waits for you"]


def test_the_queue_is_sqlite_in_the_instance_folder_unless_redis_is_configured(tmp_path):
    huey = make_huey(load_config({"FORMWORK_INSTANCE": str(tmp_path)}))
    assert type(huey).__name__ == "SqliteHuey" and huey.storage.filename == str(tmp_path / "huey.db")
    redis_huey = make_huey(load_config({"FORMWORK_INSTANCE": str(tmp_path),
                                        "FORMWORK_REDIS_URL": "redis://127.0.0.1:6379/3"}))
    assert type(redis_huey).__name__ == "RedisHuey"


def test_the_sweep_task_runs_in_huey_immediate_mode(runtime, tmp_path):
    user = make_user(runtime, "ann")
    queue_notification(runtime, user, "hello")
    worker = make_worker(load_config({"FORMWORK_INSTANCE": str(tmp_path)}), lambda: runtime, immediate=True)
    worker.sweep()
    assert notifications(runtime, user) == ["hello"]


class RunningConsumer:
    """The worker's consumer running in threads of this process while the block runs."""

    def __init__(self, worker):
        self.consumer = worker.consumer(embedded=True)

    def __enter__(self) -> RunningConsumer:
        self.consumer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.consumer.stop(graceful=True)

    @staticmethod
    def wait_until(done, *, seconds: float = 30) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if done():
                return True
            time.sleep(0.05)
        return False


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_the_consumer_runs_the_sweep_again_every_interval(runtime, tmp_path, backend):
    env = {"FORMWORK_INSTANCE": str(tmp_path)}
    if backend == "redis":
        env["FORMWORK_REDIS_URL"] = redis_url_or_skip()
    user = make_user(runtime, "ann")
    queue_notification(runtime, user, "first")
    worker = make_worker(load_config(env), lambda: runtime, interval=1, name=f"test-{uuid.uuid4().hex[:8]}")
    try:
        with RunningConsumer(worker) as running:
            assert running.wait_until(lambda: notifications(runtime, user) == ["first"])
            queue_notification(runtime, user, "second")   # Huey's own period (a minute) would be too late
            assert running.wait_until(lambda: notifications(runtime, user) == ["second", "first"], seconds=15)
    finally:
        worker.huey.storage.flush_all()

def test_a_row_that_breaks_its_sender_is_retried_and_the_rows_after_it_are_still_delivered(runtime, clock):
    user = make_user(runtime, "ann")
    with write_transaction(runtime.engine) as conn:
        queue_messages(conn, [OutboxMessage("webhook", {"body": {}})], flow="broken", run_id=None, now=T0)
    queue_notification(runtime, user, "after the broken one")
    report = sweep_once(runtime)
    assert (report.delivered.retried, report.delivered.sent) == (1, 1)
    assert notifications(runtime, user) == ["after the broken one"]
    with runtime.engine.connect() as conn:
        broken = min(outbox.outbox_rows(conn), key=lambda r: r.id)
    assert broken.status == "pending" and broken.last_error.startswith("KeyError")
