"""receive_report: the one way a case reported by another system or a grid worker reaches the hotline."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hotline.errors import DomainError
from hotline.extensions import db
from hotline.idcard import check_id_number, id_number_problem, normalize_id_number
from hotline.tickets.external import Person, receive_report
from models.contact import Contact
from models.external_report import ExternalReport
from models.ticket import Ticket, TicketEvent

#: A well-formed ID number (GB 11643 check digit X) and the same with its last digit changed.
GOOD_ID = "11010519491231002X"
BAD_ID = "110105194912310021"


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_id_numbers_are_normalised_and_checked(app):
    assert normalize_id_number(" １１０１０５ １９４９１２３１ ００２ｘ ") == GOOD_ID
    assert check_id_number("11010519491231002x") == GOOD_ID
    assert id_number_problem(GOOD_ID) is None
    assert "校验位" in id_number_problem(BAD_ID)
    assert "18位" in id_number_problem("1101051949")
    assert "出生日期" in id_number_problem("110105194913310021")
    assert check_id_number("  ") is None


def test_a_report_opens_a_proactive_ticket_with_its_source(app, now, make_department):
    township = make_department(code="t_east", name="东镇", kind="township", level="township")
    village = make_department(code="v_east", name="东村", kind="village", level="village", parent=township)
    got = receive_report(
        now=now,
        source="monitoring",
        via="import",
        external_id="YJ-001",
        summary="大额医疗支出预警",
        description="住院自付费用超过三万元",
        person=Person(name="王某", id_number=GOOD_ID.lower(), village_id=village.id, address="东村3组"),
    )
    db.session.commit()
    ticket = got.ticket
    assert got.outcome == "created"
    assert (ticket.channel, ticket.source, ticket.status) == ("proactive", "monitoring", "new")
    assert ticket.contact.id_number == GOOD_ID
    assert (ticket.contact.township_id, ticket.contact.village_id) == (township.id, village.id)
    assert got.report.ticket_id == ticket.id and got.report.outcome == "created"
    kinds = db.session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)).all()
    assert sorted(kinds) == ["created", "external_report"]


def test_a_transfer_is_an_api_ticket_with_the_given_priority(app, now):
    got = receive_report(
        now=now, source="12345", via="api", external_id="Z1", summary="咨询低保政策", priority="P2", category="other"
    )
    assert (got.ticket.channel, got.ticket.priority, got.ticket.category) == ("api", "P2", "other")
    assert got.ticket.triage_priority is None


def test_priority_comes_from_triage_when_not_given(app, now):
    got = receive_report(now=now, source="grid", via="grid_page", summary="独居老人煤气中毒昏迷不醒")
    assert got.ticket.priority in ("P0", "P1")
    assert got.ticket.triage_priority == got.ticket.priority


def test_the_same_external_id_never_makes_a_second_ticket(app, now):
    first = receive_report(now=now, source="12345", via="api", external_id="Z2", summary="欠薪求助")
    db.session.commit()
    again = receive_report(now=now + timedelta(minutes=5), source="12345", via="api", external_id="Z2", summary="x")
    assert again.outcome == "duplicate" and again.ticket.id == first.ticket.id
    other_source = receive_report(now=now, source="partner", via="api", external_id="Z2", summary="欠薪求助")
    assert other_source.outcome == "created" and other_source.ticket.id != first.ticket.id
    db.session.commit()
    assert _count(ExternalReport) == 2


def test_a_person_with_an_open_ticket_gets_the_report_added(app, now, operator):
    first = receive_report(
        now=now, source="grid", via="grid_page", summary="老人独居无人照料", person=Person(phone="13800001111")
    )
    db.session.commit()
    tickets = _count(Ticket)
    added = receive_report(
        now=now + timedelta(hours=1),
        source="monitoring",
        via="import",
        external_id="YJ-9",
        summary="失业预警",
        person=Person(phone="+86 138 0000 1111", name="李某"),
    )
    db.session.commit()
    assert added.outcome == "added_to_open" and added.ticket.id == first.ticket.id
    assert _count(Ticket) == tickets
    contact = db.session.get(Contact, first.ticket.contact_id)
    assert contact.name == "李某"  # a blank filled in
    events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == first.ticket.id, TicketEvent.kind == "external_report")
    ).all()
    assert [e.payload["external_id"] for e in events] == [None, "YJ-9"]


def test_found_by_id_number_when_there_is_no_phone(app, now):
    first = receive_report(
        now=now, source="visit", via="visit", summary="探访发现断粮", person=Person(id_number=GOOD_ID)
    )
    db.session.commit()
    again = receive_report(now=now, source="grid", via="grid_page", summary="又报", person=Person(id_number=GOOD_ID))
    assert again.outcome == "added_to_open" and again.ticket.id == first.ticket.id


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"source": "nowhere"}, "未知来源"),
        ({"summary": "  "}, "概括案情"),
        ({"priority": "P9"}, "优先级"),
        ({"category": "no_such"}, "类别"),
        ({"person": Person(id_number=BAD_ID)}, "校验位"),
    ],
)
def test_bad_reports_are_refused_and_write_nothing(app, now, kwargs, message):
    args = {"now": now, "source": "12345", "via": "api", "summary": "求助"} | kwargs
    with pytest.raises(DomainError, match=message):
        receive_report(**args)
    db.session.rollback()
    assert _count(ExternalReport) == 0 and _count(Ticket) == 0


def test_a_village_outside_its_township_is_refused(app, now, make_department):
    east = make_department(code="t_e", name="东镇", kind="township", level="township")
    west = make_department(code="t_w", name="西镇", kind="township", level="township")
    village = make_department(code="v_w", name="西村", kind="village", level="village", parent=west)
    with pytest.raises(DomainError, match="不属于"):
        receive_report(
            now=now,
            source="grid",
            via="grid_page",
            summary="求助",
            person=Person(township_id=east.id, village_id=village.id),
        )


def test_the_app_does_not_start_with_a_source_of_an_unknown_channel(tmp_path, database_url):
    import shutil
    from pathlib import Path

    from hotline import create_app
    from tests.conftest import app_config

    shutil.copytree(Path(__file__).resolve().parent.parent / "config" / "policy", tmp_path / "policy")
    path = tmp_path / "policy" / "sources.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('channel = "api"', 'channel = "fax"', 1), "utf-8")
    with pytest.raises(ValueError, match="12345: channel must be one of"):
        create_app(app_config(database_url) | {"POLICY_DIR": tmp_path / "policy"})
