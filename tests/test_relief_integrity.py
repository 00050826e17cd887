"""Integrity checks on advance relief (人情保、关系保、错保、漏保): each rule tripped by one case and not by another."""

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.errors import DomainError, NotAllowed
from hotline.extensions import db
from hotline.relief import documents, integrity
from hotline.relief import service as relief
from hotline.timeutil import utcnow
from models.audit import AuditLog
from models.notification import Notification
from models.relative import DeclaredRelative
from tests.conftest import login, post_form
from tests.helpers import events, log_call

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(first17: str) -> str:
    """A well-formed ID number: ``first17`` and its GB 11643 check character."""
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


WANG = id_number("11010519800101001")
LI = id_number("11010519900202002")


@pytest.fixture
def town(make_department):
    return make_department("town_chengguan", "城关镇", kind="township", level="township")


@pytest.fixture
def other_manager(make_user):
    return make_user("manager", username="mgr_li", display_name="李督办")


def case(operator, at, person=WANG, phone="13812341234"):
    """A P1 call about the person with ID number ``person`` (on the caller's contact)."""
    ticket = log_call(operator, at, phone=phone)
    ticket.contact.id_number = person
    db.session.commit()
    return ticket


def grant(ticket, actor, at, unit, amount="1500", conference=None):
    r = relief.grant_relief(
        ticket,
        actor=actor,
        now=at,
        kind="temporary_assistance",
        amount_yuan=amount,
        granting_unit=unit,
        reason="生活无着",
        case_conference_ref=conference,
    )
    db.session.commit()
    return r


# --- repeat grants within the window --------------------------------------------------------------


def test_a_second_grant_to_the_same_id_number_within_a_year_warns_and_is_recorded(operator, town, now):
    first = grant(case(operator, now), operator, now, town)
    later = now + timedelta(days=200)
    ticket = case(operator, later, phone="13900001111")  # another phone, the same person
    again = grant(ticket, operator, later, town, amount="800")
    assert again.status == "approved"  # a warning, not a refusal
    assert again.integrity["repeat_count"] == 1
    [earlier] = again.integrity["repeats"]
    assert earlier["relief"] == first.id and earlier["amount_fen"] == 150000
    [warning] = events(ticket, "relief_integrity_warning")
    assert warning.payload["relief"] == again.id and warning.payload["repeats"][0]["relief"] == first.id


def test_no_warning_after_the_window_for_another_person_or_a_rejected_grant(operator, manager, town, now):
    grant(case(operator, now), operator, now, town)
    late = now + timedelta(days=366)
    assert grant(case(operator, late, phone="13900001111"), operator, late, town).integrity["repeat_count"] == 0
    other = case(operator, now + timedelta(days=1), person=LI, phone="13900002222")
    assert grant(other, operator, now + timedelta(days=1), town).integrity["repeat_count"] == 0
    refused = grant(
        case(operator, now, person=id_number("11010519700303003"), phone="13900003333"), operator, now, town, "5000"
    )
    relief.decide_relief(refused, actor=manager, now=now, approve=False, comment="不符合条件")
    db.session.commit()
    ticket = case(operator, now + timedelta(days=2), person=id_number("11010519700303003"), phone="13900004444")
    assert grant(ticket, operator, now + timedelta(days=2), town).integrity["repeat_count"] == 0
    assert events(ticket, "relief_integrity_warning") == []


def test_a_person_without_an_id_number_is_granted_and_the_grant_says_it_was_not_checked(operator, town, now):
    ticket = log_call(operator, now)
    r = grant(ticket, operator, now, town)
    assert r.status == "approved" and r.integrity["id_checked"] is False


def test_the_grant_form_warns_the_person_who_grants(client, operator, town):
    now = utcnow()  # the view grants at the real time: the earlier grant must be within a year of it
    grant(case(operator, now - timedelta(days=30)), operator, now - timedelta(days=30), town)
    ticket = case(operator, now, phone="13900001111")
    login(client, operator.username)
    page = f"/tickets/{ticket.number}"
    data = {
        "grant-version": ticket.version,
        "grant-kind": "temporary_assistance",
        "grant-amount": "600",
        "grant-granting_unit_id": town.id,
        "grant-reason": "再次困难",
    }
    response = post_form(client, f"{page}/relief", data, page=page)
    assert response.status_code == 302
    html = client.get(page).get_data(as_text=True)
    assert "365" in html and "integrity-repeat" in html  # the flash message, and the note kept on the grant


# --- the 一事一议 cap --------------------------------------------------------------------------------


def test_above_the_cap_a_grant_without_the_case_conference_decision_is_refused(operator, town, now):
    ticket = case(operator, now)
    with pytest.raises(DomainError, match="20,000"):
        grant(ticket, operator, now, town, amount="20000.01")
    db.session.rollback()
    assert ticket.reliefs == []


def test_the_cap_counts_the_whole_case(operator, town, now):
    ticket = case(operator, now)
    grant(ticket, operator, now, town, amount="15000", conference=None)
    with pytest.raises(DomainError):
        grant(ticket, operator, now, town, amount="5001")


def test_at_the_cap_no_decision_is_needed_and_above_it_a_reference_or_the_minutes_do(operator, town, now):
    at_cap = grant(case(operator, now), operator, now, town, amount="20000")
    assert at_cap.case_conference_ref is None and at_cap.status == "pending_approval"
    with_ref = grant(case(operator, now, person=LI, phone="13900002222"), operator, now, town, "30000", "会商纪要7号")
    assert with_ref.case_conference_ref == "会商纪要7号"
    ticket = case(operator, now, person=id_number("11010519700303003"), phone="13900003333")
    minutes = documents.upload_document(
        ticket, actor=operator, now=now, kind="case_conference", stream=io.BytesIO(b"%PDF-1.4 x"), filename="纪要.pdf"
    )
    with_minutes = grant(ticket, operator, now, town, amount="30000")
    assert with_minutes.case_conference_document_id == minutes.id and with_minutes.case_conference_ref is None


# --- approver and requester ------------------------------------------------------------------------


def test_the_approver_is_never_the_requester(operator, manager, other_manager, town, now):
    r = grant(case(operator, now), manager, now, town, amount="5000")
    with pytest.raises(NotAllowed):
        relief.decide_relief(r, actor=manager, now=now, approve=True, comment="同意")
    relief.decide_relief(r, actor=other_manager, now=now, approve=True, comment="同意")
    db.session.commit()
    assert (r.status, r.requested_by_id, r.decided_by_id) == ("approved", manager.id, other_manager.id)


# --- declared relatives ----------------------------------------------------------------------------


def declare(user, number, now, name="王父", relation="父亲"):
    d = integrity.declare_relative(actor=user, now=now, id_number=number, name=name, relation=relation)
    db.session.commit()
    return d


def test_a_small_grant_to_the_requesters_declared_relative_waits_for_someone_else(
    operator, manager, other_manager, town, now
):
    declare(operator, WANG, now)
    r = grant(case(operator, now), operator, now, town, amount="500")
    assert r.status == "pending_approval" and r.integrity["requester_is_relative"] is True
    assert r.integrity["relative_of"] == [operator.id]
    assert {
        n.user_id for n in db.session.scalars(select(Notification).where(Notification.kind == "relief_pending"))
    } == {
        manager.id,
        other_manager.id,
    }
    relief.decide_relief(r, actor=manager, now=now, approve=True, comment="核实无误")
    db.session.commit()
    assert r.status == "approved" and r.decided_by_id == manager.id


def test_the_same_grant_without_a_declaration_is_approved_at_once(operator, town, now):
    declare(operator, LI, now)  # somebody else's ID number
    r = grant(case(operator, now), operator, now, town, amount="500")
    assert r.status == "approved" and r.integrity["relative_of"] == []


def test_a_manager_who_declared_the_person_cannot_decide(operator, manager, other_manager, town, now):
    declare(manager, WANG, now)
    r = grant(case(operator, now), operator, now, town, amount="5000")  # above the limit: a manager decides
    assert r.integrity["relative_of"] == [manager.id]
    notified = {
        n.user_id for n in db.session.scalars(select(Notification).where(Notification.kind == "relief_pending"))
    }
    assert notified == {other_manager.id}
    with pytest.raises(NotAllowed, match="关系保"):
        relief.decide_relief(r, actor=manager, now=now, approve=True, comment="同意")
    db.session.rollback()
    relief.decide_relief(r, actor=other_manager, now=now, approve=True, comment="同意")
    db.session.commit()
    assert r.decided_by_id == other_manager.id


def test_a_withdrawn_declaration_no_longer_counts(operator, town, now):
    d = declare(operator, WANG, now)
    integrity.withdraw_relative(d, actor=operator, now=now)
    db.session.commit()
    assert grant(case(operator, now), operator, now, town, amount="500").status == "approved"


def test_declaration_refusals(operator, manager, now):
    with pytest.raises(DomainError):
        integrity.declare_relative(actor=operator, now=now, id_number="110105198001010010", name="王", relation="父")
    declare(operator, WANG, now)
    with pytest.raises(DomainError):
        declare(operator, WANG, now)
    db.session.rollback()
    d = db.session.scalar(select(DeclaredRelative))
    with pytest.raises(NotAllowed):
        integrity.withdraw_relative(d, actor=manager, now=now)


def test_the_relatives_page_masks_numbers_audits_and_asks_before_withdrawing(app, client, operator, make_user, now):
    login(client, operator.username)
    response = post_form(
        client,
        "/relatives",
        {"id_number": WANG.lower()[:-1] + WANG[-1].lower(), "name": "王父", "relation": "父亲"},
        page="/relatives",
    )
    assert response.status_code == 302
    html = client.get("/relatives").get_data(as_text=True)
    assert WANG not in html and WANG[:4] + "*" * 10 + WANG[-4:] in html
    [entry] = db.session.scalars(select(AuditLog).where(AuditLog.kind == "relative_declared")).all()
    assert WANG not in str(entry.payload)
    d = db.session.scalar(select(DeclaredRelative))
    assert post_form(client, f"/relatives/{d.id}/withdraw", {}, page="/relatives").status_code == 400
    db.session.refresh(d)
    assert d.withdrawn_at is None
    assert post_form(client, f"/relatives/{d.id}/withdraw", {"confirm": "y"}, page="/relatives").status_code == 302
    db.session.refresh(d)
    assert d.withdrawn_at is not None
    bad = post_form(client, "/relatives", {"id_number": "123", "name": "x", "relation": "y"}, page="/relatives")
    assert bad.status_code == 400 and "18" in bad.get_data(as_text=True)
    other = app.test_client()
    login(other, make_user("operator").username)
    assert post_form(other, f"/relatives/{d.id}/withdraw", {"confirm": "y"}, page="/relatives").status_code == 404


# --- the managers' audit list ------------------------------------------------------------------------


def audit_rows(name, now):
    return db.session.execute(integrity.audit_list(name, now=now, limit_fen=relief.limit_fen())).all()


def test_the_audit_list_finds_repeats_near_limit_pairs_and_unfinished_paperwork(
    operator, manager, other_manager, town, now
):
    grant(case(operator, now), operator, now, town, amount="1000")
    repeat = grant(
        case(operator, now + timedelta(days=10), phone="13900001111"), operator, now + timedelta(days=10), town, "500"
    )
    near = grant(case(operator, now, person=LI, phone="13900002222"), operator, now, town, amount="2700")  # 90 %
    grant(case(operator, now, person=id_number("11010519700303003"), phone="13900003333"), operator, now, town, "2699")
    big = grant(
        case(operator, now, person=id_number("11010519700404004"), phone="13900004444"), manager, now, town, "8000"
    )
    relief.decide_relief(big, actor=other_manager, now=now, approve=True, comment="同意")
    db.session.commit()

    assert [r[0].id for r in audit_rows("repeats", now)] == [repeat.id]
    assert [r[0].id for r in audit_rows("near_limit", now)] == [near.id]
    [(requester, approver, n, fen)] = audit_rows("pairs", now)
    assert (requester.id, approver.id, n, fen) == (manager.id, other_manager.id, 1, 800000)
    assert audit_rows("paperwork", now) == []
    overdue = audit_rows("paperwork", now + timedelta(days=30))
    assert len(overdue) == 5


def test_the_audit_page_is_for_managers_and_paginates(app, client, operator, manager, town, now):
    for n in range(3):
        grant(case(operator, now, phone=f"1390000{n:04d}"), operator, now + timedelta(days=n), town, "100")
    app.config["PAGE_SIZE"] = 1
    login(client, manager.username)
    page = client.get("/relief/audit?list=repeats")
    assert page.status_code == 200 and "2" in page.get_data(as_text=True)
    second = client.get("/relief/audit?list=repeats&page=2").get_data(as_text=True)
    assert 'class="pager"' in second
    assert client.get("/relief/audit?list=pairs").status_code == 200
    assert client.get("/relief/audit?list=paperwork").status_code == 200
    assert client.get("/relief/audit?list=nope").status_code == 404
    other = app.test_client()
    login(other, operator.username)
    assert other.get("/relief/audit").status_code == 403
