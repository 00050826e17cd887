"""The relief report: money granted and paid by source, fund, unit, township and month, and the time from the
call to the first payment as exact p50 / p90 / p95, the same on SQLite and PostgreSQL."""

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from hotline.extensions import db
from hotline.funds import service as funds
from hotline.relief import service as relief
from hotline.reports import relief as report
from hotline.reports.service import Period, Scope
from models.ticket import Ticket
from tests.helpers import log_call

HOUR = 3600


@pytest.fixture
def world(manager, operator, make_department, now):
    """Three cases in October 2025 (first paid 1 h, 2 h and 10 h after the call) and one payment in November.

    Case A (城关镇): 临时救助 2,000 by the town, paid at once +1 h; 救急难基金 10,000 from the town fund
    (approved by a manager), paid 6,000 in October and 4,000 on 2025-11-03.
    Case B (河口乡): 慈善 1,500 by the county charity, no fund of its own kind: paid from its budget, +2 h.
    Case C (城关镇): 临时救助 3,000 by the town, paid +10 h.
    """
    town = make_department("town_chengguan", "城关镇", kind="township", level="township")
    hekou = make_department("town_hekou", "河口乡", kind="township", level="township")
    charity = make_department("charity", "县慈善总会", kind="charity")
    fund = funds.create_fund(
        actor=manager, now=now, code="town_cg", name="城关镇救急难基金", kind="town", owner_unit=town
    )
    funds.add_income(fund, actor=manager, now=now, kind="allocation", amount_yuan="50000", note="拨入")
    db.session.commit()

    def case(n, township, at):
        t = log_call(operator, at, phone=f"+86139000000{n:02d}")
        t.contact.township_id = township.id
        db.session.commit()
        return t

    def give(t, at, amount, unit, kind):
        r = relief.grant_relief(
            t, actor=operator, now=at, kind=kind, amount_yuan=amount, granting_unit=unit, reason="急难"
        )
        db.session.commit()
        return r

    def pay(r, at, amount):
        relief.record_payment(r, actor=operator, now=at, amount_yuan=amount, note="发放")
        db.session.commit()

    a = case(1, town, now)
    ra1 = give(a, now + timedelta(minutes=30), "2000", town, "temporary_assistance")
    pay(ra1, now + timedelta(hours=1), "2000")
    ra2 = give(a, now + timedelta(hours=3), "10000", town, "emergency_fund")
    relief.decide_relief(ra2, actor=manager, now=now + timedelta(hours=4), approve=True, comment="同意")
    db.session.commit()
    pay(ra2, now + timedelta(hours=5), "6000")
    pay(ra2, now + timedelta(days=25), "4000")  # 2025-11-03
    b = case(2, hekou, now + timedelta(days=1))
    rb = give(b, now + timedelta(days=1, hours=1), "1500", charity, "charity")
    pay(rb, now + timedelta(days=1, hours=2), "1500")
    c = case(3, town, now + timedelta(days=2))
    rc = give(c, now + timedelta(days=2, hours=4), "3000", town, "temporary_assistance")
    pay(rc, now + timedelta(days=2, hours=10), "3000")
    return {"town": town, "hekou": hekou, "charity": charity, "fund": fund}


def october():
    return Period(date(2025, 10, 1), date(2025, 10, 31))


def autumn():
    return Period(date(2025, 10, 1), date(2025, 11, 30))


def by_group(result):
    return {r["group"]: r for r in result["rows"]}


def test_relief_by_source_counts_grants_and_payments_in_fen(world):
    money = report.relief_money(october(), Scope(), "source")
    rows = by_group(money)
    assert rows["temporary_assistance"]["granted_fen"] == 500_000
    assert rows["temporary_assistance"]["paid_fen"] == 500_000
    assert rows["temporary_assistance"]["paid_cases"] == 2
    assert rows["emergency_fund"]["granted_fen"] == 1_000_000 and rows["emergency_fund"]["paid_fen"] == 600_000
    assert rows["charity"]["paid_fen"] == 150_000
    assert money["total"]["paid_fen"] == 1_250_000 and money["total"]["paid_n"] == 4
    assert money["total"]["paid_cases"] == 3 and money["total"]["granted_cases"] == 3
    assert all(isinstance(r["paid_fen"], int) for r in money["rows"])


def test_relief_by_fund_by_township_by_unit_and_by_month(world):
    fund = by_group(report.relief_money(autumn(), Scope(), "fund"))
    assert fund[world["fund"].id]["paid_fen"] == 1_000_000
    assert fund[None]["paid_fen"] == 650_000  # 临时救助 and the charity's budget
    assert fund[None]["granted_fen"] is None
    township = by_group(report.relief_money(autumn(), Scope(), "township"))
    assert township[world["town"].id]["paid_fen"] == 1_500_000
    assert township[world["hekou"].id]["paid_fen"] == 150_000
    unit = by_group(report.relief_money(autumn(), Scope(), "unit"))
    assert unit[world["charity"].id]["granted_fen"] == 150_000
    month = by_group(report.relief_money(autumn(), Scope(), "month"))
    assert month["2025-10-01"]["paid_fen"] == 1_250_000
    assert month["2025-11-01"] == {
        "group": "2025-11-01",
        "granted_fen": 0,
        "granted_n": 0,
        "granted_cases": 0,
        "paid_fen": 400_000,
        "paid_n": 1,
        "paid_cases": 1,
    }


def test_a_unit_sees_only_the_money_it_granted(world):
    money = report.relief_money(autumn(), Scope(frozenset({world["charity"].id})), "source")
    assert money["total"]["paid_fen"] == 150_000
    assert set(by_group(money)) == {"charity"}


def test_time_to_first_payment_as_exact_percentiles(world, now):
    found = report.first_payment_times(october(), Scope(), now, None)
    groups, total = found["from_call"]
    assert groups == {}
    assert total["n"] == 3
    # 1 h, 2 h, 10 h: p50 = 2 h; p90 = 2 + 8 * 0.8 h; p95 = 2 + 8 * 0.9 h (percentile_cont's interpolation).
    assert (total["p50"], total["p90"], total["p95"]) == (2 * HOUR, 8.4 * HOUR, 9.2 * HOUR)
    assert total["mean"] == pytest.approx(13 * HOUR / 3, abs=0.01)
    # From the first grant: A granted +30 min, paid +1 h; B 1 h; C 6 h.
    _, from_grant = found["from_grant"]
    assert from_grant["p50"] == HOUR and from_grant["n"] == 3
    by_township, _ = report.first_payment_times(october(), Scope(), now, "township")["from_call"]
    assert by_township[world["town"].id]["n"] == 2 and by_township[world["town"].id]["p50"] == 5.5 * HOUR


def test_the_relief_report_page_and_its_excel_export(client, logged_in, manager, world):
    logged_in(manager)
    page = client.get("/reports/relief?range=custom&from=2025-10-01&to=2025-10-31&dim=source")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="total-paid">¥12,500.00' in html
    assert 'id="total-granted">¥16,500.00' in html
    html = client.get("/reports/relief?range=custom&from=2025-10-01&to=2025-10-31&dim=township").get_data(as_text=True)
    assert "城关镇" in html and "河口乡" in html
    assert client.get("/reports/relief?dim=nonsense").status_code == 404
    response = client.get("/reports/export/relief.xlsx?range=custom&from=2025-10-01&to=2025-11-30&dim=fund")
    assert response.status_code == 200
    money, times = load_workbook(io.BytesIO(response.data)).worksheets
    rows = list(money.iter_rows(min_row=2, values_only=True))
    assert rows[0][0] == "城关镇救急难基金" and rows[0][4] == 10000
    assert rows[-1][0] == "合计" and rows[-1][4] == 16500
    assert [c.value for c in times[1]][:5] == ["指标", "范围", "件数", "平均（秒）", "P50（秒）"]


def test_the_share_of_helped_cases_with_a_service(world, operator, now):
    """Cases helped in October: A, B, C with money; a fourth with a service only, and A also with a visit:
    2 of the 4 helped cases had a service (50 %). A service in November does not count for October."""
    from hotline.relief import services

    a = db.session.scalars(select(Ticket).order_by(Ticket.id)).first()
    d = log_call(operator, now + timedelta(days=3), phone="+8613900000099")

    def serve(t, day):
        services.record_service(
            t,
            actor=operator,
            now=now + timedelta(days=day),
            kind="visit",
            provider_unit=world["town"],
            provider_org=None,
            started_on=(now + timedelta(days=day)).date(),
            ended_on=None,
            hours="2",
            outcome="上门探视，生活基本有保障",
        )
        db.session.commit()

    serve(a, 4)
    serve(d, 5)
    serve(d, 30)  # November
    everything = Scope()
    assert report.services_share(october(), everything) == {"helped": 4, "with_services": 2, "share": 50.0}
    assert report.services_share(Period(date(2025, 12, 1), date(2025, 12, 31)), everything)["share"] is None
