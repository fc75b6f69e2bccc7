"""Outbox delivery by the worker: the claim a worker holds on a row while it delivers it, when
the row was sent, and mail as rendered for sending (what admins read of held mail).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = ("claimed_at", "claimed_by", "sent_at", "message")


def upgrade() -> None:
    # Plain ADD COLUMNs: fw_outbox is small, but a batch copy is never needed for nullable columns.
    op.add_column("fw_outbox", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("fw_outbox", sa.Column("claimed_by", sa.String(length=64), nullable=True))
    op.add_column("fw_outbox", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("fw_outbox", sa.Column("message", sa.JSON(), nullable=True))


def downgrade() -> None:
    # No table references fw_outbox, so SQLite's batch copy of it cascades nowhere.
    with op.batch_alter_table("fw_outbox") as batch:
        for column in reversed(_COLUMNS):
            batch.drop_column(column)
