"""cases reported by partner systems, the monitoring import, grid workers and visits

Revision ID: 0012_external_reports
Revises: 0011_triage_kind
Create Date: 2026-12-04 17:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0012_external_reports'
down_revision = '0011_triage_kind'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=True))
    op.create_table(
        'external_report',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('external_id', sa.String(length=64), nullable=True),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('summary', sa.String(length=200), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reporter_id', sa.Integer(), nullable=True),
        sa.Column('via', sa.String(length=16), nullable=False),
        sa.Column('extra', sa.JSON(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id']),
        sa.ForeignKeyConstraint(['reporter_id'], ['user_account.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source', 'external_id', name='uq_external_report_source_id'),
    )
    with op.batch_alter_table('external_report', schema=None) as batch_op:
        batch_op.create_index('ix_external_report_ticket_id', ['ticket_id'], unique=False)
        batch_op.create_index('ix_external_report_source_received', ['source', 'received_at'], unique=False)


def downgrade():
    op.drop_table('external_report')
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('source')
