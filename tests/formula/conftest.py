"""Fixtures for the formula tests: SQL engines to run the SQL back end on.

SQLite (with the formula functions registered) always; PostgreSQL when FORMWORK_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from formula import sqlite_functions


def sqlite_engine() -> sa.Engine:
    """An in-memory SQLite engine with the formula functions registered on every connection."""
    engine = sa.create_engine("sqlite://")
    sa.event.listen(
        engine, "connect", lambda dbapi_connection, _record: sqlite_functions.register(dbapi_connection)
    )
    return engine


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def sql_engine(request) -> sa.Engine:
    if request.param == "sqlite":
        engine = sqlite_engine()
    else:
        url = os.environ.get("FORMWORK_TEST_DATABASE_URL")
        if not url:
            pytest.skip("FORMWORK_TEST_DATABASE_URL is not set; PostgreSQL runs in CI")
        engine = sa.create_engine(url)
    yield engine
    engine.dispose()
