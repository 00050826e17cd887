"""reports and the desk at a million tickets: the units each ticket was referred to, the urgent alerts

Revision ID: 0019_report_indexes
Revises: 0018_relief_documents
Create Date: 2026-12-04 21:05:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019_report_indexes'
down_revision = '0018_relief_documents'
branch_labels = None
depends_on = None

# Open tickets with an urgent triage (models.ticket: OPEN_STATUSES, URGENT_PRIORITIES as of this revision).
URGENT_OPEN = (
    "status IN ('new', 'open', 'referred', 'pending_callback') AND triage_priority IN ('P0', 'P1')"
)


def upgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('ix_referral_ticket_department', ['ticket_id', 'department_id'], unique=False)

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.create_index(
            'ix_ticket_urgent_triage',
            ['triage_priority', 'created_at', 'id'],
            unique=False,
            sqlite_where=sa.text(URGENT_OPEN),
            postgresql_where=sa.text(URGENT_OPEN),
        )


def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_urgent_triage')

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_ticket_department')
