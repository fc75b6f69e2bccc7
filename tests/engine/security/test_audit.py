"""The audit log for admins: search by user, entity, action and time; exports; retention purge."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from engine.config import load_config
from engine.security import audit
from engine.security.actors import SYSTEM, Actor
from engine.storage.db import fw_audit, write_transaction

NOW = dt.datetime(2030, 5, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def log(runtime):
    with write_transaction(runtime.engine) as conn:
        for days, action, entity in ((800, "update", "account"), (10, "delete", "account"),
                                     (2, "update", "lead"), (1, "login", None)):
            audit.write_entry(conn, Actor(7, "x"), action, entity, 1, at=NOW - dt.timedelta(days=days))
    return runtime


def test_search_filters_by_entity_and_action(log):
    with log.engine.connect() as conn:
        rows = audit.search(conn, entity="account", action="delete")
    assert [(r.entry.entity, r.entry.action) for r in rows] == [("account", "delete")]


def test_search_filters_by_time_newest_first(log):
    with log.engine.connect() as conn:
        rows = audit.search(conn, since=NOW - dt.timedelta(days=11), until=NOW - dt.timedelta(days=1))
    assert [r.entry.action for r in rows] == ["update", "delete"]


def test_search_filters_by_user_id(log):
    with log.engine.connect() as conn:
        assert len(audit.search(conn, user=7)) == 4
        assert audit.search(conn, user=8) == []


def test_export_is_audited_with_its_filter_and_row_count(runtime):
    with write_transaction(runtime.engine) as conn:
        audit.record_export(conn, Actor(3, "x"), "lead", "Status is New", 42, at=NOW)
        entry = audit.search(conn, action="export")[0].entry
    assert (entry.entity, entry.detail["filters"], entry.detail["rows"]) == ("lead", "Status is New", 42)


def test_purge_removes_only_rows_older_than_retention_and_audits_itself(log):
    with write_transaction(log.engine) as conn:
        removed = audit.purge_expired(conn, SYSTEM, 730, now=NOW)
        actions = [r.entry.action for r in audit.search(conn)]
    assert removed == 1
    assert actions == ["audit_purge", "login", "update", "delete"]


def test_purge_refuses_a_retention_under_a_day(log):
    with write_transaction(log.engine) as conn, pytest.raises(ValueError):
        audit.purge_expired(conn, SYSTEM, 0, now=NOW)
    with log.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fw_audit)).scalar() == 4


def test_retention_defaults_to_two_years_and_reads_the_environment(tmp_path):
    assert load_config({"FORMWORK_INSTANCE": str(tmp_path)}).audit_retention_days == 730
    assert load_config({"FORMWORK_INSTANCE": str(tmp_path),
                        "FORMWORK_AUDIT_RETENTION_DAYS": "365"}).audit_retention_days == 365
