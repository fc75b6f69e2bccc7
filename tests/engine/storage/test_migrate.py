"""Migrations of the system tables: from nothing, from a database made before migrations existed,
and the refusals that keep a server off a database it cannot use."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.errors import DatabaseUnavailable
from engine.runtime import Runtime
from engine.storage.db import make_engine, system_metadata
from engine.storage.migrate import (
    BASELINE,
    DatabaseNotReady,
    database_revision,
    head_revision,
    known_revisions,
    require_current,
    upgrade,
)


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


def made_before_migrations(engine) -> None:
    """Gives `engine` the tables Formwork 0.1 made: the baseline revision's, without a version row."""
    from alembic import command
    from alembic.config import Config

    from engine.storage.migrate import MIGRATIONS

    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes.update(connection=conn)
        command.upgrade(config, BASELINE)
        conn.exec_driver_sql("DROP TABLE alembic_version")


def test_a_database_made_before_migrations_counts_as_the_baseline(empty_engine):
    made_before_migrations(empty_engine)
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


BROKEN_REVISION = '''"""A revision that fails halfway

Revision ID: 9999
Revises: {head}
"""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("fw_user", sa.Column("half_done", sa.Integer))
    raise RuntimeError("this revision fails after its first step")
'''


@pytest.fixture
def scripts_with_a_broken_revision(tmp_path, monkeypatch):
    import shutil

    import engine.storage.migrate as migrate

    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "9999_broken.py").write_text(BROKEN_REVISION.format(head=head_revision()))
    monkeypatch.setattr(migrate, "MIGRATIONS", folder)
    migrate._scripts.cache_clear()
    yield
    migrate._scripts.cache_clear()


def test_a_migration_that_fails_halfway_leaves_the_previous_revision(empty_engine, request):
    upgrade(empty_engine)
    previous = head_revision()
    request.getfixturevalue("scripts_with_a_broken_revision")
    with pytest.raises(RuntimeError, match="fails after its first step"):
        upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == previous
        assert "half_done" not in {c["name"] for c in sa.inspect(conn).get_columns("fw_user")}


def test_a_database_of_the_first_revision_upgrades_to_the_head_with_every_row_kept(empty_engine):
    made_before_migrations(empty_engine)
    baseline = sa.MetaData()
    baseline.reflect(empty_engine)
    rows = {
        "fw_department": [{"id": 1, "name": "销售部"}],
        "fw_user": [{"id": 7, "username": "rita", "display_name": "Rita", "is_admin": False, "active": True,
                     "department_id": 1, "locale": "zh", "timezone": "Asia/Shanghai", "failed_logins": 2,
                     "created_at": dt.datetime(2026, 1, 2, 3, 4, 5)}],
        "fw_role": [{"name": "sales_rep", "app": "crm_default", "label": {"en": "Sales rep", "zh": "销售代表"}}],
        "fw_user_role": [{"user_id": 7, "role": "sales_rep"}],
        "fw_metadata": [{"revision": 1, "app": "crm_default", "app_version": "1.0.0",
                         "documents": {"app.json": {"name": "crm_default"}}, "removed": False,
                         "installed_at": dt.datetime(2026, 1, 2)}],
        "fw_saved_view": [{"id": 3, "entity": "account", "name": "VIP", "owner_id": 7, "shared": True,
                           "state": {"f": ["grade"]}, "created_at": dt.datetime(2026, 1, 3)}],
        "fw_audit": [{"id": 11, "at": dt.datetime(2026, 1, 4), "actor_id": 7, "action": "update",
                      "entity": "account", "record_id": 5, "changes": {"city": ["北京", "上海"]}}],
    }
    with empty_engine.begin() as conn:
        for table, values in rows.items():
            conn.execute(baseline.tables[table].insert(), values)

    def stored() -> dict[str, list[tuple]]:
        with empty_engine.connect() as conn:
            return {table: [tuple(row) for row in conn.execute(
                sa.select(*baseline.tables[table].columns).order_by(*baseline.tables[table].primary_key))]
                for table in rows}

    before = stored()
    upgrade(empty_engine)
    assert stored() == before
    with empty_engine.connect() as conn:
        assert database_revision(conn) == head_revision()
