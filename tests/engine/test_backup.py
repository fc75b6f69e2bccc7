"""Backups are restored, not only taken: backup, wipe, restore gives back every row."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from engine_apps import ACCOUNT, QUOTE, build_app

from engine.apps import install_app
from engine.backup import BackupError, backup, restore
from engine.runtime import Runtime


@pytest.fixture
def filled(whole_database_url):
    rt = Runtime(whole_database_url)
    rt.migrate()
    install_app(rt, build_app(ACCOUNT, QUOTE))
    rt.records().bulk_create("account", [{"name": f"Account {n}", "revenue": f"{n}.25"} for n in range(50)])
    yield rt
    rt.dispose()


def snapshot(rt):
    with rt.engine.connect() as conn:
        return {name: sorted(tuple(map(str, row)) for row in conn.execute(sa.select(table)))
                for name, table in [("account", rt.registry().table("account")), ("quote", rt.registry().table("quote"))]}


def test_backup_wipe_restore_gives_back_every_row(filled, tmp_path):
    before = snapshot(filled)
    target = backup(filled.engine, tmp_path / "formwork.backup")
    with filled.engine.begin() as conn:
        conn.execute(filled.registry().table("account").delete())
        conn.exec_driver_sql("DROP TABLE quote")
    restore(filled.engine, target)
    filled.registries.invalidate()
    assert snapshot(filled) == before


def test_restore_of_a_missing_file_says_so(filled, tmp_path):
    with pytest.raises(BackupError, match="no such backup file"):
        restore(filled.engine, tmp_path / "absent.backup")
