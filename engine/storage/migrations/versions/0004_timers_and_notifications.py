"""Timers the worker fires once each (approval timeouts, date-relative automations, schedules,
stall alerts), in-app notifications, and each user's choice to get them by email too.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both dialects: a batch copy of fw_user on SQLite would cascade-delete
    # the rows that reference it (fw_user_role, ...), as foreign keys are enforced.
    op.add_column('fw_user', sa.Column('notify_by_email', sa.Boolean(), nullable=False, server_default="0"))
    op.create_table('fw_timer',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fw_timer'))
    )
    op.create_index('ix_fw_timer_status_due_at', 'fw_timer', ['status', 'due_at'])
    op.create_index('ix_fw_timer_kind_key', 'fw_timer', ['kind', 'key'])
    op.create_table('fw_notification',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('entity', sa.String(length=63), nullable=True),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('flow', sa.String(length=63), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['fw_user.id'], name=op.f('fk_fw_notification_user_id'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fw_notification'))
    )
    op.create_index('ix_fw_notification_user_id_read_at', 'fw_notification', ['user_id', 'read_at'])


def downgrade() -> None:
    op.drop_index('ix_fw_notification_user_id_read_at', table_name='fw_notification')
    op.drop_table('fw_notification')
    op.drop_index('ix_fw_timer_kind_key', table_name='fw_timer')
    op.drop_index('ix_fw_timer_status_due_at', table_name='fw_timer')
    op.drop_table('fw_timer')
    with op.batch_alter_table('fw_user') as batch:
        batch.drop_column('notify_by_email')
