"""Advance relief seen from the ticket: which limit a grant passed and by how much, and no closing on unpaid money."""

import pytest
from sqlalchemy import select

from hotline.errors import DomainError
from hotline.extensions import db
from hotline.relief import service as relief
from hotline.tickets import service as tickets
from models.ticket import Ticket
from tests.conftest import post_form
from tests.helpers import events, log_call, reload


@pytest.fixture
def town(make_department):
    return make_department("town_chengguan", "城关镇", kind="township", level="township")


@pytest.fixture
def ticket(operator, now):
    return log_call(operator, now)


def _form(ticket, unit, amount):
    return {
        "grant-version": ticket.version,
        "grant-kind": "temporary_assistance",
        "grant-amount": amount,
        "grant-granting_unit_id": unit.id,
        "grant-reason": "住院押金不足",
    }


def _flash(client, page, ticket, unit, amount) -> str:
    ticket = reload(ticket)
    response = post_form(client, f"{page}/relief", _form(ticket, unit, amount), page=page)
    assert response.status_code == 302
    html = client.get(page).get_data(as_text=True)
    return html[html.index("flash") :][:300]


def test_the_limit_message_says_whether_the_grant_or_the_case_total_passed_it(
    client, logged_in, operator, ticket, town
):
    logged_in(operator)
    page = f"/tickets/{ticket.number}"
    assert "本案累计" not in _flash(client, page, ticket, town, "2000")  # within ¥3,000: granted at once
    message = _flash(client, page, ticket, town, "1500")
    assert "加上本次¥1,500.00，本案累计¥3,500.00" in message and "超出免审批限额¥3,000.00达¥500.00" in message
    message = _flash(client, page, ticket, town, "4000")
    assert "¥4,000.00超出免审批限额¥3,000.00达¥1,000.00" in message and "本案累计" not in message


def test_a_case_with_unpaid_approved_relief_closes_only_when_the_closer_says_why(operator, ticket, town, now):
    granted = relief.grant_relief(
        ticket,
        actor=operator,
        now=now,
        kind="temporary_assistance",
        amount_yuan="2000",
        granting_unit=town,
        reason="住院押金不足",
    )
    relief.record_payment(granted, actor=operator, now=now, amount_yuan="500", note="第一笔")
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        tickets.close_ticket(ticket, actor=operator, now=now, resolution="已协调住院")
    assert "¥1,500.00" in str(refused.value.message)
    with pytest.raises(DomainError):
        tickets.close_ticket(ticket, actor=operator, now=now, resolution=None, leave_relief_unpaid=True)
    db.session.rollback()
    assert reload(ticket).status != "closed"

    tickets.close_ticket(
        ticket, actor=operator, now=now, resolution="家属放弃余款，已转医疗救助", leave_relief_unpaid=True
    )
    db.session.commit()
    assert reload(ticket).status == "closed"
    assert events(ticket, "closed")[-1].payload["unpaid_relief_fen"] == 150000


def test_a_paid_relief_does_not_hold_up_closing(operator, ticket, town, now):
    granted = relief.grant_relief(
        ticket,
        actor=operator,
        now=now,
        kind="temporary_assistance",
        amount_yuan="800",
        granting_unit=town,
        reason="交通费",
    )
    relief.record_payment(granted, actor=operator, now=now, amount_yuan="800", note="一次发放")
    tickets.close_ticket(ticket, actor=operator, now=now, resolution="已发放并协调返乡")
    db.session.commit()
    closed = db.session.scalar(select(Ticket))
    assert closed.status == "closed" and "unpaid_relief_fen" not in events(closed, "closed")[-1].payload


def test_the_close_form_asks_for_the_confirmation_while_money_is_unpaid(client, logged_in, operator, ticket, town, now):
    relief.grant_relief(
        ticket,
        actor=operator,
        now=now,
        kind="temporary_assistance",
        amount_yuan="1000",
        granting_unit=town,
        reason="生活困难",
    )
    db.session.commit()
    logged_in(operator)
    html = client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert "已批准的先行救助尚有¥1,000.00未发放。" in html and 'name="leave_relief_unpaid"' in html
