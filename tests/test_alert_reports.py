"""主动发现 in the reports: tickets by source, and the time from the alert to the first contact."""

from datetime import date, timedelta

import pytest

from hotline.discovery.alerts import import_alerts
from hotline.extensions import db
from hotline.reports import service as reports
from hotline.reports.service import Period, Scope
from hotline.tickets import service as tickets
from hotline.tickets.external import receive_report
from models.ticket import Ticket
from tests.alert_files import workbook

PERIOD = Period(date(2025, 10, 9), date(2025, 10, 9))
RANGE = "range=custom&from=2025-10-09&to=2025-10-09"


def _contact(ticket: Ticket, operator, at) -> None:
    """An operator takes the ticket and reaches the person on a callback at ``at``."""
    tickets.take_ticket(ticket, actor=operator, now=at - timedelta(minutes=5))
    tickets.record_callback(ticket, actor=operator, now=at, reached=True, satisfaction=5)


@pytest.fixture
def reported(app, make_department, make_user, operator, now):
    """Three imported alerts (dated the day before, the evening before, undated), a grid report, a 12345 transfer
    and a call, all on 2025-10-09; two alerts and the grid report reached later that day."""
    make_department("t_east", "东镇", "township", "township")
    admin = make_user("admin", username="adm")
    rows = [
        ["YJ1", "甲", None, "13900000001", "东镇", None, "独居老人", None, "2025-10-08"],
        ["YJ2", "乙", None, "13900000002", "东镇", None, "失业", None, "2025-10-08 20:00"],
        ["YJ3", "丙", None, "13900000003", "东镇", None, "失业", None, None],
    ]
    done = import_alerts(workbook(rows), actor=admin, now=now, commit=True)
    grid = receive_report(now=now, source="grid", via="grid_page", summary="独居老人家中断电", priority="P2")
    receive_report(now=now, source="12345", via="api", external_id="Z1", summary="咨询低保", priority="P3")
    tickets.log_call(actor=operator, now=now, phone="13812341234", category="other", priority="P3", summary="咨询")
    db.session.commit()
    first, second = (db.session.get(Ticket, r.ticket_id) for r in done.results[:2])
    _contact(first, operator, now + timedelta(hours=2))  # 38 h after local midnight of 10-08
    _contact(second, operator, now + timedelta(hours=1))  # 17 h after 10-08 20:00 local
    _contact(grid.ticket, operator, now + timedelta(hours=3))  # 3 h after the report came in
    db.session.commit()


def test_tickets_by_source_and_time_from_alert_to_first_contact(reported, now):
    found = {
        r.source: (r.tickets, r.contacted, r.mean, r.p50, r.p90)
        for r in reports.tickets_by_source(
            PERIOD, Scope(), now + timedelta(hours=4), ["monitoring", "grid", "visit", "12345"]
        )
    }
    assert found == {
        "monitoring": (3, 2, 99000.0, 99000.0, 129240.0),
        "grid": (1, 1, 10800.0, 10800.0, 10800.0),
        "visit": (0, 0, None, None, None),
        "12345": (1, 0, None, None, None),
    }


def test_a_department_sees_the_sources_of_its_referred_tickets_only(reported, now, make_department):
    unit = make_department("civil_affairs", "县民政局")
    rows = reports.tickets_by_source(PERIOD, Scope(frozenset({unit.id})), now, ["monitoring", "grid"])
    assert [(r.source, r.tickets) for r in rows] == [("monitoring", 0), ("grid", 0)]


def test_the_dashboard_shows_sources_with_links_to_their_tickets(reported, manager, logged_in):
    client = logged_in(manager)
    page = client.get(f"/reports?{RANGE}").get_data(as_text=True)
    assert "主动发现与转办（按来源）" in page
    row = page.split('data-source="monitoring"', 1)[1].split("</tr>", 1)[0]
    assert "低收入人口动态监测预警" in row and ">3</a>" in row and "50.0%" in row and "27.5小时" in row
    listing = client.get(f"/reports/list?pop=tickets&set=all&source=monitoring&{RANGE}").get_data(as_text=True)
    assert listing.count("监测预警：") == 3 and "独居老人家中断电" not in listing
    export = client.get(f"/reports/export/dashboard.csv?{RANGE}").get_data(as_text=True)
    assert "主动发现（按来源）" in export and "低收入人口动态监测预警,3,50.0,2,99000.0,99000.0,129240.0" in export
