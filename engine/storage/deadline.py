"""The time limit on user-driven reads: no list, count or export may hold a worker for ever.

PostgreSQL enforces it itself (SET LOCAL statement_timeout); SQLite through a progress handler.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.errors import QueryTimeout

_SQLITE_CHECK_EVERY = 10_000     # virtual-machine steps between two looks at the clock
_PG_QUERY_CANCELED = "57014"


@contextmanager
def statement_deadline(conn: Connection, seconds: float) -> Iterator[Connection]:
    """Runs the block's statements under a limit of ``seconds``; raises QueryTimeout past it."""
    try:
        if conn.dialect.name == "sqlite":
            with _sqlite_deadline(conn, seconds):
                yield conn
        else:
            with _postgresql_deadline(conn, seconds):
                yield conn
    except sa.exc.OperationalError as error:
        if _is_interruption(error):
            raise QueryTimeout(seconds) from None
        raise


@contextmanager
def _sqlite_deadline(conn: Connection, seconds: float) -> Iterator[None]:
    raw = conn.connection.driver_connection
    deadline = time.monotonic() + seconds
    # A non-zero answer makes SQLite abort the statement with "interrupted".
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), _SQLITE_CHECK_EVERY)
    try:
        yield
    finally:
        raw.set_progress_handler(None, _SQLITE_CHECK_EVERY)


@contextmanager
def _postgresql_deadline(conn: Connection, seconds: float) -> Iterator[None]:
    # SET LOCAL lasts to the end of the transaction; a caller's transaction gets its default back.
    conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, round(seconds * 1000))}")
    yield
    conn.exec_driver_sql("SET LOCAL statement_timeout TO DEFAULT")


def _is_interruption(error: sa.exc.OperationalError) -> bool:
    if getattr(error.orig, "sqlstate", None) == _PG_QUERY_CANCELED:
        return True
    return "interrupted" in str(error.orig)
