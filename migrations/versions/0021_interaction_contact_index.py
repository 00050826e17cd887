"""lean writes: no index on interaction.contact_id (nothing reads by it; every inbound call and text wrote it)

Interactions are read by ticket (the timeline), by SID (replays) and by
channel, direction and time (reports), never by contact: a contact's calls
and texts are found through their tickets. The index cost one more page
written per inbound SMS on the webhook's hot path.

Revision ID: 0021_interaction_contact_index
Revises: 0020_cluster
Create Date: 2026-12-05 00:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021_interaction_contact_index'
down_revision = '0020_cluster'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_interaction_contact_id', table_name='interaction')


def downgrade():
    op.create_index('ix_interaction_contact_id', 'interaction', ['contact_id'], unique=False)
