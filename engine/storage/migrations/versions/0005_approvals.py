"""Approvals (审批): instances with the flow document they started on, approver tasks per step
round, the decision log, carbon copies and delegations (委托).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.Integer()
WHEN = sa.DateTime(timezone=True)


def _user_fk(table: str, column: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["fw_user.id"], name=op.f(f"fk_{table}_{column}"), ondelete=ondelete)


def _approval_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["approval_id"], ["fw_approval.id"], name=op.f(f"fk_{table}_approval_id"),
                                   ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "fw_approval",
        sa.Column("id", ID, nullable=False),
        sa.Column("flow", sa.String(63), nullable=False),
        sa.Column("flow_version", sa.String(40), nullable=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("submitter_id", sa.Integer(), nullable=True),
        sa.Column("current_step", sa.String(63), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("chosen", sa.JSON(), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        _user_fk("fw_approval", "submitter_id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fw_approval")),
    )
    op.create_index("ix_fw_approval_entity_record_id_state", "fw_approval", ["entity", "record_id", "state"])
    op.create_index("ix_fw_approval_submitter_id_state", "fw_approval", ["submitter_id", "state"])
    op.create_table(
        "fw_approval_task",
        sa.Column("id", ID, nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(63), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("after_task_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("on_behalf_of", sa.Integer(), nullable=True),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        _approval_fk("fw_approval_task"),
        _user_fk("fw_approval_task", "user_id", "CASCADE"),
        _user_fk("fw_approval_task", "decided_by", "SET NULL"),
        _user_fk("fw_approval_task", "on_behalf_of", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fw_approval_task")),
    )
    op.create_index("ix_fw_approval_task_approval_id_round", "fw_approval_task", ["approval_id", "round"])
    op.create_index("ix_fw_approval_task_user_id_state", "fw_approval_task", ["user_id", "state"])
    op.create_table(
        "fw_approval_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("on_behalf_of", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("step", sa.String(63), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("flow_version", sa.String(40), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        _approval_fk("fw_approval_log"),
        _user_fk("fw_approval_log", "actor_id", "SET NULL"),
        _user_fk("fw_approval_log", "on_behalf_of", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fw_approval_log")),
    )
    op.create_index("ix_fw_approval_log_approval_id", "fw_approval_log", ["approval_id"])
    op.create_index("ix_fw_approval_log_actor_id", "fw_approval_log", ["actor_id"])
    op.create_table(
        "fw_approval_copy",
        sa.Column("id", ID, nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("occasion", sa.String(16), nullable=False),
        _approval_fk("fw_approval_copy"),
        _user_fk("fw_approval_copy", "user_id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fw_approval_copy")),
    )
    op.create_index("ix_fw_approval_copy_user_id", "fw_approval_copy", ["user_id"])
    op.create_table(
        "fw_approval_delegation",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("substitute_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        _user_fk("fw_approval_delegation", "user_id", "CASCADE"),
        _user_fk("fw_approval_delegation", "substitute_id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fw_approval_delegation")),
    )
    op.create_index("ix_fw_approval_delegation_user_id", "fw_approval_delegation", ["user_id"])
    op.create_index("ix_fw_approval_delegation_substitute_id", "fw_approval_delegation", ["substitute_id"])


def downgrade() -> None:
    for table in ("fw_approval_delegation", "fw_approval_copy", "fw_approval_log", "fw_approval_task", "fw_approval"):
        op.drop_table(table)
