"""What staff hit first (issue 13): where each role lands, and the admin's outbox page in Chinese."""

import logging
import re
from xml.etree import ElementTree

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from config.settings import ROOT
from hotline import audit
from hotline.demo import load_demo
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.notify import service
from hotline.tickets.service import update_contact
from models.contact import Contact
from models.department import Department
from models.duty import DutyLine
from models.ticket import Ticket
from tests.conftest import login, post_form
from tests.helpers import log_call, reload
from tests.twilio_helpers import call_form, sms_form, twilio_post


def test_a_manager_lands_on_supervision_and_an_operator_on_the_desk(app, manager, operator):
    for user, start in ((manager, "/supervision"), (operator, "/desk")):
        browser = app.test_client()
        assert login(browser, user.username).status_code == 302
        assert browser.get("/").location == start


def test_the_admin_outbox_names_tickets_without_links_and_reasons_in_chinese(
    client, logged_in, make_user, operator, now
):
    twilio_post(client, "/twilio/sms", sms_form(body="家里没米了"))
    ticket = db.session.scalar(select(Ticket))
    queued = service.text_caller(ticket, actor=operator, now=now, text="我们马上联系您")
    db.session.commit()
    service.send_due(now=now, client=None, from_number=None, status_callback=None, max_attempts=5, retry_seconds=60)
    db.session.commit()
    assert reload(queued).last_error == service.NO_CREDENTIALS

    logged_in(make_user("admin"))
    html = client.get("/admin/outbox?scope=problems").get_data(as_text=True)
    assert ticket.number in html
    assert f'href="/tickets/{ticket.number}"' not in html
    assert "未发送：未配置 Twilio 凭据" in html and "no credentials" not in html


# --- a caller's township and village ---------------------------------------------------------


def _place(ticket, operator, now, **place):
    values = {"name": None, "id_number": None, "address": None, "township_id": None, "village_id": None, "flags": {}}
    update_contact(ticket, actor=operator, now=now, **(values | place))


def test_a_village_is_saved_only_under_its_own_township(operator, make_department, now):
    hekou = make_department("town_hekou", "河口乡", "township", "township")
    shiqiao = make_department("town_shiqiao", "石桥镇", "township", "township")
    village = make_department("village_liushu", "柳树村", "village", "village", parent=hekou)
    ticket = log_call(operator, now)

    with pytest.raises(DomainError) as refused:
        _place(ticket, operator, now, township_id=shiqiao.id, village_id=village.id)
    assert "柳树村" in str(refused.value.message) and "石桥镇" in str(refused.value.message)
    db.session.rollback()
    assert reload(ticket.contact).village_id is None

    _place(ticket, operator, now, village_id=village.id)  # the village brings its township
    db.session.commit()
    assert (reload(ticket.contact).township_id, ticket.contact.village_id) == (hekou.id, village.id)


def test_a_township_must_be_a_township(operator, make_department, now):
    county_unit = make_department()
    ticket = log_call(operator, now)
    with pytest.raises(DomainError):
        _place(ticket, operator, now, township_id=county_unit.id)


def test_demo_callers_live_in_villages_of_their_own_township(app, now):
    load_demo(now=now, tickets=30)
    db.session.commit()
    village = aliased(Department)
    wrong = db.session.scalar(
        select(func.count())
        .select_from(Contact)
        .join(village, Contact.village_id == village.id)
        .where(Contact.township_id != village.parent_id)
    )
    assert wrong == 0


def test_the_demo_puts_two_operators_on_duty_so_a_simulated_call_rings_them(app, client, now):
    load_demo(now=now, tickets=10)
    db.session.commit()
    lines = db.session.scalars(select(DutyLine).where(DutyLine.on_duty.is_(True)).order_by(DutyLine.position)).all()
    assert [line.user.username for line in lines] == ["operator1", "operator2"]
    twilio_post(client, "/twilio/voice", call_form())
    answer = twilio_post(client, "/twilio/voice/menu", call_form(CallStatus="in-progress", Digits="1"))
    dialled = [n.text for n in ElementTree.fromstring(answer.get_data()).iter("Number")]  # noqa: S314  (our own answer)
    assert dialled == [line.phone for line in lines]  # urgent line: every phone on duty at once


def test_the_scheduler_keeps_apscheduler_quiet_below_debug(app, monkeypatch):
    """`make run` prints the demo logins; APScheduler's INFO line for every run must not scroll them away."""
    from hotline.jobs import scheduler

    class Stopped:
        running = False

        def start(self):
            raise KeyboardInterrupt

    monkeypatch.setattr(scheduler, "build_scheduler", lambda app: Stopped())
    monkeypatch.setattr(scheduler.signal, "signal", lambda *args: None)
    quiet = logging.getLogger("apscheduler")
    monkeypatch.setattr(quiet, "level", logging.NOTSET)
    monkeypatch.setattr(logging.getLogger(), "level", logging.INFO)
    scheduler.run_forever(app)
    assert quiet.getEffectiveLevel() == logging.WARNING


def test_the_timeline_names_the_caller_details_changed_in_chinese(client, logged_in, operator, make_department, now):
    town = make_department("town_hekou", "河口乡", "township", "township")
    village = make_department("village_liushu", "柳树村", "village", "village", parent=town)
    ticket = log_call(operator, now)
    db.session.commit()
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    form = {
        "name": "王秀英",
        "id_number": "",
        "address": "柳树村3组",
        "township_id": "0",
        "village_id": str(village.id),
    }
    assert post_form(client, page + "/contact", form, page=page).status_code == 302
    html = client.get(page).get_data(as_text=True)
    line = html[html.index("ev-contact_updated") :][:400]
    assert "住址" in line and "乡镇" in line and "村（社区）" in line
    assert "township_id" not in line and "address" not in line


def test_demo_duplicates_repeat_their_ticket_and_each_caller_has_one_phone(app, now):
    load_demo(now=now, tickets=50)
    db.session.commit()
    merged = db.session.scalars(select(Ticket).where(Ticket.status == "merged")).all()
    assert merged
    for duplicate in merged:
        target = duplicate.merged_into
        assert (duplicate.contact_id, duplicate.category, duplicate.summary) == (
            target.contact_id,
            target.category,
            target.summary,
        )
    phones_per_name = db.session.execute(
        select(Contact.name, func.count(func.distinct(Contact.phone))).group_by(Contact.name)
    ).all()
    assert [row for row in phones_per_name if row[0] and row[1] > 1] == []


# --- the audit log in the UI's language ----------------------------------------------------


def test_every_audit_kind_the_code_writes_has_a_label():
    source = "\n".join(path.read_text() for path in (ROOT / "hotline").rglob("*.py"))
    written = set(re.findall(r"record\(\s*\"([a-z_]+)\"", source))
    written |= set(re.findall(r"kind_of_change = \"([a-z_]+)\"", source))
    written |= set(re.findall(r"end_sessions\(.*reason=\"([a-z_]+)\"", source))
    assert {"login", "report_exported", "department_created", "logout"} <= written
    assert written - set(audit.KINDS) == set()


def test_the_audit_page_speaks_chinese(client, make_user, now):
    admin = make_user("admin")
    audit.record("login_failed", actor_id=None, now=now, target="nobody", reason="unknown_user", client="127.0.0.1")
    audit.record(
        "report_exported",
        actor_id=admin.id,
        now=now,
        target="dashboard",
        format="xlsx",
        filters={"range": "30d"},
        rows=12,
    )
    db.session.commit()
    browser = client
    assert login(browser, admin.username).status_code == 302
    html = browser.get("/admin/audit").get_data(as_text=True)
    assert "登录被拒" in html and "原因：未知用户" in html and "客户端地址：127.0.0.1" in html
    assert "导出报表" in html and "筛选条件：统计时段：30d" in html and "行数：12" in html
    assert "login_failed" not in html and "report_exported" not in html and "filters=" not in html
