"""lean writes: fewer index pages per text message (partial indexes, no duplicate started_at index)

Every inbound SMS writes an interaction and a ticket event; each index on
them is one more page written per message. ``interaction.started_at`` alone
duplicated the (channel, direction, started_at) index every query uses; the
recording SID and an event's referral are empty on most rows, so their
indexes now hold only the rows that have one.

Revision ID: 0006_lean_writes
Revises: 0005_reports
Create Date: 2026-11-23 16:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006_lean_writes'
down_revision = '0005_reports'
branch_labels = None
depends_on = None


def _where(column):
    clause = sa.text(f'{column} IS NOT NULL')
    return {'sqlite_where': clause, 'postgresql_where': clause}


def upgrade():
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.drop_constraint('uq_interaction_recording_sid', type_='unique')
        batch_op.drop_index('ix_interaction_started_at')
    op.create_index('uq_interaction_recording_sid', 'interaction', ['recording_sid'], unique=True, **_where('recording_sid'))

    op.drop_index('ix_ticket_event_referral_id', table_name='ticket_event')
    op.create_index('ix_ticket_event_referral_id', 'ticket_event', ['referral_id'], **_where('referral_id'))


def downgrade():
    op.drop_index('ix_ticket_event_referral_id', table_name='ticket_event')
    op.create_index('ix_ticket_event_referral_id', 'ticket_event', ['referral_id'], unique=False)

    op.drop_index('uq_interaction_recording_sid', table_name='interaction')
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.create_index('ix_interaction_started_at', ['started_at'], unique=False)
        batch_op.create_unique_constraint('uq_interaction_recording_sid', ['recording_sid'])
