"""Nobody misses what reaches them: a case handed to someone tells them, and an ended call shows ended.

Service tests pass an explicit ``now``; the pages are read as the user sees them (Chinese by default).
"""

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.errors import DomainError
from hotline.extensions import db
from hotline.intake.desk import call_state
from hotline.tickets import service
from models.interaction import Interaction
from models.notification import Notification
from models.ticket import Ticket
from tests.conftest import login, post_form
from tests.helpers import log_call, reload, unclaimed
from tests.twilio_helpers import sms_form, twilio_post

MINUTE = timedelta(minutes=1)


@pytest.fixture
def other_operator(make_user):
    return make_user("operator", username="op_li", display_name="李建国")


def notices(user) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)))


# --- hand-over ---------------------------------------------------------------------------------------


def test_the_new_owner_is_told_who_handed_the_case_over_and_why(operator, other_operator, now):
    ticket = log_call(operator, now)
    service.transfer_owner(ticket, actor=operator, now=now + MINUTE, new_owner=other_operator, reason="下班交接")
    db.session.commit()
    [notice] = notices(other_operator)
    assert (notice.kind, notice.ticket_id, notice.created_at) == ("ticket_handed_over", ticket.id, now + MINUTE)
    assert notice.payload == {"by": "张晓红", "reason": "下班交接"}
    assert notice.read_at is None
    # The operator who handed it over did it themselves: nothing to tell them.
    assert notices(operator) == []


def test_a_manager_hand_over_tells_the_new_owner_and_the_old_one(operator, other_operator, manager, now):
    ticket = log_call(operator, now)
    service.transfer_owner(ticket, actor=manager, now=now, new_owner=other_operator, reason="张晓红病假")
    db.session.commit()
    [new] = notices(other_operator)
    assert new.payload == {"by": "陈主任", "reason": "张晓红病假"}
    [old] = notices(operator)
    assert old.kind == "ticket_taken_over"
    assert old.payload == {"by": "陈主任", "to": "李建国", "reason": "张晓红病假"}
    assert notices(manager) == []


def test_a_manager_giving_an_unclaimed_ticket_to_an_operator_tells_them(other_operator, manager, now):
    ticket = unclaimed(now)
    service.transfer_owner(ticket, actor=manager, now=now, new_owner=other_operator, reason="请优先处理")
    db.session.commit()
    assert reload(ticket).status == "open"
    assert [n.kind for n in notices(other_operator)] == ["ticket_handed_over"]


def test_taking_an_unclaimed_ticket_oneself_tells_nobody(operator, now):
    ticket = unclaimed(now)
    service.take_ticket(ticket, actor=operator, now=now)
    db.session.commit()
    assert db.session.scalar(select(Notification.id)) is None


def test_a_refused_hand_over_tells_nobody(operator, other_operator, now):
    ticket = log_call(operator, now)
    with pytest.raises(DomainError):
        service.transfer_owner(ticket, actor=operator, now=now, new_owner=other_operator, reason="  ")
    db.session.rollback()
    assert notices(other_operator) == []


def test_a_duplicate_merged_into_someone_elses_ticket_tells_its_owner(operator, other_operator, now):
    target = log_call(other_operator, now)
    duplicate = log_call(operator, now + MINUTE, summary="同一件事又打来")
    service.merge_ticket(duplicate, actor=operator, now=now + 2 * MINUTE, target=target, reason="同一来电人同一事项")
    db.session.commit()
    [notice] = notices(other_operator)
    assert (notice.kind, notice.ticket_id) == ("ticket_merged_in", target.id)
    assert notice.payload == {"by": "张晓红", "source": duplicate.number, "reason": "同一来电人同一事项"}
    # Merging into one's own ticket tells nobody.
    mine = log_call(other_operator, now + 3 * MINUTE, summary="又一次")
    service.merge_ticket(mine, actor=other_operator, now=now + 4 * MINUTE, target=target, reason="重复")
    db.session.commit()
    assert len(notices(other_operator)) == 1


def test_a_case_reopened_by_someone_else_is_back_on_its_owners_list(operator, other_operator, now):
    ticket = log_call(operator, now)
    service.close_ticket(ticket, actor=operator, now=now, resolution="已协助申请临时救助")
    service.reopen_ticket(ticket, actor=other_operator, now=now + MINUTE, reason="来电人说钱还没到")
    db.session.commit()
    [notice] = notices(operator)
    assert notice.kind == "ticket_reopened"
    assert notice.payload == {"by": "李建国", "reason": "来电人说钱还没到"}
    service.close_ticket(ticket, actor=operator, now=now + 2 * MINUTE, resolution="钱已到账")
    service.reopen_ticket(ticket, actor=operator, now=now + 3 * MINUTE, reason="自己重开")
    db.session.commit()
    assert len(notices(operator)) == 1


def test_the_notifications_list_shows_the_hand_over_in_chinese_with_a_link(
    app, client, logged_in, operator, other_operator, manager, now
):
    ticket = log_call(operator, now)
    service.transfer_owner(ticket, actor=manager, now=now, new_owner=other_operator, reason="张晓红病假")
    db.session.commit()
    logged_in(other_operator)
    html = client.get("/notifications").get_data(as_text=True)
    assert f"陈主任 将工单 {ticket.number} 转交给您：张晓红病假" in html
    assert f'href="/tickets/{ticket.number}"' in html
    old_owner = app.test_client()
    login(old_owner, operator.username)
    html = old_owner.get("/notifications").get_data(as_text=True)
    assert f"陈主任 将您的工单 {ticket.number} 转交给 李建国：张晓红病假" in html


# --- calls that ended show ended ----------------------------------------------------------------------


def test_a_call_logged_by_hand_is_recorded_ended(operator, now):
    ticket = log_call(operator, now)
    call = db.session.scalar(select(Interaction).where(Interaction.ticket_id == ticket.id))
    assert (call.status, call.answered_at, call.ended_at) == ("completed", now, now)
    assert call_state(call) == "ended"
    repeat = service.log_repeat_call(ticket, actor=operator, now=now + MINUTE, note="又打来")
    db.session.commit()
    assert reload(repeat).ended_at == now + MINUTE
    assert call_state(repeat) == "ended"


@pytest.mark.parametrize(
    ("values", "state"),
    [
        ({"status": "ringing"}, "ringing"),
        ({"status": "in-progress", "answered": True}, "in_call"),
        # Logged before hand-logged calls got an end time: the provider status says it is over.
        ({"status": "completed", "answered": True}, "ended"),
        ({"status": "no-answer"}, "ended"),
        ({"status": "busy", "missed": True}, "missed"),
        ({"status": "in-progress", "answered": True, "ended": True}, "ended"),
    ],
)
def test_the_state_of_a_call_follows_its_end_and_provider_status(now, values, state):
    call = Interaction(
        channel="voice",
        direction="inbound",
        status=values["status"],
        started_at=now,
        answered_at=now if values.get("answered") else None,
        ended_at=now if values.get("ended") else None,
        missed_at=now if values.get("missed") else None,
    )
    assert call_state(call) == state


def test_the_live_panel_shows_a_hand_logged_call_as_ended(client, logged_in, operator):
    logged_in(operator)
    r = post_form(
        client,
        "/tickets/new",
        {
            "phone": "13812341234",
            "channel": "voice",
            "category": "illness_hardship",
            "priority": "P1",
            "summary": "父亲脑溢血住院，拿不出押金",
        },
        page="/tickets/new",
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    [row] = client.get("/desk/live").get_json()["calls"]
    assert (row["state"], row["state_label"]) == ("ended", "已结束")


def test_call_and_text_statuses_are_translated_on_the_ticket_page(client, logged_in, operator, now):
    twilio_post(client, "/twilio/sms", sms_form(sender="+8613700001111"))
    texted = db.session.scalar(select(Ticket))
    service.take_ticket(texted, actor=operator, now=now)
    called = log_call(operator, now)
    logged_in(operator)
    html = client.get(f"/tickets/{texted.number}").get_data(as_text=True)
    assert "已接收" in html and "received" not in html
    html = client.get(f"/tickets/{called.number}").get_data(as_text=True)
    assert "通话结束" in html and "completed" not in html
