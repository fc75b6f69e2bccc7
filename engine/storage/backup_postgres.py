"""PostgreSQL backups: pg_dump of one snapshot, pg_restore into a scratch database before the live one.

pg_dump and pg_restore report failures on stderr; each failure is turned into its one telling line.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from engine.storage.backup_file import BackupError

INSTALL_HINT = ("install the PostgreSQL client tools of the server's version "
                "(Debian/Ubuntu: apt install postgresql-client; macOS: brew install libpq)")
TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (?P<schema>\S+) (?P<table>\S+) ", re.MULTILINE)


def dump(conn: sa.Connection, engine: Engine, target: Path) -> None:
    """Dumps the database as `conn`'s transaction sees it, so the dump matches what `conn` counts."""
    snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
    run(["pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}",
         "--file", str(target), libpq_url(engine.url)], source=target)


def archive_tables(archive: Path, source: Path) -> list[str]:
    """Returns the tables an archive holds, read from its table of contents (pg_restore --list)."""
    listing = run(["pg_restore", "--list", str(archive)], source=source)
    return [match["table"] for match in TOC_TABLE.finditer(listing)]


def restore_archive(archive: Path, url: sa.URL, source: Path, *, clean: bool) -> None:
    """Restores `archive` into the database at `url` in one transaction: all of it or nothing."""
    options = ["--clean", "--if-exists"] if clean else []
    run(["pg_restore", *options, "--no-owner", "--single-transaction", "--exit-on-error",
         "--dbname", libpq_url(url), str(archive)], source=source)


@contextmanager
def scratch_database(engine: Engine) -> Iterator[sa.URL | None]:
    """Yields the URL of a new empty database on `engine`'s server, dropped afterwards;
    None when the user may not create databases."""
    name = f"fw_restore_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.ProgrammingError:
        admin.dispose()
        yield None
        return
    try:
        yield engine.url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def libpq_url(url: sa.URL) -> str:
    return make_url(url.render_as_string(hide_password=False)).set(drivername="postgresql") \
        .render_as_string(hide_password=False)


def run(command: list[str], *, source: Path) -> str:
    """Runs a PostgreSQL client tool; returns its output, or raises BackupError with its error line."""
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed; {INSTALL_HINT}")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{source}: {error_line(result.stderr, command[0])}")
    return result.stdout


def error_line(stderr: str, tool: str) -> str:
    """The line of a client tool's stderr that says what went wrong (its first `error:` line)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "error:" in line:
            return line
    return lines[-1] if lines else f"{tool} failed without saying why"
