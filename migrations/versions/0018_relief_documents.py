"""relief papers, services and integrity: documents, services, declared relatives, the grant's checks

Revision ID: 0018_relief_documents
Revises: 0017_relief_funds
Create Date: 2026-12-04 17:15:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018_relief_documents'
down_revision = '0017_relief_funds'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'relief_document',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('display_name', sa.String(length=120), nullable=False),
        sa.Column('stored_name', sa.String(length=64), nullable=False),
        sa.Column('content_type', sa.String(length=32), nullable=False),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
        sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name='fk_relief_document_ticket_id_ticket'),
        sa.ForeignKeyConstraint(
            ['uploaded_by_id'], ['user_account.id'], name='fk_relief_document_uploaded_by_id_user_account'
        ),
        sa.PrimaryKeyConstraint('id', name='pk_relief_document'),
        sa.UniqueConstraint('stored_name', name='uq_relief_document_stored_name'),
    )
    with op.batch_alter_table('relief_document', schema=None) as batch_op:
        batch_op.create_index('ix_relief_document_ticket_id', ['ticket_id'], unique=False)

    op.create_table(
        'relief_service',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('provider_unit_id', sa.Integer(), nullable=True),
        sa.Column('provider_org', sa.String(length=120), nullable=True),
        sa.Column('started_on', sa.Date(), nullable=False),
        sa.Column('ended_on', sa.Date(), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.Text(), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name='fk_relief_service_ticket_id_ticket'),
        sa.ForeignKeyConstraint(
            ['provider_unit_id'], ['department.id'], name='fk_relief_service_provider_unit_id_department'
        ),
        sa.ForeignKeyConstraint(
            ['recorded_by_id'], ['user_account.id'], name='fk_relief_service_recorded_by_id_user_account'
        ),
        sa.PrimaryKeyConstraint('id', name='pk_relief_service'),
    )
    with op.batch_alter_table('relief_service', schema=None) as batch_op:
        batch_op.create_index('ix_relief_service_ticket_id', ['ticket_id'], unique=False)
        batch_op.create_index('ix_relief_service_started_on', ['started_on'], unique=False)

    op.create_table(
        'declared_relative',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('id_number', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('relation', sa.String(length=40), nullable=False),
        sa.Column('declared_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name='fk_declared_relative_user_id_user_account'),
        sa.PrimaryKeyConstraint('id', name='pk_declared_relative'),
    )
    with op.batch_alter_table('declared_relative', schema=None) as batch_op:
        batch_op.create_index('ix_declared_relative_user_id', ['user_id'], unique=False)
        batch_op.create_index('ix_declared_relative_id_number', ['id_number'], unique=False)

    with op.batch_alter_table('advance_relief', schema=None) as batch_op:
        batch_op.add_column(sa.Column('integrity', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('case_conference_ref', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('case_conference_document_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            'fk_advance_relief_case_conference_document_id_relief_document',
            'relief_document',
            ['case_conference_document_id'],
            ['id'],
        )

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.create_index('ix_contact_id_number', ['id_number'], unique=False)


def downgrade():
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_id_number')
    with op.batch_alter_table('advance_relief', schema=None) as batch_op:
        batch_op.drop_constraint('fk_advance_relief_case_conference_document_id_relief_document', type_='foreignkey')
        batch_op.drop_column('case_conference_document_id')
        batch_op.drop_column('case_conference_ref')
        batch_op.drop_column('integrity')
    op.drop_table('declared_relative')
    op.drop_table('relief_service')
    op.drop_table('relief_document')
