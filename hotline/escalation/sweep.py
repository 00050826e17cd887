"""The escalation sweep: find what is due, write each ladder step once, tell the people concerned.

One sweep reads the tickets and referrals whose ``next_escalation_at`` has
passed (one index range scan each, so its cost follows what is due, never what
is open), computes every ladder step of their running clocks that fell due
since they were last checked, and inserts those steps with ON CONFLICT DO
NOTHING on the unique (ticket, referral, clock, run, level) key (a run is
named by the instant the clock started, see ``EscalationStep``). Only the steps
that insert do anything (events, notifications, the P1 SMS to the unit's duty
phone), so two sweepers at once, or a replayed sweep, write every step once.
On PostgreSQL the rows are also claimed with ``FOR UPDATE SKIP LOCKED`` so
concurrent sweepers split the work instead of both computing it. After
downtime the next sweep catches up on every missed step, in due order.

Every step is an event on the ticket's timeline, but people hear of a ticket
once per sweep: each recipient gets one notification per ticket listing the
steps that reached them (highest level first), however many the sweep wrote
for it, and a unit's duty phone one text per referral. A sweep that catches up
on a week of downtime does not bury a manager in one notice per step.

The sweep's own bookkeeping (``next_escalation_at``, ``escalation_checked_at``,
``escalation_level``) is written with plain UPDATEs that leave the rows'
``version`` alone: a sweep never makes a user's open form stale.
"""

from collections import defaultdict
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import select

from hotline import bulk
from hotline.escalation import clocks, sla
from hotline.extensions import DIALECT_INSERT, db
from hotline.tickets.service import event_row, insert_events
from models.department import Department
from models.escalation import LEVELS, EscalationStep, Heartbeat
from models.notification import Notification
from models.referral import Referral
from models.ticket import URGENT_PRIORITIES, Ticket
from models.user import User

RANK = {level: i for i, level in enumerate(LEVELS)}


def _higher(current: str | None, new: str) -> str:
    return new if current is None or RANK[new] > RANK[current] else current


def _insert(model):
    return DIALECT_INSERT[db.session.get_bind().dialect.name](model)


def _plan(priority: str, spans, checked: datetime | None, now: datetime):
    """The ladder steps of ``spans`` due by ``now`` and not handled yet, and the next instant after ``now``."""
    due, upcoming = [], None
    for span in spans:
        for step in sla.ladder_steps(priority, span.clock, span.start, span.due):
            if step.at <= now:
                if checked is None or step.at > checked:
                    due.append((span.clock, span.start, step.level, step.at))
            elif upcoming is None or step.at < upcoming:
                upcoming = step.at
                break  # later steps of this clock come after this one
    return due, upcoming


def _step_row(
    ticket_id: int, referral_key: int, clock: str, started: datetime, level: str, at: datetime, now: datetime
) -> dict:
    return {
        "ticket_id": ticket_id,
        "referral_key": referral_key,
        "clock": clock,
        "started_at": started,
        "level": level,
        "due_at": at,
        "written_at": now,
        "actor_id": None,
        "payload": {},
    }


class _Audience:
    """Recipients, looked up once per sweep; who hears of each level is the ladder's ``audience`` in sla.toml."""

    def __init__(self):
        self.policy = sla.sla_policy()
        self.managers = list(db.session.scalars(select(User.id).where(User.role == "manager", User.active.is_(True))))
        self.staff: dict[int, list[int]] = defaultdict(list)
        for uid, dept in db.session.execute(
            select(User.id, User.department_id).where(User.role == "department", User.active.is_(True))
        ):
            self.staff[dept].append(uid)

    def users(self, level: str, *, owner: int | None, unit: int | None) -> set[int]:
        out = set()
        for who in self.policy.audience(level):
            if who == "owner" and owner:
                out.add(owner)
            elif who == "unit" and unit:
                out.update(self.staff.get(unit, ()))
            elif who == "managers":
                out.update(self.managers)
        return out


def _claim(stmt, model):
    if db.session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True, of=model)
    return stmt


def _write_steps(rows: list[dict]) -> list:
    """Insert the steps; return those this sweep won (the others were written before), in due order."""
    table = EscalationStep.__table__
    won = bulk.insert_rows(
        table,
        rows,
        unless=["ticket_id", "referral_key", "clock", "started_at", "level"],
        returning=[table.c.ticket_id, table.c.referral_key, table.c.clock, table.c.level, table.c.due_at],
    )
    return sorted(won, key=lambda r: (r.due_at, r.ticket_id, r.referral_key))


class _Digests:
    """One notification per (recipient, ticket) per sweep, listing every step that reached the recipient.

    A sweep writes the referrals' steps and the tickets' own in separate
    batches (each committed): a recipient already told of a ticket earlier in
    this sweep has that notification rewritten with the new steps added, not a
    second one. Its kind is the highest level's, so the notice reads as the
    worst news; ``steps`` in the payload lists them all, highest level first.
    """

    def __init__(self):
        #: (user id, ticket id) -> (notification id, the steps it lists)
        self.sent: dict[tuple[int, int], tuple[int, list[dict]]] = {}

    @staticmethod
    def _content(steps: list[dict]) -> dict:
        steps = sorted(steps, key=lambda s: (-RANK[s["level"]], s["due_at"]))
        return {"kind": f"escalation_{steps[0]['level']}", "payload": {**steps[0], "steps": steps}}

    def write(self, reached: dict[tuple[int, int], list[dict]], now: datetime) -> None:
        """Tell each recipient of the steps in ``reached``: (user id, ticket id) -> step payloads."""
        table = Notification.__table__
        inserts, updates = [], []
        for key, steps in reached.items():
            if key in self.sent:
                ident, earlier = self.sent[key]
                steps = earlier + steps
                updates.append({"id": ident, **self._content(steps)})
                self.sent[key] = (ident, steps)
            else:
                inserts.append((key, steps))
        if inserts:
            written = bulk.insert_rows(
                table,
                [
                    {"user_id": uid, "ticket_id": tid, **self._content(steps), "created_at": now, "read_at": None}
                    for (uid, tid), steps in inserts
                ],
                returning=[table.c.id, table.c.user_id, table.c.ticket_id],
            )
            ids = {(row.user_id, row.ticket_id): row.id for row in written}
            for key, steps in inserts:
                self.sent[key] = (ids[key], steps)
        bulk.update_rows(table, updates, key="id")


def _announce(won, *, now, audience: _Audience, digests: _Digests, owners: dict, units: dict, names: dict, report):
    """Events (one per step, for the timeline) and digest notifications for the steps this sweep wrote."""
    events, reached = [], defaultdict(list)
    for row in won:
        referral_id = row.referral_key or None
        unit = units.get(row.referral_key) if referral_id else None
        payload = {"clock": row.clock, "level": row.level, "due_at": row.due_at.isoformat()}
        if referral_id:
            payload["department"] = names.get(unit, "")
        events.append(event_row(row.ticket_id, f"escalation_{row.level}", now, referral_id=referral_id, **payload))
        for uid in audience.users(row.level, owner=owners.get(row.ticket_id), unit=unit):
            reached[(uid, row.ticket_id)].append(payload)
        report["by_level"][row.level] = report["by_level"].get(row.level, 0) + 1
    if events:
        insert_events(events)
    digests.write(reached, now)
    report["steps_written"] += len(won)


def _sweep_referrals(now: datetime, limit: int, audience: _Audience, digests: _Digests, report: dict) -> int:
    # Plain rows, not ORM objects: a sweep reads thousands and needs a dozen columns of each.
    r_table, t_table = Referral.__table__, Ticket.__table__
    stmt = _claim(
        select(
            r_table,
            t_table.c.priority,
            t_table.c.paused_at,
            t_table.c.number,
            t_table.c.summary,
            t_table.c.first_contact_owner_id,
            t_table.c.escalation_level.label("ticket_level"),
            Department.__table__.c.name.label("unit_name"),
            Department.__table__.c.duty_phone,
        )
        .join(t_table, t_table.c.id == r_table.c.ticket_id)
        .join(Department.__table__, Department.__table__.c.id == r_table.c.department_id)
        .where(r_table.c.next_escalation_at <= now)
        .order_by(r_table.c.next_escalation_at, r_table.c.id)
        .limit(limit),
        r_table,
    )
    result = db.session.execute(stmt)
    keys = tuple(result.keys())  # once: a row's own ``_mapping`` builds its keys again for every row
    referrals = [
        SimpleNamespace(**dict(zip(keys, row, strict=True)), ticket=SimpleNamespace(paused_at=row.paused_at))
        for row in result
    ]
    if not referrals:
        return 0
    rows, upcoming = [], {}
    for r in referrals:
        due, upcoming[r.id] = _plan(r.priority, clocks.referral_spans(r), r.escalation_checked_at, now)
        rows += [_step_row(r.ticket_id, r.id, clock, started, level, at, now) for clock, started, level, at in due]
    won = _write_steps(rows)
    by_id = {r.id: r for r in referrals}
    _announce(
        won,
        now=now,
        audience=audience,
        digests=digests,
        owners={r.ticket_id: r.first_contact_owner_id for r in referrals},
        units={r.id: r.department_id for r in referrals},
        names={r.department_id: r.unit_name for r in referrals},
        report=report,
    )
    levels: dict[int, str | None] = {r.id: r.escalation_level for r in referrals}
    ticket_levels: dict[int, str | None] = {r.ticket_id: r.ticket_level for r in referrals}
    sms = {}  # one text per referral however many of its clocks were urged (a referral is claimed once a sweep)
    for row in won:
        levels[row.referral_key] = _higher(levels[row.referral_key], row.level)
        ticket_levels[row.ticket_id] = _higher(ticket_levels[row.ticket_id], row.level)
        referral = by_id[row.referral_key]
        if row.level == "urge" and referral.priority in URGENT_PRIORITIES and referral.duty_phone:
            sms[referral.id] = referral
    bulk.update_rows(
        r_table,
        [{"id": r.id, "escalation_level": levels[r.id], "next_escalation_at": upcoming[r.id]} for r in referrals],
        key="id",
        escalation_checked_at=now,
    )
    _raise_ticket_levels(ticket_levels)
    for referral in sms.values():
        _text_unit(referral, now)
    report["referrals_checked"] += len(referrals)
    return len(referrals)


def _sweep_tickets(now: datetime, limit: int, audience: _Audience, digests: _Digests, report: dict) -> int:
    table = Ticket.__table__
    stmt = _claim(
        select(table)
        .where(table.c.next_escalation_at <= now)
        .order_by(table.c.next_escalation_at, table.c.id)
        .limit(limit),
        table,
    )
    result = db.session.execute(stmt)
    keys = tuple(result.keys())
    tickets = [SimpleNamespace(**dict(zip(keys, row, strict=True))) for row in result]  # ticket_spans reads them
    if not tickets:
        return 0
    rows, upcoming = [], {}
    for t in tickets:
        due, upcoming[t.id] = _plan(t.priority, clocks.ticket_spans(t), t.escalation_checked_at, now)
        rows += [_step_row(t.id, 0, clock, started, level, at, now) for clock, started, level, at in due]
    won = _write_steps(rows)
    _announce(
        won,
        now=now,
        audience=audience,
        digests=digests,
        owners={t.id: t.first_contact_owner_id for t in tickets},
        units={},
        names={},
        report=report,
    )
    levels = {t.id: t.escalation_level for t in tickets}
    for row in won:
        levels[row.ticket_id] = _higher(levels[row.ticket_id], row.level)
    bulk.update_rows(
        table,
        [{"id": t.id, "escalation_level": levels[t.id], "next_escalation_at": upcoming[t.id]} for t in tickets],
        key="id",
        escalation_checked_at=now,
    )
    report["tickets_checked"] += len(tickets)
    return len(tickets)


def _raise_ticket_levels(levels: dict[int, str | None]) -> None:
    bulk.update_rows(
        Ticket.__table__,
        [{"id": tid, "escalation_level": lvl} for tid, lvl in levels.items() if lvl is not None],
        key="id",
    )


def _text_unit(referral, now: datetime) -> None:
    from hotline.notify.service import enqueue_sms

    enqueue_sms(
        to=referral.duty_phone,
        body=sla.sla_policy().unit_text(
            "urged", number=referral.number, priority=referral.priority, summary=referral.summary
        ),
        now=now,
        ticket=SimpleNamespace(id=referral.ticket_id),
    )


def sweep(*, now: datetime, batch_size: int = 1000) -> dict:
    """Run one sweep as of ``now``; commits each batch. Returns what it did (JSON-ready)."""
    report = {"now": now.isoformat(), "steps_written": 0, "by_level": {}, "tickets_checked": 0, "referrals_checked": 0}
    audience, digests = _Audience(), _Digests()
    while True:
        seen = _sweep_referrals(now, batch_size, audience, digests, report)
        db.session.commit()
        seen += _sweep_tickets(now, batch_size, audience, digests, report)
        db.session.commit()
        if seen == 0:
            break
    beat("sweep", now=now, info={"steps_written": report["steps_written"]})
    db.session.commit()
    return report


def beat(name: str, *, now: datetime, info: dict | None = None) -> None:
    """Record that job ``name`` ran at ``now`` (the caller commits)."""
    stmt = _insert(Heartbeat).values(name=name, beat_at=now, info=info or {})
    db.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"], set_={"beat_at": stmt.excluded.beat_at, "info": stmt.excluded.info}
        )
    )


def heartbeat_age(name: str, *, now: datetime) -> float | None:
    """Seconds since job ``name`` last ran, or None if it never did."""
    beat_at = db.session.scalar(select(Heartbeat.beat_at).where(Heartbeat.name == name))
    return None if beat_at is None else (now - beat_at).total_seconds()
