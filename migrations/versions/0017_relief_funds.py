"""relief funds (救急难基金, 慈善资金) as ledgers, and payouts held for a fund's manager

Revision ID: 0017_relief_funds
Revises: 0016_visits
Create Date: 2026-12-04 17:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017_relief_funds'
down_revision = '0016_visits'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'fund',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('owner_unit_id', sa.Integer(), nullable=False),
        sa.Column('balance_fen', sa.BigInteger(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['owner_unit_id'], ['department.id'], name=op.f('fk_fund_owner_unit_id_department')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fund')),
        sa.UniqueConstraint('code', name=op.f('uq_fund_code')),
        sa.UniqueConstraint('owner_unit_id', 'kind', name='uq_fund_owner_kind'),
    )
    op.create_table(
        'fund_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('fund_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('amount_fen', sa.BigInteger(), nullable=False),
        sa.Column('balance_after_fen', sa.BigInteger(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('relief_id', sa.Integer(), nullable=True),
        sa.Column('payment_id', sa.Integer(), nullable=True),
        sa.Column('reverses_id', sa.Integer(), nullable=True),
        sa.Column('actor_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['fund_id'], ['fund.id'], name=op.f('fk_fund_entry_fund_id_fund')),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_fund_entry_ticket_id_ticket')),
        sa.ForeignKeyConstraint(
            ['relief_id'], ['advance_relief.id'], name=op.f('fk_fund_entry_relief_id_advance_relief')
        ),
        sa.ForeignKeyConstraint(
            ['payment_id'], ['advance_relief_payment.id'], name=op.f('fk_fund_entry_payment_id_advance_relief_payment')
        ),
        sa.ForeignKeyConstraint(['reverses_id'], ['fund_entry.id'], name=op.f('fk_fund_entry_reverses_id_fund_entry')),
        sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_fund_entry_actor_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_entry')),
        sa.UniqueConstraint('payment_id', name=op.f('uq_fund_entry_payment_id')),
        sa.UniqueConstraint('reverses_id', name=op.f('uq_fund_entry_reverses_id')),
    )
    with op.batch_alter_table('fund_entry', schema=None) as batch_op:
        batch_op.create_index('ix_fund_entry_fund_at', ['fund_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_entry_ticket_id'), ['ticket_id'], unique=False)
    op.create_table(
        'fund_payout_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('fund_id', sa.Integer(), nullable=False),
        sa.Column('relief_id', sa.Integer(), nullable=False),
        sa.Column('amount_fen', sa.BigInteger(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decision_comment', sa.Text(), nullable=True),
        sa.Column('payment_id', sa.Integer(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['fund_id'], ['fund.id'], name=op.f('fk_fund_payout_request_fund_id_fund')),
        sa.ForeignKeyConstraint(
            ['relief_id'], ['advance_relief.id'], name=op.f('fk_fund_payout_request_relief_id_advance_relief')
        ),
        sa.ForeignKeyConstraint(
            ['requested_by_id'], ['user_account.id'], name=op.f('fk_fund_payout_request_requested_by_id_user_account')
        ),
        sa.ForeignKeyConstraint(
            ['decided_by_id'], ['user_account.id'], name=op.f('fk_fund_payout_request_decided_by_id_user_account')
        ),
        sa.ForeignKeyConstraint(
            ['payment_id'],
            ['advance_relief_payment.id'],
            name=op.f('fk_fund_payout_request_payment_id_advance_relief_payment'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_payout_request')),
    )
    with op.batch_alter_table('fund_payout_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_payout_request_fund_id'), ['fund_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_payout_request_relief_id'), ['relief_id'], unique=False)


def downgrade():
    op.drop_table('fund_payout_request')
    op.drop_table('fund_entry')
    op.drop_table('fund')
