"""Sessions that end on the server and sign-in locks: a session generation per user, remember-me
tokens stored as digests, and a lock per username that grows with each burst of failures.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing users start at generation 0; their sessions from before this revision name only a
    # user id, which the new loader refuses, so everybody signs in once more after the upgrade.
    with op.batch_alter_table('fw_user') as batch:
        batch.add_column(sa.Column('session_generation', sa.Integer(), nullable=False, server_default='0'))
    op.create_table('fw_remember_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['fw_user.id'], name=op.f('fk_fw_remember_token_user_id'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fw_remember_token')),
    sa.UniqueConstraint('digest', name=op.f('uq_fw_remember_token_digest'))
    )
    op.create_index(op.f('ix_fw_remember_token_user_id'), 'fw_remember_token', ['user_id'])
    op.create_table('fw_login_lock',
    sa.Column('username', sa.String(length=63), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('strikes', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_fw_login_lock'))
    )


def downgrade() -> None:
    op.drop_table('fw_login_lock')
    op.drop_index(op.f('ix_fw_remember_token_user_id'), table_name='fw_remember_token')
    op.drop_table('fw_remember_token')
    with op.batch_alter_table('fw_user') as batch:
        batch.drop_column('session_generation')
