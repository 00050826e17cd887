"""Referral rules: dispatch, acknowledge, progress, return, extension, pass on, resolve, roll-up."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline import access
from hotline.errors import DomainError, NotAllowed, StaleError
from hotline.extensions import db
from hotline.referrals import service as rs
from hotline.tickets import service as ts
from models.notification import Notification
from models.ticket import TicketEvent


@pytest.fixture
def units(make_department):
    civil = make_department("civil_affairs", "县民政局", duty_phone="+8613900000001")
    medins = make_department("medical_insurance", "县医疗保障局")
    town = make_department("town_chengguan", "城关镇", kind="township", level="township")
    village = make_department("village_dongguan", "东关社区", kind="community", level="village", parent=town)
    other_town = make_department("town_hekou", "河口乡", kind="township", level="township")
    return {"civil": civil, "medins": medins, "town": town, "village": village, "other_town": other_town}


@pytest.fixture
def staff(make_user, units):
    return {key: make_user("department", username=f"staff_{key}", department=unit) for key, unit in units.items()}


@pytest.fixture
def ticket(operator, now):
    t = ts.log_call(
        actor=operator,
        now=now,
        phone="13812341234",
        category="illness_hardship",
        priority="P2",
        summary="父亲住院无力支付押金",
    )
    db.session.commit()
    return t


def kinds(ticket):
    return [
        e.kind
        for e in db.session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        )
    ]


def dispatch(ticket, unit, actor, now, role="lead"):
    r = rs.dispatch_referral(ticket, department=unit, role=role, actor=actor, now=now, instructions="请尽快核实")
    db.session.commit()
    return r


def test_dispatch_moves_ticket_to_referred_and_sets_clocks(ticket, units, operator, now):
    r = dispatch(ticket, units["civil"], operator, now)
    assert ticket.status == "referred"
    assert r.status == "dispatched" and r.role == "lead"
    assert r.acknowledge_due_at is not None and r.acknowledge_due_at > now
    assert r.resolve_due_at is not None and r.resolve_due_at > r.acknowledge_due_at
    assert r.next_deadline_at == r.acknowledge_due_at
    assert kinds(ticket)[-1] == "referral_dispatched"


def test_assist_needs_a_lead_and_only_one_lead(ticket, units, operator, now):
    with pytest.raises(DomainError):
        rs.dispatch_referral(ticket, department=units["medins"], role="assist", actor=operator, now=now)
    dispatch(ticket, units["civil"], operator, now)
    with pytest.raises(DomainError):
        rs.dispatch_referral(ticket, department=units["medins"], role="lead", actor=operator, now=now)
    assist = dispatch(ticket, units["medins"], operator, now, role="assist")
    assert assist.role == "assist"


def test_same_unit_cannot_hold_two_active_referrals(ticket, units, operator, now):
    dispatch(ticket, units["civil"], operator, now)
    with pytest.raises(DomainError):
        rs.dispatch_referral(ticket, department=units["civil"], role="assist", actor=operator, now=now)


def test_only_owner_or_manager_dispatches(ticket, units, make_user, manager, now):
    other = make_user("operator")
    with pytest.raises(NotAllowed):
        rs.dispatch_referral(ticket, department=units["civil"], role="lead", actor=other, now=now)
    assert dispatch(ticket, units["civil"], manager, now).status == "dispatched"


def test_closed_ticket_cannot_be_referred(ticket, units, operator, now):
    ts.close_ticket(ticket, actor=operator, now=now, resolution="已答复")
    db.session.commit()
    with pytest.raises(DomainError):
        rs.dispatch_referral(ticket, department=units["civil"], role="lead", actor=operator, now=now)


def test_unit_acknowledges_then_resolves_and_ticket_waits_for_callback(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["civil"], operator, now)
    later = now + timedelta(minutes=20)
    rs.acknowledge(r, actor=staff["civil"], now=later, expected_version=r.version)
    assert r.status == "acknowledged" and r.acknowledged_at == later
    assert r.next_deadline_at == r.resolve_due_at
    rs.add_progress(r, actor=staff["civil"], now=later, text="已入户核实")
    assert r.status == "in_progress"
    rs.resolve(
        r, actor=staff["civil"], now=later + timedelta(hours=3), result="发放临时救助3000元", outcome="relief_granted"
    )
    db.session.commit()
    assert r.status == "resolved" and r.next_deadline_at is None
    assert ticket.status == "pending_callback"
    note = db.session.scalar(select(Notification).where(Notification.user_id == operator.id))
    assert note.kind == "referrals_done"
    assert kinds(ticket)[-2:] == ["referral_resolved", "referrals_done"]


def test_ticket_waits_until_every_referral_is_finished(ticket, units, staff, operator, now):
    lead = dispatch(ticket, units["civil"], operator, now)
    assist = dispatch(ticket, units["medins"], operator, now, role="assist")
    rs.acknowledge(lead, actor=staff["civil"], now=now)
    rs.resolve(lead, actor=staff["civil"], now=now, result="已救助", outcome="relief_granted")
    assert ticket.status == "referred"
    rs.cancel_referral(assist, actor=operator, now=now, reason="医保已直接结算")
    assert ticket.status == "pending_callback"


def test_other_units_staff_cannot_act(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["civil"], operator, now)
    with pytest.raises(NotAllowed):
        rs.acknowledge(r, actor=staff["medins"], now=now)
    with pytest.raises(NotAllowed):
        rs.acknowledge(r, actor=operator, now=now)


def test_resolve_needs_acknowledge_result_and_outcome(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["civil"], operator, now)
    with pytest.raises(DomainError):
        rs.resolve(r, actor=staff["civil"], now=now, result="x", outcome="relief_granted")
    rs.acknowledge(r, actor=staff["civil"], now=now)
    with pytest.raises(DomainError):
        rs.resolve(r, actor=staff["civil"], now=now, result="  ", outcome="relief_granted")
    with pytest.raises(DomainError):
        rs.resolve(r, actor=staff["civil"], now=now, result="done", outcome="bogus")
    assert r.status == "acknowledged"


def test_stale_version_is_refused_and_nothing_changes(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["civil"], operator, now)
    with pytest.raises(StaleError):
        rs.acknowledge(r, actor=staff["civil"], now=now, expected_version=r.version + 1)
    assert r.status == "dispatched"


def test_return_accepted_and_redispatched(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["civil"], operator, now)
    rs.request_return(r, actor=staff["civil"], now=now, reason="not_our_remit", comment="属医保报销问题")
    assert r.status == "return_requested" and r.return_review_due_at > now
    assert db.session.scalar(select(Notification.kind).where(Notification.user_id == operator.id)) == "return_requested"
    new = rs.decide_return(r, actor=operator, now=now, accept=True, comment="同意", redispatch_to=units["medins"])
    db.session.commit()
    assert r.status == "returned"
    assert new.department_id == units["medins"].id and new.role == "lead" and new.status == "dispatched"
    assert ticket.status == "referred"


def test_return_rejected_goes_back_with_clock_running(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["civil"], operator, now)
    rs.acknowledge(r, actor=staff["civil"], now=now)
    due = r.resolve_due_at
    rs.request_return(r, actor=staff["civil"], now=now, reason="cannot_contact", comment="电话打不通")
    with pytest.raises(DomainError):
        rs.decide_return(r, actor=operator, now=now, accept=False)  # a rejection needs a comment
    rs.decide_return(r, actor=operator, now=now, accept=False, comment="请上门走访")
    assert r.status == "acknowledged" and r.resolve_due_at == due and r.next_deadline_at == due


def test_returned_without_redispatch_goes_back_to_owner(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["civil"], operator, now)
    rs.request_return(r, actor=staff["civil"], now=now, reason="duplicate", comment="重复")
    rs.decide_return(r, actor=operator, now=now, accept=True)
    assert ticket.status == "open"
    assert "referrals_none_left" in kinds(ticket)


def test_extension_once_before_deadline_manager_decides(ticket, units, staff, operator, manager, now):
    r = dispatch(ticket, units["civil"], operator, now)
    rs.acknowledge(r, actor=staff["civil"], now=now)
    until = r.resolve_due_at + timedelta(days=5)
    with pytest.raises(DomainError):
        rs.request_extension(
            r, actor=staff["civil"], now=now, reason="等材料", until=r.resolve_due_at - timedelta(hours=1)
        )
    rs.request_extension(r, actor=staff["civil"], now=now, reason="等待医院出具证明", until=until)
    with pytest.raises(DomainError):
        rs.request_extension(r, actor=staff["civil"], now=now, reason="again", until=until + timedelta(days=1))
    with pytest.raises(NotAllowed):
        rs.decide_extension(r, actor=operator, now=now, approve=True)
    rs.decide_extension(r, actor=manager, now=now, approve=True, comment="同意")
    assert r.extension_state == "approved" and r.resolve_due_at == until


def test_extension_after_deadline_is_refused(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["civil"], operator, now)
    rs.acknowledge(r, actor=staff["civil"], now=now)
    late = r.resolve_due_at + timedelta(minutes=1)
    with pytest.raises(DomainError):
        rs.request_extension(r, actor=staff["civil"], now=late, reason="太忙", until=late + timedelta(days=3))


def test_township_passes_on_to_village_and_child_resolution_closes_both(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["town"], operator, now)
    rs.acknowledge(r, actor=staff["town"], now=now)
    with pytest.raises(DomainError):
        rs.pass_on(r, actor=staff["town"], now=now, department=units["civil"])  # not under the township
    child = rs.pass_on(r, actor=staff["town"], now=now, department=units["village"], instructions="请入户")
    db.session.commit()
    assert child.parent_id == r.id and child.status == "dispatched"
    assert r.status == "in_progress"
    assert child.resolve_due_at <= r.resolve_due_at
    assert ticket.status == "referred"
    rs.acknowledge(child, actor=staff["village"], now=now)
    rs.resolve(child, actor=staff["village"], now=now, result="已送米面油", outcome="relief_granted")
    assert r.status == "resolved" and ticket.status == "pending_callback"


def test_township_resolving_itself_cancels_what_it_passed_on(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["town"], operator, now)
    rs.acknowledge(r, actor=staff["town"], now=now)
    child = rs.pass_on(r, actor=staff["town"], now=now, department=units["village"])
    rs.resolve(r, actor=staff["town"], now=now, result="镇里直接办理", outcome="relief_granted")
    assert child.status == "cancelled" and r.status == "resolved"


def test_township_staff_see_their_villages_referrals(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["town"], operator, now)
    rs.acknowledge(r, actor=staff["town"], now=now)
    child = rs.pass_on(r, actor=staff["town"], now=now, department=units["village"])
    db.session.commit()
    assert set(access.visible_referrals(staff["town"], ticket)) == {r, child}
    assert access.visible_referrals(staff["village"], ticket) == [child]
    assert access.visible_referrals(staff["civil"], ticket) == []


def test_reopen_resolved_referral_puts_ticket_back_to_referred(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["civil"], operator, now)
    rs.acknowledge(r, actor=staff["civil"], now=now)
    rs.resolve(r, actor=staff["civil"], now=now, result="已办", outcome="other")
    assert ticket.status == "pending_callback"
    with pytest.raises(DomainError):
        rs.reopen_referral(r, actor=operator, now=now, reason="")
    rs.reopen_referral(r, actor=operator, now=now, reason="来电人反映救助款未到")
    assert r.status == "in_progress" and ticket.status == "referred"


def test_cancel_needs_reason_and_active_referral(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["civil"], operator, now)
    with pytest.raises(DomainError):
        rs.cancel_referral(r, actor=operator, now=now, reason=" ")
    rs.cancel_referral(r, actor=operator, now=now, reason="派错单位")
    with pytest.raises(DomainError):
        rs.cancel_referral(r, actor=operator, now=now, reason="again")


def test_unit_sees_numbers_only_after_acknowledging(ticket, units, staff, operator, now):
    r = dispatch(ticket, units["civil"], operator, now)
    with pytest.raises(DomainError):
        rs.unmask_for_unit(r, actor=staff["civil"], now=now, reason="需要联系本人")
    rs.acknowledge(r, actor=staff["civil"], now=now)
    rs.unmask_for_unit(r, actor=staff["civil"], now=now, reason="需要联系本人")
    ev = db.session.scalars(select(TicketEvent).where(TicketEvent.kind == "unmasked")).one()
    assert ev.referral_id == r.id and ev.payload["reason"] == "需要联系本人"


def test_suggested_units_follow_the_catalogue(app, ticket, units):
    from hotline.policy import catalogue

    suggestion = rs.suggested_units(ticket, catalogue())
    assert suggestion[0] == ("lead", units["civil"])
    assert ("assist", units["medins"]) in suggestion


def test_p1_referral_texts_the_units_duty_phone_through_the_outbox(operator, units, now):
    from models.outbox import OutboundMessage

    t = ts.log_call(
        actor=operator, now=now, phone="13812341234", category="accident_disaster", priority="P1", summary="房屋失火"
    )
    db.session.commit()
    dispatch(t, units["civil"], operator, now)
    message = db.session.scalars(select(OutboundMessage)).one()
    assert message.to_number == "+8613900000001"
    assert t.number in message.body and message.status == "queued"
    # P1 clocks run 24/7: acknowledge within one hour.
    r = t.referrals[0]
    assert r.acknowledge_due_at == now + timedelta(hours=1)


def test_p2_referral_sends_no_sms(ticket, units, operator, now):
    from models.outbox import OutboundMessage

    dispatch(ticket, units["civil"], operator, now)
    assert db.session.scalars(select(OutboundMessage)).all() == []
