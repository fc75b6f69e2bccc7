"""Database engines and the system (fw_) tables every installation has.

SQLite gets real transactions around DDL and enforced foreign keys; PostgreSQL works as it is.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.errors import DatabaseUnavailable

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware UTC datetime on every dialect (SQLite stores naive text)."""
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC) if dialect.name != "sqlite" else value
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


system_metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

fw_metadata = sa.Table(
    "fw_metadata", system_metadata,
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("app", sa.String(63), nullable=False, index=True),
    sa.Column("app_version", sa.String(40), nullable=False),
    sa.Column("documents", sa.JSON, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False, default=False),
    sa.Column("installed_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("installed_by", sa.Integer),
)

# Archived fields and entities keep their data under a renamed column or table until restored.
fw_archive = sa.Table(
    "fw_archive", system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("field", sa.String(63)),            # NULL: the whole entity is archived
    sa.Column("stored_as", sa.String(63), nullable=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("archived_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("restored_at", UTCDateTime),
)

fw_department = sa.Table(
    "fw_department", system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("fw_department.id", ondelete="RESTRICT")),
    sa.Column("head_id", sa.Integer),
)

fw_user = sa.Table(
    "fw_user", system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(63), nullable=False, unique=True),
    sa.Column("email", sa.String(254)),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(255)),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("department_id", sa.Integer, sa.ForeignKey("fw_department.id", ondelete="SET NULL")),
    sa.Column("manager_id", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="SET NULL")),
    sa.Column("locale", sa.String(10), nullable=False, default="en"),
    sa.Column("timezone", sa.String(64), nullable=False, default="UTC"),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("last_login_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    # Every web session and remember-me token carries the generation it began in; raising it
    # (logout, password change, deactivation, role change) ends them all on the next request.
    sa.Column("session_generation", sa.Integer, nullable=False, default=0, server_default="0"),
    # Whether the user also gets their in-app notifications by email.
    sa.Column("notify_by_email", sa.Boolean, nullable=False, default=False, server_default="0"),
)

fw_role = sa.Table(
    "fw_role", system_metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("app", sa.String(63)),
    sa.Column("label", sa.JSON, nullable=False),
)

fw_user_role = sa.Table(
    "fw_user_role", system_metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role", sa.String(63), sa.ForeignKey("fw_role.name", ondelete="CASCADE"), primary_key=True),
)

# A role's grant on one entity ("*" = every entity the role does not name): a scope per action.
fw_permission = sa.Table(
    "fw_permission", system_metadata,
    sa.Column("role", sa.String(63), sa.ForeignKey("fw_role.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("entity", sa.String(63), primary_key=True),
    sa.Column("create_scope", sa.String(24), nullable=False, default="none"),
    sa.Column("read_scope", sa.String(24), nullable=False, default="none"),
    sa.Column("update_scope", sa.String(24), nullable=False, default="none"),
    sa.Column("delete_scope", sa.String(24), nullable=False, default="none"),
)

# A role's limit on one field: hidden (never read nor written) or read_only.
fw_field_permission = sa.Table(
    "fw_field_permission", system_metadata,
    sa.Column("role", sa.String(63), sa.ForeignKey("fw_role.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("entity", sa.String(63), primary_key=True),
    sa.Column("field", sa.String(63), primary_key=True),
    sa.Column("access", sa.String(16), nullable=False),
)

# Administration rights of a role: metadata, users, flows, import, export, api, audit.
fw_role_right = sa.Table(
    "fw_role_right", system_metadata,
    sa.Column("role", sa.String(63), sa.ForeignKey("fw_role.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("right", sa.String(24), primary_key=True),
)

# A record shared with one user beyond their roles' scope: access read or edit.
fw_share = sa.Table(
    "fw_share", system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("record_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="CASCADE"), nullable=False),
    sa.Column("access", sa.String(8), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("created_by", sa.Integer),
    sa.UniqueConstraint("entity", "record_id", "user_id"),
    # The read scope asks "is this row shared with me" per row: user first, then the record.
    sa.Index("ix_fw_share_user_entity_record", "user_id", "entity", "record_id"),
)

# API tokens are kept as a SHA-256 digest only; the clear token is shown once at creation.
fw_api_token = sa.Table(
    "fw_api_token", system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("scope", sa.String(8), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
)

# "Remember me" tokens: a SHA-256 digest of 256 random bits per login, valid until it expires, is
# revoked, or its user's session generation moves past the one it was issued in.
fw_remember_token = sa.Table(
    "fw_remember_token", system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
)

# Sign-in locks per username (known or not, so a lock tells nothing about which accounts exist):
# failures in the current burst, how many bursts ended in a lock (each doubles the next), and until when.
fw_login_lock = sa.Table(
    "fw_login_lock", system_metadata,
    sa.Column("username", sa.String(63), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("strikes", sa.Integer, nullable=False, default=0),
    sa.Column("last_failure_at", UTCDateTime, nullable=False),
    sa.Column("locked_until", UTCDateTime),
)

# Recent login attempts, for throttling only (the audit log keeps the lasting record of logins);
# rows older than a day are pruned as new attempts arrive.
fw_login_attempt = sa.Table(
    "fw_login_attempt", system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("username", sa.String(63), nullable=False),
    sa.Column("address", sa.String(64)),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Index("ix_fw_login_attempt_username_at", "username", "at"),
    sa.Index("ix_fw_login_attempt_address_at", "address", "at"),
)

# Append-only: nothing updates an audit row; audit.purge_expired alone deletes, past retention.
fw_audit = sa.Table(
    "fw_audit", system_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow, index=True),
    sa.Column("actor_id", sa.Integer, index=True),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("entity", sa.String(63), index=True),
    sa.Column("record_id", sa.Integer),
    sa.Column("changes", sa.JSON),
    sa.Column("detail", sa.JSON),
    sa.Index("ix_fw_audit_entity_record", "entity", "record_id"),
)

# One counter per autonumber field and period; incremented under a row lock in the insert's
# transaction, so a rolled-back insert gives its number back and the sequence has no gaps.
fw_counter = sa.Table(
    "fw_counter", system_metadata,
    sa.Column("entity", sa.String(63), primary_key=True),
    sa.Column("field", sa.String(63), primary_key=True),
    sa.Column("period", sa.String(16), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)


# Saved list views, personal or shared.
fw_saved_view = sa.Table(
    "fw_saved_view", system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(63), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("owner_id", sa.Integer, nullable=False, index=True),
    sa.Column("shared", sa.Boolean, nullable=False, default=False),
    # The list's state as its query string encodes it: filters, match, sort, columns, search.
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)


# One row per automation run: what triggered it, whether its condition held, what its actions did.
# Written in the save's transaction, so a run of a rolled-back save leaves no row.
fw_flow_run = sa.Table(
    "fw_flow_run", system_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow, index=True),
    sa.Column("flow", sa.String(63), nullable=False),
    sa.Column("flow_version", sa.String(40)),
    sa.Column("revision", sa.Integer, nullable=False),            # the metadata revision it ran under
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("record_id", sa.Integer),
    sa.Column("trigger", sa.String(24), nullable=False),
    sa.Column("condition", sa.Boolean),                           # NULL: not evaluated (stopped before)
    sa.Column("actions", sa.JSON, nullable=False),                # [{"type", "result"}] in order
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Index("ix_fw_flow_run_flow_at", "flow", "at"),
)

# What leaves the database (mail, in-app notifications, webhooks), written in the save's
# transaction and delivered by the worker after commit: never for a rolled-back save.
fw_outbox = sa.Table(
    "fw_outbox", system_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),             # email, notification, webhook
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("flow", sa.String(63)),
    sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
              sa.ForeignKey("fw_flow_run.id", ondelete="SET NULL")),
    # pending -> sending (claimed by one worker) -> sent; back to pending to retry, failed after the
    # last attempt, held when there is nowhere to send it (mail with no SMTP server configured).
    sa.Column("status", sa.String(16), nullable=False, default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("claimed_at", UTCDateTime),       # when a worker claimed it; past the lease, another may
    sa.Column("claimed_by", sa.String(64)),     # the claim's token: only its holder marks the outcome
    sa.Column("sent_at", UTCDateTime),
    sa.Column("message", sa.JSON),              # mail as rendered for sending: to, cc, subject, body
    sa.Index("ix_fw_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)

# Round-robin assignment: the user an automation last assigned from one pool ("role:sales_rep"),
# updated under a row lock in the save's transaction, so two saves at once pick different users.
fw_flow_assignment = sa.Table(
    "fw_flow_assignment", system_metadata,
    sa.Column("flow", sa.String(63), primary_key=True),
    sa.Column("pool", sa.String(140), primary_key=True),
    sa.Column("last_user_id", sa.Integer, nullable=False),
)


# Work due at a time: an approval step's timeout, a date-relative automation, a schedule's next
# run, a stall alert. A worker fires a row by flipping it from pending in the transaction that
# does its work, so with several workers each row fires once, and a crash mid-way fires it again.
fw_timer = sa.Table(
    "fw_timer", system_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),             # which handler fires it
    sa.Column("key", sa.String(200), nullable=False),             # what it is about; rescheduling replaces it
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="pending"),  # pending, fired, failed, cancelled
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("fired_at", UTCDateTime),
    sa.Index("ix_fw_timer_status_due_at", "status", "due_at"),
    sa.Index("ix_fw_timer_kind_key", "kind", "key"),
)

# In-app notifications: the bell and its list. Written in the transaction of what caused them.
fw_notification = sa.Table(
    "fw_notification", system_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("title", sa.String(200)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("entity", sa.String(63)),
    sa.Column("record_id", sa.Integer),
    sa.Column("flow", sa.String(63)),
    sa.Column("read_at", UTCDateTime),
    sa.Index("ix_fw_notification_user_id_read_at", "user_id", "read_at"),
)


def make_engine(url: str, *, create: bool = True, **kwargs: Any) -> Engine:
    """Returns an SQLAlchemy engine for `url`; SQLite connections get transactional DDL and foreign keys.

    `create=False` never makes a new SQLite file: a server must not come up on an empty database
    because a path was mistyped or a volume is not mounted. PostgreSQL connections are pinged
    before use, so one dropped by the server is replaced instead of failing a request.
    """
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
    else:
        kwargs.setdefault("pool_pre_ping", True)
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _prepare_sqlite(engine)
        if engine.url.database not in (None, "", ":memory:"):
            _watch_sqlite_file(engine, Path(engine.url.database), create=create)
    return engine


def _prepare_sqlite(engine: Engine) -> None:
    # pysqlite opens transactions lazily and never around DDL; take control so that a schema
    # change and its data copy commit or roll back together (SQLAlchemy's documented recipe).
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        _register_formula_functions(dbapi_connection)

    @event.listens_for(engine, "begin")
    def on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")

    @event.listens_for(engine, "handle_error")
    def on_error(context: sa.engine.ExceptionContext) -> None:
        # A connection opened while the file was read-only stays read-only for ever: treat it as
        # lost, so the pool replaces it and the next request writes again once the fault is gone.
        if "readonly database" in str(context.original_exception):
            context.is_disconnect = True


def _watch_sqlite_file(engine: Engine, path: Path, *, create: bool) -> None:
    """Each connection remembers which file it opened; one whose file was deleted or replaced is
    dropped at checkout, before anything is read or acknowledged, and no new file is made unless
    `create`."""
    @event.listens_for(engine, "do_connect")
    def refuse_missing(_dialect: Any, _record: Any, _args: Any, _params: Any) -> None:
        if not create and not path.exists():
            raise DatabaseUnavailable(f"no Formwork database at {path}: the file is missing; restore a "
                                      "backup, run `formwork init`, or set FORMWORK_DATABASE_URL")

    @event.listens_for(engine, "connect")
    def remember_file(_dbapi_connection: Any, record: Any) -> None:
        record.info["file_identity"] = _file_identity(path)

    @event.listens_for(engine, "checkout")
    def check_file(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.get("file_identity") != _file_identity(path):
            raise sa.exc.DisconnectionError(f"{path} was deleted or replaced since it was opened")


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _register_formula_functions(dbapi_connection: Any) -> None:
    from formula import sqlite_functions

    sqlite_functions.register(dbapi_connection)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[sa.Connection]:
    """Yields a connection inside a write transaction; on SQLite it takes the write lock up front
    (BEGIN IMMEDIATE), so two writers queue instead of failing to upgrade their locks."""
    with engine.connect() as conn:
        conn.info["immediate"] = True
        try:
            with conn.begin():
                yield conn
        finally:
            conn.info.pop("immediate", None)

# Approvals (审批). An instance keeps the flow document it started with, so it finishes on that
# version even after the flow changes or is removed; `round` counts the steps it has started, and
# a task belongs to one round, so a decision on a step that has moved on finds no open task.
fw_approval = sa.Table(
    "fw_approval", system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flow", sa.String(63), nullable=False),
    sa.Column("flow_version", sa.String(40)),
    sa.Column("definition", sa.JSON, nullable=False),            # the flow document as it started
    sa.Column("entity", sa.String(63), nullable=False),
    sa.Column("record_id", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),           # pending, returned, approved, rejected, recalled
    sa.Column("submitter_id", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="SET NULL")),
    sa.Column("current_step", sa.String(63)),                    # NULL once finished or returned
    sa.Column("round", sa.Integer, nullable=False, default=0),
    sa.Column("path", sa.JSON, nullable=False),                  # the steps passed, in order
    sa.Column("chosen", sa.JSON, nullable=False),                # step -> user ids the submitter chose
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Index("ix_fw_approval_entity_record_id_state", "entity", "record_id", "state"),
    sa.Index("ix_fw_approval_submitter_id_state", "submitter_id", "state"),
)

# One approver's part in one round of a step: pending (deciding now), waiting (after another
# task: a sequence, or an approver added before), approved, rejected, cancelled (the step was
# decided without them), transferred or escalated (someone else decides instead).
fw_approval_task = sa.Table(
    "fw_approval_task", system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("approval_id", sa.Integer, sa.ForeignKey("fw_approval.id", ondelete="CASCADE"), nullable=False),
    sa.Column("step", sa.String(63), nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="CASCADE"), nullable=False),
    sa.Column("required", sa.Boolean, nullable=False, default=False),   # must approve whatever the mode
    sa.Column("after_task_id", sa.Integer),                              # waiting: the task it follows
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("decided_by", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="SET NULL")),
    sa.Column("on_behalf_of", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="SET NULL")),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("comment", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_fw_approval_task_approval_id_round", "approval_id", "round"),
    sa.Index("ix_fw_approval_task_user_id_state", "user_id", "state"),
)

# Everything that happened to an instance, in order: who, what, when, with which comment, on
# behalf of whom, at which step of which flow version.
fw_approval_log = sa.Table(
    "fw_approval_log", system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("approval_id", sa.Integer, sa.ForeignKey("fw_approval.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor_id", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="SET NULL")),   # NULL: the system
    sa.Column("on_behalf_of", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="SET NULL")),
    sa.Column("action", sa.String(24), nullable=False),
    sa.Column("step", sa.String(63)),
    sa.Column("comment", sa.Text),
    sa.Column("flow_version", sa.String(40)),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_fw_approval_log_approval_id", "approval_id"),
    sa.Index("ix_fw_approval_log_actor_id", "actor_id"),
)

# Who was copied (抄送) on an instance, for "copied to me".
fw_approval_copy = sa.Table(
    "fw_approval_copy", system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("approval_id", sa.Integer, sa.ForeignKey("fw_approval.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("occasion", sa.String(16), nullable=False),        # submit, finish
    sa.Index("ix_fw_approval_copy_user_id", "user_id"),
)

# 委托: while away, a user names a substitute who decides their approvals "on behalf of" them.
fw_approval_delegation = sa.Table(
    "fw_approval_delegation", system_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="CASCADE"), nullable=False),
    sa.Column("substitute_id", sa.Integer, sa.ForeignKey("fw_user.id", ondelete="CASCADE"), nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_fw_approval_delegation_user_id", "user_id"),
    sa.Index("ix_fw_approval_delegation_substitute_id", "substitute_id"),
)
