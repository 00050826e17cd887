"""The working calendar entered by an admin: validation, saving (audited), deadlines, reloading, the warning."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from hotline.admin import calendar as service
from hotline.errors import DomainError, NotAllowed, StaleError
from hotline.escalation import sla
from hotline.escalation.calendar import CalendarError, load_calendar, years_to_announce
from hotline.extensions import db
from hotline.timeutil import LOCAL_TZ
from models.audit import AuditLog
from models.calendar import CalendarDay, CalendarYear
from tests.conftest import csrf_token, login

POLICY = Path(__file__).resolve().parent.parent / "config" / "policy"
NOTICE = "国务院办公厅关于2027年部分节假日安排的通知"
ENTRIES_2027 = """2027-01-01..2027-01-03 元旦
2027-02-06..2027-02-12 春节
2027-02-14 上班
2027-02-20 上班
2027-03-04 测试假日
"""


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ).astimezone(UTC)


@pytest.fixture
def admin(make_user):
    return make_user("admin", username="root", display_name="系统管理员")


def save(admin, now, text=ENTRIES_2027, year=2027, expected=None):
    saved = service.save_year(actor=admin, now=now, year=year, source=NOTICE, text=text, expected_updated_at=expected)
    db.session.commit()
    sla.calendar_changed()
    return saved


# --- reading what the admin typed ----------------------------------------------------------------------


def test_a_notice_typed_one_entry_a_line_reads_as_holidays_and_working_days():
    entries, errors = service.parse_entries(ENTRIES_2027 + "\n# 备注行\n\n", 2027)
    assert errors == []
    assert [(e.first, e.last, e.kind, e.name) for e in entries] == [
        (date(2027, 1, 1), date(2027, 1, 3), "holiday", "元旦"),
        (date(2027, 2, 6), date(2027, 2, 12), "holiday", "春节"),
        (date(2027, 2, 14), date(2027, 2, 14), "workday", None),
        (date(2027, 2, 20), date(2027, 2, 20), "workday", None),
        (date(2027, 3, 4), date(2027, 3, 4), "holiday", "测试假日"),
    ]
    assert service.summary(entries) == {"holiday_days": 11, "weekdays_off": 7, "workdays": 2}


def test_full_width_digits_and_other_range_marks_are_read():
    entries, errors = service.parse_entries("２０２７－１０－０１至2027-10-07 国庆节\n2027-10-09 调休", 2027)
    assert errors == []
    assert [(e.first, e.last, e.kind) for e in entries] == [
        (date(2027, 10, 1), date(2027, 10, 7), "holiday"),
        (date(2027, 10, 9), date(2027, 10, 9), "workday"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("元旦 2027-01-01", "第 1 行（元旦 2027-01-01）：请写一个日期或日期范围加名称"),
        ("2027-02-30 春节", "2027-02-30 不是有效日期"),
        ("2026-12-31..2027-01-02 元旦", "2026-12-31 不在 2027 年内"),
        ("2027-01-03..2027-01-01 元旦", "结束日期早于开始日期"),
        ("2027-01-01", "请写上节日名称"),
        ("2027-02-10 上班", "2027-02-10 是工作日"),
        (
            "2027-02-06..2027-02-12 春节\n2027-02-12..2027-02-13 假日",
            "第 2 行（2027-02-12..2027-02-13 假日）：与第 1 行",
        ),
        ("2027-02-13 上班\n2027-02-13 春节", "与第 1 行（2027-02-13 上班）重叠"),
        ("2027-02-14 上班", "请录入本年的节假日"),
    ],
)
def test_each_mistake_is_named_with_its_line(app, text, message):
    _entries, errors = service.parse_entries(text, 2027)
    assert any(message in e for e in errors), errors


# --- saving --------------------------------------------------------------------------------------------


def test_saving_a_year_stores_every_day_and_audits_it(admin, now):
    save(admin, now)
    year = db.session.get(CalendarYear, 2027)
    assert (year.source, year.updated_by_id, year.updated_at) == (NOTICE, admin.id, now)
    days = {d.day: (d.kind, d.name) for d in db.session.scalars(select(CalendarDay))}
    assert len(days) == 13
    assert days[date(2027, 2, 6)] == ("holiday", "春节") and days[date(2027, 2, 14)] == ("workday", None)
    [entry] = db.session.scalars(select(AuditLog)).all()
    assert (entry.kind, entry.actor_id, entry.target) == ("calendar_year_saved", admin.id, "calendar:2027")
    assert entry.at == now
    assert entry.payload["entries"].splitlines()[1] == "2027-02-06..2027-02-12 春节"
    assert entry.payload["before"] is None and entry.payload["holiday_days"] == 11
    # The saved year reads back as it was typed, for editing.
    assert service.entries_text(year) == ENTRIES_2027.strip()


def test_editing_a_year_replaces_its_days_and_audits_what_was_before(admin, now):
    first = save(admin, now)
    later = now.replace(hour=5)
    save(admin, later, "2027-01-01 元旦\n2027-02-13 上班", expected=first.updated_at)
    assert db.session.scalars(select(CalendarDay.day).order_by(CalendarDay.day)).all() == [
        date(2027, 1, 1),
        date(2027, 2, 13),
    ]
    last = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert last.payload["before"] == ENTRIES_2027.strip()
    assert last.payload["entries"] == "2027-01-01 元旦\n2027-02-13 上班"


def test_a_year_saved_meanwhile_is_not_overwritten(admin, now):
    save(admin, now)
    with pytest.raises(StaleError):
        save(admin, now, "2027-01-01 元旦", expected=None)
    db.session.rollback()
    assert len(db.session.scalars(select(CalendarDay)).all()) == 13


def test_only_an_admin_saves_and_bad_input_saves_nothing(admin, manager, now):
    with pytest.raises(NotAllowed):
        service.save_year(actor=manager, now=now, year=2027, source=NOTICE, text=ENTRIES_2027, expected_updated_at=None)
    with pytest.raises(DomainError, match="2027-02-10"):
        service.save_year(
            actor=admin, now=now, year=2027, source=NOTICE, text="2027-02-10 上班", expected_updated_at=None
        )
    with pytest.raises(DomainError):
        service.save_year(actor=admin, now=now, year=2027, source=" ", text=ENTRIES_2027, expected_updated_at=None)
    db.session.rollback()
    assert db.session.scalar(select(CalendarYear)) is None
    assert db.session.scalar(select(AuditLog)) is None


# --- deadlines use it -------------------------------------------------------------------------------------


def test_a_day_entered_as_holiday_moves_a_p2_deadline(admin, now):
    start = local(2027, 3, 3, 10, 0)  # a Wednesday
    assert sla.deadline("P2", "first_contact", start) == local(2027, 3, 4, 10, 0)
    save(admin, now)
    assert sla.deadline("P2", "first_contact", start) == local(2027, 3, 5, 10, 0)


def test_a_tiaoxiu_saturday_counts_as_working_time(admin, now):
    start = local(2027, 2, 19, 10, 0)  # Friday; Saturday the 20th is worked
    assert sla.deadline("P2", "first_contact", start) == local(2027, 2, 22, 10, 0)
    save(admin, now)
    assert sla.working_calendar().is_working_day(date(2027, 2, 20))
    assert sla.deadline("P2", "first_contact", start) == local(2027, 2, 20, 10, 0)


def test_an_entered_year_replaces_the_package_for_that_year(admin, now):
    # The package knows 2026: National Day (Thursday 1 October) is a holiday there.
    assert not sla.working_calendar().is_working_day(date(2026, 10, 1))
    save(admin, now, "2026-01-01 元旦", year=2026)
    assert sla.working_calendar().is_working_day(date(2026, 10, 1))
    assert not sla.working_calendar().is_working_day(date(2026, 1, 1))


def test_another_process_sees_a_saved_year_at_its_next_check(app, admin, now):
    source = app.extensions["hotline_policy"]["calendar_source"]
    assert sla.working_calendar().is_working_day(date(2027, 3, 4))
    service.save_year(actor=admin, now=now, year=2027, source=NOTICE, text=ENTRIES_2027, expected_updated_at=None)
    db.session.commit()  # saved elsewhere: this process was not told
    assert sla.working_calendar().is_working_day(date(2027, 3, 4))  # checked a moment ago
    source.recheck_seconds = 0
    seen = sla.working_calendar()
    assert not seen.is_working_day(date(2027, 3, 4))
    assert sla.working_calendar() is seen  # checked again, unchanged: not rebuilt


def test_a_database_that_cannot_answer_keeps_the_calendar_in_hand(app, admin, now, monkeypatch, caplog):
    save(admin, now)
    source = app.extensions["hotline_policy"]["calendar_source"]
    in_hand = sla.working_calendar()
    source.recheck_seconds = 0

    def refuse():
        raise OperationalError("SELECT year, updated_at FROM calendar_year", {}, ConnectionError("server closed"))

    monkeypatch.setattr(sla, "db", SimpleNamespace(engine=SimpleNamespace(connect=refuse)))
    assert sla.working_calendar() is in_hand
    assert not in_hand.is_working_day(date(2027, 3, 4))
    assert "keeping the last" in caplog.text


# --- the admin pages ------------------------------------------------------------------------------------


def test_the_calendar_pages_are_for_admins_only(client, logged_in, make_user, make_department):
    for user in (make_user("operator"), make_user("manager"), make_user("department", department=make_department())):
        c = client.application.test_client()
        login(c, user.username)
        assert c.get("/admin/calendar").status_code == 403
        assert c.get("/admin/calendar/new").status_code == 403
        assert c.post("/admin/calendar/new", data={"year": 2027}).status_code in (400, 403)
    assert client.get("/admin/calendar").status_code == 302  # not logged in: to the login page


def test_an_admin_checks_then_saves_a_year(client, logged_in, admin):
    logged_in(admin)
    page = client.get("/admin/calendar").get_data(as_text=True)
    assert "工作日历" in page
    form = {"year": "2027", "source": NOTICE, "entries": ENTRIES_2027, "loaded": ""}
    token = csrf_token(client, "/admin/calendar/new")
    r = client.post("/admin/calendar/new", data={**form, "csrf_token": token, "preview": "1"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "保存前请核对" in html
    assert "11 天节假日（其中 7 个工作日放假），2 个调休上班日" in html
    assert "2027-03-04 周四：变为休息日" in html and "2027-02-20 周六：变为工作日" in html
    assert db.session.scalar(select(CalendarYear)) is None  # a preview saves nothing
    r = client.post("/admin/calendar/new", data={**form, "csrf_token": token, "save": "1"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/calendar")
    assert db.session.get(CalendarYear, 2027).source == NOTICE
    assert "calendar_year_saved" in db.session.scalars(select(AuditLog.kind)).all()
    html = client.get("/admin/calendar").get_data(as_text=True)
    assert "2027 年工作日历已保存" in html and "元旦、春节、测试假日" in html
    audit_page = client.get("/admin/audit").get_data(as_text=True)
    assert "保存工作日历" in audit_page
    assert "年份：2027" in audit_page and "节假日天数：11" in audit_page


def test_mistakes_come_back_with_the_form_and_nothing_is_saved(client, logged_in, admin):
    logged_in(admin)
    token = csrf_token(client, "/admin/calendar/new")
    data = {"year": "2027", "source": NOTICE, "entries": "2027-02-10 上班\n2026-05-01 劳动节", "csrf_token": token}
    r = client.post("/admin/calendar/new", data={**data, "save": "1"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "2027-02-10 是工作日" in html and "2026-05-01 不在 2027 年内" in html
    assert "2026-05-01 劳动节</textarea>" in html
    assert db.session.scalar(select(CalendarYear)) is None


def test_an_admin_edits_a_saved_year(client, logged_in, admin, now):
    saved = save(admin, now)
    logged_in(admin)
    html = client.get("/admin/calendar/2027").get_data(as_text=True)
    assert "2027-02-06..2027-02-12 春节" in html and saved.updated_at.isoformat() in html
    token = csrf_token(client, "/admin/calendar/2027")
    data = {"year": "1999", "source": NOTICE, "entries": "2027-01-01 元旦", "loaded": saved.updated_at.isoformat()}
    r = client.post("/admin/calendar/2027", data={**data, "csrf_token": token, "save": "1"})
    assert r.status_code == 302
    assert db.session.scalars(select(CalendarDay.day)).all() == [date(2027, 1, 1)]
    # The form of before the save is stale now.
    r = client.post("/admin/calendar/2027", data={**data, "csrf_token": token, "save": "1"})
    assert r.status_code == 409 and "有人在您编辑时保存了 2027 年" in r.get_data(as_text=True)
    assert client.get("/admin/calendar/2031").status_code == 404
    r = client.post("/admin/calendar/new", data={**data, "year": "2027", "csrf_token": token, "save": "1"})
    assert r.status_code == 409 and 'href="/admin/calendar/2027"' in r.get_data(as_text=True)


def test_an_admin_removes_a_year_entered_by_mistake(client, logged_in, admin, now):
    saved = save(admin, now)
    assert not sla.working_calendar().is_working_day(date(2027, 3, 4))
    logged_in(admin)
    html = client.get("/admin/calendar/2027").get_data(as_text=True)
    assert 'action="/admin/calendar/2027/remove"' in html and "删除 2027 年的工作日历？" in html
    token = csrf_token(client, "/admin/calendar/2027")
    r = client.post("/admin/calendar/2027/remove", data={"csrf_token": token, "loaded": "2020-01-01T00:00:00+00:00"})
    assert r.status_code == 409 and db.session.get(CalendarYear, 2027) is not None
    r = client.post("/admin/calendar/2027/remove", data={"csrf_token": token, "loaded": saved.updated_at.isoformat()})
    assert r.status_code == 302
    assert db.session.get(CalendarYear, 2027) is None and db.session.scalar(select(CalendarDay)) is None
    last = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert (last.kind, last.target) == ("calendar_year_removed", "calendar:2027")
    assert last.payload["before"] == ENTRIES_2027.strip()
    # The year counts Monday to Friday again (neither the package nor calendar.toml knows 2027).
    assert sla.working_calendar().is_working_day(date(2027, 3, 4))
    assert "2027 年已删除" in client.get("/admin/calendar").get_data(as_text=True)
    assert client.post("/admin/calendar/2027/remove", data={"csrf_token": token, "loaded": "x"}).status_code == 404


# --- the warning ------------------------------------------------------------------------------------------


def test_the_years_to_announce_start_60_days_ahead(app):
    calendar = sla.working_calendar()
    assert years_to_announce(calendar, date(2026, 11, 1)) == []
    assert years_to_announce(calendar, date(2026, 11, 2)) == [2027]
    assert years_to_announce(calendar, date(2026, 12, 31)) == [2027]
    assert years_to_announce(calendar, date(2027, 3, 1)) == [2027]
    assert years_to_announce(calendar, date(2026, 10, 1)) == []


def test_how_far_ahead_is_policy_in_calendar_toml(tmp_path):
    path = tmp_path / "calendar.toml"
    path.write_text("announce_days_ahead = 30\n")
    calendar = load_calendar(path, sla.load_sla(POLICY / "sla.toml").office_periods)
    assert years_to_announce(calendar, date(2026, 12, 1)) == []
    assert years_to_announce(calendar, date(2026, 12, 2)) == [2027]
    assert calendar.with_years({}).announce_ahead == timedelta(days=30)
    for bad in ("0", "400", '"60"', "true"):
        path.write_text(f"announce_days_ahead = {bad}\n")
        with pytest.raises(CalendarError, match="announce_days_ahead"):
            load_calendar(path, calendar.periods)


def _page_at(monkeypatch, client, at: datetime, url="/desk") -> str:
    monkeypatch.setattr("hotline.timeutil.utcnow", lambda: at)
    return client.get(url).get_data(as_text=True)


WARNING = "2027年的工作日历未载入"


def test_operators_see_the_warning_from_60_days_before_an_unknown_year(monkeypatch, client, logged_in, operator):
    logged_in(operator)
    assert WARNING not in _page_at(monkeypatch, client, local(2026, 10, 1, 9, 0))
    html = _page_at(monkeypatch, client, local(2026, 11, 3, 9, 0))
    assert WARNING in html and "请管理员录入国务院节假日安排通知" in html
    assert "/admin/calendar/new" not in html


def test_admins_get_the_link_to_enter_the_year(monkeypatch, client, logged_in, admin, now):
    logged_in(admin)
    html = _page_at(monkeypatch, client, local(2026, 11, 3, 9, 0), "/admin/users")
    assert WARNING in html and 'href="/admin/calendar/new?year=2027"' in html
    save(admin, now)
    assert WARNING not in _page_at(monkeypatch, client, local(2026, 11, 3, 9, 0), "/admin/users")


def test_department_staff_are_not_warned(monkeypatch, client, logged_in, make_user, make_department):
    logged_in(make_user("department", department=make_department()))
    assert WARNING not in _page_at(monkeypatch, client, local(2026, 11, 3, 9, 0), "/inbox")
