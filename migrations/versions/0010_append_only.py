"""ticket_event and audit_log refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) in the database itself

Revision ID: 0010_append_only
Revises: 0009_sessions
Create Date: 2026-12-03 13:50:00

"""
from alembic import op

from hotline.append_only import create_statements, drop_statements

# revision identifiers, used by Alembic.
revision = '0010_append_only'
down_revision = '0009_sessions'
branch_labels = None
depends_on = None


def upgrade():
    for statement in create_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    for statement in drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
