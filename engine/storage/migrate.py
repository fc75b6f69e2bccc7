"""Versioned migrations of the system (fw_) tables, shipped in engine/migrations and run by Alembic.

`upgrade` brings a database to the head revision in one transaction; `require_current` is what
serve, worker and run.py ask before they start, so no DDL ever runs while workers boot.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.runtime.migration import MigrationInfo
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from engine.errors import DatabaseUnavailable
from engine.storage.db import write_transaction

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The revision whose schema equals what databases made before migrations existed hold.
BASELINE = "0001"


class DatabaseNotReady(DatabaseUnavailable):
    """The database is missing, not a Formwork database, or needs `formwork migrate`."""


@dataclass(frozen=True)
class AppliedStep:
    revision: str
    description: str


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def known_revisions() -> list[str]:
    """Returns every revision this version knows, oldest first; the last is the head it needs."""
    return [script.revision for script in reversed(list(_scripts().walk_revisions()))]


def head_revision() -> str:
    return _scripts().get_current_head()


def database_revision(conn: Connection) -> str | None:
    """Returns the revision the database is at; None for an empty database.

    A database made before migrations existed (system tables but no version row) is at BASELINE.
    """
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None and sa.inspect(conn).has_table("fw_metadata"):
        return BASELINE
    return revision


def pending_revisions(conn: Connection) -> list[str]:
    """Returns the revisions `upgrade` would apply, oldest first."""
    return _pending_after(database_revision(conn))


def _pending_after(current: str | None) -> list[str]:
    known = known_revisions()
    if current is None:
        return known
    if current not in known:
        raise DatabaseNotReady(f"the database is at revision {current}, which this version of Formwork "
                               f"does not know (its newest is {known[-1]}); upgrade Formwork")
    return known[known.index(current) + 1:]


def upgrade(engine: Engine, progress: Callable[[AppliedStep], None] | None = None) -> list[AppliedStep]:
    """Applies every pending revision in one transaction; returns the steps applied."""
    applied: list[AppliedStep] = []

    def on_apply(*, ctx: MigrationContext, step: MigrationInfo, heads: set, run_args: dict) -> None:
        done = AppliedStep(step.up_revision_id, _summary(step.up_revision.doc))
        applied.append(done)
        if progress is not None:
            progress(done)

    with write_transaction(engine) as conn:
        if MigrationContext.configure(conn).get_current_revision() is None and database_revision(conn):
            _stamp(conn, BASELINE)   # made before migrations existed: its tables are the baseline's
        if not pending_revisions(conn):
            return applied
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes.update(connection=conn, on_version_apply=on_apply)
        from alembic import command

        command.upgrade(config, "head")
    return applied


def _summary(doc: str) -> str:
    """A revision's first paragraph on one line: what it changes, as the docstring says."""
    return " ".join(doc.strip().split("\n\n")[0].split())


def _stamp(conn: Connection, revision: str) -> None:
    context = MigrationContext.configure(conn)
    context.stamp(_scripts(), revision)


def require_current(engine: Engine) -> None:
    """Raises DatabaseNotReady unless the database exists and is at the head revision."""
    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            current = database_revision(conn)
    except DatabaseUnavailable:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseNotReady(f"cannot open the database at {where}: {_first_line(exc)}") from None
    if current is None:
        raise DatabaseNotReady(f"no Formwork database at {where}; run `formwork init` "
                               "or set FORMWORK_DATABASE_URL")
    if _pending_after(current):
        raise DatabaseNotReady(f"the database at {where} is at revision {current}; this version needs "
                               f"{head_revision()}; run `formwork migrate`")


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
