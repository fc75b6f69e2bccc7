"""The background worker: a Huey queue whose periodic task delivers the outbox and fires timers.

Huey keeps its queue in the instance folder's SQLite file by default and in Redis when
FORMWORK_REDIS_URL is set; `formwork worker` runs its consumer, and `python run.py` embeds one in
the web process. The work itself is `sweep_once`, safe to run in several workers at once: every
outbox row and timer is claimed in the database before it is acted on.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from huey import RedisHuey, SqliteHuey
from huey.api import Huey, TaskWrapper
from huey.consumer import Consumer, Scheduler

from engine.config import Config
from engine.flows import timers
from engine.flows.delivery import DeliveryResult, DeliverySettings, deliver_due
from engine.flows.handlers import timer_handlers

SWEEP_TASK = "formwork.sweep"
QUEUE_NAME = "formwork"
HUEY_FILE = "huey.db"
log = logging.getLogger("formwork.worker")


@dataclass
class SweepReport:
    delivered: DeliveryResult
    timers: timers.SweepResult

    @property
    def did_something(self) -> bool:
        d, t = self.delivered, self.timers
        return bool(d.sent or d.held or d.retried or d.failed or t.fired or t.failed)

    def __str__(self) -> str:
        d, t = self.delivered, self.timers
        return (f"outbox: {d.sent} sent, {d.held} held, {d.retried} to retry, {d.failed} failed; "
                f"timers: {t.fired} fired, {t.failed} failed")


def sweep_once(runtime: Any, *, now: datetime | None = None,
               handlers: Mapping[str, timers.TimerHandler] | None = None,
               settings: DeliverySettings | None = None) -> SweepReport:
    """Fires the due timers, then delivers the outbox rows due at `now` (those the timers just
    queued included); returns what happened. The periodic task calls this; tests call it with
    a controllable clock."""
    now = now or runtime.clock()
    fired = timers.sweep(runtime, timer_handlers() if handlers is None else handlers, now=now)
    delivered = deliver_due(runtime, now=now, settings=settings)
    for error in [*fired.errors, *delivered.errors]:
        log.warning("%s", error)
    report = SweepReport(delivered, fired)
    if report.did_something:
        log.info("%s", report)
    return report


# -- the queue -----------------------------------------------------------------------------------
def make_huey(config: Config, *, immediate: bool = False, name: str = QUEUE_NAME) -> Huey:
    """Returns the Huey of this instance: Redis when configured, else SQLite in the instance folder."""
    if config.redis_url:
        return RedisHuey(name, url=config.redis_url, immediate=immediate)
    return SqliteHuey(name, filename=str(config.instance / HUEY_FILE), immediate=immediate)


class SweepConsumer(Consumer):
    """Huey's consumer, its scheduler enqueuing periodic tasks every `sweep_seconds` (Huey's own
    is every minute). An embedded one (run.py's) leaves the process's signals to the web server
    that hosts it."""

    def __init__(self, huey: Huey, *, sweep_seconds: int, embedded: bool = False, **options: Any):
        self.sweep_seconds = sweep_seconds
        self.embedded = embedded
        super().__init__(huey, **options)

    def _create_scheduler(self) -> Scheduler:
        scheduler = super()._create_scheduler()
        scheduler.periodic_task_seconds = self.sweep_seconds
        return scheduler

    def _set_signal_handlers(self) -> None:
        if not self.embedded:
            super()._set_signal_handlers()


@dataclass
class Worker:
    """A Huey with the sweep registered as a periodic task every `interval` seconds."""
    huey: Huey
    sweep: TaskWrapper
    interval: int

    def consumer(self, *, embedded: bool = False, **options: Any) -> SweepConsumer:
        options.setdefault("workers", 1)
        options.setdefault("scheduler_interval", 1)
        return SweepConsumer(self.huey, sweep_seconds=self.interval, embedded=embedded, **options)


def make_worker(config: Config, runtime_factory: Callable[[], Any], *, immediate: bool = False,
                interval: int | None = None, name: str = QUEUE_NAME) -> Worker:
    """Returns the worker of this instance. The runtime is made on the first sweep, in the
    process that runs it, and kept for the next ones."""
    huey = make_huey(config, immediate=immediate, name=name)
    runtimes: list[Any] = []
    lock = threading.Lock()

    def runtime() -> Any:
        with lock:
            if not runtimes:
                runtimes.append(runtime_factory())
            return runtimes[0]

    # Each sweep claims its rows one by one, so two sweeps at once (two workers, or a slow one
    # overlapping the next) never deliver a row twice; the lock only spares the duplicate work.
    @huey.periodic_task(lambda _when: True, name=SWEEP_TASK)
    @huey.lock_task(f"{SWEEP_TASK}.lock")
    def sweep() -> str:
        return str(sweep_once(runtime()))

    return Worker(huey, sweep, interval or config.sweep_seconds)


class EmbeddedWorker:
    """A consumer running in threads of this process (run.py), started and stopped with it."""

    def __init__(self, worker: Worker):
        self.worker = worker
        self.consumer = worker.consumer(embedded=True)

    def start(self) -> None:
        self.worker.huey.flush_locks()   # a lock left by a process that died holding it
        self.consumer.start()

    def stop(self) -> None:
        self.consumer.stop(graceful=True)


def embedded_worker(config: Config, runtime_factory: Callable[[], Any]) -> EmbeddedWorker:
    """Returns a consumer to run inside the web server's process on a one-machine install.

    Its runtime's connections are dropped in forked children (gunicorn's workers), which must
    never use, nor close, the parent's database connections.
    """
    def factory() -> Any:
        runtime = runtime_factory()
        os.register_at_fork(after_in_child=lambda: runtime.engine.dispose(close=False))
        return runtime
    return EmbeddedWorker(make_worker(config, factory))
