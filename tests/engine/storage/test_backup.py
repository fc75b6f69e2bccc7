"""Backups are restored, not only taken, and a damaged or foreign backup is never restored.

Each fault test damages a good backup the way a disk or a transfer would, then checks that the
restore is refused with one line and the live rows are as they were.
"""
from __future__ import annotations

import json
import random
import sqlite3
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from engine_apps import ACCOUNT, QUOTE, build_app

from engine.apps import install_app
from engine.runtime import Runtime
from engine.storage import backup_postgres, migrate
from engine.storage.backup import BackupError, backup, restore, verify_backup
from engine.storage.backup_file import sha256_of
from engine.storage.migrate import known_revisions


@pytest.fixture
def filled(whole_database_url):
    rt = Runtime(whole_database_url)
    rt.migrate()
    install_app(rt, build_app(ACCOUNT, QUOTE))
    rt.records().bulk_create("account", [{"name": f"Account {n}", "revenue": f"{n}.25"} for n in range(50)])
    yield rt
    rt.dispose()


@pytest.fixture
def good_backup(filled, tmp_path):
    """A good backup of `filled`, taken before one more account is added to the live database."""
    target = backup(filled.engine, tmp_path / "formwork.backup")
    filled.records().create("account", {"name": "Added after the backup"})
    return target


def snapshot(rt):
    with rt.engine.connect() as conn:
        return {name: sorted(tuple(map(str, row)) for row in conn.execute(sa.select(table)))
                for name, table in [("account", rt.registry().table("account")), ("quote", rt.registry().table("quote"))]}


def refused_restore(rt, source) -> str:
    """Restores `source`, expecting a refusal; returns its message after checking it is one line."""
    with pytest.raises(BackupError) as refusal:
        restore(rt.engine, source)
    message = str(refusal.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# -- faults -----------------------------------------------------------------------------------
def payload_span(path: Path) -> tuple[int, int]:
    """The byte range of the database inside a backup file, as stored."""
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.startswith("database."))
    data = path.read_bytes()
    name_length, extra_length = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_length + extra_length
    return start, start + info.compress_size


def zero_block(path: Path, start: int, end: int, size: int = 64 * 1024) -> None:
    data = bytearray(path.read_bytes())
    stop = min(start + size, end)
    data[start:stop] = bytes(stop - start)
    path.write_bytes(bytes(data))


def flip_bytes(path: Path, start: int, end: int, count: int = 40) -> None:
    data = bytearray(path.read_bytes())
    for position in random.Random(40).sample(range(start, end), count):
        data[position] ^= 0xFF
    path.write_bytes(bytes(data))


def rewrite_backup(path: Path, manifest_changes: dict | None = None, payload=None) -> None:
    """Rewrites a backup with its manifest changed and its payload replaced, the zip itself intact."""
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        contents = archive.read(manifest["payload"])
    if payload is not None:
        contents = payload(contents)
    manifest.update(manifest_changes or {})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr(manifest["payload"], contents)


def test_backup_wipe_restore_gives_back_every_row(filled, tmp_path):
    before = snapshot(filled)
    target = backup(filled.engine, tmp_path / "formwork.backup")
    with filled.engine.begin() as conn:
        conn.execute(filled.registry().table("account").delete())
        conn.exec_driver_sql("DROP TABLE quote")
    restore(filled.engine, target)
    filled.registries.invalidate()
    assert snapshot(filled) == before


def test_backup_file_holds_a_manifest_and_the_checksummed_database(filled, tmp_path):
    target = backup(filled.engine, tmp_path / "formwork.backup")
    with zipfile.ZipFile(target) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        (tmp_path / "payload").write_bytes(archive.read(manifest["payload"]))
    assert manifest["format"] == "formwork-backup" and manifest["format_version"] == 1
    assert manifest["dialect"] == filled.dialect
    assert manifest["row_counts"]["account"] == 50 and manifest["row_counts"]["fw_metadata"] == 1
    assert manifest["sha256"] == sha256_of(tmp_path / "payload")
    assert {"formwork_version", "schema_revision", "created_at"} <= set(manifest)


def test_restore_of_a_missing_file_says_so(filled, tmp_path):
    with pytest.raises(BackupError, match="no such backup file"):
        restore(filled.engine, tmp_path / "absent.backup")


def test_backup_with_a_zeroed_64k_block_is_refused_and_the_live_rows_stay(filled, good_backup):
    before = snapshot(filled)
    zero_block(good_backup, *payload_span(good_backup))
    assert "is damaged" in refused_restore(filled, good_backup)
    assert snapshot(filled) == before


def test_backup_with_40_flipped_bytes_is_refused_and_the_live_rows_stay(filled, good_backup):
    before = snapshot(filled)
    flip_bytes(good_backup, *payload_span(good_backup))
    assert "is damaged" in refused_restore(filled, good_backup)
    assert snapshot(filled) == before


def test_truncated_backup_is_refused_and_the_live_rows_stay(filled, good_backup):
    before = snapshot(filled)
    good_backup.write_bytes(good_backup.read_bytes()[:good_backup.stat().st_size // 2])
    assert "is truncated or damaged" in refused_restore(filled, good_backup)
    assert snapshot(filled) == before


def test_file_that_is_not_a_backup_is_refused_and_the_live_rows_stay(filled, tmp_path):
    before = snapshot(filled)
    source = tmp_path / "notes.txt"
    source.write_text("meeting notes, not a backup\n" * 100, encoding="utf-8")
    assert "is not a Formwork backup" in refused_restore(filled, source)
    assert snapshot(filled) == before


def test_backup_whose_checksum_does_not_match_is_refused_and_the_live_rows_stay(filled, good_backup):
    before = snapshot(filled)
    rewrite_backup(good_backup, {"sha256": "0" * 64})
    assert "does not match the checksum" in refused_restore(filled, good_backup)
    assert snapshot(filled) == before


def test_backup_whose_row_counts_differ_from_its_manifest_is_refused(filled, good_backup):
    with zipfile.ZipFile(good_backup) as archive:
        counts = json.loads(archive.read("manifest.json"))["row_counts"]
    rewrite_backup(good_backup, {"row_counts": {**counts, "account": 51}})
    assert "lists 51 rows in account, the restored copy has 50 rows" in refused_restore(filled, good_backup)


def test_backup_whose_manifest_gives_another_schema_revision_is_refused(filled, good_backup):
    rewrite_backup(good_backup, {"schema_revision": "0123456789ab"})
    assert "manifest gives schema revision 0123456789ab" in refused_restore(filled, good_backup)


def set_revision(rt, revision: str) -> None:
    with rt.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{revision}'")


def test_backup_of_a_newer_unknown_revision_is_refused_naming_it(filled, tmp_path):
    set_revision(filled, "9999")
    source = backup(filled.engine, tmp_path / "newer.backup")
    set_revision(filled, known_revisions()[-1])
    before = snapshot(filled)
    assert "is at schema revision 9999, which this version of Formwork does not know" \
        in refused_restore(filled, source)
    assert snapshot(filled) == before


def test_backup_of_an_older_known_revision_restores_and_asks_for_migrate(filled, good_backup, monkeypatch):
    monkeypatch.setattr(migrate, "known_revisions", lambda: [*known_revisions(), "9999"])
    summary = restore(filled.engine, good_backup)
    assert summary.needs_migration
    assert summary.revision == known_revisions()[-1]


def test_backup_at_this_versions_revision_needs_no_migration(filled, good_backup):
    assert not verify_backup(filled.engine, good_backup).needs_migration


def test_backup_of_a_database_that_is_not_formwork_is_refused_and_the_live_rows_stay(whole_database_url, tmp_path):
    foreign = sa.create_engine(whole_database_url)
    with foreign.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.exec_driver_sql("INSERT INTO customers VALUES (1, 'Ada')")
    source = backup(foreign, tmp_path / "foreign.backup")
    foreign.dispose()
    rt = Runtime(whole_database_url)
    rt.migrate()
    install_app(rt, build_app(ACCOUNT, QUOTE))
    rt.records().create("account", {"name": "Kept"})
    before = snapshot(rt)
    assert "is not a backup of a Formwork database" in refused_restore(rt, source)
    assert snapshot(rt) == before
    rt.dispose()


def test_backup_into_a_missing_folder_says_so(filled, tmp_path):
    with pytest.raises(BackupError, match="no such folder"):
        backup(filled.engine, tmp_path / "nowhere" / "formwork.backup")


def test_verify_summarises_a_good_backup_without_restoring_it(filled, good_backup):
    before = snapshot(filled)
    summary = verify_backup(filled.engine, good_backup)
    assert summary.created_at is not None
    assert summary.rows >= 50 + 1 and summary.tables >= 16
    assert snapshot(filled) == before


# -- dialect specifics --------------------------------------------------------------------------
@pytest.fixture
def sqlite_only(filled):
    if filled.dialect != "sqlite":
        pytest.skip("a SQLite file")
    return filled


@pytest.fixture
def postgres_only(filled):
    if filled.dialect != "postgresql":
        pytest.skip("pg_dump and pg_restore")
    return filled


def plain_sqlite_copy(rt, target: Path) -> Path:
    """A backup as older versions of Formwork wrote them: the bare SQLite file."""
    with sqlite3.connect(rt.engine.url.database) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return target


def test_plain_sqlite_file_of_an_older_version_still_restores(sqlite_only, tmp_path):
    before = snapshot(sqlite_only)
    source = plain_sqlite_copy(sqlite_only, tmp_path / "old.db")
    sqlite_only.records().create("account", {"name": "Added after the backup"})
    restore(sqlite_only.engine, source)
    assert snapshot(sqlite_only) == before


def test_plain_sqlite_file_with_a_zeroed_block_fails_the_integrity_check(sqlite_only, tmp_path):
    source = plain_sqlite_copy(sqlite_only, tmp_path / "old.db")
    before = snapshot(sqlite_only)
    zero_block(source, 16 * 4096, source.stat().st_size)
    assert "is damaged" in refused_restore(sqlite_only, source)
    assert snapshot(sqlite_only) == before
    with sqlite3.connect(sqlite_only.engine.url.database) as live:
        assert live.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    live.close()


def test_pg_restore_failure_reads_as_its_one_error_line(postgres_only, good_backup):
    before = snapshot(postgres_only)
    rewrite_backup(good_backup, payload=lambda dump: dump[:len(dump) // 2])
    with zipfile.ZipFile(good_backup) as archive:
        (good_backup.parent / "half.pgdump").write_bytes(archive.read("database.pgdump"))
    rewrite_backup(good_backup, {"sha256": sha256_of(good_backup.parent / "half.pgdump")})
    message = refused_restore(postgres_only, good_backup)
    assert "pg_restore: error:" in message and "['" not in message
    assert snapshot(postgres_only) == before


def test_missing_pg_restore_says_to_install_the_client_tools(postgres_only, good_backup, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert "install the PostgreSQL client tools" in refused_restore(postgres_only, good_backup)


def test_restore_without_the_right_to_create_databases_checks_the_archive_and_restores(postgres_only,
                                                                                      good_backup, monkeypatch):
    @contextmanager
    def refused_scratch_database(_engine):
        yield None

    monkeypatch.setattr(backup_postgres, "scratch_database", refused_scratch_database)
    with zipfile.ZipFile(good_backup) as archive:
        backed_up_accounts = json.loads(archive.read("manifest.json"))["row_counts"]["account"]
    summary = restore(postgres_only.engine, good_backup)
    assert summary.rows > 0
    assert len(snapshot(postgres_only)["account"]) == backed_up_accounts
