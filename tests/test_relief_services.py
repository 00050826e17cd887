"""服务类救助: services delivered to a case, recorded on its page and counted in the reports beside money."""

from datetime import date, timedelta

import pytest

from hotline.errors import DomainError, NotAllowed
from hotline.extensions import db
from hotline.referrals import service as rs
from hotline.relief import services
from hotline.reports.service import Period, Scope
from hotline.reports.services import service_figures
from hotline.timeutil import local_date, utcnow
from models.relief_service import ReliefService
from tests.conftest import login, post_form
from tests.helpers import count, events, log_call


@pytest.fixture
def town(make_department):
    return make_department("town_chengguan", "城关镇", kind="township", level="township")


@pytest.fixture
def village(make_department, town):
    return make_department("v_dongguan", "东关社区", kind="village", level="village", parent=town)


@pytest.fixture
def ticket(operator, now):
    return log_call(operator, now)


def record(ticket, actor, now, kind="visit", unit=None, org=None, start=None, end=None, hours="1.5", outcome="已探视"):
    s = services.record_service(
        ticket,
        actor=actor,
        now=now,
        kind=kind,
        provider_unit=unit,
        provider_org=org,
        started_on=start or local_date(now),
        ended_on=end,
        hours=hours,
        outcome=outcome,
    )
    db.session.commit()
    return s


def test_a_visit_by_a_unit_is_recorded_with_its_day_hours_and_outcome(ticket, operator, town, now):
    s = record(ticket, operator, now, unit=town, hours="1.5", outcome="入户探视，老人情绪稳定")
    assert (s.kind, s.provider_unit_id, s.minutes, s.started_on, s.ended_on) == (
        "visit",
        town.id,
        90,
        local_date(now),
        local_date(now),
    )
    [ev] = events(ticket, "service_recorded")
    assert ev.payload["minutes"] == 90 and ev.payload["provider"] == "城关镇" and ev.payload["service_kind"] == "visit"


def test_care_by_a_contracted_organisation_over_several_days(ticket, operator, now):
    today = local_date(now)
    s = record(
        ticket, operator, now, kind="care", org="县阳光社工服务中心", start=today - timedelta(days=6), hours="42"
    )
    assert s.provider_org == "县阳光社工服务中心" and s.provider_unit_id is None and s.minutes == 42 * 60


@pytest.mark.parametrize(
    "changes",
    [
        {"unit": None, "org": None},  # delivered by nobody
        {"org": "某社工机构"},  # both a unit and an organisation: which one?
        {"kind": "massage"},
        {"hours": "0"},
        {"hours": "abc"},
        {"hours": "1001"},
        {"outcome": "  "},
    ],
)
def test_refusals_leave_nothing_recorded(app, ticket, operator, town, now, changes):
    values = {"unit": town} | changes
    with pytest.raises(DomainError):
        record(ticket, operator, now, **values)
    db.session.rollback()
    assert count(ReliefService) == 0


def test_days_must_be_in_order_and_not_in_the_future(ticket, operator, town, now):
    today = local_date(now)
    with pytest.raises(DomainError):
        record(ticket, operator, now, unit=town, start=today, end=today - timedelta(days=1))
    with pytest.raises(DomainError):
        record(ticket, operator, now, unit=town, start=today + timedelta(days=1))
    with pytest.raises(DomainError):
        record(ticket, operator, now, unit=town, start=today - timedelta(days=400))


def test_the_referred_village_records_its_visit_and_an_unrelated_unit_cannot(
    ticket, operator, village, make_user, make_department, now
):
    rs.dispatch_referral(ticket, department=village, role="lead", actor=operator, now=now)
    db.session.commit()
    staff = make_user("department", department=village)
    assert record(ticket, staff, now, unit=village).provider_unit_id == village.id
    outsider = make_user("department", department=make_department("health", "县卫健局"))
    with pytest.raises(NotAllowed):
        record(ticket, outsider, now, unit=outsider.department)


def test_the_service_form_on_the_ticket_page(client, operator, town, ticket):
    login(client, operator.username)
    page = f"/tickets/{ticket.number}"
    today = local_date(utcnow()).isoformat()
    data = {
        "kind": "counselling",
        "provider_unit_id": 0,
        "provider_org": "心语心理服务站",
        "started_on": today,
        "hours": "2",
        "outcome": "情绪疏导，约定下周再访",
    }
    response = post_form(client, f"{page}/services", data, page=page)
    assert response.status_code == 302 and response.location.endswith("#services")
    html = client.get(page).get_data(as_text=True)
    assert "心语心理服务站" in html and "情绪疏导" in html and "2.0" in html
    refused = post_form(client, f"{page}/services", data | {"provider_org": "", "outcome": "没写单位"}, page=page)
    assert refused.status_code == 400 and "没写单位" in refused.get_data(as_text=True)


# --- in the reports, beside money ------------------------------------------------------------------


def test_the_reports_count_cases_with_services_and_hours_by_kind(
    app, client, operator, manager, town, village, make_user, now
):
    first, second, elsewhere = (log_call(operator, now, phone=p) for p in ("13800000001", "13800000002", "13800000003"))
    rs.dispatch_referral(first, department=village, role="lead", actor=operator, now=now)
    db.session.commit()
    today = local_date(now)
    record(first, operator, now, unit=town, hours="1.5")
    record(first, operator, now, kind="counselling", org="心语", hours="2")
    record(second, operator, now, unit=town, hours="1")
    record(elsewhere, operator, now, unit=town, start=today - timedelta(days=40), hours="5")  # before the period

    period = Period(today - timedelta(days=6), today)
    figures = service_figures(period, Scope())
    assert (figures.cases, figures.services, figures.minutes) == (2, 3, 270)
    assert [(r.kind, r.cases, r.services, r.minutes) for r in figures.by_kind] == [
        ("visit", 2, 2, 150),
        ("counselling", 1, 1, 120),
    ]
    township_view = service_figures(period, Scope(frozenset({town.id, village.id})))
    assert (township_view.cases, township_view.minutes) == (1, 210)  # only the case referred to its village
    assert service_figures(Period(date(2024, 1, 1), date(2024, 1, 31)), Scope()).services == 0


def test_the_dashboard_shows_the_services_figures(client, operator, manager, town):
    today = local_date(utcnow())
    ticket = log_call(operator, utcnow())
    record(ticket, operator, utcnow(), unit=town, start=today, hours="3")
    login(client, manager.username)
    html = client.get("/reports?range=7d").get_data(as_text=True)
    assert 'class="services-cases">1<' in html and 'class="services-hours">3.0<' in html
    assert 'data-kind="visit"' in html
