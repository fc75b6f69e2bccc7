"""`python run.py` runs the background worker in its own process while it serves, and stops it after."""
from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]


def load_run_module():
    spec = importlib.util.spec_from_file_location("formwork_run_script", ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_py_delivers_the_outbox_while_it_serves_and_stops_the_worker_after(tmp_path, database_url,
                                                                              monkeypatch):
    from engine.flows.outbox import OutboxMessage, queue_messages
    from engine.runtime import Runtime
    from engine.security.users import create_user
    from engine.storage.db import fw_notification, write_transaction

    monkeypatch.setenv("FORMWORK_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("FORMWORK_DATABASE_URL", database_url)
    monkeypatch.setenv("FORMWORK_SWEEP_SECONDS", "1")
    monkeypatch.setenv("FORMWORK_DEMO_RECORDS", "5")
    monkeypatch.delenv("FORMWORK_REDIS_URL", raising=False)
    run = load_run_module()
    delivered: list[bool] = []

    def serve_while_the_worker_delivers(host: str, port: int, workers: int) -> None:
        rt = Runtime(database_url)
        try:
            with write_transaction(rt.engine) as conn:
                user = create_user(conn, "watcher").id
                queue_messages(conn, [OutboxMessage("notification", {
                    "recipients": [{"user_id": user, "message": "delivered by run.py's worker"}]})],
                    flow="test", run_id=None, now=rt.clock())
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not delivered:
                with rt.engine.connect() as conn:
                    if conn.execute(sa.select(fw_notification.c.id)
                                    .where(fw_notification.c.user_id == user)).first():
                        delivered.append(True)
                time.sleep(0.1)
        finally:
            rt.dispose()

    monkeypatch.setattr(run, "serve_app", serve_while_the_worker_delivers)
    run.start()
    assert delivered == [True]
    assert not [t for t in threading.enumerate() if t.name.startswith(("Worker-", "Scheduler"))]
