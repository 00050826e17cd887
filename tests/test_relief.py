"""Advance relief (先行救助): grant, approval above the limit, staged payments, not needed, paperwork; the panel."""

import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from hotline import access
from hotline.errors import DomainError, NotAllowed, StaleError
from hotline.escalation import clocks
from hotline.extensions import db
from hotline.referrals import service as rs
from hotline.relief import service as relief
from hotline.tickets import service as ts
from models.notification import Notification
from models.relief import AdvanceRelief, AdvanceReliefPayment
from models.user import User
from tests.conftest import login, post_form
from tests.helpers import count, events, log_call


@pytest.fixture
def units(make_department):
    return {
        "town": make_department("town_chengguan", "城关镇", kind="township", level="township"),
        "other_town": make_department("town_hekou", "河口乡", kind="township", level="township"),
        "civil": make_department("civil_affairs", "县民政局"),
        "charity": make_department("charity", "县慈善总会", kind="charity"),
    }


@pytest.fixture
def staff(make_user, units):
    return {
        "town": make_user("department", username="town1", department=units["town"]),
        "other_town": make_user("department", username="hekou1", department=units["other_town"]),
    }


@pytest.fixture
def ticket(operator, now):
    """A P1 case logged at ``now`` (T0): its advance-relief clock runs 24 h."""
    return log_call(operator, now)


def grant(ticket, actor, at, amount="1500", unit=None, kind="temporary_assistance", reason="住院押金不足，先行救助"):
    r = relief.grant_relief(
        ticket,
        actor=actor,
        now=at,
        kind=kind,
        amount_yuan=amount,
        granting_unit=unit,
        reason=reason,
        expected_version=ticket.version,
    )
    db.session.commit()
    return r


def says(msgid: str, **variables) -> str:
    """A refusal as the user reads it (default locale), for ``pytest.raises(match=...)``."""
    return re.escape(gettext(msgid, **variables))


def running(ticket) -> dict:
    """The ticket's running clocks and their deadlines, as the clocks panel and the sweep see them."""
    return {span.clock: span.due for span in clocks.ticket_spans(ticket)}


def notices(user, kind):
    return list(
        db.session.scalars(select(Notification).where(Notification.user_id == user.id, Notification.kind == kind))
    )


# --- amounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "fen"),
    [("1500", 150000), ("1,500.50", 150050), ("¥800", 80000), ("0.01", 1), (" 3000.00 ", 300000), ("12.300", 1230)],
)
def test_amounts_are_read_as_yuan_and_kept_in_fen(typed, fen):
    assert relief.parse_amount(typed) == fen


def test_decimal_and_whole_amounts_are_read_exactly():
    assert relief.parse_amount(Decimal("3000.01")) == 300001
    assert relief.parse_amount(25) == 2500


@pytest.mark.parametrize("typed", ["", "0", "0.00", "-5", "12.345", "abc", "1e5", "1,23", "12,34.5", "NaN", "99999999"])
def test_amounts_that_are_no_amount_are_refused(typed, app):
    with pytest.raises(DomainError):
        relief.parse_amount(typed)


def test_money_is_shown_with_yuan_sign_and_thousands():
    assert relief.format_yuan(123450) == "¥1,234.50"
    assert relief.format_yuan(5) == "¥0.05"
    assert relief.format_yuan(300000000) == "¥3,000,000.00"


# --- grant and the limit ---------------------------------------------------------------------


def test_grant_at_the_limit_is_approved_at_once_and_moves_the_clocks(ticket, operator, units, now):
    assert running(ticket)["advance_relief"] == now + timedelta(hours=24)
    t = now + timedelta(hours=3)
    r = grant(ticket, operator, t, amount="3000.00", unit=units["town"])
    assert (r.status, r.amount_fen, r.decided_by_id, r.decided_at) == ("approved", 300000, operator.id, t)
    assert ticket.advance_relief_at == t and ticket.advance_relief_outcome == "granted"
    assert "advance_relief" not in running(ticket)
    assert ticket.advance_relief_due_at == now + timedelta(hours=24)  # kept: reports compare it with the grant
    assert ticket.paperwork_due_at == t + timedelta(days=5) == running(ticket)["paperwork"]
    ev = events(ticket, "relief_granted")[-1]
    assert ev.payload["amount_fen"] == 300000 and ev.payload["amount"] == "3000.00"
    assert ev.payload["reason"] == "住院押金不足，先行救助" and ev.payload["unit"] == "城关镇"


def test_one_fen_above_the_limit_waits_for_a_manager_who_is_told(ticket, operator, manager, units, now):
    t = now + timedelta(hours=3)
    r = grant(ticket, operator, t, amount="3000.01", unit=units["town"])
    assert r.status == "pending_approval" and r.decided_by_id is None and r.decided_at is None
    assert ticket.advance_relief_at is None and ticket.advance_relief_outcome is None
    assert running(ticket)["advance_relief"] == now + timedelta(hours=24)
    assert ticket.paperwork_due_at is None and "paperwork" not in running(ticket)
    assert events(ticket, "relief_requested")[-1].payload["amount_fen"] == 300001
    [notice] = notices(manager, "relief_pending")
    assert notice.payload["amount"] == "¥3,000.01" and notice.ticket_id == ticket.id


def test_the_limit_counts_the_whole_case_so_a_grant_cannot_be_split(ticket, operator, units, now):
    grant(ticket, operator, now + timedelta(hours=1), amount="2000", unit=units["town"])
    assert grant(ticket, operator, now + timedelta(hours=2), amount="1000.00", unit=units["town"]).status == "approved"
    later = grant(ticket, operator, now + timedelta(hours=3), amount="0.01", unit=units["town"])
    assert later.status == "pending_approval"


def test_a_second_grant_does_not_move_the_paperwork_deadline(ticket, operator, units, now):
    first = now + timedelta(hours=1)
    grant(ticket, operator, first, amount="500", unit=units["town"])
    grant(ticket, operator, first + timedelta(hours=5), amount="500", unit=units["civil"], kind="medical_assistance")
    assert ticket.advance_relief_at == first and ticket.paperwork_due_at == first + timedelta(days=5)


def test_grant_refusals(ticket, operator, make_user, units, now):
    other_operator = make_user("operator")
    with pytest.raises(NotAllowed):
        grant(ticket, other_operator, now, unit=units["town"])
    with pytest.raises(DomainError, match=says("Choose the kind of relief.")):
        grant(ticket, operator, now, unit=units["town"], kind="cash")
    with pytest.raises(DomainError):
        grant(ticket, operator, now, unit=None)
    with pytest.raises(DomainError):
        grant(ticket, operator, now, unit=units["town"], reason="  ")
    with pytest.raises(DomainError):
        grant(ticket, operator, now, unit=units["town"], amount="0")
    ts.close_ticket(ticket, actor=operator, now=now, resolution="已答复")
    db.session.commit()
    with pytest.raises(DomainError):
        grant(ticket, operator, now, unit=units["town"])
    assert count(AdvanceRelief) == 0


def test_grant_from_a_stale_page_is_refused(ticket, operator, units, now):
    version = ticket.version
    ts.add_note(ticket, actor=operator, now=now, text="x")
    grant(ticket, operator, now, amount="100", unit=units["town"])
    with pytest.raises(StaleError):
        relief.grant_relief(
            ticket,
            actor=operator,
            now=now,
            kind="temporary_assistance",
            amount_yuan="100",
            granting_unit=units["town"],
            reason="重复提交",
            expected_version=version,
        )


# --- departments -----------------------------------------------------------------------------


def test_staff_of_the_referred_township_grant_small_relief_themselves(ticket, operator, staff, units, now):
    referral = rs.dispatch_referral(ticket, department=units["town"], role="lead", actor=operator, now=now)
    db.session.commit()
    r = grant(ticket, staff["town"], now + timedelta(hours=2), amount="2000", unit=units["town"])
    assert r.status == "approved" and r.requested_by_id == staff["town"].id
    assert events(ticket, "relief_granted")[-1].referral_id == referral.id  # shown on the unit's page
    with pytest.raises(NotAllowed):
        grant(ticket, staff["town"], now + timedelta(hours=2), amount="100", unit=units["civil"])


def test_villages_hold_no_relief_funds(ticket, operator, make_department, make_user, units, now):
    village = make_department("village_dongguan", "东关社区", kind="community", level="village", parent=units["town"])
    village_staff = make_user("department", username="village1", department=village)
    town_staff = make_user("department", department=units["town"])
    referral = rs.dispatch_referral(ticket, department=units["town"], role="lead", actor=operator, now=now)
    rs.acknowledge(referral, actor=town_staff, now=now)
    rs.pass_on(referral, actor=town_staff, now=now, department=village)
    db.session.commit()
    assert not access.can_grant_relief(village_staff, ticket)
    with pytest.raises(NotAllowed):
        grant(ticket, village_staff, now, amount="100", unit=village)
    with pytest.raises(
        DomainError, match=says("Relief is granted by a township or a county unit, not by a village or grid.")
    ):
        grant(ticket, operator, now, amount="100", unit=village)


def test_staff_of_an_unrelated_unit_can_do_nothing(ticket, operator, staff, units, now):
    rs.dispatch_referral(ticket, department=units["town"], role="lead", actor=operator, now=now)
    db.session.commit()
    r = grant(ticket, operator, now, amount="1000", unit=units["town"])
    outsider = staff["other_town"]
    with pytest.raises(NotAllowed):
        grant(ticket, outsider, now, amount="100", unit=units["other_town"])
    with pytest.raises(NotAllowed):
        relief.record_payment(r, actor=outsider, now=now, amount_yuan="100", note="第一期")
    with pytest.raises(NotAllowed):
        relief.complete_paperwork(ticket, actor=outsider, now=now, note="材料齐全")
    with pytest.raises(NotAllowed):
        relief.relief_not_needed(ticket, actor=outsider, now=now, reason="x")


# --- decisions (一事一议) -----------------------------------------------------------------------


def test_manager_approval_is_the_grant_for_the_clocks(ticket, operator, manager, units, now):
    r = grant(ticket, operator, now + timedelta(hours=1), amount="8000", unit=units["charity"], kind="emergency_fund")
    decided = now + timedelta(hours=4)
    relief.decide_relief(
        r, actor=manager, now=decided, approve=True, comment="火灾致贫，会商同意", expected_version=r.version
    )
    db.session.commit()
    assert (r.status, r.decided_by_id, r.decided_at, r.decision_comment) == (
        "approved",
        manager.id,
        decided,
        "火灾致贫，会商同意",
    )
    assert ticket.advance_relief_at == decided and "advance_relief" not in running(ticket)
    assert running(ticket)["paperwork"] == decided + timedelta(days=5)
    ev = events(ticket, "relief_approved")[-1]
    assert ev.payload["amount_fen"] == 800000 and ev.payload["comment"] == "火灾致贫，会商同意"
    assert notices(operator, "relief_approved")


def test_a_rejected_relief_leaves_the_clock_running(ticket, operator, manager, units, now):
    r = grant(ticket, operator, now + timedelta(hours=1), amount="8000", unit=units["charity"])
    relief.decide_relief(r, actor=manager, now=now + timedelta(hours=2), approve=False, comment="已由医保兜底")
    db.session.commit()
    assert r.status == "rejected"
    assert ticket.advance_relief_at is None and running(ticket)["advance_relief"] == now + timedelta(hours=24)
    assert events(ticket, "relief_rejected")[-1].payload["comment"] == "已由医保兜底"
    assert notices(operator, "relief_rejected")


def test_decision_refusals(ticket, operator, manager, units, now):
    small = grant(ticket, operator, now, amount="10", unit=units["town"])
    r = grant(ticket, operator, now, amount="8000", unit=units["charity"])
    with pytest.raises(NotAllowed):
        relief.decide_relief(r, actor=operator, now=now, approve=True, comment="自己批")
    with pytest.raises(DomainError):
        relief.decide_relief(r, actor=manager, now=now, approve=True, comment="")
    with pytest.raises(StaleError):
        relief.decide_relief(r, actor=manager, now=now, approve=True, comment="同意", expected_version=r.version - 1)
    relief.decide_relief(r, actor=manager, now=now, approve=True, comment="同意")
    db.session.commit()
    with pytest.raises(DomainError):
        relief.decide_relief(r, actor=manager, now=now, approve=False, comment="改主意")
    with pytest.raises(DomainError):
        relief.decide_relief(small, actor=manager, now=now, approve=True, comment="同意")


# --- payments (一次审批、分阶段救助) ------------------------------------------------------------


def test_staged_payments_up_to_the_approved_amount(ticket, operator, units, now):
    r = grant(ticket, operator, now, amount="3000", unit=units["town"])
    relief.record_payment(r, actor=operator, now=now + timedelta(hours=1), amount_yuan="1000", note="第一期：押金")
    relief.record_payment(r, actor=operator, now=now + timedelta(days=2), amount_yuan="2000.00", note="第二期")
    db.session.commit()
    assert r.paid_fen == 300000 and [p.amount_fen for p in r.payments] == [100000, 200000]
    with pytest.raises(
        DomainError,
        match=says(
            "The payments would come to %(total)s, more than the %(approved)s approved. "
            "At most %(left)s can still be paid.",
            total="¥3,000.01",
            approved="¥3,000.00",
            left="¥0.00",
        ),
    ):
        relief.record_payment(r, actor=operator, now=now, amount_yuan="0.01", note="多付")
    paid = events(ticket, "relief_paid")
    assert [e.payload["paid_fen"] for e in paid] == [100000, 200000]
    assert paid[-1].payload["paid_total_fen"] == 300000 and paid[-1].payload["note"] == "第二期"


def test_paying_more_than_approved_in_one_go_is_refused(ticket, operator, units, now):
    r = grant(ticket, operator, now, amount="1500", unit=units["town"])
    with pytest.raises(DomainError):
        relief.record_payment(r, actor=operator, now=now, amount_yuan="1500.01", note="一次付清")
    assert count(AdvanceReliefPayment) == 0


def test_nothing_is_paid_under_a_pending_or_rejected_relief(ticket, operator, manager, units, now):
    r = grant(ticket, operator, now, amount="5000", unit=units["charity"])
    with pytest.raises(
        DomainError, match=says("This relief waits for a manager's approval: nothing can be paid under it yet.")
    ):
        relief.record_payment(r, actor=operator, now=now, amount_yuan="100", note="先付")
    relief.decide_relief(r, actor=manager, now=now, approve=False, comment="不符合条件")
    db.session.commit()
    with pytest.raises(DomainError, match=says("This relief was rejected: nothing can be paid under it.")):
        relief.record_payment(r, actor=operator, now=now, amount_yuan="100", note="先付")
    assert count(AdvanceReliefPayment) == 0


def test_a_payment_makes_older_payment_forms_stale(ticket, operator, units, now):
    r = grant(ticket, operator, now, amount="3000", unit=units["town"])
    version = r.version
    relief.record_payment(r, actor=operator, now=now, amount_yuan="1000", note="第一期", expected_version=version)
    db.session.commit()
    assert r.version != version
    with pytest.raises(StaleError):
        relief.record_payment(r, actor=operator, now=now, amount_yuan="1000", note="重复", expected_version=version)


def test_two_payments_entered_at_once_cannot_together_exceed_the_approval(app, ticket, operator, units, now):
    """Both pages were loaded with 2,000 of 3,000 left to pay... each; only the first payment goes through."""
    relief_id = grant(ticket, operator, now, amount="3000", unit=units["town"]).id
    both_checked = threading.Barrier(2)
    outcomes, lock = [], threading.Lock()

    def pay():
        with app.app_context():
            try:
                r = db.session.get(AdvanceRelief, relief_id)
                actor = db.session.get(User, operator.id)
                assert r.paid_fen == 0  # what the page showed
                both_checked.wait(timeout=30)
                relief.record_payment(r, actor=actor, now=now, amount_yuan="2000", note="同时提交")
                db.session.commit()
                outcome = "paid"
            except (StaleError, StaleDataError):
                db.session.rollback()
                outcome = "stale"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["paid", "stale"]
    db.session.expire_all()
    assert db.session.get(AdvanceRelief, relief_id).paid_fen == 200000


def test_the_granting_township_records_its_own_payments(ticket, operator, staff, units, now):
    rs.dispatch_referral(ticket, department=units["town"], role="lead", actor=operator, now=now)
    db.session.commit()
    r = grant(ticket, staff["town"], now, amount="2000", unit=units["town"])
    relief.record_payment(r, actor=staff["town"], now=now, amount_yuan="800", note="现金发放")
    db.session.commit()
    assert r.paid_fen == 80000
    county = grant(ticket, operator, now, amount="500", unit=units["civil"])
    with pytest.raises(NotAllowed):
        relief.record_payment(county, actor=staff["town"], now=now, amount_yuan="100", note="代付")


# --- not needed and paperwork ----------------------------------------------------------------


def test_not_needed_stops_the_clock_without_paperwork(ticket, operator, now):
    t = now + timedelta(hours=6)
    relief.relief_not_needed(
        ticket, actor=operator, now=t, reason="医保已结算，无需垫付", expected_version=ticket.version
    )
    db.session.commit()
    assert ticket.advance_relief_outcome == "not_needed" and ticket.advance_relief_at == t
    assert "advance_relief" not in running(ticket) and "paperwork" not in running(ticket)
    assert ticket.paperwork_due_at is None
    assert events(ticket, "relief_not_needed")[-1].payload["reason"] == "医保已结算，无需垫付"
    with pytest.raises(DomainError):
        relief.relief_not_needed(ticket, actor=operator, now=t, reason="再次")


def test_relief_after_not_needed_starts_the_paperwork_from_the_grant(ticket, operator, units, now):
    relief.relief_not_needed(ticket, actor=operator, now=now + timedelta(hours=1), reason="暂不需要")
    t = now + timedelta(days=2)
    grant(ticket, operator, t, amount="800", unit=units["town"])
    assert ticket.advance_relief_outcome == "granted" and ticket.paperwork_due_at == t + timedelta(days=5)


def test_not_needed_refusals(ticket, operator, make_user, units, now):
    with pytest.raises(NotAllowed):
        relief.relief_not_needed(ticket, actor=make_user("operator"), now=now, reason="x")
    with pytest.raises(DomainError):
        relief.relief_not_needed(ticket, actor=operator, now=now, reason="")
    grant(ticket, operator, now, amount="9000", unit=units["charity"])  # pending
    with pytest.raises(DomainError, match=says("A relief waits for a manager's decision: it must be decided first.")):
        relief.relief_not_needed(ticket, actor=operator, now=now, reason="x")
    p2 = log_call(operator, now, priority="P2", phone="13912340000")
    assert p2.advance_relief_due_at is None
    with pytest.raises(DomainError, match=says("Only P0 and P1 tickets have an advance-relief deadline to stop.")):
        relief.relief_not_needed(p2, actor=operator, now=now, reason="x")


def test_paperwork_done_by_hand_stops_the_paperwork_clock(ticket, operator, manager, units, now):
    """Recorded by hand while papers of the checklist are missing: a manager's override, listing them."""
    with pytest.raises(DomainError):
        relief.complete_paperwork(ticket, actor=manager, now=now, note="材料齐全")
    grant(ticket, operator, now, amount="3000", unit=units["town"])
    done = now + timedelta(days=3)
    relief.complete_paperwork(
        ticket, actor=manager, now=done, note="乡镇已线下核验纸质材料", expected_version=ticket.version
    )
    db.session.commit()
    assert ticket.paperwork_done_at == done and "paperwork" not in running(ticket)
    assert ticket.next_deadline_at != ticket.paperwork_due_at
    ev = events(ticket, "paperwork_done")[-1]
    assert ev.payload["on_time"] is True and ev.payload["amount_fen"] == 300000
    assert ev.payload["missing"] == ["id_card", "household_register", "application_form"]
    with pytest.raises(DomainError):
        relief.complete_paperwork(ticket, actor=manager, now=done, note="again")


def test_paperwork_needs_a_note_and_a_fresh_page(ticket, operator, manager, units, now):
    grant(ticket, operator, now, amount="3000", unit=units["town"])
    with pytest.raises(DomainError):
        relief.complete_paperwork(ticket, actor=manager, now=now, note=" ")
    with pytest.raises(StaleError):
        relief.complete_paperwork(ticket, actor=manager, now=now, note="齐了", expected_version=ticket.version - 1)


# --- the panel over HTTP ---------------------------------------------------------------------


def _grant_data(ticket, unit, **overrides):
    data = {
        "grant-version": ticket.version,
        "grant-kind": "temporary_assistance",
        "grant-amount": "1,234.50",
        "grant-granting_unit_id": unit.id,
        "grant-reason": "住院押金不足",
    }
    return data | overrides


def test_owner_grants_from_the_ticket_page_and_sees_the_amount(client, logged_in, operator, ticket, units):
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    assert "先行救助" in client.get(page).get_data(as_text=True)
    r = post_form(client, f"{page}/relief", _grant_data(ticket, units["town"]), page=page)
    assert r.status_code == 302 and r.location.endswith("#relief")
    html = client.get(page).get_data(as_text=True)
    assert "¥1,234.50" in html and "住院押金不足" in html
    assert db.session.scalar(select(AdvanceRelief)).amount_fen == 123450


def test_refused_grant_keeps_what_was_typed(client, logged_in, operator, ticket, units):
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    r = post_form(client, f"{page}/relief", _grant_data(ticket, units["town"], **{"grant-amount": "12.345"}), page=page)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "flash-danger" in html and 'value="12.345"' in html and "住院押金不足" in html
    r = post_form(client, f"{page}/relief", _grant_data(ticket, units["town"], **{"grant-reason": ""}), page=page)
    assert r.status_code == 400 and 'value="1,234.50"' in r.get_data(as_text=True)
    assert count(AdvanceRelief) == 0


def test_stale_grant_form_is_refused_with_the_typed_input(client, logged_in, operator, ticket, units):
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    data = _grant_data(ticket, units["town"], **{"grant-version": ticket.version - 1})
    r = post_form(client, f"{page}/relief", data, page=page)
    assert r.status_code == 409 and "住院押金不足" in r.get_data(as_text=True)
    assert count(AdvanceRelief) == 0


def test_manager_decides_and_operator_cannot(app, client, logged_in, operator, manager, ticket, units, now):
    r = grant(ticket, operator, now, amount="6000", unit=units["charity"])
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    data = {f"d{r.id}-version": r.version, f"d{r.id}-decision": "approve", f"d{r.id}-comment": "同意"}
    assert f'action="/relief/{r.id}/decision"' not in client.get(page).get_data(as_text=True)
    assert post_form(client, f"/relief/{r.id}/decision", data, page=page).status_code == 403
    boss = app.test_client()
    login(boss, manager.username)
    assert f'action="/relief/{r.id}/decision"' in boss.get(page).get_data(as_text=True)
    assert post_form(boss, f"/relief/{r.id}/decision", data, page=page).status_code == 302
    assert db.session.get(AdvanceRelief, r.id).status == "approved"


def test_overpayment_over_http_says_how_much_is_left(client, logged_in, operator, ticket, units, now):
    r = grant(ticket, operator, now, amount="1000", unit=units["town"])
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    data = {f"p{r.id}-version": r.version, f"p{r.id}-amount": "1000.01", f"p{r.id}-note": "一次付清"}
    response = post_form(client, f"/relief/{r.id}/payment", data, page=page)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "¥1,000.00" in html and 'value="1000.01"' in html


def test_referred_township_staff_grant_from_their_referral_page(client, logged_in, operator, staff, ticket, units):
    referral = rs.dispatch_referral(
        ticket, department=units["town"], role="lead", actor=operator, now=ticket.created_at
    )
    db.session.commit()
    logged_in(staff["town"])
    page = f"/referrals/{referral.id}"
    html = client.get(page).get_data(as_text=True)
    assert "先行救助" in html and 'action="/tickets/' in html
    r = post_form(client, f"/tickets/{ticket.number}/relief", _grant_data(ticket, units["town"]), page=page)
    assert r.status_code == 302 and r.location.startswith(page)
    assert "¥1,234.50" in client.get(page).get_data(as_text=True)
    assert db.session.scalar(select(AdvanceRelief)).requested_by_id == staff["town"].id


def test_staff_of_other_units_get_not_found_everywhere(client, logged_in, operator, staff, ticket, units, now):
    rs.dispatch_referral(ticket, department=units["town"], role="lead", actor=operator, now=now)
    r = grant(ticket, operator, now, amount="1000", unit=units["town"])
    logged_in(staff["other_town"])
    n = ticket.number
    before = count(AdvanceRelief), len(events(ticket))
    for url in (
        f"/tickets/{n}/relief",
        f"/relief/{r.id}/decision",
        f"/relief/{r.id}/payment",
        f"/tickets/{n}/relief-not-needed",
        f"/tickets/{n}/paperwork-done",
        "/relief/999999/payment",
    ):
        data = _grant_data(ticket, units["other_town"]) | {f"p{r.id}-amount": "1", f"p{r.id}-note": "x"}
        assert post_form(client, url, data, page="/inbox").status_code == 404, url
    assert (count(AdvanceRelief), len(events(ticket))) == before
