"""Household visits (探访): visit plans from the household's flags, visits recorded, the overdue ladder.

A household is a contact with flags (``models.contact.FLAGS``) and a village. ``plan_household`` gives it
the interval of the shortest matching rule of ``visits.toml`` (独居老人 monthly, every social-assistance
household at least once a quarter...) and keeps its next due date; ``record_visit`` moves the due date on;
``visit_ticket`` turns a visit that found difficulty into a ticket in one tap.

Overdue visits climb the ladder of the tickets' clocks (预警 / 催办 / 督办), by days past the due date
(``[[ladder]]`` of visits.toml). The steps cannot be ``EscalationStep`` rows: those key on a ticket, and a
visit is none (it may never become one). So ``visit_escalation`` is their parallel, written the same way:
unique per (plan, due date, level), inserted with ON CONFLICT DO NOTHING, only the inserts that win notify,
found through the indexed ``visit_plan.next_escalation_at`` so a sweep's cost follows what is due. The
scheduler runs ``sweep_visits`` beside the tickets' sweep.
"""

from collections import defaultdict
from datetime import datetime, timedelta
from types import SimpleNamespace

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import joinedload

from hotline import access, audit
from hotline.errors import DomainError, NotAllowed
from hotline.escalation.sweep import beat
from hotline.extensions import DIALECT_INSERT, db
from hotline.grid.policy import VisitPolicy, visit_policy
from hotline.grid.reports import household_person
from hotline.tickets.external import Received, receive_report
from hotline.timeutil import local_date
from hotline.user_notifications import notify
from hotline.validation import checked_text
from models.contact import FLAGS, Contact
from models.department import Department
from models.escalation import LEVELS, SUPERVISED_LEVELS
from models.user import User
from models.visit import Visit, VisitEscalation, VisitPlan

RANK = {level: i for i, level in enumerate(LEVELS)}


def _set_due(plan: VisitPlan, due_on, now: datetime, policy: VisitPolicy) -> None:
    """A new due date is a new run of the ladder: nothing reached yet, its first step next."""
    if plan.next_due_on == due_on:
        return
    plan.next_due_on = due_on
    plan.escalation_level = None
    plan.next_escalation_at = policy.steps(due_on)[0].at


def plan_household(contact: Contact, *, now: datetime, actor: User | None = None) -> VisitPlan | None:
    """Create or update the household's visit plan from its flags; None when it needs none (or has no village).

    The interval is the shortest matching rule's; the next visit is due that long after the last one (or after
    the plan began). A household no rule matches any more keeps its plan, inactive, with its history. Each
    change is audited (``visit_plan_saved``); the caller commits.
    """
    policy = visit_policy()
    rule = policy.interval_for(contact.flags)
    plan = db.session.scalar(select(VisitPlan).where(VisitPlan.contact_id == contact.id))
    if rule is None or contact.village_id is None:
        if plan is not None and plan.active:
            plan.active, plan.updated_at, plan.next_escalation_at = False, now, None
            audit.record(
                "visit_plan_saved", actor_id=actor.id if actor else None, now=now, target=str(contact.id), active=False
            )
        return None
    before = None
    if plan is None:
        plan = VisitPlan(
            contact_id=contact.id,
            village_id=contact.village_id,
            interval_days=rule.days,
            rule=rule.name,
            next_due_on=local_date(now) + timedelta(days=rule.days),
            active=True,
            created_at=now,
            updated_at=now,
        )
        plan.next_escalation_at = policy.steps(plan.next_due_on)[0].at
        db.session.add(plan)
    else:
        before = (plan.rule, plan.interval_days, plan.village_id, plan.active)
        if before == (rule.name, rule.days, contact.village_id, True):
            return plan
        start = local_date(plan.last_visit_at or plan.created_at)
        plan.rule, plan.interval_days, plan.village_id, plan.active = rule.name, rule.days, contact.village_id, True
        plan.updated_at = now
        _set_due(plan, start + timedelta(days=rule.days), now, policy)
        if plan.next_escalation_at is None:  # active again: the sweep writes what it has not written yet, once
            plan.next_escalation_at = policy.steps(plan.next_due_on)[0].at
    db.session.flush()
    audit.record(
        "visit_plan_saved",
        actor_id=actor.id if actor else None,
        now=now,
        target=str(contact.id),
        rule=rule.name,
        days=rule.days,
        due_on=plan.next_due_on.isoformat(),
        **({"before": list(before)} if before else {}),
    )
    return plan


def sync_plans(*, now: datetime) -> dict:
    """:func:`plan_household` for every contact with a flag or a plan (``flask hotline visits plan``); commits."""
    flagged = or_(*(getattr(Contact, flag).is_(True) for flag in FLAGS), Contact.id.in_(select(VisitPlan.contact_id)))
    contacts = db.session.scalars(select(Contact).where(flagged).order_by(Contact.id)).all()
    counts = {"households": 0, "active_plans": 0}
    for contact in contacts:
        counts["households"] += 1
        if plan_household(contact, now=now) is not None:
            counts["active_plans"] += 1
    db.session.commit()
    return counts


def visit_list(village_ids, *, now: datetime, overdue_only: bool = False):
    """SQL: the active plans of ``village_ids`` due within the page's window (or only the overdue ones),
    the most overdue first."""
    today = local_date(now)
    horizon = today if overdue_only else today + timedelta(days=visit_policy().due_within_days)
    cutoff = VisitPlan.next_due_on < today if overdue_only else VisitPlan.next_due_on <= horizon
    return (
        select(VisitPlan)
        .where(VisitPlan.village_id.in_(village_ids), VisitPlan.active.is_(True), cutoff)
        .order_by(VisitPlan.next_due_on, VisitPlan.id)
    )


def overdue_plans(village_ids, *, now: datetime, limit: int) -> list[VisitPlan]:
    """The most overdue visits of ``village_ids``, at most ``limit`` (the village's and township's inbox)."""
    if not village_ids:
        return []
    stmt = visit_list(village_ids, now=now, overdue_only=True).options(
        joinedload(VisitPlan.contact), joinedload(VisitPlan.village)
    )
    return list(db.session.scalars(stmt.limit(limit)))


def supervised_plans(*, limit: int) -> list[VisitPlan]:
    """Visits the ladder took to 督办 or above (still not made), the longest overdue first: the managers' page."""
    stmt = (
        select(VisitPlan)
        .where(VisitPlan.active.is_(True), VisitPlan.escalation_level.in_(SUPERVISED_LEVELS))
        .options(joinedload(VisitPlan.contact), joinedload(VisitPlan.village))
        .order_by(VisitPlan.next_due_on, VisitPlan.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def overdue_count(village_ids, *, now: datetime) -> int:
    if not village_ids:
        return 0
    stmt = visit_list(village_ids, now=now, overdue_only=True)
    return db.session.scalar(select(func.count()).select_from(stmt.subquery()))


def record_visit(
    plan: VisitPlan,
    *,
    visitor: User,
    now: datetime,
    seen: bool,
    condition: str,
    needs: str | None = None,
    difficulty: bool = False,
) -> Visit:
    """Record a visit (seen or not, how they are, what they need, difficulty found); the next one is due one
    interval later, and the overdue ladder of the old due date stops. Audited (``visit_recorded``)."""
    if not access.can_visit(visitor, plan):
        raise NotAllowed(_l("Only staff of the household's village record its visits."))
    if not plan.active:
        raise DomainError(_l("This household has no visit plan any more."))
    condition = checked_text(condition, _l("Say how they are."), limit=2000)
    needs = checked_text(needs, None, required=False, limit=2000)
    visit = Visit(
        plan_id=plan.id,
        visitor_id=visitor.id,
        visited_at=now,
        due_on=plan.next_due_on,
        seen=bool(seen),
        condition=condition,
        needs=needs,
        difficulty=bool(difficulty),
    )
    db.session.add(visit)
    plan.last_visit_at, plan.updated_at = now, now
    _set_due(plan, local_date(now) + timedelta(days=plan.interval_days), now, visit_policy())
    db.session.flush()
    audit.record(
        "visit_recorded",
        actor_id=visitor.id,
        now=now,
        target=str(plan.contact_id),
        visit=visit.id,
        seen=visit.seen,
        difficulty=visit.difficulty,
        due_on=visit.due_on.isoformat(),
    )
    return visit


def visit_summary(visit: Visit) -> tuple[str, str]:
    """The ticket's summary and description prefilled from a visit: what they need, then how they are."""
    household = visit.plan.contact.name or ""
    first = (visit.needs or visit.condition).strip().splitlines()[0]
    summary = str(_l("Visit to %(name)s found difficulty: %(what)s", name=household, what=first))
    if len(summary) > 200:
        summary = summary[:199] + "…"
    lines = [str(_l("How they are: %(text)s", text=visit.condition))]
    if visit.needs:
        lines.append(str(_l("What they need: %(text)s", text=visit.needs)))
    if not visit.seen:
        lines.append(str(_l("The person was not seen in person.")))
    return summary, "\n".join(lines)


def visit_ticket(visit: Visit, *, actor: User, now: datetime) -> Received:
    """One tap: the difficulty a visit found becomes a ticket (source ``visit``), prefilled from the visit.

    The visit's id is the report's external id, so a second tap (or a retry) opens nothing new: the first
    ticket is answered. Priority and category are triage's of the text; the operators confirm them.
    """
    if not access.can_visit(actor, visit.plan):
        raise NotAllowed(_l("Only staff of the household's village record its visits."))
    summary, description = visit_summary(visit)
    received = receive_report(
        now=now,
        source="visit",
        via="visit",
        external_id=f"visit-{visit.id}",
        summary=summary,
        description=description,
        person=household_person(visit.plan.contact),
        reporter=actor,
        extra={"visit_id": visit.id, "seen": visit.seen},
    )
    visit.ticket_id = received.ticket.id
    visit.difficulty = True
    return received


# --- the overdue ladder ------------------------------------------------------------------------


def _audience(policy: VisitPolicy, level: str, plan, managers: list[int], staff: dict[int, list[int]]) -> set[int]:
    out: set[int] = set()
    for who in policy.audience(level):
        if who == "village":
            for unit in access.unit_ids(plan.village_id):
                out.update(staff.get(unit, ()))
        elif who == "township" and plan.township_id:
            out.update(staff.get(plan.township_id, ()))
        elif who == "managers":
            out.update(managers)
    return out


def sweep_visits(*, now: datetime, batch_size: int = 500) -> dict:
    """Write the overdue steps of every plan due by ``now``, each once, and tell their audience; commits
    each batch. Returns what it did (JSON-ready)."""
    policy = visit_policy()
    report = {"now": now.isoformat(), "plans_checked": 0, "steps_written": 0, "by_level": {}}
    managers = list(db.session.scalars(select(User.id).where(User.role == "manager", User.active.is_(True))))
    staff: dict[int, list[int]] = defaultdict(list)
    for uid, dept in db.session.execute(
        select(User.id, User.department_id).where(User.role == "department", User.active.is_(True))
    ):
        staff[dept].append(uid)
    plans_t, contact_t, dept_t = VisitPlan.__table__, Contact.__table__, Department.__table__
    while True:
        stmt = (
            select(
                plans_t.c.id,
                plans_t.c.village_id,
                plans_t.c.next_due_on,
                contact_t.c.name,
                dept_t.c.name.label("village_name"),
                dept_t.c.parent_id.label("township_id"),
            )
            .join(contact_t, contact_t.c.id == plans_t.c.contact_id)
            .join(dept_t, dept_t.c.id == plans_t.c.village_id)
            .where(plans_t.c.next_escalation_at <= now, plans_t.c.active.is_(True))
            .order_by(plans_t.c.next_escalation_at, plans_t.c.id)
            .limit(batch_size)
        )
        if db.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=plans_t)
        plans = [SimpleNamespace(**row._mapping) for row in db.session.execute(stmt)]
        if not plans:
            break
        rows, updates = [], []
        by_id = {p.id: p for p in plans}
        for plan in plans:
            reached, upcoming = None, None
            for step in policy.steps(plan.next_due_on):
                if step.at <= now:
                    reached = step.level
                    rows.append(
                        {
                            "plan_id": plan.id,
                            "due_on": plan.next_due_on,
                            "level": step.level,
                            "due_at": step.at,
                            "written_at": now,
                            "payload": {},
                        }
                    )
                elif upcoming is None:
                    upcoming = step.at
            updates.append({"pid": plan.id, "nxt": upcoming, "lvl": reached})
        table = VisitEscalation.__table__
        insert = (
            DIALECT_INSERT[db.session.get_bind().dialect.name](table)
            .on_conflict_do_nothing(index_elements=["plan_id", "due_on", "level"])
            .returning(table.c.plan_id, table.c.level, table.c.due_on)
        )
        won = db.session.connection().execute(insert, rows).all() if rows else []
        for row in sorted(won, key=lambda r: (r.plan_id, RANK[r.level])):
            plan = by_id[row.plan_id]
            days = (local_date(now) - row.due_on).days
            for uid in _audience(policy, row.level, plan, managers, staff):
                notify(
                    uid,
                    f"visit_{row.level}",
                    now=now,
                    household=plan.name or "",
                    village=plan.village_name,
                    due_on=row.due_on.isoformat(),
                    days=days,
                )
            report["by_level"][row.level] = report["by_level"].get(row.level, 0) + 1
        db.session.execute(
            update(plans_t)
            .where(plans_t.c.id == bindparam("pid"))
            .values(next_escalation_at=bindparam("nxt"), escalation_level=bindparam("lvl")),
            updates,
        )
        report["plans_checked"] += len(plans)
        report["steps_written"] += len(won)
        db.session.commit()
    beat("visits", now=now, info={"steps_written": report["steps_written"]})
    db.session.commit()
    return report
