"""Many rows in one statement (hotline.bulk): what is stored is what a plain INSERT or UPDATE would store."""

from datetime import timedelta, timezone

from sqlalchemy import func, select

from hotline.bulk import insert_rows, update_rows
from hotline.extensions import db
from hotline.tickets import service as ts
from models.escalation import EscalationStep
from models.notification import Notification

SHANGHAI = timezone(timedelta(hours=8))


def a_ticket(operator, now):
    ticket = ts.log_call(
        actor=operator, now=now, phone="13812341234", category="other", priority="P2", summary="测试", channel="voice"
    )
    db.session.commit()
    return ticket


def notices():
    rows = db.session.execute(
        select(
            Notification.user_id,
            Notification.ticket_id,
            Notification.kind,
            Notification.payload,
            Notification.created_at,
            Notification.read_at,
        ).order_by(Notification.id)
    )
    return [tuple(row) for row in rows]


def test_inserted_rows_read_back_as_given(app, operator, manager, now):
    ticket = a_ticket(operator, now)
    before = notices()
    rows = [
        {
            "user_id": operator.id,
            "ticket_id": ticket.id,
            "kind": "escalation_warn",
            "payload": {"department": "民政局", "steps": [1, 2]},
            "created_at": now,
            "read_at": None,
        },
        {
            "user_id": manager.id,
            "ticket_id": None,
            "kind": '它\'s "quoted" {x,y}',
            "payload": {},
            "created_at": now.astimezone(SHANGHAI),
            "read_at": now + timedelta(minutes=5),
        },
        {
            "user_id": operator.id,
            "ticket_id": ticket.id,
            "kind": "escalation_urge",
            "payload": {"n": None},
            "created_at": now + timedelta(seconds=1),
            "read_at": None,
        },
    ]
    returned = insert_rows(
        Notification.__table__, rows, returning=[Notification.__table__.c.id, Notification.__table__.c.kind]
    )
    db.session.commit()

    assert sorted(notices()[len(before) :], key=lambda row: row[2]) == [
        (operator.id, ticket.id, "escalation_urge", {"n": None}, now + timedelta(seconds=1), None),
        (operator.id, ticket.id, "escalation_warn", {"department": "民政局", "steps": [1, 2]}, now, None),
        (manager.id, None, '它\'s "quoted" {x,y}', {}, now, now + timedelta(minutes=5)),
    ]
    stored = dict(db.session.execute(select(Notification.id, Notification.kind)).all())
    assert sorted(kind for _, kind in returned) == sorted(row["kind"] for row in rows)
    assert all(stored[ident] == kind for ident, kind in returned)


def test_rows_already_there_are_skipped_and_not_returned(app, operator, now):
    ticket = a_ticket(operator, now)
    table = EscalationStep.__table__
    key = ["ticket_id", "referral_key", "clock", "started_at", "level"]

    def step(level):
        return {
            "ticket_id": ticket.id,
            "referral_key": 0,
            "clock": "resolve",
            "started_at": now,
            "level": level,
            "due_at": now,
            "written_at": now,
            "actor_id": None,
            "payload": {},
        }

    first = insert_rows(table, [step("warn"), step("urge")], unless=key, returning=[table.c.level])
    again = insert_rows(table, [step("urge"), step("supervise"), step("warn")], unless=key, returning=[table.c.level])
    db.session.commit()

    assert sorted(row.level for row in first) == ["urge", "warn"]
    assert [row.level for row in again] == ["supervise"]
    assert db.session.scalar(select(func.count()).select_from(table).where(table.c.ticket_id == ticket.id)) == 3


def test_updated_rows_get_their_own_values_and_the_shared_ones(app, operator, manager, now):
    ticket = a_ticket(operator, now)
    table = Notification.__table__
    rows = [
        {"user_id": uid, "ticket_id": ticket.id, "kind": "old", "payload": {}, "created_at": now, "read_at": None}
        for uid in (operator.id, manager.id, operator.id)
    ]
    first, second, untouched = sorted(row.id for row in insert_rows(table, rows, returning=[table.c.id]))

    update_rows(
        table,
        [{"id": first, "kind": "一", "payload": {"a": 1}}, {"id": second, "kind": "two", "payload": {"b": [None]}}],
        key="id",
        read_at=now.astimezone(SHANGHAI),
    )
    db.session.commit()

    got = {row.id: (row.kind, row.payload, row.read_at) for row in db.session.execute(select(table))}
    assert got[first] == ("一", {"a": 1}, now)
    assert got[second] == ("two", {"b": [None]}, now)
    assert got[untouched] == ("old", {}, None)
