"""failed logins by client address, for the per-address login limit

Revision ID: 0009_sessions
Revises: 0008_own_clock
Create Date: 2026-12-03 13:50:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009_sessions'
down_revision = '0008_own_clock'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'login_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client', sa.String(length=64), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempt')),
    )
    op.create_index('ix_login_attempt_at', 'login_attempt', ['at'])
    op.create_index('ix_login_attempt_client_at', 'login_attempt', ['client', 'at'])


def downgrade():
    op.drop_index('ix_login_attempt_client_at', table_name='login_attempt')
    op.drop_index('ix_login_attempt_at', table_name='login_attempt')
    op.drop_table('login_attempt')
