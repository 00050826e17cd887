"""Texts to a unit's duty phone and who hears of each ladder level come from sla.toml, checked at start."""

import shutil
from datetime import timedelta

import pytest
from sqlalchemy import select

from config.settings import ROOT
from hotline import create_app
from hotline.escalation.sla import SlaPolicyError, init_sla, load_sla
from hotline.escalation.sweep import sweep
from hotline.extensions import db
from hotline.referrals import service as rs
from hotline.tickets import service as ts
from models.notification import Notification
from models.outbox import OutboundMessage
from tests.conftest import app_config

POLICY = ROOT / "config" / "policy"
SHIPPED = (POLICY / "sla.toml").read_text(encoding="utf-8")
DUTY_PHONE = "+8613900000001"


def policy_dir(tmp_path, *replacements):
    """A copy of the shipped policy with ``(old, new)`` replaced in sla.toml."""
    text = SHIPPED
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new, 1)
    folder = tmp_path / "policy"
    shutil.copytree(POLICY, folder)
    (folder / "sla.toml").write_text(text, encoding="utf-8")
    return folder


def use_policy(app, folder):
    app.config["POLICY_DIR"] = folder
    init_sla(app)


@pytest.fixture
def civil(make_department):
    return make_department("civil_affairs", "县民政局", duty_phone=DUTY_PHONE)


def p1_referral(operator, civil, now):
    t = ts.log_call(
        actor=operator, now=now, phone="13812341234", category="accident_disaster", priority="P1", summary="房屋失火"
    )
    r = rs.dispatch_referral(t, department=civil, role="lead", actor=operator, now=now)
    db.session.commit()
    return t, r


def texts():
    return list(db.session.scalars(select(OutboundMessage.body).where(OutboundMessage.to_number == DUTY_PHONE)))


def test_shipped_text_gives_the_acknowledge_time_of_the_priority(app, operator, civil, now):
    t, _ = p1_referral(operator, civil, now)
    assert texts() == [f"【救助热线】急难转介 {t.number}（P1）：房屋失火。请1小时内签收。"]


def test_the_dispatch_text_and_its_time_follow_a_changed_policy(app, tmp_path, operator, civil, now):
    use_policy(
        app,
        policy_dir(
            tmp_path,
            ("acknowledge = { hours = 1 }", "acknowledge = { minutes = 45 }"),
            ('dispatched = "【救助热线】急难转介', 'dispatched = "【县热线】请接单'),
        ),
    )
    t, r = p1_referral(operator, civil, now)
    assert r.acknowledge_due_at == now + timedelta(minutes=45)
    assert texts() == [f"【县热线】请接单 {t.number}（P1）：房屋失火。请45分钟内签收。"]


def test_the_urge_text_and_the_audience_follow_a_changed_policy(
    app, tmp_path, operator, civil, make_user, manager, now
):
    staff = make_user("department", username="civil1", department=civil)
    use_policy(
        app,
        policy_dir(
            tmp_path,
            ('urged = "【救助热线】催办：', 'urged = "【县热线】快签收 {summary}：'),
            ('at = 1.0\naudience = ["unit", "owner"]', 'at = 1.0\naudience = ["managers"]'),
        ),
    )
    t, _ = p1_referral(operator, civil, now)
    sweep(now=now + timedelta(hours=1))
    assert texts()[1:] == [f"【县热线】快签收 房屋失火：急难转介 {t.number} 已超时未办结，请立即处理并签收反馈。"]
    heard = {
        (user_id, kind)
        for user_id, kind in db.session.execute(select(Notification.user_id, Notification.kind))
        if kind == "escalation_urge"
    }
    assert heard == {(manager.id, "escalation_urge")}
    assert staff.id not in {user_id for user_id, _ in heard}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[unit_sms]", "[unit_smz]", "unknown keys ['unit_smz']"),
        ("urged = ", "urgd = ", "[unit_sms]: unknown keys ['urgd']"),
        ("请{within}内签收", "请{within_time}内签收", "[unit_sms] dispatched: unknown placeholders ['within_time']"),
        ("已超时未办结", "已超时{within}未办结", "[unit_sms] urged: unknown placeholders ['within']"),
        ("请{within}内签收", "请{within内签收", "[unit_sms] dispatched:"),
        ('audience = ["owner", "managers"]', 'audience = ["owner", "bosses"]', "[[ladder]] number 4: audience must be"),
        ('audience = ["owner", "managers"]', 'audience = "owner"', "[[ladder]] number 4: audience must be"),
    ],
)
def test_a_mistake_in_the_texts_or_audiences_names_the_key(tmp_path, old, new, message):
    folder = policy_dir(tmp_path, (old, new))
    with pytest.raises(SlaPolicyError) as info:
        load_sla(folder / "sla.toml")
    assert message in str(info.value)


def test_a_bad_text_stops_start_up(tmp_path, database_url):
    folder = policy_dir(tmp_path, ("请{within}内签收", "请{hours}内签收"))
    with pytest.raises(SlaPolicyError, match=r"\[unit_sms\] dispatched: unknown placeholders \['hours'\]"):
        create_app(app_config(database_url) | {"POLICY_DIR": folder})
