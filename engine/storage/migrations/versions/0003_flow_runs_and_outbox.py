"""Automations: a log of every run, an outbox for what leaves the database (mail, notifications,
webhooks) written in the save's transaction, and the round-robin assignment counters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fw_flow_run',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('flow', sa.String(length=63), nullable=False),
    sa.Column('flow_version', sa.String(length=40), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=63), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('trigger', sa.String(length=24), nullable=False),
    sa.Column('condition', sa.Boolean(), nullable=True),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fw_flow_run'))
    )
    op.create_index(op.f('ix_fw_flow_run_at'), 'fw_flow_run', ['at'])
    op.create_index('ix_fw_flow_run_flow_at', 'fw_flow_run', ['flow', 'at'])
    op.create_table('fw_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('flow', sa.String(length=63), nullable=True),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['fw_flow_run.id'], name=op.f('fk_fw_outbox_run_id'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fw_outbox'))
    )
    op.create_index('ix_fw_outbox_status_next_attempt_at', 'fw_outbox', ['status', 'next_attempt_at'])
    op.create_table('fw_flow_assignment',
    sa.Column('flow', sa.String(length=63), nullable=False),
    sa.Column('pool', sa.String(length=140), nullable=False),
    sa.Column('last_user_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('flow', 'pool', name=op.f('pk_fw_flow_assignment'))
    )


def downgrade() -> None:
    op.drop_table('fw_flow_assignment')
    op.drop_index('ix_fw_outbox_status_next_attempt_at', table_name='fw_outbox')
    op.drop_table('fw_outbox')
    op.drop_index('ix_fw_flow_run_flow_at', table_name='fw_flow_run')
    op.drop_index(op.f('ix_fw_flow_run_at'), table_name='fw_flow_run')
    op.drop_table('fw_flow_run')
