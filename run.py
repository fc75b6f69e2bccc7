"""Run Formwork on this machine: initialise the instance on first run, then serve it.

First run: SQLite database in ./instance, the default CRM, demo data and the admin login printed.
The background worker (mail, webhooks, timers) runs in the same process.
"""
from __future__ import annotations

import os

import click

from engine.config import prepare_instance
from engine.errors import FormworkError
from engine.flows.worker import embedded_worker
from engine.runtime import Runtime
from ui.cli import DEFAULT_APP, init_instance, migrate_database, serve_app

DEMO_RECORDS = int(os.environ.get("FORMWORK_DEMO_RECORDS", "2000"))


def main() -> None:
    try:
        start()
    except FormworkError as exc:
        raise SystemExit(f"Error: {exc}") from None


def start() -> None:
    config = prepare_instance()
    rt = Runtime.from_config(config)
    migrate_database(rt)
    if init_instance(rt, DEFAULT_APP, config.admin_password):
        from engine.demo import generate_demo

        created = generate_demo(rt, DEMO_RECORDS, seed=1)
        click.echo(f"Demo data: {sum(created.values())} records")
    rt.dispose()
    # One machine, one command: the background worker runs in this process beside the web server.
    background = embedded_worker(config, lambda: Runtime.from_config(config, create=False))
    background.start()
    try:
        serve_app(os.environ.get("FORMWORK_HOST", "127.0.0.1"), int(os.environ.get("FORMWORK_PORT", "5000")),
                  workers=2)
    finally:
        background.stop()


if __name__ == "__main__":
    main()
