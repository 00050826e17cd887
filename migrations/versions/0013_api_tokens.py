"""partner API tokens, their per-minute request counters, their idempotent answers

Revision ID: 0013_api_tokens
Revises: 0012_external_reports
Create Date: 2026-12-04 17:05:00

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "0013_api_tokens"
down_revision = "0012_external_reports"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'api_token',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('scopes', sa.JSON(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('service_user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['department_id'], ["department.id"], name='fk_api_token_department_id_department'),
        sa.ForeignKeyConstraint(
            ['service_user_id'], ["user_account.id"], name='fk_api_token_service_user_id_user_account'
        ),
        sa.ForeignKeyConstraint(['created_by_id'], ["user_account.id"], name='fk_api_token_created_by_id_user_account'),
        sa.ForeignKeyConstraint(['revoked_by_id'], ["user_account.id"], name='fk_api_token_revoked_by_id_user_account'),
        sa.PrimaryKeyConstraint('id', name='pk_api_token'),
        sa.UniqueConstraint('name', name='uq_api_token_name'),
        sa.UniqueConstraint('secret_hash', name='uq_api_token_secret_hash'),
    )
    op.create_table(
        'api_rate_window',
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('requests', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ["api_token.id"], name='fk_api_rate_window_token_id_api_token'),
        sa.PrimaryKeyConstraint('token_id', 'window_start', name='pk_api_rate_window'),
    )
    op.create_table(
        'api_idempotency',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('status_code', sa.SmallInteger(), nullable=True),
        sa.Column('body', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ["api_token.id"], name='fk_api_idempotency_token_id_api_token'),
        sa.PrimaryKeyConstraint('id', name='pk_api_idempotency'),
        sa.UniqueConstraint('token_id', 'key', name='uq_api_idempotency_token_key'),
    )


    op.create_index('ix_ticket_updated_id', 'ticket', ['updated_at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_ticket_updated_id', table_name='ticket')
    op.drop_table('api_idempotency')
    op.drop_table('api_rate_window')
    op.drop_table('api_token')
