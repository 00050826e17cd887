"""Calls logged at the same moment by several operators, each in their own request (thread, app context, session)."""

import threading
from datetime import timedelta

from sqlalchemy import select

from hotline.extensions import db
from hotline.tickets import service
from models.contact import Contact
from models.ticket import Ticket, TicketSequence
from models.user import User
from tests.helpers import TICKET_NUMBER_RE, count

THREADS = 6
CALLS_EACH = 5


def _at_once(app, items, work):
    """``work(index, item, ready)`` for each item, each in its own thread and application context (a
    request's own session), released together when all call ``ready()``; returns (results, errors)."""
    start = threading.Barrier(len(items))
    results, errors = [], []
    lock = threading.Lock()

    def run(index, item):
        try:
            with app.app_context():
                found = work(index, item, lambda: start.wait(timeout=30))
            with lock:
                results.extend(found)
        except Exception as exc:  # reported below: a thread's exception would otherwise vanish
            with lock:
                errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i, item)) for i, item in enumerate(items)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results, errors


def _run_operators(app, operator_ids, now, phone_for):
    """Each operator logs ``CALLS_EACH`` calls, all starting together; returns numbers and errors."""

    def work(index, operator_id, ready):
        actor = db.session.get(User, operator_id)
        ready()
        numbers = []
        for call in range(CALLS_EACH):
            ticket = service.log_call(
                actor=actor,
                now=now + timedelta(seconds=call),
                phone=phone_for(index, call),
                category="illness_hardship",
                priority="P1",
                summary=f"第{index}号接线员的第{call}个来电",
            )
            db.session.commit()
            numbers.append(ticket.number)
        return numbers

    return _at_once(app, operator_ids, work)


def test_calls_logged_at_once_get_distinct_consecutive_numbers(app, make_user, now):
    operator_ids = [make_user("operator").id for _ in range(THREADS)]
    numbers, errors = _run_operators(app, operator_ids, now, lambda i, c: f"139{i:04d}{c:04d}")
    assert errors == []
    total = THREADS * CALLS_EACH
    assert len(numbers) == total and len(set(numbers)) == total
    assert all(TICKET_NUMBER_RE.match(n) for n in numbers)
    assert sorted(numbers) == [f"20251009{n:04d}" for n in range(1, total + 1)]
    db.session.expire_all()
    assert count(Ticket) == total
    assert db.session.get(TicketSequence, now.date()).last_value == total


def test_first_calls_from_one_new_number_at_once_share_one_caller(app, make_user, now):
    operator_ids = [make_user("operator").id for _ in range(THREADS)]
    numbers, errors = _run_operators(app, operator_ids, now, lambda i, c: "13812341234")
    assert errors == []
    assert len(set(numbers)) == THREADS * CALLS_EACH
    db.session.expire_all()
    assert count(Contact) == 1
    contact_ids = set(db.session.scalars(select(Ticket.contact_id)))
    assert contact_ids == {db.session.scalar(select(Contact.id))}


def _text_at_once(app, now, senders):
    """Each sender's first text message reaches the webhook's service at the same moment, in its own thread."""
    from hotline.intake import intake
    from hotline.intake import service as intake_service

    def work(index, sender, ready):
        state = intake()
        message = intake_service.InboundMessage(
            sid=f"SM{index:032d}", from_number=sender, to_number=None, body=f"第{index}条求助短信"
        )
        ready()
        return [intake_service.receive_sms(message, now=now, policy=state.policy, turn=state.write_turn)]

    return _at_once(app, senders, work)


def test_first_messages_from_one_new_number_at_once_open_one_ticket(app, now):
    from models.interaction import Interaction
    from models.ticket import TicketEvent

    replies, errors = _text_at_once(app, now, ["+8613812341234"] * THREADS)
    assert errors == []
    db.session.expire_all()
    assert (count(Contact), count(Ticket), count(Interaction)) == (1, 1, THREADS)
    number = db.session.scalar(select(Ticket.number))
    assert all(number in reply for reply in replies)
    assert sorted(db.session.scalars(select(TicketEvent.kind))) == ["created"]
    # The others are texts on its timeline, each stored once (its Interaction).
    assert count(Interaction, Interaction.follow_up.is_(True)) == THREADS - 1


def test_first_messages_from_new_numbers_at_once_get_consecutive_numbers(app, now):
    replies, errors = _text_at_once(app, now, [f"+86139{i:04d}1234" for i in range(THREADS)])
    assert errors == []
    db.session.expire_all()
    numbers = sorted(db.session.scalars(select(Ticket.number)))
    assert numbers == [f"20251009{n:04d}" for n in range(1, THREADS + 1)]
    assert sorted(n for n in numbers for reply in replies if n in reply) == numbers  # each told its own number
    assert count(Contact) == THREADS
