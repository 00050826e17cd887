"""The operator's whole loop through HTTP: log a call, find it, note, callback, close."""

from sqlalchemy import select

from hotline.extensions import db
from models.ticket import Ticket, TicketEvent
from tests.conftest import post_form


def test_operator_logs_call_notes_calls_back_and_closes(client, logged_in, operator):
    logged_in(operator)
    r = post_form(
        client,
        "/tickets/new",
        {
            "phone": "138 1234 1234",
            "caller_name": "王秀英",
            "channel": "voice",
            "category": "illness_hardship",
            "priority": "P1",
            "summary": "父亲突发脑溢血住院，拿不出押金",
        },
    )
    assert r.status_code == 302
    ticket = db.session.scalar(select(Ticket))
    assert ticket.first_contact_owner_id == operator.id
    assert ticket.contact.phone == "+8613812341234"

    desk = client.get("/desk").get_data(as_text=True)
    assert ticket.number in desk
    assert "138****1234" in desk and "13812341234" not in desk

    page = f"/tickets/{ticket.number}"
    assert post_form(client, page + "/note", {"text": "已联系医院"}, page=page).status_code == 302
    v = ticket.version
    r = post_form(client, page + "/callback", {"reached": "yes", "satisfaction": "5", "version": v}, page=page)
    assert r.status_code == 302
    db.session.refresh(ticket)
    r = post_form(client, page + "/close", {"resolution": "已发放临时救助", "version": ticket.version}, page=page)
    assert r.status_code == 302
    db.session.refresh(ticket)
    assert ticket.status == "closed"
    kinds = [e.kind for e in db.session.scalars(select(TicketEvent).order_by(TicketEvent.id))]
    assert kinds == ["created", "note", "callback", "closed"]
    html = client.get(page).get_data(as_text=True)
    assert "已联系医院" in html
