"""triage of texts on tickets, the unclaimed queue by urgency, the working calendar entered by admins

Revision ID: 0007_triage_calendar
Revises: 0006_lean_writes
Create Date: 2026-12-03 13:40:00

"""
import sqlalchemy as sa
from alembic import op



# revision identifiers, used by Alembic.
revision = '0007_triage_calendar'
down_revision = '0006_lean_writes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('triage_priority', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('triage_category', sa.String(length=48), nullable=True))
        batch_op.add_column(sa.Column('triage_reasons', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('triage_verdict', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('triage_reviewed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_ticket_status_priority_created', 'ticket', ['status', 'priority', 'created_at'])

    op.create_table(
        'calendar_year',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('source', sa.String(length=200), nullable=True),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_calendar_year_updated_by_id_user_account')),
        sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_year')),
    )
    op.create_table(
        'calendar_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['year'], ['calendar_year.year'], name=op.f('fk_calendar_day_year_calendar_year')),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_day')),
    )
    op.create_index(op.f('ix_calendar_day_year'), 'calendar_day', ['year'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_calendar_day_year'), table_name='calendar_day')
    op.drop_table('calendar_day')
    op.drop_table('calendar_year')
    op.drop_index('ix_ticket_status_priority_created', table_name='ticket')
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('triage_reviewed_at')
        batch_op.drop_column('triage_verdict')
        batch_op.drop_column('triage_reasons')
        batch_op.drop_column('triage_category')
        batch_op.drop_column('triage_priority')
