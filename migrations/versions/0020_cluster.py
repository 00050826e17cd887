"""outbox: when the claim that may have reached Twilio began (an expired claim is checked with Twilio first)

Revision ID: 0020_cluster
Revises: 0019_report_indexes
Create Date: 2026-12-04 21:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020_cluster'
down_revision = '0019_report_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
