"""Shared fixtures: a fresh database per test (SQLite file, or a PostgreSQL schema), and apps.

The suite runs on SQLite by default and on PostgreSQL when FORMWORK_TEST_DATABASE_URL is set.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from databases import fresh_pg_schema, postgres_url_or_skip, scratch_database

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def pg_schema_url():
    """Yields a URL whose connections live in a fresh PostgreSQL schema, dropped afterwards."""
    yield from fresh_pg_schema(postgres_url_or_skip())


@pytest.fixture
def database_url(tmp_path):
    """Yields the URL of an empty database of the run's dialect."""
    yield from scratch_database(tmp_path, "test.db")


@pytest.fixture
def second_database_url(tmp_path):
    """Yields the URL of another empty database, for moving data or metadata between two."""
    yield from scratch_database(tmp_path, "second.db")


@pytest.fixture
def runtime(database_url):
    from engine.runtime import Runtime

    rt = Runtime(database_url)
    rt.migrate()
    yield rt
    rt.dispose()


@pytest.fixture
def whole_database_url(tmp_path):
    """Yields the URL of a database of its own (PostgreSQL: a new database, dropped afterwards)."""
    if not os.environ.get("FORMWORK_TEST_DATABASE_URL"):
        yield f"sqlite:///{tmp_path / 'whole.db'}"
        return
    base = sa.engine.make_url(postgres_url_or_skip())
    name = f"fw_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()
