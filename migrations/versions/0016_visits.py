"""household visits (探访): visit plans, visits, the overdue ladder; two household flags on contact

Revision ID: 0016_visits
Revises: 0015_alert_import
Create Date: 2026-12-04 17:10:00

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "0016_visits"
down_revision = '0015_alert_import'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("social_assistance", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("left_behind_children", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "visit_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("interval_days", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=False),
        sa.Column("last_visit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_level", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]),
        sa.ForeignKeyConstraint(["village_id"], ["department.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", name="uq_visit_plan_contact_id"),
    )
    with op.batch_alter_table("visit_plan", schema=None) as batch_op:
        batch_op.create_index("ix_visit_plan_village_id", ["village_id"], unique=False)
        batch_op.create_index("ix_visit_plan_next_escalation_at", ["next_escalation_at"], unique=False)
        batch_op.create_index("ix_visit_plan_village_due", ["village_id", "active", "next_due_on"], unique=False)
    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("visitor_id", sa.Integer(), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("seen", sa.Boolean(), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("needs", sa.Text(), nullable=True),
        sa.Column("difficulty", sa.Boolean(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["visit_plan.id"]),
        sa.ForeignKeyConstraint(["visitor_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index("ix_visit_plan_id", ["plan_id"], unique=False)
    op.create_table(
        "visit_escalation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["visit_plan.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "due_on", "level", name="uq_visit_escalation_once"),
    )


def downgrade():
    op.drop_table("visit_escalation")
    op.drop_table("visit")
    op.drop_table("visit_plan")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("left_behind_children")
        batch_op.drop_column("social_assistance")
