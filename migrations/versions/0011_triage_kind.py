"""which rule group, or the triage model, suggested a ticket's triage

Revision ID: 0011_triage_kind
Revises: 0010_append_only
Create Date: 2026-12-03 18:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011_triage_kind'
down_revision = '0010_append_only'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('triage_kind', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('triage_kind')
