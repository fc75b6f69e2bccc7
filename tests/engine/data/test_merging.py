"""Stale writes merged field by field: one's own changes kept, others' untouched, true conflicts asked."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from engine_apps import ACCOUNT

from engine.data.merging import values_at_version
from engine.errors import ConflictError
from engine.security.audit import AuditEntry, record_history
from engine.storage.db import fw_audit

WHOLE = {"name": "Acme", "employees": "5", "email": "old@acme.test", "grade": "vip"}


@pytest.fixture
def crm(install):
    return install(ACCOUNT)


@pytest.fixture
def account(runtime, crm):
    return runtime.records().create("account", WHOLE)


def test_changes_to_different_fields_from_one_version_are_both_kept(runtime, account):
    records = runtime.records()
    records.update("account", account["id"], {"employees": 7}, expected_version=1)
    saved = records.update("account", account["id"], {"email": "new@acme.test"}, expected_version=1)
    assert (saved["employees"], saved["email"], saved["version"]) == (7, "new@acme.test", 3)


def test_field_sent_back_as_it_was_takes_the_other_writers_value(runtime, account):
    records = runtime.records()
    records.update("account", account["id"], {"employees": 7}, expected_version=1)
    saved = records.update("account", account["id"], {**WHOLE, "email": "new@acme.test"}, expected_version=1)
    assert (saved["employees"], saved["email"]) == (7, "new@acme.test")
    with runtime.engine.connect() as conn:
        latest = record_history(conn, "account", account["id"])[0]
    assert latest.changes == {"email": ["old@acme.test", "new@acme.test"]}


def test_value_at_the_writers_version_is_the_one_before_the_first_later_change(runtime, account):
    records = runtime.records()
    records.update("account", account["id"], {"employees": 6}, expected_version=1)
    records.update("account", account["id"], {"employees": 7}, expected_version=2)
    saved = records.update("account", account["id"], {**WHOLE, "grade": "regular"}, expected_version=1)
    assert (saved["employees"], saved["grade"]) == (7, "regular")


def test_same_value_on_both_sides_is_no_conflict(runtime, account):
    records = runtime.records()
    records.update("account", account["id"], {"employees": 7}, expected_version=1)
    saved = records.update("account", account["id"], {**WHOLE, "employees": "7"}, expected_version=1)
    assert (saved["employees"], saved["version"]) == (7, 2)


def test_true_conflict_names_only_the_field_both_changed_and_writes_nothing(runtime, account):
    records = runtime.records()
    records.update("account", account["id"], {"employees": 7, "grade": "regular"}, expected_version=1)
    with pytest.raises(ConflictError) as caught:
        records.update("account", account["id"], {**WHOLE, "employees": 9, "email": "new@acme.test"},
                       expected_version=1)
    assert caught.value.conflicting_fields == ["employees"]
    assert caught.value.changed_fields == ["employees", "grade"]
    assert "employees" in str(caught.value) and "grade" not in str(caught.value)
    stored = runtime.query().get("account", account["id"])
    assert (stored["employees"], stored["email"], stored["version"]) == (7, "old@acme.test", 2)


def test_a_delete_and_restore_since_the_version_still_let_the_write_merge(runtime, account):
    records = runtime.records()
    records.update("account", account["id"], {"employees": 7}, expected_version=1)
    records.delete("account", account["id"])
    records.restore("account", account["id"])
    saved = records.update("account", account["id"], {**WHOLE, "email": "new@acme.test"}, expected_version=1)
    assert (saved["employees"], saved["email"], saved["version"]) == (7, "new@acme.test", 5)


def _entry(version: int, changes: dict) -> AuditEntry:
    return AuditEntry(version, dt.datetime(2024, 1, 1, tzinfo=dt.UTC), None, "update", "account", 1,
                      changes, {"version": version})


def test_values_at_a_version_are_unknown_when_a_save_since_is_missing_from_the_history():
    newest_first = [_entry(4, {"name": ["B", "C"]}), _entry(2, {"name": ["A", "B"]}), _entry(1, {})]
    assert values_at_version(newest_first, 1, 4) is None
    assert values_at_version(newest_first[1:], 1, 2) == {"name": "A"}


def test_with_the_history_incomplete_every_value_that_differs_is_a_conflict(runtime, account):
    records = runtime.records()
    records.update("account", account["id"], {"employees": 7}, expected_version=1)
    with runtime.engine.begin() as conn:   # as a retention purge would remove it
        conn.execute(sa.delete(fw_audit).where(fw_audit.c.action == "update"))
    with pytest.raises(ConflictError) as caught:
        records.update("account", account["id"], {**WHOLE, "email": "new@acme.test"}, expected_version=1)
    assert caught.value.conflicting_fields == ["email", "employees"]


def test_a_version_never_saved_is_merged_as_an_incomplete_history(runtime, account):
    with pytest.raises(ConflictError) as caught:
        runtime.records().update("account", account["id"], {"email": "new@acme.test"}, expected_version=5)
    assert caught.value.conflicting_fields == ["email"]
