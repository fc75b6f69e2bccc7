"""Migrations of the system tables: from nothing, from a database made before migrations existed,
and the refusals that keep a server off a database it cannot use."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.db import make_engine, system_metadata
from engine.errors import DatabaseUnavailable
from engine.migrate import (
    BASELINE,
    DatabaseNotReady,
    database_revision,
    head_revision,
    known_revisions,
    require_current,
    upgrade,
)
from engine.runtime import Runtime


@pytest.fixture
def empty_engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def test_upgrade_of_an_empty_database_applies_every_revision_in_order(empty_engine):
    applied = upgrade(empty_engine)
    assert [step.revision for step in applied] == known_revisions()
    with empty_engine.connect() as conn:
        assert database_revision(conn) == head_revision()


def test_migrations_create_exactly_the_declared_system_tables(empty_engine):
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "include_name": lambda name, type_, _parent: type_ != "table" or name.startswith("fw_")})
        assert compare_metadata(context, system_metadata) == []


def test_upgrade_of_a_current_database_does_nothing(empty_engine):
    upgrade(empty_engine)
    assert upgrade(empty_engine) == []


def test_a_database_made_before_migrations_counts_as_the_baseline(empty_engine):
    upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
    with empty_engine.connect() as conn:
        assert database_revision(conn) == BASELINE
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()


def test_require_current_refuses_an_empty_database_naming_init(empty_engine):
    with pytest.raises(DatabaseNotReady, match="no Formwork database at .*run `formwork init`"):
        require_current(empty_engine)


def test_require_current_refuses_a_revision_this_version_does_not_know(empty_engine):
    upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(DatabaseNotReady, match="revision f00d, which this version of Formwork does not know"):
        require_current(empty_engine)


def test_require_current_accepts_a_migrated_database(empty_engine):
    upgrade(empty_engine)
    require_current(empty_engine)


def test_an_engine_that_may_not_create_refuses_a_missing_sqlite_file(tmp_path):
    path = tmp_path / "absent.db"
    engine = make_engine(f"sqlite:///{path}", create=False)
    with pytest.raises(DatabaseUnavailable, match="the file is missing"):
        require_current(engine)
    assert not path.exists()


def test_runtime_migrate_leaves_a_usable_database(database_url):
    rt = Runtime(database_url)
    rt.migrate()
    with rt.engine.connect() as conn:
        assert sa.inspect(conn).has_table("fw_user")
    rt.dispose()
