"""Backups and restores of a whole installation, checked before they replace anything.

A restore first loads the backup into a scratch database (a temporary SQLite file beside the live
one, or a scratch PostgreSQL database) and checks it there: checksum, integrity, Formwork's tables,
schema revision and row counts. Only a backup that passes replaces the live database, in one step.
"""
from __future__ import annotations

import importlib.metadata
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from engine.storage import backup_postgres, backup_sqlite, migrate
from engine.storage.backup_file import (
    DIALECT_NAMES,
    PAYLOAD_NAMES,
    BackupError,
    Manifest,
    Payload,
    opened_payload,
    sha256_of,
    write_backup_file,
)
from engine.storage.backup_sqlite import Progress

__all__ = ["BackupError", "BackupSummary", "backup", "restore", "verify_backup"]

# Every Formwork database has these, whatever its revision; a database without them is not one.
FORMWORK_TABLES = ("fw_metadata", "fw_user")


@dataclass(frozen=True)
class DatabaseFacts:
    """What a database holds, as a backup's manifest records it."""
    revision: str | None
    row_counts: dict[str, int]


@dataclass(frozen=True)
class BackupSummary:
    """A backup that passed every check; `created_at` is None for a plain file without a manifest."""
    source: Path
    created_at: str | None
    revision: str | None
    tables: int
    rows: int
    needs_migration: bool


def backup(engine: Engine, target: str | Path, progress: Progress | None = None) -> Path:
    """Writes a consistent backup of the database to `target` while it stays in use; returns the path."""
    target = Path(target)
    dialect = _supported_dialect(engine, "backups")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}: no such folder to write the backup to")
    with _scratch_file(target.parent) as payload:
        if dialect == "sqlite":
            facts = _snapshot_sqlite(engine, payload, progress)
        else:
            facts = _snapshot_postgres(engine, payload)
        write_backup_file(target, _manifest(dialect, facts, sha256_of(payload)), payload)
    return target


def verify_backup(engine: Engine, source: str | Path) -> BackupSummary:
    """Checks the backup at `source` as a restore into `engine`'s database would, without restoring it."""
    source = Path(source)
    with opened_payload(source, _workdir(engine)) as payload:
        return _checked(engine, payload, source)


def restore(engine: Engine, source: str | Path, progress: Progress | None = None) -> BackupSummary:
    """Replaces the database's contents with the backup at `source` once it passed every check;
    a backup that fails one leaves the database untouched. Returns what was restored."""
    source = Path(source)
    with opened_payload(source, _workdir(engine)) as payload:
        summary = _checked(engine, payload, source)
        engine.dispose()
        if payload.dialect == "sqlite":
            backup_sqlite.copy_database(payload.path, _sqlite_path(engine), progress)
        else:
            backup_postgres.restore_archive(payload.path, engine.url, source, clean=True)
        engine.dispose()
    return summary


# -- taking a backup ---------------------------------------------------------------------------
def _snapshot_sqlite(engine: Engine, copy: Path, progress: Progress | None) -> DatabaseFacts:
    backup_sqlite.snapshot(_sqlite_path(engine), copy, progress)
    with _connected(backup_sqlite.open_copy(copy)) as conn:
        return database_facts(conn)


def _snapshot_postgres(engine: Engine, dump: Path) -> DatabaseFacts:
    # One repeatable-read transaction: the counts and the dump see the same snapshot.
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        facts = database_facts(conn)
        backup_postgres.dump(conn, engine, dump)
    return facts


def _manifest(dialect: str, facts: DatabaseFacts, checksum: str) -> Manifest:
    return Manifest(formwork_version=_formwork_version(), schema_revision=facts.revision, dialect=dialect,
                    created_at=datetime.now(UTC).isoformat(timespec="seconds"), row_counts=facts.row_counts,
                    sha256=checksum, payload=PAYLOAD_NAMES[dialect])


def database_facts(conn: sa.Connection) -> DatabaseFacts:
    """Returns the schema revision and the row count of every table of the connection's database."""
    names = sorted(sa.inspect(conn).get_table_names())
    counts = {name: conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
              for name in names}
    return DatabaseFacts(migrate.database_revision(conn), counts)


# -- checking a backup -------------------------------------------------------------------------
def _checked(engine: Engine, payload: Payload, source: Path) -> BackupSummary:
    _check_dialect(engine, payload, source)
    if payload.dialect == "sqlite":
        facts = _checked_sqlite_facts(payload.path, source)
    else:
        facts = _checked_postgres_facts(engine, payload, source)
    return _summary(source, payload.manifest, facts)


def _check_dialect(engine: Engine, payload: Payload, source: Path) -> None:
    dialect = _supported_dialect(engine, "restores")
    if payload.dialect != dialect:
        raise BackupError(f"{source} is a backup of a {DIALECT_NAMES[payload.dialect]} database; this "
                          f"installation uses {DIALECT_NAMES[dialect]}: restore it into a "
                          f"{DIALECT_NAMES[payload.dialect]} installation")


def _checked_sqlite_facts(copy: Path, source: Path) -> DatabaseFacts:
    try:
        with _connected(backup_sqlite.open_copy(copy)) as conn:
            backup_sqlite.check_integrity(conn, source)
            return database_facts(conn)
    except sa.exc.DBAPIError as exc:
        raise BackupError(f"{source} is damaged: {str(exc.orig).splitlines()[0]}; "
                          "restore from another backup") from None


def _checked_postgres_facts(engine: Engine, payload: Payload, source: Path) -> DatabaseFacts:
    _check_formwork_tables(backup_postgres.archive_tables(payload.path, source), source)
    with backup_postgres.scratch_database(engine) as url:
        if url is None:   # may not create databases: the checksum and the archive's contents must do
            return _facts_of_manifest(payload.manifest)
        backup_postgres.restore_archive(payload.path, url, source, clean=False)
        with _connected(sa.create_engine(url, poolclass=NullPool)) as conn:
            return database_facts(conn)


def _facts_of_manifest(manifest: Manifest | None) -> DatabaseFacts:
    if manifest is None:
        return DatabaseFacts(None, {name: 0 for name in FORMWORK_TABLES})
    return DatabaseFacts(manifest.schema_revision, dict(manifest.row_counts))


def _summary(source: Path, manifest: Manifest | None, facts: DatabaseFacts) -> BackupSummary:
    _check_formwork_tables(list(facts.row_counts), source)
    needs_migration = _needs_migration(facts.revision, source)
    if manifest is not None:
        _check_manifest_revision(manifest, facts, source)
        _check_row_counts(manifest, facts, source)
    return BackupSummary(source=source, created_at=manifest.created_at if manifest else None,
                         revision=facts.revision, tables=len(facts.row_counts),
                         rows=sum(facts.row_counts.values()), needs_migration=needs_migration)


def _check_formwork_tables(tables: list[str], source: Path) -> None:
    missing = [name for name in FORMWORK_TABLES if name not in tables]
    if missing:
        raise BackupError(f"{source} is not a backup of a Formwork database: it has no "
                          f"{' or '.join(missing)} table")


def _needs_migration(revision: str | None, source: Path) -> bool:
    """Whether a backup at `revision` needs `formwork migrate` once restored; refuses one this version
    does not know (made by a newer Formwork), whose tables it could not use."""
    known = migrate.known_revisions()
    if revision == known[-1]:
        return False
    if revision in known:
        return True
    raise BackupError(f"{source} is at schema revision {revision}, which this version of Formwork does not "
                      f"know (its newest is {known[-1]}); restore it with the newer Formwork that made it")


def _check_manifest_revision(manifest: Manifest, facts: DatabaseFacts, source: Path) -> None:
    if manifest.schema_revision != facts.revision:
        raise BackupError(f"{source} is damaged: its manifest gives schema revision {manifest.schema_revision}, "
                          f"its database is at {facts.revision}; restore from another backup")


def _check_row_counts(manifest: Manifest, facts: DatabaseFacts, source: Path) -> None:
    for table, expected in sorted(manifest.row_counts.items()):
        found = facts.row_counts.get(table)
        if found != expected:
            held = "no such table" if found is None else f"{found} rows"
            raise BackupError(f"{source} is damaged: its manifest lists {expected} rows in {table}, "
                              f"the restored copy has {held}; restore from another backup")


# -- places --------------------------------------------------------------------------------------
def _supported_dialect(engine: Engine, what: str) -> str:
    if engine.dialect.name not in PAYLOAD_NAMES:
        raise BackupError(f"{what} of {engine.dialect.name} databases are not supported")
    return engine.dialect.name


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory database cannot be backed up or restored")
    return Path(database)


def _workdir(engine: Engine) -> Path:
    """Where a backup is unpacked for its checks: beside the live SQLite file, so the final copy stays
    on one file system; the temporary folder for PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return Path(tempfile.gettempdir())
    folder = _sqlite_path(engine).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def _scratch_file(folder: Path) -> Iterator[Path]:
    handle, name = tempfile.mkstemp(dir=folder, prefix=".formwork-backup.", suffix=".tmp")
    os.close(handle)
    path = Path(name)
    try:
        yield path
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def _connected(engine: Engine) -> Iterator[sa.Connection]:
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _formwork_version() -> str:
    try:
        return importlib.metadata.version("formwork")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
