"""reports: indexes for the figures, response times, lists and the desk at a million tickets

Revision ID: 0005_reports
Revises: 0004_clocks
Create Date: 2026-11-23 13:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005_reports'
down_revision = '0004_clocks'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('ix_referral_dispatched_at', ['dispatched_at'], unique=False)
        batch_op.create_index('ix_referral_department_dispatched', ['department_id', 'dispatched_at'], unique=False)
        batch_op.create_index('ix_referral_status_deadline', ['status', 'next_deadline_at'], unique=False)

    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.create_index('ix_interaction_channel_direction_started', ['channel', 'direction', 'started_at'], unique=False)

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_paperwork_open', ['paperwork_done_at', 'paperwork_due_at'], unique=False)
        batch_op.create_index('ix_ticket_status_created', ['status', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_status_created')
        batch_op.drop_index('ix_ticket_paperwork_open')

    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.drop_index('ix_interaction_channel_direction_started')

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_status_deadline')
        batch_op.drop_index('ix_referral_department_dispatched')
        batch_op.drop_index('ix_referral_dispatched_at')
