"""The access rules themselves (hotline/access.py), the page composition and the one form runner.

Each rule is asked directly for every kind of user against one referred case,
and the SQL form of the ticket rule is checked against the Python form over
tickets of every kind. The ticket and referral views must not import each
other: the ticket page is composed from panels (hotline/tickets/page.py).
"""

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config.settings import ROOT
from hotline import access
from hotline.extensions import db
from hotline.referrals import service as referrals
from hotline.relief import service as relief
from hotline.tickets import service as tickets
from models.interaction import Interaction
from models.ticket import Ticket
from tests.conftest import login, post_form
from tests.helpers import log_call


@pytest.fixture
def case(make_department, make_user, operator, now):
    """A ticket of ``operator`` referred to a county bureau (lead) and to a village (assist), one relief
    granted by the village's township and waiting for a manager; a second, unreferred ticket."""
    bureau = make_department("civil_affairs", "县民政局")
    other_bureau = make_department("health", "县卫健局")
    town = make_department("t_hekou", "河口乡", "township", "township")
    village = make_department("v_shuikou", "水口村", "village", "village", parent=town)
    users = {
        "owner": operator,
        "operator_b": make_user("operator", username="op_b"),
        "manager": make_user("manager", username="mgr"),
        "manager_b": make_user("manager", username="mgr_b"),
        "admin": make_user("admin", username="adm"),
        "bureau": make_user("department", username="mz", department=bureau),
        "other_bureau": make_user("department", username="wj", department=other_bureau),
        "town": make_user("department", username="town", department=town),
        "village": make_user("department", username="village", department=village),
        "no_unit": make_user("department", username="nobody"),
    }
    ticket = log_call(operator, now)
    other = log_call(operator, now, phone="13900000009", summary="另一件事")
    to_bureau = referrals.dispatch_referral(ticket, department=bureau, role="lead", actor=operator, now=now)
    to_village = referrals.dispatch_referral(ticket, department=village, role="assist", actor=operator, now=now)
    db.session.commit()
    grant = relief.grant_relief(
        ticket,
        actor=operator,
        now=now + timedelta(minutes=1),
        kind="temporary_assistance",
        amount_yuan="100000",
        granting_unit=town,
        reason="住院押金不足",
        case_conference_ref="县救急难个案会商纪要〔2025〕7号",
        expected_version=ticket.version,
    )
    db.session.commit()
    return {
        "users": users,
        "ticket": ticket,
        "other": other,
        "to_bureau": to_bureau,
        "to_village": to_village,
        "relief": grant,
        "units": {"bureau": bureau, "town": town, "village": village},
    }


def _who(case, rule) -> set[str]:
    return {name for name, user in case["users"].items() if rule(user)}


def test_the_hotline_and_the_referred_units_see_the_ticket(case):
    t = case["ticket"]
    assert _who(case, lambda u: access.can_see_ticket(u, t)) == {
        "owner",
        "operator_b",
        "manager",
        "manager_b",
        "bureau",
        "town",  # through its village's referral
        "village",
    }
    assert _who(case, lambda u: access.can_see_ticket(u, case["other"])) == {
        "owner",
        "operator_b",
        "manager",
        "manager_b",
    }


def test_a_unit_sees_its_own_referrals_and_those_below_it(case):
    t, to_bureau, to_village = case["ticket"], case["to_bureau"], case["to_village"]
    users = case["users"]
    assert access.visible_referrals(users["operator_b"], t) == [to_bureau, to_village]
    assert access.visible_referrals(users["bureau"], t) == [to_bureau]
    assert access.visible_referrals(users["town"], t) == [to_village]
    assert access.visible_referrals(users["village"], t) == [to_village]
    for name in ("other_bureau", "no_unit", "admin"):
        assert access.visible_referrals(users[name], t) == []
    assert _who(case, lambda u: access.can_see_referral(u, to_village)) == {
        "owner",
        "operator_b",
        "manager",
        "manager_b",
        "town",
        "village",
    }
    # Only the receiving unit works on its referral; the township above it sees it but does not act.
    assert _who(case, lambda u: access.works_on_referral(u, to_village)) == {"village"}
    assert _who(case, lambda u: access.works_on_referral(u, to_bureau)) == {"bureau"}


def test_a_department_user_enters_a_ticket_through_their_own_units_referral(case, now):
    t, users, units = case["ticket"], case["users"], case["units"]
    owner = users["owner"]
    to_town = referrals.dispatch_referral(t, department=units["town"], role="assist", actor=owner, now=now)
    referrals.cancel_referral(case["to_village"], actor=owner, now=now, reason="改派")
    to_village = referrals.dispatch_referral(t, department=units["village"], role="assist", actor=owner, now=now)
    db.session.commit()
    # The township sees the newer village referral too, but enters through its own.
    assert to_village.id > to_town.id
    assert access.unit_referral(users["town"], t) == to_town
    assert access.unit_referral(users["village"], t) == to_village
    assert access.unit_referral(users["other_bureau"], t) is None
    # The same rule for a list of tickets at once (report lists link each ticket to its referral page).
    ids = [t.id, case["other"].id]
    for name, user in users.items():
        way_in = None if access.is_hotline(user) else access.unit_referral(user, t)
        assert access.unit_referral_ids(user, ids) == ({t.id: way_in.id} if way_in else {}), name


def test_the_owner_and_managers_manage_a_ticket(case):
    t = case["ticket"]
    assert _who(case, lambda u: access.can_manage_ticket(u, t)) == {"owner", "manager", "manager_b"}
    assert _who(case, access.can_supervise) == {"manager", "manager_b"}
    assert _who(case, access.is_hotline) == {"owner", "operator_b", "manager", "manager_b"}


def test_relief_rules(case):
    t, grant, users = case["ticket"], case["relief"], case["users"]
    # Granting: the owner, managers, and staff of a granting level working on the case: the bureau, and the
    # township through its village's referral; not the village itself (villages hold no relief funds).
    assert _who(case, lambda u: access.can_grant_relief(u, t)) == {"owner", "manager", "manager_b", "bureau", "town"}
    # Deciding above the limit: a manager other than the one who asked (the owner asked here).
    assert _who(case, lambda u: access.can_decide_relief(u, grant)) == {"manager", "manager_b"}
    grant.requested_by_id = users["manager"].id
    assert _who(case, lambda u: access.can_decide_relief(u, grant)) == {"manager_b"}
    # Paying: the owner, managers, and the granting township while it sees the case (through its village).
    assert _who(case, lambda u: access.can_pay_relief(u, grant, t)) == {"owner", "manager", "manager_b", "town"}
    assert _who(case, lambda u: access.can_record_relief_not_needed(u, t)) == {"owner", "manager", "manager_b"}
    assert access.can_grant_for(users["town"], case["units"]["town"])
    assert not access.can_grant_for(users["town"], case["units"]["bureau"])
    assert access.can_grant_for(users["owner"], case["units"]["bureau"])


def test_paperwork_falls_to_the_unit_that_granted_an_approved_relief(case, now):
    t, grant, users = case["ticket"], case["relief"], case["users"]
    assert _who(case, lambda u: access.can_complete_paperwork(u, t)) == {"owner", "manager", "manager_b"}
    relief.decide_relief(grant, actor=users["manager"], now=now, approve=True, comment="同意")
    db.session.commit()
    assert _who(case, lambda u: access.can_complete_paperwork(u, t)) == {"owner", "manager", "manager_b", "town"}


def test_the_ticket_of_a_live_call(case, now):
    users = case["users"]
    call = Interaction(channel="voice", direction="inbound", started_at=now, handled_by_id=users["owner"].id)
    db.session.add(call)
    db.session.flush()
    assert _who(case, lambda u: access.can_ticket_call(call, u)) == {"owner", "manager", "manager_b"}
    call.handled_by_id = None
    assert "operator_b" in _who(case, lambda u: access.can_ticket_call(call, u))
    call.missed_at = now
    assert _who(case, lambda u: access.can_ticket_call(call, u)) == set()


def test_the_sql_rule_finds_exactly_the_tickets_the_python_rule_allows(case, now):
    """``ticket_condition`` is what the queue, search and reports filter by: it must agree with ``can_see_ticket``."""
    log_call(case["users"]["owner"], now, phone="13900000010", summary="第三件")
    every = list(db.session.scalars(select(Ticket)))
    for name, user in case["users"].items():
        found = set(db.session.scalars(select(Ticket.id).where(access.ticket_condition(user))))
        assert found == {t.id for t in every if access.can_see_ticket(user, t)}, name


def test_report_units(case):
    users, units = case["users"], case["units"]
    assert access.report_units(users["manager"]) is None  # every unit
    assert access.report_units(users["town"]) == {units["town"].id, units["village"].id}
    assert access.report_units(users["village"]) == {units["village"].id}
    assert access.report_units(users["no_unit"]) == frozenset()
    assert access.report_units(users["owner"]) == frozenset()


def test_loaders_answer_404_for_what_the_user_may_not_see(app, case):
    number = case["ticket"].number
    client = app.test_client()
    login(client, "wj")  # a bureau the case is not referred to
    page = "/account/password"
    assert post_form(client, f"/tickets/{number}/relief-not-needed", {}, page=page).status_code == 404
    assert post_form(client, f"/relief/{case['relief'].id}/payment", {}, page=page).status_code == 404
    assert client.get(f"/referrals/{case['to_bureau'].id}").status_code == 404
    assert client.get(f"/tickets/{number}").status_code == 404


# --- the page composition ------------------------------------------------------------------------


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize(
    ("module", "other"),
    [("hotline/tickets/views.py", "hotline.referrals.views"), ("hotline/referrals/views.py", "hotline.tickets.views")],
)
def test_ticket_and_referral_views_do_not_import_each_other(module, other):
    """Anywhere in the file, also inside a function: the pages meet through panels, not through each other."""
    assert other not in _imported_modules(ROOT / module)


def test_the_ticket_page_imports_no_views():
    """The panels the ticket page is composed of are built outside every blueprint's views."""
    imported = _imported_modules(ROOT / "hotline/tickets/page.py")
    assert not {name for name in imported if name.endswith(".views") or ".views." in name}


def test_every_panel_of_the_ticket_page_is_on_it(client, logged_in, case, now):
    from hotline.tickets.page import TICKET_PANELS

    to_village = case["to_village"]
    referrals.request_return(
        to_village, actor=case["users"]["village"], now=now, reason="not_our_remit", comment="非本村"
    )
    db.session.commit()
    logged_in(case["users"]["manager"])
    page = client.get(f"/tickets/{case['ticket'].number}").get_data(as_text=True)
    assert [p.name for p in TICKET_PANELS] == [
        "attention",
        "relief",
        "papers",
        "services",
        "referrals",
        "photos",
        "clocks",
        "calls",
    ]
    # "photos" shows only when a field worker's report on the ticket has one (tests/test_grid_reports.py).
    markers = ('class="referral-attention"', 'id="relief"', 'id="papers"', 'id="services"', 'id="referrals"')
    for marker in (*markers, 'id="clocks"', "来电与短信"):
        assert marker in page, marker


# --- one way to run a form ------------------------------------------------------------------------


def test_a_stale_ticket_form_comes_back_with_the_current_version(client, logged_in, case, now):
    """After a 409 the refused form carries the ticket's version now: sent again, it goes through."""
    t, users = case["ticket"], case["users"]
    logged_in(users["owner"])
    page = f"/tickets/{t.number}"
    seen = t.version
    tickets.change_priority(t, actor=users["manager"], now=now, priority="P2", reason="核实后调整")
    db.session.commit()
    current = t.version
    data = {"version": seen, "reason": "合并重复", "target": case["other"].number}
    r = post_form(client, f"{page}/merge", data, page=page)
    assert r.status_code == 409
    assert f'id="version" name="version" required type="hidden" value="{current}"' in r.get_data(as_text=True)
    assert post_form(client, f"{page}/merge", data | {"version": current}, page=page).status_code == 302


def test_a_stale_referral_form_comes_back_with_the_referrals_version(client, logged_in, case, now):
    users, to_bureau = case["users"], case["to_bureau"]
    logged_in(users["owner"])
    page = f"/tickets/{case['ticket'].number}"
    prefix = f"c{to_bureau.id}"
    seen = to_bureau.version
    referrals.acknowledge(to_bureau, actor=users["bureau"], now=now)
    db.session.commit()
    r = post_form(
        client, f"/referrals/{to_bureau.id}/cancel", {f"{prefix}-version": seen, f"{prefix}-reason": "派错"}, page=page
    )
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert f'name="{prefix}-version" required type="hidden" value="{to_bureau.version}"' in html
    assert "派错" in html
