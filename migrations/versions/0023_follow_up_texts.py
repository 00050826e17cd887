"""lean writes: a caller's text on their open ticket is stored once, as its Interaction

Until now each follow-up text wrote an ``sms_in`` event repeating the
Interaction's body: two more B-trees (the event table, its ticket index)
written and read on the SMS webhook's hot path. The Interaction now says it
is a follow-up (``follow_up``) and the ticket's timeline shows it from there;
the events written before stay (the event table is append-only) and are shown
as they were.

Revision ID: 0023_follow_up_texts
Revises: 0022_lean_sms_indexes
Create Date: 2026-12-05 23:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023_follow_up_texts'
down_revision = '0022_lean_sms_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.drop_column('follow_up')
