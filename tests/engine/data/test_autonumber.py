"""Autonumbers: unique and gap-free when many writers insert at once on PostgreSQL."""
from __future__ import annotations

import threading

from engine_apps import QUOTE, build_app

from engine.apps import install_app
from engine.runtime import Runtime


def test_concurrent_inserts_on_postgresql_get_unique_gap_free_numbers(pg_schema_url):
    rt = Runtime(pg_schema_url, pool_size=10)
    rt.migrate()
    account = {"name": "account", "label": {"en": "Account"}, "plural_label": {"en": "Accounts"},
               "fields": [{"name": "name", "type": "text", "label": {"en": "Name"}}]}
    install_app(rt, build_app(account, QUOTE))
    registry = rt.registry()
    barrier = threading.Barrier(8)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def insert(n: int) -> None:
        try:
            barrier.wait()
            for i in range(5):
                numbers.append(rt.records(registry=registry).create("quote", {"title": f"{n}-{i}"})["number"])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=insert, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rt.dispose()
    assert errors == []
    counters = sorted(int(number.rsplit("-", 1)[1]) for number in numbers)
    assert counters == list(range(1, 41))
