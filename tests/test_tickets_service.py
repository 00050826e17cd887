"""Every ticket action in ``hotline.tickets.service``: what it writes, and what it refuses.

A refused action raises and stages nothing: no event, no change to the ticket,
so whatever the caller does next (commit or roll back) the ticket stays as it was.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hotline.errors import DomainError, NotAllowed, StaleError
from hotline.extensions import db
from hotline.tickets import service
from models.contact import Contact
from models.interaction import Interaction
from models.ticket import Ticket, TicketEvent, TicketSequence
from tests.helpers import (
    PHONE,
    PHONE_E164,
    TICKET_NUMBER_RE,
    count,
    event_kinds,
    events,
    log_call,
    reload,
    unclaimed,
)

MINUTE = timedelta(minutes=1)


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def other_operator(make_user):
    return make_user("operator", username="op_li", display_name="李建国")


@pytest.fixture
def department_user(make_user, make_department):
    return make_user("department", username="civil1", department=make_department())


@pytest.fixture
def admin(make_user):
    return make_user("admin", username="root")


@pytest.fixture
def ticket(operator, now):
    """An open P1 ticket owned by ``operator``."""
    return log_call(operator, now)


def _state(ticket: Ticket) -> dict:
    names = (
        "status",
        "version",
        "priority",
        "first_contact_owner_id",
        "resolution",
        "resolved_at",
        "closed_at",
        "satisfaction",
        "merged_into_id",
        "emergency_service",
        "updated_at",
        "sensitive",
    )
    return {n: getattr(ticket, n) for n in names}


def refused(exc_type, action, *tickets: Ticket) -> DomainError:
    """``action`` must raise exactly ``exc_type`` and leave every ticket and the event log untouched."""
    before = [_state(t) for t in tickets]
    n_events = count(TicketEvent)
    n_interactions = count(Interaction)
    with pytest.raises(DomainError) as info:
        action()
    assert type(info.value) is exc_type, info.value
    assert str(info.value.message)  # there is something to show the user
    # Nothing was staged for the caller to commit by mistake...
    assert not db.session.new and not db.session.dirty and not db.session.deleted
    # ...and the database has what it had.
    db.session.rollback()
    assert count(TicketEvent) == n_events
    assert count(Interaction) == n_interactions
    assert [_state(reload(t)) for t in tickets] == before
    return info.value


def _closed(ticket: Ticket, actor, now) -> Ticket:
    service.resolve_directly(ticket, actor=actor, now=now + MINUTE, answer="已告知申请流程")
    service.close_ticket(ticket, actor=actor, now=now + 2 * MINUTE)
    db.session.commit()
    return ticket


# --- ticket numbers ------------------------------------------------------------------------


def test_ticket_number_is_shanghai_date_and_four_digit_sequence(app, now):
    first = service.next_ticket_number(now)
    second = service.next_ticket_number(now + MINUTE)
    assert (first, second) == ("202510090001", "202510090002")
    assert TICKET_NUMBER_RE.match(first)


def test_ticket_number_after_1600_utc_already_carries_the_next_shanghai_day(app):
    assert service.next_ticket_number(datetime(2025, 10, 8, 17, 0, tzinfo=UTC)) == "202510090001"
    assert service.next_ticket_number(datetime(2025, 10, 8, 15, 59, 59, tzinfo=UTC)) == "202510080001"


def test_ticket_number_sequence_restarts_each_shanghai_day(app, now):
    service.next_ticket_number(now)
    service.next_ticket_number(now)
    assert service.next_ticket_number(now + timedelta(days=1)) == "202510100001"
    db.session.commit()
    days = {s.day.isoformat(): s.last_value for s in db.session.scalars(select(TicketSequence))}
    assert days == {"2025-10-09": 2, "2025-10-10": 1}


def test_logged_tickets_get_consecutive_numbers(operator, now):
    numbers = [log_call(operator, now + i * MINUTE, phone=f"1390000000{i}").number for i in range(3)]
    assert numbers == ["202510090001", "202510090002", "202510090003"]


# --- log_call ------------------------------------------------------------------------------


def test_logged_call_is_an_open_ticket_owned_by_the_operator(operator, now):
    ticket = log_call(operator, now, description="医院要求先交押金", channel="walk_in")

    assert ticket.number == "202510090001"
    assert ticket.status == "open"
    assert ticket.first_contact_owner_id == operator.id
    assert ticket.created_by_id == operator.id
    assert (ticket.category, ticket.priority, ticket.channel) == ("illness_hardship", "P1", "walk_in")
    assert ticket.description == "医院要求先交押金"
    assert ticket.created_at == now and ticket.updated_at == now
    assert ticket.contact.phone == PHONE_E164 and ticket.contact.name == "王秀英"
    [created] = events(ticket)
    assert created.kind == "created" and created.actor_id == operator.id and created.at == now
    assert created.payload == {"channel": "walk_in", "priority": "P1", "category": "illness_hardship", "checklist": []}
    [call] = db.session.scalars(select(Interaction).where(Interaction.ticket_id == ticket.id)).all()
    assert (call.direction, call.from_number, call.handled_by_id) == ("inbound", PHONE, operator.id)
    assert call.contact_id == ticket.contact_id and not call.number_invalid


def test_logged_call_keeps_the_ticked_checklist_on_its_created_event(operator, now):
    ticket = log_call(operator, now, checklist=["serious_illness", "stranded"])
    assert events(ticket)[0].payload["checklist"] == ["serious_illness", "stranded"]


def test_manager_can_log_a_call_too(manager, now):
    assert log_call(manager, now).first_contact_owner_id == manager.id


@pytest.mark.parametrize("role", ["department", "admin"])
def test_only_operators_and_managers_log_calls(role, make_user, make_department, now):
    actor = make_user(role, department=make_department() if role == "department" else None)
    refused(NotAllowed, lambda: log_call(actor, now))
    assert count(Ticket) == 0


@pytest.mark.parametrize("service_number", ["110", "119", "120"])
def test_p0_call_handed_over_to_emergency_service_is_logged_with_a_handover_event(operator, now, service_number):
    ticket = log_call(operator, now, priority="P0", emergency_service=service_number, checklist=["fire_now"])
    assert ticket.priority == "P0" and ticket.emergency_service == service_number
    assert event_kinds(ticket) == ["created", "emergency_handover"]
    assert events(ticket, "emergency_handover")[0].payload == {"service": service_number}


def test_p0_call_without_emergency_service_is_refused(operator, now):
    error = refused(DomainError, lambda: log_call(operator, now, priority="P0"))
    assert "110" in str(error.message)
    assert count(Ticket) == 0 and count(Contact) == 0


@pytest.mark.parametrize("priority", ["P0", "P1"])
def test_emergency_service_other_than_110_119_120_is_refused(operator, now, priority):
    refused(DomainError, lambda: log_call(operator, now, priority=priority, emergency_service="911"))
    assert count(Ticket) == 0


def test_call_answered_on_the_call_waits_for_its_callback(operator, now):
    ticket = log_call(operator, now, priority="P3", category="policy_enquiry", answered_on_call=True, answer="已告知")
    assert ticket.status == "pending_callback"
    assert ticket.resolution == "已告知" and ticket.resolved_at == now
    assert event_kinds(ticket) == ["created", "resolved_directly"]
    assert events(ticket, "resolved_directly")[0].payload == {"answer": "已告知"}


def test_call_answered_on_the_call_needs_what_the_caller_was_told(operator, now):
    refused(DomainError, lambda: log_call(operator, now, answered_on_call=True, answer="   "))
    assert count(Ticket) == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"category": "no_such_category"},
        {"priority": "P9"},
        {"channel": "fax"},
        {"summary": ""},
        {"summary": "   "},
        {"summary": "长" * 201},
        {"description": "x" * 4001},
        {"caller_name": "名" * 121},
    ],
    ids=["category", "priority", "channel", "empty-summary", "blank-summary", "long-summary", "long-text", "name"],
)
def test_call_with_invalid_field_is_refused_and_creates_nothing(operator, now, bad):
    refused(DomainError, lambda: log_call(operator, now, **bad))
    assert count(Ticket) == 0 and count(Contact) == 0 and count(TicketSequence) == 0


def test_repeat_caller_keeps_one_contact_record(operator, now):
    first = log_call(operator, now, phone="138 1234 1234")
    second = log_call(operator, now + MINUTE, phone="+86 138-1234-1234")
    assert first.contact_id == second.contact_id
    assert count(Contact) == 1


def test_caller_without_phone_or_name_is_anonymous(operator, now):
    ticket = log_call(operator, now, phone=None, caller_name=None)
    assert ticket.contact is None and count(Contact) == 0


def test_unparseable_phone_is_kept_as_given_and_flagged(operator, now):
    ticket = log_call(operator, now, phone="12345")
    assert ticket.contact.phone is None and ticket.contact.phone_raw == "12345"
    call = db.session.scalar(select(Interaction).where(Interaction.ticket_id == ticket.id))
    assert call.number_invalid and call.from_number == "12345"


def test_mandatory_report_marks_the_ticket_sensitive(operator, now):
    ticket = log_call(operator, now, category="child_protection", mandatory_report=True)
    assert ticket.mandatory_report and ticket.sensitive


# --- take_ticket ---------------------------------------------------------------------------


def test_operator_takes_an_unclaimed_ticket_and_owns_it(operator, now):
    ticket = unclaimed(now)
    version = ticket.version
    service.take_ticket(ticket, actor=operator, now=now + MINUTE, expected_version=version)
    db.session.commit()
    assert ticket.status == "open" and ticket.first_contact_owner_id == operator.id
    assert ticket.version > version and ticket.updated_at == now + MINUTE
    taken = events(ticket, "taken")[0]
    assert (taken.actor_id, taken.at) == (operator.id, now + MINUTE)


def test_ticket_with_an_owner_cannot_be_taken(ticket, other_operator, now):
    refused(DomainError, lambda: service.take_ticket(ticket, actor=other_operator, now=now), ticket)


def test_department_staff_cannot_take_a_ticket(department_user, now):
    ticket = unclaimed(now)
    refused(NotAllowed, lambda: service.take_ticket(ticket, actor=department_user, now=now), ticket)


# --- add_note ------------------------------------------------------------------------------


def test_any_operator_can_add_a_note_to_the_timeline(ticket, other_operator, now):
    service.add_note(ticket, actor=other_operator, now=now + MINUTE, text="  已联系医院社工  ")
    db.session.commit()
    note = events(ticket, "note")[0]
    assert note.payload == {"text": "已联系医院社工"} and note.actor_id == other_operator.id


def test_note_on_a_closed_ticket_is_kept(ticket, operator, now):
    _closed(ticket, operator, now)
    service.add_note(ticket, actor=operator, now=now + 5 * MINUTE, text="来电人致谢")
    db.session.commit()
    assert event_kinds(ticket)[-1] == "note"


def test_note_on_a_merged_ticket_is_refused(ticket, operator, now):
    target = log_call(operator, now, phone="13900000001")
    service.merge_ticket(ticket, actor=operator, now=now + MINUTE, target=target, reason="重复来电")
    db.session.commit()
    refused(DomainError, lambda: service.add_note(ticket, actor=operator, now=now, text="补充"), ticket)


@pytest.mark.parametrize("text", ["", "  \n ", "x" * 4001])
def test_empty_or_overlong_note_is_refused(ticket, operator, now, text):
    refused(DomainError, lambda: service.add_note(ticket, actor=operator, now=now, text=text), ticket)


def test_department_staff_cannot_add_a_note(ticket, department_user, now):
    refused(NotAllowed, lambda: service.add_note(ticket, actor=department_user, now=now, text="看看"), ticket)


# --- change_priority -----------------------------------------------------------------------


def test_owner_changes_priority_with_a_reason(ticket, operator, now):
    v = ticket.version
    service.change_priority(
        ticket, actor=operator, now=now + MINUTE, priority="P2", reason="已有亲属照顾", expected_version=v
    )
    db.session.commit()
    assert ticket.priority == "P2" and ticket.version > v
    assert events(ticket, "priority_changed")[0].payload == {"old": "P1", "new": "P2", "reason": "已有亲属照顾"}


def test_manager_changes_priority_of_someone_elses_ticket(ticket, manager, now):
    service.change_priority(ticket, actor=manager, now=now, priority="P2", reason="督办调整")
    db.session.commit()
    assert ticket.priority == "P2" and events(ticket, "priority_changed")[0].actor_id == manager.id


def test_raising_to_p0_records_the_emergency_handover(ticket, operator, now):
    service.change_priority(ticket, actor=operator, now=now, priority="P0", reason="病情恶化", emergency_service="120")
    db.session.commit()
    assert ticket.priority == "P0" and ticket.emergency_service == "120"
    assert event_kinds(ticket)[-2:] == ["emergency_handover", "priority_changed"]


def test_raising_to_p0_without_an_emergency_service_is_refused(ticket, operator, now):
    action = lambda: service.change_priority(ticket, actor=operator, now=now, priority="P0", reason="病情恶化")  # noqa: E731
    refused(DomainError, action, ticket)


def test_other_operator_cannot_change_priority(ticket, other_operator, now):
    action = lambda: service.change_priority(ticket, actor=other_operator, now=now, priority="P2", reason="x")  # noqa: E731
    refused(NotAllowed, action, ticket)


@pytest.mark.parametrize(
    ("priority", "reason"), [("P2", ""), ("P2", "   "), ("P1", "same priority"), ("P7", "unknown priority")]
)
def test_priority_change_without_reason_or_real_change_is_refused(ticket, operator, now, priority, reason):
    action = lambda: service.change_priority(ticket, actor=operator, now=now, priority=priority, reason=reason)  # noqa: E731
    refused(DomainError, action, ticket)


def test_priority_of_a_closed_ticket_cannot_change(ticket, operator, now):
    _closed(ticket, operator, now)
    action = lambda: service.change_priority(ticket, actor=operator, now=now, priority="P2", reason="x")  # noqa: E731
    refused(DomainError, action, ticket)


# --- transfer_owner ------------------------------------------------------------------------


def test_owner_hands_the_ticket_to_another_operator_with_a_reason(ticket, operator, other_operator, now):
    service.transfer_owner(
        ticket, actor=operator, now=now, new_owner=other_operator, reason="交班", expected_version=ticket.version
    )
    db.session.commit()
    assert ticket.first_contact_owner_id == other_operator.id
    ev = events(ticket, "owner_changed")[0]
    assert ev.payload == {"old": operator.id, "new": other_operator.id, "new_name": "李建国", "reason": "交班"}


def test_manager_gives_an_unclaimed_ticket_to_an_operator(manager, operator, now):
    ticket = unclaimed(now)
    service.transfer_owner(ticket, actor=manager, now=now, new_owner=operator, reason="指派")
    db.session.commit()
    assert ticket.status == "open" and ticket.first_contact_owner_id == operator.id


def test_other_operator_cannot_hand_over_a_ticket_they_do_not_own(ticket, other_operator, now):
    action = lambda: service.transfer_owner(ticket, actor=other_operator, now=now, new_owner=other_operator, reason="x")  # noqa: E731
    refused(NotAllowed, action, ticket)


@pytest.mark.parametrize("kind", ["manager", "department", "inactive", "current owner"])
def test_ownership_goes_only_to_another_active_operator(ticket, operator, make_user, make_department, now, kind):
    new_owner = {
        "manager": lambda: make_user("manager"),
        "department": lambda: make_user("department", department=make_department()),
        "inactive": lambda: make_user("operator", active=False),
        "current owner": lambda: operator,
    }[kind]()
    action = lambda: service.transfer_owner(ticket, actor=operator, now=now, new_owner=new_owner, reason="交班")  # noqa: E731
    refused(DomainError, action, ticket)


def test_hand_over_without_a_reason_is_refused(ticket, operator, other_operator, now):
    action = lambda: service.transfer_owner(ticket, actor=operator, now=now, new_owner=other_operator, reason=" ")  # noqa: E731
    refused(DomainError, action, ticket)


def test_closed_ticket_cannot_change_owner(ticket, operator, other_operator, now):
    _closed(ticket, operator, now)
    action = lambda: service.transfer_owner(ticket, actor=operator, now=now, new_owner=other_operator, reason="交班")  # noqa: E731
    refused(DomainError, action, ticket)


# --- merge_ticket --------------------------------------------------------------------------


def test_duplicate_is_merged_into_the_open_ticket(ticket, operator, now):
    duplicate = log_call(operator, now + MINUTE)
    service.merge_ticket(
        duplicate,
        actor=operator,
        now=now + 2 * MINUTE,
        target=ticket,
        reason="同一事项",
        expected_version=duplicate.version,
    )
    db.session.commit()
    assert duplicate.status == "merged" and duplicate.merged_into_id == ticket.id
    assert duplicate.closed_at == now + 2 * MINUTE
    assert events(duplicate, "merged_into")[0].payload == {"target": ticket.number, "reason": "同一事项"}
    assert events(ticket, "merged_from")[0].payload == {"source": duplicate.number, "reason": "同一事项"}
    assert ticket.status == "open"


def test_closed_ticket_cannot_be_merged(ticket, operator, now):
    target = log_call(operator, now, phone="13900000001")
    _closed(ticket, operator, now)
    action = lambda: service.merge_ticket(ticket, actor=operator, now=now, target=target, reason="重复")  # noqa: E731
    refused(DomainError, action, ticket, target)


def test_ticket_cannot_be_merged_into_a_closed_ticket(ticket, operator, now):
    target = _closed(log_call(operator, now, phone="13900000001"), operator, now)
    action = lambda: service.merge_ticket(ticket, actor=operator, now=now, target=target, reason="重复")  # noqa: E731
    refused(DomainError, action, ticket, target)


def test_ticket_cannot_be_merged_into_itself(ticket, operator, now):
    action = lambda: service.merge_ticket(ticket, actor=operator, now=now, target=ticket, reason="重复")  # noqa: E731
    refused(DomainError, action, ticket)


def test_merge_without_a_reason_is_refused(ticket, operator, now):
    target = log_call(operator, now, phone="13900000001")
    action = lambda: service.merge_ticket(ticket, actor=operator, now=now, target=target, reason="")  # noqa: E731
    refused(DomainError, action, ticket, target)


def test_other_operator_cannot_merge_a_ticket_they_do_not_own(ticket, other_operator, now):
    target = log_call(other_operator, now, phone="13900000001")
    action = lambda: service.merge_ticket(ticket, actor=other_operator, now=now, target=target, reason="重复")  # noqa: E731
    refused(NotAllowed, action, ticket, target)


# --- resolve_directly ----------------------------------------------------------------------


def test_answered_ticket_waits_for_its_callback(ticket, operator, now):
    service.resolve_directly(ticket, actor=operator, now=now + MINUTE, answer="已告知", expected_version=ticket.version)
    db.session.commit()
    assert ticket.status == "pending_callback"
    assert ticket.resolution == "已告知" and ticket.resolved_at == now + MINUTE
    assert events(ticket, "resolved_directly")[0].payload == {"answer": "已告知"}


def test_unclaimed_ticket_cannot_be_answered_directly(manager, now):
    ticket = unclaimed(now)
    refused(DomainError, lambda: service.resolve_directly(ticket, actor=manager, now=now, answer="已告知"), ticket)


def test_ticket_awaiting_callback_cannot_be_answered_again(ticket, operator, now):
    service.resolve_directly(ticket, actor=operator, now=now, answer="已告知")
    db.session.commit()
    refused(DomainError, lambda: service.resolve_directly(ticket, actor=operator, now=now, answer="再次"), ticket)


def test_direct_answer_needs_what_the_caller_was_told(ticket, operator, now):
    refused(DomainError, lambda: service.resolve_directly(ticket, actor=operator, now=now, answer=""), ticket)


def test_other_operator_cannot_answer_a_ticket_they_do_not_own(ticket, other_operator, now):
    action = lambda: service.resolve_directly(ticket, actor=other_operator, now=now, answer="已告知")  # noqa: E731
    refused(NotAllowed, action, ticket)


# --- record_callback -----------------------------------------------------------------------


def test_reached_caller_rates_the_help(ticket, operator, now):
    service.resolve_directly(ticket, actor=operator, now=now, answer="已告知")
    db.session.commit()
    service.record_callback(
        ticket,
        actor=operator,
        now=now + MINUTE,
        reached=True,
        satisfaction=4,
        comment="满意",
        expected_version=ticket.version,
    )
    db.session.commit()
    assert ticket.satisfaction == 4 and ticket.status == "pending_callback"
    assert events(ticket, "callback")[0].payload == {"reached": True, "satisfaction": 4, "comment": "满意"}


def test_unreached_callback_is_recorded_without_satisfaction(ticket, other_operator, now):
    service.record_callback(ticket, actor=other_operator, now=now, reached=False, comment="无人接听")
    db.session.commit()
    assert ticket.satisfaction is None
    ev = events(ticket, "callback")[0]
    assert ev.payload == {"reached": False, "satisfaction": None, "comment": "无人接听"}
    assert ev.actor_id == other_operator.id


@pytest.mark.parametrize(("reached", "satisfaction"), [(True, None), (True, 0), (True, 6), (False, 3)])
def test_satisfaction_only_from_a_reached_caller_and_from_1_to_5(ticket, operator, now, reached, satisfaction):
    action = lambda: service.record_callback(  # noqa: E731
        ticket, actor=operator, now=now, reached=reached, satisfaction=satisfaction
    )
    refused(DomainError, action, ticket)


def test_callback_on_a_closed_ticket_is_refused(ticket, operator, now):
    _closed(ticket, operator, now)
    refused(DomainError, lambda: service.record_callback(ticket, actor=operator, now=now, reached=False), ticket)


def test_callback_on_an_unclaimed_ticket_is_refused(operator, now):
    ticket = unclaimed(now)
    refused(DomainError, lambda: service.record_callback(ticket, actor=operator, now=now, reached=False), ticket)


def test_department_staff_cannot_record_a_callback(ticket, department_user, now):
    action = lambda: service.record_callback(ticket, actor=department_user, now=now, reached=False)  # noqa: E731
    refused(NotAllowed, action, ticket)


# --- close_ticket --------------------------------------------------------------------------


def test_ticket_awaiting_callback_closes_keeping_its_resolution(ticket, operator, now):
    service.resolve_directly(ticket, actor=operator, now=now + MINUTE, answer="已告知")
    db.session.commit()
    service.close_ticket(ticket, actor=operator, now=now + 2 * MINUTE, expected_version=ticket.version)
    db.session.commit()
    assert ticket.status == "closed" and ticket.closed_at == now + 2 * MINUTE
    assert ticket.resolution == "已告知" and ticket.resolved_at == now + MINUTE
    assert events(ticket, "closed")[0].payload == {"resolution": None}


def test_open_ticket_closes_with_what_was_done(ticket, manager, now):
    service.close_ticket(ticket, actor=manager, now=now + MINUTE, resolution="已发放临时救助3000元")
    db.session.commit()
    assert ticket.status == "closed" and ticket.resolution == "已发放临时救助3000元"
    assert ticket.resolved_at == now + MINUTE and ticket.closed_at == now + MINUTE
    assert events(ticket, "closed")[0].actor_id == manager.id


def test_open_ticket_cannot_close_without_what_was_done(ticket, operator, now):
    refused(DomainError, lambda: service.close_ticket(ticket, actor=operator, now=now, resolution="  "), ticket)


@pytest.mark.parametrize("state", ["new", "closed", "merged"])
def test_only_open_or_answered_tickets_close(operator, manager, now, state):
    if state == "new":
        ticket = unclaimed(now)
    else:
        ticket = log_call(operator, now)
        if state == "closed":
            _closed(ticket, operator, now)
        else:
            target = log_call(operator, now, phone="13900000001")
            service.merge_ticket(ticket, actor=operator, now=now, target=target, reason="重复")
            db.session.commit()
    refused(DomainError, lambda: service.close_ticket(ticket, actor=manager, now=now, resolution="已办"), ticket)


def test_other_operator_cannot_close_a_ticket_they_do_not_own(ticket, other_operator, now):
    action = lambda: service.close_ticket(ticket, actor=other_operator, now=now, resolution="已办")  # noqa: E731
    refused(NotAllowed, action, ticket)


# --- reopen_ticket -------------------------------------------------------------------------


def test_closed_ticket_reopens_with_its_owner_and_a_reason(ticket, operator, other_operator, now):
    _closed(ticket, operator, now)
    service.reopen_ticket(
        ticket, actor=other_operator, now=now + 3 * MINUTE, reason="救助款未到位", expected_version=ticket.version
    )
    db.session.commit()
    assert ticket.status == "open" and ticket.first_contact_owner_id == operator.id
    assert ticket.closed_at is None and ticket.resolved_at is None
    ev = events(ticket, "reopened")[0]
    assert ev.payload == {"reason": "救助款未到位"} and ev.actor_id == other_operator.id


@pytest.mark.parametrize("state", ["open", "pending_callback"])
def test_only_a_closed_ticket_can_be_reopened(ticket, operator, now, state):
    if state == "pending_callback":
        service.resolve_directly(ticket, actor=operator, now=now, answer="已告知")
        db.session.commit()
    refused(DomainError, lambda: service.reopen_ticket(ticket, actor=operator, now=now, reason="再次来电"), ticket)


def test_reopen_without_a_reason_is_refused(ticket, operator, now):
    _closed(ticket, operator, now)
    refused(DomainError, lambda: service.reopen_ticket(ticket, actor=operator, now=now, reason=""), ticket)


def test_department_staff_cannot_reopen(ticket, operator, department_user, now):
    _closed(ticket, operator, now)
    action = lambda: service.reopen_ticket(ticket, actor=department_user, now=now, reason="再次来电")  # noqa: E731
    refused(NotAllowed, action, ticket)


# --- log_repeat_call -----------------------------------------------------------------------


def test_repeat_call_is_added_to_the_open_ticket(ticket, other_operator, now):
    later = now + timedelta(hours=5)
    call = service.log_repeat_call(ticket, actor=other_operator, now=later, note="再次询问进度")
    db.session.commit()
    assert call.ticket_id == ticket.id and call.contact_id == ticket.contact_id
    assert call.from_number == PHONE_E164 and call.handled_by_id == other_operator.id
    assert count(Interaction, Interaction.ticket_id == ticket.id) == 2
    assert events(ticket, "repeat_call")[0].payload == {"note": "再次询问进度", "channel": "voice"}
    assert ticket.updated_at == later and count(Ticket) == 1


def test_repeat_call_on_a_closed_ticket_is_refused(ticket, operator, now):
    _closed(ticket, operator, now)
    refused(DomainError, lambda: service.log_repeat_call(ticket, actor=operator, now=now), ticket)


def test_department_staff_cannot_log_a_repeat_call(ticket, department_user, now):
    refused(NotAllowed, lambda: service.log_repeat_call(ticket, actor=department_user, now=now), ticket)


# --- unmask_contact ------------------------------------------------------------------------


def test_unmasking_writes_who_and_why_on_the_timeline(ticket, other_operator, now):
    service.unmask_contact(ticket, actor=other_operator, now=now, reason="需回拨核实身份")
    db.session.commit()
    ev = events(ticket, "unmasked")[0]
    assert ev.payload == {"reason": "需回拨核实身份"} and ev.actor_id == other_operator.id and ev.at == now


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_unmasking_needs_a_short_reason(ticket, operator, now, reason):
    refused(DomainError, lambda: service.unmask_contact(ticket, actor=operator, now=now, reason=reason), ticket)


def test_anonymous_ticket_has_nothing_to_unmask(operator, now):
    ticket = log_call(operator, now, phone=None, caller_name=None)
    refused(DomainError, lambda: service.unmask_contact(ticket, actor=operator, now=now, reason="核实"), ticket)


def test_department_staff_cannot_unmask(ticket, department_user, now):
    action = lambda: service.unmask_contact(ticket, actor=department_user, now=now, reason="核实")  # noqa: E731
    refused(NotAllowed, action, ticket)


# --- update_contact ------------------------------------------------------------------------


def _update(ticket, actor, now, **changes):
    values = {
        "name": "王秀英",
        "id_number": None,
        "address": None,
        "township_id": None,
        "village_id": None,
        "flags": {},
    }
    service.update_contact(ticket, actor=actor, now=now, **(values | changes))


def test_caller_details_change_logs_field_names_but_not_values(ticket, operator, make_department, now):
    town = make_department("town_hekou", "河口乡", "township", "township")
    _update(
        ticket,
        operator,
        now,
        id_number="11010119900307123X",
        address="河口乡河口村3组",
        township_id=town.id,
        flags={"is_elderly": True, "is_married": True},
    )
    db.session.commit()
    contact = reload(ticket.contact)
    assert (contact.id_number, contact.address, contact.township_id) == (
        "11010119900307123X",
        "河口乡河口村3组",
        town.id,
    )
    assert contact.is_elderly
    ev = events(ticket, "contact_updated")[0]
    assert sorted(ev.payload["fields"]) == ["address", "id_number", "is_elderly", "township_id"]
    assert "11010119900307123X" not in str(ev.payload) and "河口村" not in str(ev.payload)


def test_unchanged_caller_details_write_no_event(ticket, operator, now):
    _update(ticket, operator, now)
    db.session.commit()
    assert event_kinds(ticket) == ["created"]


def test_marking_the_caller_a_child_makes_the_ticket_sensitive(ticket, operator, now):
    assert not ticket.sensitive
    _update(ticket, operator, now + MINUTE, flags={"is_child": True})
    db.session.commit()
    assert ticket.sensitive and ticket.updated_at == now + MINUTE


def test_anonymous_ticket_has_no_details_to_update(operator, now):
    ticket = log_call(operator, now, phone=None, caller_name=None)
    refused(DomainError, lambda: _update(ticket, operator, now), ticket)


def test_overlong_id_number_is_refused(ticket, operator, now):
    refused(DomainError, lambda: _update(ticket, operator, now, id_number="1" * 33), ticket)
    assert reload(ticket.contact).id_number is None


def test_department_staff_cannot_update_caller_details(ticket, department_user, now):
    refused(NotAllowed, lambda: _update(ticket, department_user, now, name="改名"), ticket)


# --- open_unclaimed_ticket -----------------------------------------------------------------


def test_text_message_opens_an_unclaimed_ticket_without_owner(app, now):
    ticket = unclaimed(now, body="我在火车站，钱包被偷了")
    assert ticket.status == "new" and ticket.first_contact_owner_id is None
    assert ticket.channel == "sms" and ticket.number == "202510090001"
    assert (ticket.category, ticket.priority) == ("other", "P3")
    assert ticket.contact.phone == PHONE_E164 and ticket.description == "我在火车站，钱包被偷了"
    [created] = events(ticket)
    assert created.kind == "created" and created.actor_id is None
    assert created.payload == {"channel": "sms", "priority": "P3", "category": "other"}


def test_unclaimed_ticket_summary_is_never_empty_nor_too_long(app, now):
    empty = service.open_unclaimed_ticket(now=now, channel="voice", phone=None, summary="  ")
    long = service.open_unclaimed_ticket(now=now, channel="sms", phone=None, summary="字" * 500)
    db.session.commit()
    assert empty.summary == "—" and empty.contact is None
    assert long.summary == "字" * 200


def test_unclaimed_ticket_from_unknown_channel_is_refused(app, now):
    with pytest.raises(DomainError):
        service.open_unclaimed_ticket(now=now, channel="pigeon", phone=PHONE, summary="x")
    db.session.rollback()
    assert count(Ticket) == 0


# --- find_recent_open_ticket ---------------------------------------------------------------


def test_recent_open_ticket_is_found_by_any_spelling_of_the_number(ticket, now):
    for spelling in (PHONE, PHONE_E164, "138 1234 1234", "+86 138-1234-1234"):
        assert service.find_recent_open_ticket(spelling, now=now + timedelta(hours=1)) == ticket


def test_repeat_call_window_is_72_hours(ticket, now):
    assert service.find_recent_open_ticket(PHONE, now=now + timedelta(hours=72)) == ticket
    assert service.find_recent_open_ticket(PHONE, now=now + timedelta(hours=72, seconds=1)) is None


def test_window_can_be_narrowed(ticket, now):
    assert service.find_recent_open_ticket(PHONE, now=now + timedelta(hours=25), hours=24) is None


def test_newest_open_ticket_of_the_caller_is_offered(operator, now):
    log_call(operator, now)
    newer = log_call(operator, now + timedelta(hours=2))
    log_call(operator, now + timedelta(hours=3), phone="13900000001")
    assert service.find_recent_open_ticket(PHONE, now=now + timedelta(hours=4)) == newer


@pytest.mark.parametrize("state", ["new", "pending_callback"])
def test_unclaimed_and_answered_tickets_count_as_open(operator, now, state):
    ticket = unclaimed(now) if state == "new" else log_call(operator, now, answered_on_call=True, answer="已告知")
    assert service.find_recent_open_ticket(PHONE, now=now + MINUTE) == ticket


def test_closed_and_merged_tickets_are_not_offered_for_a_repeat_call(ticket, operator, now):
    _closed(ticket, operator, now)
    duplicate = log_call(operator, now + MINUTE)
    target = log_call(operator, now, phone="13900000001")
    service.merge_ticket(duplicate, actor=operator, now=now + MINUTE, target=target, reason="重复")
    db.session.commit()
    assert service.find_recent_open_ticket(PHONE, now=now + timedelta(hours=1)) is None


@pytest.mark.parametrize("phone", ["13900000001", "12345", ""])
def test_other_or_invalid_numbers_have_no_recent_ticket(ticket, now, phone):
    assert service.find_recent_open_ticket(phone, now=now) is None


# --- caller_history ------------------------------------------------------------------------


def test_caller_history_lists_the_callers_tickets_newest_first(operator, now):
    tickets = [log_call(operator, now + timedelta(days=i)) for i in range(3)]
    _closed(tickets[0], operator, now + timedelta(days=5))
    log_call(operator, now, phone="13900000001")
    contact, history = service.caller_history("+86 138 1234 1234")
    assert contact.phone == PHONE_E164
    assert [t.number for t in history] == [t.number for t in reversed(tickets)]
    _, limited = service.caller_history(PHONE, limit=2)
    assert limited == history[:2]


@pytest.mark.parametrize("phone", ["13900000009", "not a number"])
def test_unknown_or_invalid_number_has_no_history(ticket, phone):
    assert service.caller_history(phone) == (None, [])


# --- stale forms ---------------------------------------------------------------------------


def _someone_else_acts(ticket, actor, now):
    """Another operator logs a repeat call: the ticket's version moves on."""
    service.log_repeat_call(ticket, actor=actor, now=now + timedelta(hours=1), note="又打来了")
    db.session.commit()


STALE_ACTIONS = {
    "take": lambda t, v, c: service.take_ticket(t, actor=c["actor"], now=c["now"], expected_version=v),
    "priority": lambda t, v, c: service.change_priority(
        t, actor=c["actor"], now=c["now"], priority="P2", reason="x", expected_version=v
    ),
    "transfer": lambda t, v, c: service.transfer_owner(
        t, actor=c["actor"], now=c["now"], new_owner=c["new_owner"], reason="交班", expected_version=v
    ),
    "merge": lambda t, v, c: service.merge_ticket(
        t, actor=c["actor"], now=c["now"], target=c["target"], reason="x", expected_version=v
    ),
    "answer": lambda t, v, c: service.resolve_directly(
        t, actor=c["actor"], now=c["now"], answer="已告知", expected_version=v
    ),
    "callback": lambda t, v, c: service.record_callback(
        t, actor=c["actor"], now=c["now"], reached=False, expected_version=v
    ),
    "close": lambda t, v, c: service.close_ticket(
        t, actor=c["actor"], now=c["now"], resolution="已办", expected_version=v
    ),
}


STALE_EVENTS = {
    "take": "taken",
    "priority": "priority_changed",
    "transfer": "owner_changed",
    "merge": "merged_into",
    "answer": "resolved_directly",
    "callback": "callback",
    "close": "closed",
}


@pytest.mark.parametrize("name", list(STALE_ACTIONS))
def test_action_on_a_ticket_changed_since_the_form_was_built_is_refused(name, manager, operator, other_operator, now):
    ticket = unclaimed(now) if name == "take" else log_call(operator, now)
    target = log_call(operator, now, phone="13900000001")
    seen_version = ticket.version
    _someone_else_acts(ticket, other_operator, now)
    ctx = {"actor": manager, "now": now + timedelta(hours=2), "new_owner": other_operator, "target": target}
    error = refused(StaleError, lambda: STALE_ACTIONS[name](ticket, seen_version, ctx), ticket, target)
    assert error.status_code == 409
    # With the version the page shows now, the same action goes through.
    STALE_ACTIONS[name](ticket, ticket.version, ctx)
    db.session.commit()
    assert STALE_EVENTS[name] in event_kinds(ticket)


def test_reopen_of_a_ticket_reopened_and_closed_again_by_someone_else_is_refused(ticket, operator, manager, now):
    _closed(ticket, operator, now)
    seen_version = ticket.version
    service.reopen_ticket(ticket, actor=manager, now=now + timedelta(hours=1), reason="核实")
    service.close_ticket(ticket, actor=manager, now=now + timedelta(hours=2), resolution="已核实")
    db.session.commit()
    action = lambda: service.reopen_ticket(  # noqa: E731
        ticket, actor=operator, now=now + timedelta(hours=3), reason="再次来电", expected_version=seen_version
    )
    refused(StaleError, action, ticket)


# --- the event log -------------------------------------------------------------------------


def test_ticket_events_cannot_be_edited(ticket):
    created = events(ticket)[0]
    created.payload = {"priority": "P3"}
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    assert events(ticket)[0].payload["priority"] == "P1"


def test_ticket_events_cannot_be_deleted(ticket):
    db.session.delete(events(ticket)[0])
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    assert event_kinds(ticket) == ["created"]
