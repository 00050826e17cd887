"""lean writes: a text message writes two fewer index entries and its look-up reads no ticket row

- ``ix_ticket_event_kind_at`` goes: events are read by ticket, never by kind
  alone, and every text message wrote an entry.
- ``ix_interaction_channel_direction_started`` becomes
  ``ix_interaction_voice_direction_started``, partial (``channel = 'voice'``):
  only calls are read by time (reports, the desk's call panel); texts, most of
  the rows, wrote an entry each.
- ``ix_ticket_contact_id`` becomes ``ix_ticket_contact_open``, which also holds
  the columns the SMS webhook reads of a sender's newest open ticket (status,
  created_at, number, priority, triage_priority, first_contact_owner_id).

Measured with bench/intake.sh: on SQLite each B-tree a transaction touches is
read again from the start, because the other web worker's commit emptied the
connection's page cache.

Revision ID: 0022_lean_sms_indexes
Revises: 0021_interaction_contact_index
Create Date: 2026-12-05 22:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_lean_sms_indexes'
down_revision = '0021_interaction_contact_index'
branch_labels = None
depends_on = None

_VOICE = sa.text("channel = 'voice'")
_CONTACT_OPEN = ['contact_id', 'status', 'created_at', 'number', 'priority', 'triage_priority', 'first_contact_owner_id']


def upgrade():
    op.drop_index('ix_ticket_event_kind_at', table_name='ticket_event')
    op.drop_index('ix_interaction_channel_direction_started', table_name='interaction')
    op.create_index(
        'ix_interaction_voice_direction_started', 'interaction', ['direction', 'started_at'], unique=False,
        sqlite_where=_VOICE, postgresql_where=_VOICE,
    )
    op.create_index('ix_ticket_contact_open', 'ticket', _CONTACT_OPEN, unique=False)
    op.drop_index('ix_ticket_contact_id', table_name='ticket')


def downgrade():
    op.create_index('ix_ticket_contact_id', 'ticket', ['contact_id'], unique=False)
    op.drop_index('ix_ticket_contact_open', table_name='ticket')
    op.drop_index('ix_interaction_voice_direction_started', table_name='interaction')
    op.create_index(
        'ix_interaction_channel_direction_started', 'interaction', ['channel', 'direction', 'started_at'], unique=False
    )
    op.create_index('ix_ticket_event_kind_at', 'ticket_event', ['kind', 'at'], unique=False)
