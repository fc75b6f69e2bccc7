"""SQLite backups: copies through the online backup API, checks of a copy before it goes live.

Copying through a connection (never over the file) keeps the live file's -wal and -shm consistent:
the restored pages are written as one transaction, so no stale WAL frame is replayed over them.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from engine.storage.backup_file import BackupError

Progress = Callable[[int, int], None]   # (pages done, total)


def copy_database(source: Path, target: Path, progress: Progress | None = None) -> None:
    """Copies `source` into `target` with the online backup API; `target` changes in one transaction."""
    def report(_status: int, remaining: int, total: int) -> None:
        if progress is not None:
            progress(total - remaining, total)

    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst, pages=256, progress=report)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{target}: the copy failed ({exc})") from None
    finally:
        src.close()
        dst.close()


def snapshot(live: Path, copy: Path, progress: Progress | None = None) -> None:
    """Writes a consistent copy of the live database to `copy` as one self-contained file (no WAL)."""
    copy_database(live, copy, progress)
    connection = sqlite3.connect(copy)
    try:
        connection.execute("PRAGMA journal_mode=DELETE")
    finally:
        connection.close()


def open_copy(path: Path) -> sa.Engine:
    """An engine on a copy under check: no pool, so the file is closed once the check is done."""
    return sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)


def check_integrity(conn: sa.Connection, source: Path) -> None:
    """Raises BackupError unless SQLite's integrity check of the database finds nothing wrong."""
    try:
        problems = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check(5)")]
    except sa.exc.DBAPIError as exc:
        raise BackupError(f"{source} is damaged: {_first_line(exc.orig)}; restore from another backup") from None
    if problems != ["ok"]:
        raise BackupError(f"{source} is damaged: SQLite's integrity check reports {problems[0]!r}; "
                          "restore from another backup")


def _first_line(exc: BaseException | None) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else "unreadable database"
