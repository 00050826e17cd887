"""Four eyes: nobody decides on relief, a return or an extension they asked for; extensions stay within policy."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import gettext

from hotline.errors import DomainError, NotAllowed
from hotline.extensions import db
from hotline.referrals import service as rs
from hotline.referrals import views as referral_views
from hotline.relief import service as relief
from models.notification import Notification
from models.relief import AdvanceRelief
from tests.conftest import login, post_form
from tests.helpers import events, log_call


def says(msgid: str, **variables) -> str:
    """A refusal as the user reads it (default locale, Chinese), for ``pytest.raises(match=...)``."""
    return re.escape(gettext(msgid, **variables))


def browser(app, user):
    other = app.test_client()
    assert login(other, user.username).status_code == 302
    return other


@pytest.fixture
def units(make_department):
    return {
        "civil": make_department("civil_affairs", "县民政局"),
        "charity": make_department("charity", "县慈善总会", kind="charity"),
    }


@pytest.fixture
def staff(make_user, units):
    return make_user("department", username="civil1", department=units["civil"], display_name="刘经办")


@pytest.fixture
def other_manager(make_user):
    return make_user("manager", username="mgr_li", display_name="李督办")


def _referral(ticket, unit, operator, staff, now):
    r = rs.dispatch_referral(ticket, department=unit, role="lead", actor=operator, now=now, instructions="请核实")
    rs.acknowledge(r, actor=staff, now=now + timedelta(minutes=5))
    db.session.commit()
    return r


def _promote(user):
    """The unit's staff member becomes a manager (an admin changed the role): they keep what they asked."""
    user.role, user.department = "manager", None
    db.session.commit()
    return user


# --- advance relief above the limit ---------------------------------------------------------


def test_a_manager_cannot_approve_the_relief_they_asked_for(manager, other_manager, operator, units, now):
    ticket = log_call(operator, now)
    r = relief.grant_relief(
        ticket,
        actor=manager,
        now=now,
        kind="temporary_assistance",
        amount_yuan="5000",
        granting_unit=units["charity"],
        reason="住院押金",
    )
    db.session.commit()
    assert r.status == "pending_approval"
    # The requester is not asked to decide; every other manager is.
    told = {n.user_id for n in db.session.query(Notification).filter_by(kind="relief_pending")}
    assert told == {other_manager.id}
    for approve in (True, False):
        with pytest.raises(
            NotAllowed, match=says("You asked for this relief: another manager must decide on it (four eyes).")
        ):
            relief.decide_relief(r, actor=manager, now=now, approve=approve, comment="同意")
        db.session.rollback()
    assert db.session.get(AdvanceRelief, r.id).status == "pending_approval"
    assert not events(ticket, "relief_approved") and not events(ticket, "relief_rejected")
    relief.decide_relief(r, actor=other_manager, now=now, approve=True, comment="同意，一事一议")
    db.session.commit()
    assert r.status == "approved" and r.decided_by_id == other_manager.id


def test_the_requester_sees_who_must_decide_and_no_decision_form(app, manager, other_manager, operator, units, now):
    ticket = log_call(operator, now)
    r = relief.grant_relief(
        ticket,
        actor=manager,
        now=now,
        kind="temporary_assistance",
        amount_yuan="5000",
        granting_unit=units["charity"],
        reason="住院押金",
    )
    db.session.commit()
    page = f"/tickets/{ticket.number}"
    asker = browser(app, manager)
    html = asker.get(page).get_data(as_text=True)
    assert f'action="/relief/{r.id}/decision"' not in html
    assert "等待督办审批：申请人 陈主任 以外的任一督办均可审批（双人把关）。" in html
    data = {f"d{r.id}-version": r.version, f"d{r.id}-decision": "approve", f"d{r.id}-comment": "同意"}
    refused = post_form(asker, f"/relief/{r.id}/decision", data, page=page)
    assert refused.status_code == 403
    assert "这笔救助是您申请的，须由另一位督办审批（双人把关）。" in refused.get_data(as_text=True)
    assert db.session.get(AdvanceRelief, r.id).status == "pending_approval"
    other = browser(app, other_manager)
    assert f'action="/relief/{r.id}/decision"' in other.get(page).get_data(as_text=True)
    assert post_form(other, f"/relief/{r.id}/decision", data, page=page).status_code == 302
    db.session.expire_all()
    assert db.session.get(AdvanceRelief, r.id).status == "approved"


def test_relief_within_the_limit_is_still_granted_at_once(manager, operator, units, now):
    ticket = log_call(operator, now)
    r = relief.grant_relief(
        ticket,
        actor=manager,
        now=now,
        kind="temporary_assistance",
        amount_yuan="800",
        granting_unit=units["charity"],
        reason="临时生活困难",
    )
    assert r.status == "approved" and r.decided_by_id == manager.id


# --- returns (退单) and extensions (延期) ------------------------------------------------------


def test_nobody_decides_on_the_return_they_asked_for(app, operator, staff, other_manager, units, now):
    ticket = log_call(operator, now, priority="P2")
    r = _referral(ticket, units["civil"], operator, staff, now)
    rs.request_return(r, actor=staff, now=now + timedelta(hours=1), reason="not_our_remit", comment="不属本单位")
    db.session.commit()
    asker = _promote(staff)
    page = f"/tickets/{ticket.number}"
    html = browser(app, asker).get(page).get_data(as_text=True)
    assert f'action="/referrals/{r.id}/return-decision"' not in html
    assert "这项退单是您申请的，须由工单首问负责人或您以外的督办决定。" in html
    with pytest.raises(
        NotAllowed,
        match=says("You asked for this return: the ticket's first-contact owner or a manager other than you decides."),
    ):
        rs.decide_return(r, actor=asker, now=now + timedelta(hours=2), accept=True, comment="同意")
    db.session.rollback()
    assert r.status == "return_requested"
    assert f'action="/referrals/{r.id}/return-decision"' in browser(app, other_manager).get(page).get_data(as_text=True)
    rs.decide_return(r, actor=operator, now=now + timedelta(hours=2), accept=True, comment="同意")
    db.session.commit()
    assert r.status == "returned"


def test_nobody_decides_on_the_extension_they_asked_for(app, operator, staff, other_manager, units, now):
    ticket = log_call(operator, now, priority="P2")
    r = _referral(ticket, units["civil"], operator, staff, now)
    until = r.resolve_due_at + timedelta(days=3)
    rs.request_extension(r, actor=staff, now=now + timedelta(hours=1), reason="等待医院证明", until=until)
    db.session.commit()
    asker = _promote(staff)
    page = f"/tickets/{ticket.number}"
    html = browser(app, asker).get(page).get_data(as_text=True)
    assert f'action="/referrals/{r.id}/extension-decision"' not in html
    assert "这项延期是您申请的，须由另一位督办审批。" in html
    data = {f"e{r.id}-version": r.version, f"e{r.id}-decision": "approve", f"e{r.id}-comment": "同意"}
    refused = post_form(browser(app, asker), f"/referrals/{r.id}/extension-decision", data, page=page)
    assert refused.status_code == 403
    assert "这项延期是您申请的，须由另一位督办审批。" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert r.extension_state == "requested"
    other = browser(app, other_manager)
    assert f'action="/referrals/{r.id}/extension-decision"' in other.get(page).get_data(as_text=True)
    assert post_form(other, f"/referrals/{r.id}/extension-decision", data, page=page).status_code == 302
    db.session.expire_all()
    assert r.extension_state == "approved" and r.resolve_due_at == until


# --- max_extension --------------------------------------------------------------------------

#: P3, dispatched Thursday 2025-10-09 12:00: resolve 5 working days later (Saturday 10-11 is a 调休 working
#: day) on Wednesday 10-15 12:00; max_extension 10 working days more: Wednesday 10-29 12:00 (UTC 04:00).
P3_RESOLVE = datetime(2025, 10, 15, 4, 0, tzinfo=UTC)
P3_LATEST = datetime(2025, 10, 29, 4, 0, tzinfo=UTC)


def test_a_p3_extension_reaches_at_most_max_extension_working_days(operator, staff, manager, units, now):
    ticket = log_call(operator, now, priority="P3")
    r = _referral(ticket, units["civil"], operator, staff, now)
    assert r.resolve_due_at == P3_RESOLVE and rs.latest_extension(r) == P3_LATEST
    message = says(
        "An extension can reach %(latest)s at the latest (the most the policy allows after the current deadline). "
        "Choose that date or an earlier one.",
        latest="2025-10-29 12:00",
    )
    with pytest.raises(DomainError, match=message) as refused:
        rs.request_extension(r, actor=staff, now=now, reason="等待证明", until=P3_LATEST + timedelta(minutes=1))
    assert "2025-10-29 12:00" in str(refused.value.message)
    db.session.rollback()
    assert r.extension_state == "none" and not events(ticket, "extension_requested")
    rs.request_extension(r, actor=staff, now=now, reason="等待证明", until=P3_LATEST)
    rs.decide_extension(r, actor=manager, now=now, approve=True, comment="同意")
    db.session.commit()
    assert r.resolve_due_at == P3_LATEST


def test_an_approval_beyond_the_limit_is_refused(operator, staff, manager, units, now, monkeypatch):
    ticket = log_call(operator, now, priority="P3")
    r = _referral(ticket, units["civil"], operator, staff, now)
    rs.request_extension(r, actor=staff, now=now, reason="等待证明", until=P3_LATEST)
    db.session.commit()
    # The county shortened max_extension after the request was made.
    monkeypatch.setattr(rs, "latest_extension", lambda referral: P3_RESOLVE + timedelta(days=1))
    with pytest.raises(
        DomainError,
        match=says(
            "This extension goes beyond %(latest)s, the latest the policy allows: it can only be denied.",
            latest="2025-10-16 12:00",
        ),
    ):
        rs.decide_extension(r, actor=manager, now=now, approve=True)
    db.session.rollback()
    rs.decide_extension(r, actor=manager, now=now, approve=False, comment="超过规定期限")
    db.session.commit()
    assert r.extension_state == "denied" and r.resolve_due_at == P3_RESOLVE


def test_the_unit_sees_the_latest_date_and_a_refusal_names_it(app, operator, staff, units, now, monkeypatch):
    monkeypatch.setattr(referral_views, "utcnow", lambda: now + timedelta(hours=1))
    ticket = log_call(operator, now, priority="P3")
    r = _referral(ticket, units["civil"], operator, staff, now)
    unit = browser(app, staff)
    page = f"/referrals/{r.id}"
    assert "最晚可延至：2025-10-29 12:00。" in unit.get(page).get_data(as_text=True)
    data = {"version": r.version, "until": "2025-10-30T09:00", "reason": "等待证明"}
    refused = post_form(unit, f"/referrals/{r.id}/extension", data, page=page)
    assert refused.status_code == 400
    assert "延期最晚只能到 2025-10-29 12:00" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert r.extension_state == "none"


@pytest.mark.parametrize("priority", ["P1", "P2"])
def test_priorities_without_max_extension_have_no_limit_beyond_the_deadline(operator, staff, units, now, priority):
    """``sla.toml`` sets max_extension for P3 only: elsewhere the manager judges how long is reasonable."""
    ticket = log_call(operator, now, priority=priority)
    r = _referral(ticket, units["civil"], operator, staff, now)
    assert rs.latest_extension(r) is None
    far = r.resolve_due_at + timedelta(days=60)
    rs.request_extension(r, actor=staff, now=now + timedelta(minutes=10), reason="需等待司法鉴定", until=far)
    assert r.extension_state == "requested" and r.extension_until == far
