"""Scratch databases for the tests: a SQLite file, or a fresh PostgreSQL schema dropped afterwards.

The suite runs on SQLite by default and on PostgreSQL when FORMWORK_TEST_DATABASE_URL is set.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

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


def fresh_pg_schema(base_url: str, prefix: str = "t") -> Iterator[str]:
    """Yields a URL whose connections live in a new schema of `base_url`'s database; drops it after."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
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


def scratch_database(folder: Path, name: str, prefix: str = "t") -> Iterator[str]:
    """Yields the URL of an empty database of the run's dialect: `folder/name` on SQLite."""
    if os.environ.get("FORMWORK_TEST_DATABASE_URL"):
        yield from fresh_pg_schema(postgres_url_or_skip(), prefix)
    else:
        yield f"sqlite:///{folder / name}"


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url_or_skip() -> str:
    """Returns a reachable Redis URL (FORMWORK_TEST_REDIS_URL, else the local default); skips outside
    CI when there is none, fails inside it."""
    import redis

    url = os.environ.get("FORMWORK_TEST_REDIS_URL") or DEFAULT_REDIS_URL
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:   # noqa: BLE001 - any connection failure means "no Redis here"
        if running_in_ci():
            pytest.fail(f"Redis at {url} is required under CI=true: {exc}")
        pytest.skip(f"no Redis at {url}: {exc}")
    return url
