"""System tables as Formwork 0.1 created them: the baseline every later revision builds on.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fw_archive',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=63), nullable=False),
    sa.Column('field', sa.String(length=63), nullable=True),
    sa.Column('stored_as', sa.String(length=63), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('restored_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fw_archive'))
    )
    op.create_table('fw_audit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('entity', sa.String(length=63), nullable=True),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fw_audit'))
    )
    op.create_index(op.f('ix_fw_audit_actor_id'), 'fw_audit', ['actor_id'])
    op.create_index(op.f('ix_fw_audit_at'), 'fw_audit', ['at'])
    op.create_index(op.f('ix_fw_audit_entity'), 'fw_audit', ['entity'])
    op.create_index('ix_fw_audit_entity_record', 'fw_audit', ['entity', 'record_id'])
    op.create_table('fw_counter',
    sa.Column('entity', sa.String(length=63), nullable=False),
    sa.Column('field', sa.String(length=63), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('entity', 'field', 'period', name=op.f('pk_fw_counter'))
    )
    op.create_table('fw_department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('head_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['fw_department.id'], name=op.f('fk_fw_department_parent_id'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fw_department')),
    sa.UniqueConstraint('name', name=op.f('uq_fw_department_name'))
    )
    op.create_table('fw_login_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(length=63), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fw_login_attempt'))
    )
    op.create_index('ix_fw_login_attempt_address_at', 'fw_login_attempt', ['address', 'at'])
    op.create_index(op.f('ix_fw_login_attempt_at'), 'fw_login_attempt', ['at'])
    op.create_index('ix_fw_login_attempt_username_at', 'fw_login_attempt', ['username', 'at'])
    op.create_table('fw_metadata',
    sa.Column('revision', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('app', sa.String(length=63), nullable=False),
    sa.Column('app_version', sa.String(length=40), nullable=False),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('removed', sa.Boolean(), nullable=False),
    sa.Column('installed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('installed_by', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('revision', name=op.f('pk_fw_metadata'))
    )
    op.create_index(op.f('ix_fw_metadata_app'), 'fw_metadata', ['app'])
    op.create_table('fw_role',
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('app', sa.String(length=63), nullable=True),
    sa.Column('label', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_fw_role'))
    )
    op.create_table('fw_saved_view',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fw_saved_view'))
    )
    op.create_index(op.f('ix_fw_saved_view_entity'), 'fw_saved_view', ['entity'])
    op.create_index(op.f('ix_fw_saved_view_owner_id'), 'fw_saved_view', ['owner_id'])
    op.create_table('fw_field_permission',
    sa.Column('role', sa.String(length=63), nullable=False),
    sa.Column('entity', sa.String(length=63), nullable=False),
    sa.Column('field', sa.String(length=63), nullable=False),
    sa.Column('access', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['role'], ['fw_role.name'], name=op.f('fk_fw_field_permission_role'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('role', 'entity', 'field', name=op.f('pk_fw_field_permission'))
    )
    op.create_table('fw_permission',
    sa.Column('role', sa.String(length=63), nullable=False),
    sa.Column('entity', sa.String(length=63), nullable=False),
    sa.Column('create_scope', sa.String(length=24), nullable=False),
    sa.Column('read_scope', sa.String(length=24), nullable=False),
    sa.Column('update_scope', sa.String(length=24), nullable=False),
    sa.Column('delete_scope', sa.String(length=24), nullable=False),
    sa.ForeignKeyConstraint(['role'], ['fw_role.name'], name=op.f('fk_fw_permission_role'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('role', 'entity', name=op.f('pk_fw_permission'))
    )
    op.create_table('fw_role_right',
    sa.Column('role', sa.String(length=63), nullable=False),
    sa.Column('right', sa.String(length=24), nullable=False),
    sa.ForeignKeyConstraint(['role'], ['fw_role.name'], name=op.f('fk_fw_role_right_role'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('role', 'right', name=op.f('pk_fw_role_right'))
    )
    op.create_table('fw_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=63), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('manager_id', sa.Integer(), nullable=True),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['fw_department.id'], name=op.f('fk_fw_user_department_id'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['manager_id'], ['fw_user.id'], name=op.f('fk_fw_user_manager_id'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fw_user')),
    sa.UniqueConstraint('username', name=op.f('uq_fw_user_username'))
    )
    op.create_table('fw_api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['fw_user.id'], name=op.f('fk_fw_api_token_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fw_api_token')),
    sa.UniqueConstraint('digest', name=op.f('uq_fw_api_token_digest'))
    )
    op.create_table('fw_share',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=63), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('access', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['fw_user.id'], name=op.f('fk_fw_share_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fw_share')),
    sa.UniqueConstraint('entity', 'record_id', 'user_id', name=op.f('uq_fw_share_entity_record_id_user_id'))
    )
    op.create_index('ix_fw_share_user_entity_record', 'fw_share', ['user_id', 'entity', 'record_id'])
    op.create_table('fw_user_role',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['role'], ['fw_role.name'], name=op.f('fk_fw_user_role_role'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['fw_user.id'], name=op.f('fk_fw_user_role_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role', name=op.f('pk_fw_user_role'))
    )



def downgrade() -> None:
    op.drop_table('fw_user_role')
    op.drop_table('fw_share')
    op.drop_table('fw_api_token')
    op.drop_table('fw_user')
    op.drop_table('fw_role_right')
    op.drop_table('fw_permission')
    op.drop_table('fw_field_permission')
    op.drop_table('fw_saved_view')
    op.drop_table('fw_role')
    op.drop_table('fw_metadata')
    op.drop_table('fw_login_attempt')
    op.drop_table('fw_department')
    op.drop_table('fw_counter')
    op.drop_table('fw_audit')
    op.drop_table('fw_archive')
