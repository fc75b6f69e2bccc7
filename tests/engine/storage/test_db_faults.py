"""Faults of the database under a running process: a file deleted or left read-only, connections
dropped by PostgreSQL. Nothing acknowledged is lost, and the process recovers once the fault is gone."""
from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from engine.errors import DatabaseUnavailable
from engine.storage.db import make_engine, write_transaction

notes = sa.Table("notes", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("text", sa.Text))


def write_note(engine, text: str) -> None:
    with write_transaction(engine) as conn:
        conn.execute(notes.insert().values(text=text))


def read_notes(engine) -> list[str]:
    with engine.connect() as conn:
        return [row.text for row in conn.execute(sa.select(notes.c.text).order_by(notes.c.id))]


@pytest.fixture
def sqlite_file(tmp_path):
    path = tmp_path / "faults.db"
    engine = make_engine(f"sqlite:///{path}")
    notes.metadata.create_all(engine)
    engine.dispose()
    return path


def test_a_write_after_the_file_was_deleted_fails_instead_of_being_acknowledged(sqlite_file):
    engine = make_engine(f"sqlite:///{sqlite_file}", create=False)
    write_note(engine, "kept")
    for leftover in sqlite_file.parent.glob("faults.db*"):
        leftover.unlink()
    with pytest.raises(DatabaseUnavailable, match="the file is missing"):
        write_note(engine, "would be lost")
    assert not sqlite_file.exists()
    engine.dispose()


def test_a_replaced_file_is_reopened_before_the_next_read(sqlite_file, tmp_path):
    engine = make_engine(f"sqlite:///{sqlite_file}", create=False)
    write_note(engine, "old file")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        db.execute("INSERT INTO notes (text) VALUES ('new file')")
    db.close()
    for journal in sqlite_file.parent.glob("faults.db-*"):   # as a restore does: no old log replayed
        journal.unlink()
    other.replace(sqlite_file)
    assert read_notes(engine) == ["new file"]
    engine.dispose()


def test_a_connection_opened_read_only_is_replaced_after_its_first_failed_write(sqlite_file):
    opened = []

    def connect():
        # The first connection opens while the file is read-only, as after a transient fault.
        mode = "ro" if not opened else "rw"
        opened.append(mode)
        return sqlite3.connect(f"file:{sqlite_file}?mode={mode}", uri=True, check_same_thread=False)

    engine = make_engine(f"sqlite:///{sqlite_file}", create=False, creator=connect)
    with pytest.raises(sa.exc.OperationalError, match="readonly database"):
        write_note(engine, "refused while read-only")
    write_note(engine, "written once the fault is gone")
    assert read_notes(engine) == ["written once the fault is gone"]
    assert opened == ["ro", "rw"]
    engine.dispose()


def test_a_postgresql_connection_terminated_by_the_server_is_replaced_before_use(pg_schema_url):
    engine = make_engine(pg_schema_url)
    notes.metadata.create_all(engine)
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    admin = make_engine(pg_schema_url)
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    write_note(engine, "after the backend was terminated")
    assert read_notes(engine) == ["after the backend was terminated"]
    engine.dispose()
