"""The funds pages and the relief panel's overview, as people use them: balances, statements, exports."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from hotline.extensions import db
from hotline.funds import service as funds
from hotline.funds.policy import FundsPolicy, funds_policy
from hotline.relief import service as relief
from models.audit import AuditLog
from models.fund import Fund, FundEntry
from tests.conftest import csrf_token
from tests.helpers import log_call


@pytest.fixture
def units(make_department):
    return {
        "town": make_department("town_chengguan", "城关镇", kind="township", level="township"),
        "civil": make_department("civil_affairs", "县民政局"),
    }


@pytest.fixture
def town_fund(manager, units, now):
    fund = funds.create_fund(
        actor=manager, now=now, code="town_cg", name="城关镇救急难基金", kind="town", owner_unit=units["town"]
    )
    funds.add_income(fund, actor=manager, now=now, kind="allocation", amount_yuan="20000", note="镇财政拨入")
    db.session.commit()
    return fund


def post(client, url, data, page):
    return client.post(url, data={**data, "csrf_token": csrf_token(client, page)})


def test_a_manager_sets_up_a_fund_and_records_an_allocation(client, logged_in, manager, units):
    logged_in(manager)
    page = client.get("/funds").get_data(as_text=True)
    assert "尚无基金" in page  # the empty state says who sets funds up
    response = post(
        client,
        "/funds",
        {"name": "县救急难基金", "code": "county", "kind": "county", "owner_unit_id": units["civil"].id},
        "/funds",
    )
    assert response.status_code == 302
    fund = db.session.scalars(select(Fund)).one()
    response = post(
        client,
        f"/funds/{fund.id}/entries",
        {"kind": "allocation", "amount": "100,000.50", "note": "县财政局拨款文件〔2025〕12号"},
        f"/funds/{fund.id}",
    )
    assert response.status_code == 302
    page = client.get(f"/funds/{fund.id}").get_data(as_text=True)
    assert "¥100,000.50" in page and "县财政局拨款文件〔2025〕12号" in page
    assert "¥100,000.50" in client.get("/funds").get_data(as_text=True)
    assert db.session.get(Fund, fund.id).balance_fen == 10_000_050


def test_a_wrong_amount_is_refused_keeping_what_was_typed(client, logged_in, manager, town_fund):
    logged_in(manager)
    response = post(
        client,
        f"/funds/{town_fund.id}/entries",
        {"kind": "donation", "amount": "12.345", "note": "爱心人士李先生"},
        f"/funds/{town_fund.id}",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "爱心人士李先生" in page and "12.345" in page
    assert db.session.get(Fund, town_fund.id).balance_fen == 2_000_000


def test_a_statement_shows_the_opening_and_closing_balance_of_its_period(
    client, logged_in, manager, operator, town_fund, units, now
):
    ticket = log_call(operator, now)
    r = relief.grant_relief(
        ticket,
        actor=operator,
        now=now + timedelta(days=40),
        kind="emergency_fund",
        amount_yuan="3000",
        granting_unit=units["town"],
        reason="火灾后临时安置",
    )
    relief.record_payment(r, actor=operator, now=now + timedelta(days=40), amount_yuan="2500", note="现金")
    db.session.commit()
    logged_in(manager)
    # 2025-10-09 allocation; 2025-11-18 payout. November alone opens with 20,000.
    page = client.get(f"/funds/{town_fund.id}?from=2025-11-01&to=2025-11-30").get_data(as_text=True)
    assert 'id="opening">¥20,000.00' in page
    assert 'id="closing">¥17,500.00' in page
    assert 'id="outgo-total">¥2,500.00' in page
    assert ticket.number in page and "镇财政拨入" not in page
    assert client.get(f"/funds/{town_fund.id}?from=2025-12-01&to=2025-11-01").status_code == 400
    assert client.get(f"/funds/{town_fund.id}?from=nonsense").status_code == 400


def test_the_statement_exports_to_excel_with_exact_amounts_and_no_formulas(client, logged_in, manager, town_fund, now):
    funds.add_income(
        town_fund, actor=manager, now=now, kind="donation", amount_yuan="0.10", note='=HYPERLINK("http://x","点我")'
    )
    db.session.commit()
    logged_in(manager)
    response = client.get(f"/funds/{town_fund.id}/statement.xlsx?from=2025-10-01&to=2025-10-31")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    summary, entries = book.worksheets
    assert [c.value for c in summary[1]][:4] == ["基金", "代码", "期间", "期初余额（元）"]
    # Written from exact decimals of yuan (never floats of fen), read back by Excel as numbers.
    assert summary["D2"].value == 0 and Decimal(str(summary["G2"].value)) == Decimal("20000.1")
    rows = list(entries.iter_rows(min_row=2, values_only=True))
    assert [r[1] for r in rows] == ["拨入", "捐赠"]
    assert [Decimal(str(r[2])) for r in rows] == [Decimal(20000), Decimal("0.1")]
    note = entries.cell(row=3, column=7)
    assert note.value == '=HYPERLINK("http://x","点我")' and note.data_type == "s" and note.quotePrefix
    assert db.session.scalar(select(AuditLog.kind).where(AuditLog.target == "fund_statement:town_cg")) == (
        "report_exported"
    )
    csv = client.get(f"/funds/{town_fund.id}/statement.csv?from=2025-10-01&to=2025-10-31").get_data(as_text=True)
    assert """'=HYPERLINK(""http://x"",""点我"")""" in csv and ",20000.10\r\n" in csv


def test_staff_see_their_own_units_funds_only(client, logged_in, make_user, town_fund, units):
    county_staff = make_user("department", department=units["civil"])
    logged_in(county_staff)
    assert "城关镇救急难基金" not in client.get("/funds").get_data(as_text=True)
    assert client.get(f"/funds/{town_fund.id}").status_code == 404


def test_a_fund_manager_releases_a_held_payment_from_the_fund_page(
    app, client, logged_in, manager, operator, make_user, town_fund, units, now
):
    policy = funds_policy()
    app.extensions["hotline_policy"]["funds"] = FundsPolicy(draws=policy.draws, overdraft="needs_approval")
    try:
        ticket = log_call(operator, now)
        r = relief.grant_relief(
            ticket,
            actor=operator,
            now=now,
            kind="emergency_fund",
            amount_yuan="30000",
            granting_unit=units["town"],
            reason="重病住院",
            case_conference_ref="县救急难个案会商纪要〔2026〕5号",  # above the 一事一议 cap
        )
        db.session.commit()
        relief.decide_relief(r, actor=manager, now=now, approve=True, comment="同意")
        held = relief.record_payment(r, actor=operator, now=now, amount_yuan="25000", note="第一期")
        funds.add_income(town_fund, actor=manager, now=now, kind="allocation", amount_yuan="5000", note="追加")
        db.session.commit()
        town_staff = make_user("department", department=units["town"])
        logged_in(town_staff)
        page = client.get(f"/funds/{town_fund.id}").get_data(as_text=True)
        assert f'id="held-{held.id}"' in page and "¥25,000.00" in page
        response = post(
            client,
            f"/funds/held/{held.id}/decision",
            {f"h{held.id}-version": held.version, f"h{held.id}-decision": "release", f"h{held.id}-comment": "已追加"},
            f"/funds/{town_fund.id}",
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        db.session.expire_all()
        assert db.session.get(Fund, town_fund.id).balance_fen == 0
        assert funds.ledger_balance_fen(town_fund.id) == 0
        assert db.session.scalars(select(FundEntry).where(FundEntry.kind == "payout")).one().amount_fen == -2_500_000
    finally:
        app.extensions["hotline_policy"]["funds"] = policy


def test_the_ticket_page_shows_the_case_relief_at_a_glance(client, logged_in, manager, operator, town_fund, units, now):
    ticket = log_call(operator, now)
    first = relief.grant_relief(
        ticket,
        actor=operator,
        now=now,
        kind="temporary_assistance",
        amount_yuan="2000",
        granting_unit=units["town"],
        reason="押金",
    )
    relief.record_payment(first, actor=operator, now=now, amount_yuan="2000", note="现金")
    second = relief.grant_relief(
        ticket,
        actor=operator,
        now=now,
        kind="emergency_fund",
        amount_yuan="2500",
        granting_unit=units["town"],
        reason="后续治疗",
    )
    db.session.commit()
    assert second.status == "pending_approval"
    relief.decide_relief(second, actor=manager, now=now, approve=True, comment="同意")
    relief.record_payment(second, actor=operator, now=now, amount_yuan="1000", note="第一期")
    db.session.commit()
    logged_in(operator)
    page = client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert 'id="glance-granted">¥4,500.00' in page and 'id="glance-paid">¥3,000.00' in page
    verdict = page[page.index('id="limit-verdict"') :][:400]
    assert "¥4,500.00" in verdict and "¥1,500.00" in verdict  # the case total, not a single grant, passed it
    assert "城关镇救急难基金" in page
