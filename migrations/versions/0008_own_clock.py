"""a clock on every open case: the hotline's own clock, the closing and pause-review clocks, runs of a clock

Revision ID: 0008_own_clock
Revises: 0007_triage_calendar
Create Date: 2026-12-03 14:00:00

The ticket gets the start of its own clock (派单/答复) and the deadlines of the
closing (结案) and pause-review (暂停复核) clocks. An escalation step is now
unique per run of its clock: ``started_at`` joins the unique key. Steps written
before are given the start their clock had (the ticket's creation, the
referral's dispatch, the return request, the resolution), so a sweep after the
upgrade does not write them again.

Deadlines counted in working time cannot be computed in SQL: after upgrading,
``flask --app app hotline sync-clocks`` starts the clocks every open ticket
should run by the new rules (the P2/P3 own clock, the closing and pause-review
clocks). The rows it cannot know here are left empty until then.
"""
import sqlalchemy as sa
from alembic import op



# revision identifiers, used by Alembic.
revision = '0008_own_clock'
down_revision = '0007_triage_calendar'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatch_started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('close_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pause_review_due_at', sa.DateTime(timezone=True), nullable=True))
    # A dispatch clock running today started when the ticket was logged.
    op.execute(
        "UPDATE ticket SET dispatch_started_at = created_at "
        "WHERE status IN ('new', 'open') AND dispatch_due_at IS NOT NULL AND resolved_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM referral WHERE referral.ticket_id = ticket.id)"
    )

    with op.batch_alter_table('escalation_step', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE escalation_step SET started_at = COALESCE(("
        "SELECT CASE escalation_step.clock "
        "WHEN 'paperwork' THEN ticket.advance_relief_at "
        "WHEN 'callback' THEN ticket.resolved_at "
        "ELSE ticket.created_at END "
        "FROM ticket WHERE ticket.id = escalation_step.ticket_id), due_at) "
        "WHERE referral_key = 0 AND clock <> 'manual'"
    )
    op.execute(
        "UPDATE escalation_step SET started_at = COALESCE(("
        "SELECT CASE escalation_step.clock "
        "WHEN 'return_review' THEN referral.return_requested_at "
        "ELSE referral.dispatched_at END "
        "FROM referral WHERE referral.id = escalation_step.referral_key), due_at) "
        "WHERE referral_key <> 0"
    )
    op.execute("UPDATE escalation_step SET started_at = due_at WHERE started_at IS NULL")
    with op.batch_alter_table('escalation_step', schema=None) as batch_op:
        batch_op.alter_column('started_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_constraint('uq_escalation_step_once', type_='unique')
        batch_op.create_unique_constraint(
            'uq_escalation_step_once', ['ticket_id', 'referral_key', 'clock', 'started_at', 'level']
        )


def downgrade():
    # Runs of one clock after the first cannot keep their steps under the old key: keep the first run's.
    op.execute(
        "DELETE FROM escalation_step WHERE EXISTS (SELECT 1 FROM escalation_step AS e "
        "WHERE e.ticket_id = escalation_step.ticket_id AND e.referral_key = escalation_step.referral_key "
        "AND e.clock = escalation_step.clock AND e.level = escalation_step.level "
        "AND e.started_at < escalation_step.started_at)"
    )
    with op.batch_alter_table('escalation_step', schema=None) as batch_op:
        batch_op.drop_constraint('uq_escalation_step_once', type_='unique')
        batch_op.create_unique_constraint('uq_escalation_step_once', ['ticket_id', 'referral_key', 'clock', 'level'])
        batch_op.drop_column('started_at')
    # Dropped in place (SQLite 3.35+ can): copying the ticket table would trip the foreign keys pointing at it.
    with op.batch_alter_table('ticket', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('pause_review_due_at')
        batch_op.drop_column('close_due_at')
        batch_op.drop_column('dispatch_started_at')
