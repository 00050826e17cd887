"""The world the access matrix and the fuzz test run in: one user per role, units, a referred ticket.

Kept apart from the tests so both build the same people and objects, and fill a route's
placeholders (``<number>``, ``<int:referral_id>`` ...) with real ids.
"""

import io
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient

from hotline.api.tokens import create_token
from hotline.extensions import db
from hotline.funds import service as funds
from hotline.grid import reports, visits
from hotline.referrals import service as referrals
from hotline.relief import documents, integrity
from hotline.relief import service as relief
from models.alert_import import AlertImport, AlertImportRow
from models.calendar import CalendarYear
from models.contact import Contact
from models.duty import DutyLine
from models.fund import FundPayoutRequest
from models.outbox import OutboundMessage
from models.webhook import WebhookDelivery, WebhookSubscription
from tests.conftest import csrf_token, login
from tests.helpers import log_call

#: Who asks: nobody, two operators, staff of two county bureaus, of a township and of one of its villages,
#: a manager and an admin.
ROLES = ("anonymous", "operator", "operator_b", "dept_a", "dept_b", "township", "village", "manager", "admin")


@dataclass
class World:
    users: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)  # placeholder name -> value for url_for / the rule's text
    clients: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)


def build_world(app, make_user, make_department, now) -> World:
    world = World()
    bureau_a = make_department("civil_affairs", "县民政局", "bureau", "county")
    bureau_b = make_department("health", "县卫健局", "bureau", "county")
    town = make_department("t_hekou", "河口乡", "township", "township")
    village = make_department("v_shuikou", "水口村", "village", "village", parent=town)
    world.users = {
        "operator": make_user("operator", username="op_a"),
        "operator_b": make_user("operator", username="op_b"),
        "dept_a": make_user("department", username="dept_a", department=bureau_a),
        "dept_b": make_user("department", username="dept_b", department=bureau_b),
        "township": make_user("department", username="town_user", department=town),
        "village": make_user("department", username="village_user", department=village),
        "manager": make_user("manager", username="mgr"),
        "admin": make_user("admin", username="adm"),
    }
    owner = world.users["operator"]
    ticket = log_call(owner, now)
    to_a = referrals.dispatch_referral(ticket, department=bureau_a, role="lead", actor=owner, now=now)
    to_village = referrals.dispatch_referral(ticket, department=village, role="assist", actor=owner, now=now)
    db.session.commit()
    grant = relief.grant_relief(
        ticket,
        actor=owner,
        now=now + timedelta(minutes=1),
        kind="temporary_assistance",
        amount_yuan="100000",  # above any limit: it waits for a manager
        granting_unit=town,
        reason="住院押金不足",
        case_conference_ref="县救急难个案会商纪要〔2025〕7号",
        expected_version=ticket.version,
    )
    fund = funds.create_fund(
        actor=world.users["manager"],
        now=now,
        code="t_hekou_fund",
        name="河口乡救急难基金",
        kind="town",
        owner_unit=town,
    )
    entry = funds.add_income(
        fund, actor=world.users["manager"], now=now, kind="allocation", amount_yuan="1000", note="乡财政拨入"
    )
    held = FundPayoutRequest(
        fund_id=fund.id,
        relief_id=grant.id,
        amount_fen=500_000,
        note="第一期",
        status="pending",
        requested_by_id=owner.id,
        requested_at=now,
    )
    db.session.add(held)
    year = CalendarYear(year=2027, source="国务院办公厅通知", updated_by_id=world.users["admin"].id, updated_at=now)
    line = DutyLine(user_id=owner.id, label="甲", phone="+8613900000001", position=1, on_duty=True, updated_at=now)
    message = OutboundMessage(to_number="+8613812341234", body="x", status="failed", attempts=5, created_at=now)
    hook = WebhookSubscription(
        source="12345",
        url="http://127.0.0.1:9/hook",
        secret="whsec_x",
        events=["closed"],
        created_at=now,
        updated_at=now,
    )
    db.session.add_all([year, line, message, hook])
    db.session.flush()
    delivery = WebhookDelivery(
        uid="00000000-0000-4000-8000-000000000001",
        subscription_id=hook.id,
        ticket_id=ticket.id,
        event="closed",
        body="{}",
        status="failed",
        attempts=8,
        created_at=now,
    )
    db.session.add(delivery)
    paper = documents.upload_document(
        ticket,
        actor=owner,
        now=now + timedelta(minutes=2),
        kind="id_card",
        stream=io.BytesIO(b"%PDF-1.4\n% a scanned ID card\n"),
        filename="身份证.pdf",
    )
    declaration = integrity.declare_relative(
        actor=owner, now=now, id_number="11010519491231002X", name="王父", relation="父亲"
    )
    alerts = AlertImport(
        filename="预警名单.xlsx",
        created_by_id=world.users["admin"].id,
        created_at=now,
        status="previewed",
        total=1,
        valid=1,
        processed=0,
        created=0,
        duplicates=0,
        added_to_open=0,
        errors=0,
        version=1,
    )
    db.session.add_all([year, line, message, alerts])
    db.session.flush()
    values = {"alert_id": "YJ-W1", "name": "甲", "township": "河口乡"}
    db.session.add(AlertImportRow(import_id=alerts.id, row=2, values=values, predicted="created"))
    db.session.add_all([year, line, message])
    token, _secret = create_token(actor=None, now=now, name="matrix-partner", scopes=["read"])
    db.session.commit()
    report, plan, visit = _field_work(app, world.users["village"], village, now)
    world.values = {
        "number": ticket.number,
        "referral_id": to_a.id,
        "relief_id": grant.id,
        "user_id": owner.id,
        "department_id": bureau_a.id,
        "line_id": line.id,
        "message_id": message.id,
        "subscription_id": hook.id,
        "delivery_id": delivery.id,
        "token_id": token.id,
        "year": 2027,
        "report": "dashboard",
        "fmt": "csv",
        "import_id": alerts.id,
        "filename": "css/hotline.css",
        "fund_id": fund.id,
        "entry_id": entry.id,
        "request_id": held.id,
        "document_id": paper.id,
        "declaration_id": declaration.id,
        "report_id": report.id,
        "plan_id": plan.id,
        "visit_id": visit.id,
    }
    world.values_village = {**world.values, "referral_id": to_village.id}
    for role in ROLES:
        sign_in(app, world, role)
    return world


def _field_work(app, village_user, village, now):
    """A grid report with a photo by the village's staff, and a household of the village with a visit."""
    received = reports.report_case(
        reporter=village_user,
        now=now,
        text="桥头有位老人迷路了",
        urgency="urgent",
        name="不知姓名老人",
        village_id=village.id,
        photo=b"\xff\xd8\xff\xe0" + b"0" * 64,
        photo_dir=Path(app.config["UPLOAD_DIR"]),
    )
    household = Contact(
        name="王秀英",
        village_id=village.id,
        township_id=village.parent_id,
        is_elderly=True,
        lives_alone=True,
        created_at=now,
    )
    db.session.add(household)
    db.session.flush()
    plan = visits.plan_household(household, now=now)
    visit = visits.record_visit(plan, visitor=village_user, now=now, seen=True, condition="还好", difficulty=True)
    db.session.commit()
    return received.report, plan, visit


def sign_in(app, world: World, role: str) -> FlaskClient:
    """A browser of ``role`` (logged in unless anonymous) and its CSRF token."""
    client = app.test_client()
    if role != "anonymous":
        response = login(client, world.users[role].username)
        assert response.status_code == 302, role
    world.clients[role] = client
    world.tokens[role] = csrf_token(client, "/login" if role == "anonymous" else "/account/password")
    return client
