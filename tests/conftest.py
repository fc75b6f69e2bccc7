"""Shared fixtures: a fresh database per test (SQLite file, or a PostgreSQL schema), and apps.

The suite runs on SQLite by default and on PostgreSQL when FORMWORK_TEST_DATABASE_URL is set.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_url_or_skip() -> str:
    """Returns a reachable PostgreSQL URL; skips outside CI when there is none, fails inside it."""
    url = os.environ.get("FORMWORK_TEST_DATABASE_URL") or DEFAULT_PG_URL
    try:
        engine = sa.create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:   # noqa: BLE001 - any connection failure means "no PostgreSQL here"
        if running_in_ci():
            pytest.fail(f"PostgreSQL at {url} is required under CI=true: {exc}")
        pytest.skip(f"no PostgreSQL at {url}: {exc}")
    return url


@pytest.fixture
def pg_schema_url():
    """Yields a URL whose connections live in a fresh PostgreSQL schema, dropped afterwards."""
    yield from _fresh_pg_schema(postgres_url_or_skip())


def _fresh_pg_schema(base_url: str):
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.engine.make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _fresh_database(tmp_path, name: str):
    if os.environ.get("FORMWORK_TEST_DATABASE_URL"):
        yield from _fresh_pg_schema(postgres_url_or_skip())
    else:
        yield f"sqlite:///{tmp_path / name}"


@pytest.fixture
def database_url(tmp_path):
    """Yields the URL of an empty database of the run's dialect."""
    yield from _fresh_database(tmp_path, "test.db")


@pytest.fixture
def second_database_url(tmp_path):
    """Yields the URL of another empty database, for moving data or metadata between two."""
    yield from _fresh_database(tmp_path, "second.db")


@pytest.fixture
def runtime(database_url):
    from engine.runtime import Runtime

    rt = Runtime(database_url)
    rt.create_system_tables()
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
