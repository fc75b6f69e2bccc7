"""Backups and restores of a whole installation: SQLite's online backup, pg_dump / pg_restore.

A restore replaces every table of the target database with the backup's, in one step.
"""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine, make_url

from engine.errors import FormworkError

Progress = Callable[[int, int], None]   # (pages or steps done, total)


class BackupError(FormworkError):
    pass


def backup(engine: Engine, target: str | Path, progress: Progress | None = None) -> Path:
    """Writes a consistent copy of the database to `target` while it stays in use; returns the path."""
    target = Path(target)
    if engine.dialect.name == "sqlite":
        _sqlite_copy(_sqlite_path(engine), target, progress)
    elif engine.dialect.name == "postgresql":
        _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(target), _libpq_url(engine)])
    else:
        raise BackupError(f"backups of {engine.dialect.name} databases are not supported")
    return target


def restore(engine: Engine, source: str | Path, progress: Progress | None = None) -> None:
    """Replaces the database's contents with the backup at `source`."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    engine.dispose()
    if engine.dialect.name == "sqlite":
        _check_sqlite_file(source)
        _sqlite_copy(source, _sqlite_path(engine), progress)
    elif engine.dialect.name == "postgresql":
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--dbname", _libpq_url(engine), str(source)])
    else:
        raise BackupError(f"restores into {engine.dialect.name} databases are not supported")
    engine.dispose()


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(database)


def _check_sqlite_file(path: Path) -> None:
    with path.open("rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise BackupError(f"{path} is not a SQLite backup")


def _sqlite_copy(source: Path, target: Path, progress: Progress | None) -> None:
    def report(_status: int, remaining: int, total: int) -> None:
        if progress is not None:
            progress(total - remaining, total)

    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst, pages=256, progress=report)
    # The connections' context managers commit but do not close.
    src.close()
    dst.close()


def _libpq_url(engine: Engine) -> str:
    url = make_url(str(engine.url.render_as_string(hide_password=False)))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed; install the PostgreSQL client tools")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip().splitlines()[-1:]}")
