"""Every route of the application against every kind of user, generated from ``app.url_map``.

Each endpoint is classified in ``MATRIX`` with what each kind of user gets, per method. A GET
asks for the page; a POST sends nothing but a valid CSRF token, so a user who may act reaches
the form's validation (400, or 302 where an empty form is a complete action) and one who may
not is refused before it: 403, or 404 where the project hides that something exists (department
staff on tickets, and on referrals of units that are not theirs or below theirs). Anonymous
visitors are sent to the login page; Twilio's webhooks refuse any request without Twilio's
signature (403), and the partner API any request without its bearer token (401). A route nobody
classified fails the test until it is added to ``MATRIX``.
"""

from urllib.parse import urlsplit

import pytest

from tests.access_world import ROLES, build_world, sign_in

LOGIN = "login"  # a redirect to the login page
DEPARTMENTS = ("dept_a", "dept_b", "township", "village")
DESK = ("operator", "operator_b", "manager")
#: Units with a referral on the world's ticket: bureau A, and the village (so its township too).
REFERRED_UNITS = ("dept_a", "township", "village")


def only(ok, *allowed, hidden=(), anonymous=LOGIN) -> dict:
    """``ok`` for the ``allowed`` roles, 404 for ``hidden`` ones, 403 for the rest; anonymous apart."""
    table = {role: ok if role in allowed else 404 if role in hidden else 403 for role in ROLES[1:]}
    return {"anonymous": anonymous, **table}


def everyone(status) -> dict:
    return dict.fromkeys(ROLES, status)


def logged_in(status, anonymous=LOGIN) -> dict:
    return {**everyone(status), "anonymous": anonymous}


ADMIN_PAGE, ADMIN_FORM, ADMIN_DONE = only(200, "admin"), only(400, "admin"), only(302, "admin")
DESK_PAGE = only(200, *DESK)
#: An action of the hotline on a ticket: department staff may not learn the ticket exists.
TICKET_ACTION = only(400, *DESK, hidden=DEPARTMENTS)
#: Advance relief: the hotline, and staff of a unit the ticket is referred to.
RELIEF_ACTION = only(400, *DESK, *REFERRED_UNITS, hidden=("dept_b",))
#: A unit's action on its referral (to bureau A), and on the village's (its township may act for it).
UNIT_ON_A = only(400, "dept_a", hidden=("dept_b", "township", "village"))
UNIT_ON_VILLAGE = only(400, "township", "village", hidden=("dept_a", "dept_b"))
HOTLINE_ON_REFERRAL = only(400, *DESK, hidden=DEPARTMENTS)
REPORTS = only(200, "manager", *DEPARTMENTS)
WEBHOOK = everyone(403)
#: The funds pages: managers, admins and units (each its own units' funds); the world's fund is the township's,
#: which its village (below it) and the county bureaus do not see.
FUND_PAGE = only(200, "manager", "admin", "township", hidden=("dept_a", "dept_b", "village"))
FUND_ENTRY = only(400, "manager", "admin", "township", hidden=("dept_a", "dept_b", "village"))
#: The alert import: admins and township staff; an import is seen by admins and by the one who uploaded it
#: (the world's import is an admin's: the township's staff get 404 on it).
ALERT_IMPORT = ("admin", "township")
#: The partner API answers a browser's session like no token at all.
API = everyone(401)
#: Field staff (township, village, grid units): the phone pages; county bureaus are not field staff.
FIELD = ("township", "village")
#: A household of the village (its township visits it too); other units cannot tell it exists.
ON_HOUSEHOLD = only(200, *FIELD, hidden=("dept_a", "dept_b"))

#: endpoint -> {method: role -> expected}; "METHOD /rule" keys override for one of an endpoint's rules;
#: "village" holds the answers for the referral to the village (routes with a referral id).
MATRIX: dict[str, dict] = {
    "index": {"GET": logged_in(302)},
    "static": {"GET": everyone(200)},
    "escalation.healthz": {"GET": everyone(200)},
    "auth.login": {"GET": {**logged_in(302), "anonymous": 200}, "POST": {**logged_in(302), "anonymous": 400}},
    "auth.logout": {"POST": everyone(LOGIN)},
    "auth.language": {"POST": everyone(302)},
    "auth.password": {"GET": logged_in(200), "POST": logged_in(400)},
    "auth.notifications": {"GET": logged_in(200)},
    "auth.sign_out_everywhere": {"POST": ADMIN_DONE},
    "auth.unlock_user": {"POST": ADMIN_DONE},
    "admin.users": {"GET": ADMIN_PAGE},
    "admin.user_new": {"GET": ADMIN_PAGE, "POST": ADMIN_FORM},
    "admin.user_edit": {"GET": ADMIN_PAGE, "POST": ADMIN_FORM},
    "admin.departments": {"GET": ADMIN_PAGE},
    "admin.department_edit": {"GET": ADMIN_PAGE, "POST": ADMIN_FORM},
    "admin.audit": {"GET": only(200, "manager", "admin")},
    "admin_calendar.years": {"GET": ADMIN_PAGE},
    "admin_calendar.edit": {"GET": ADMIN_PAGE, "POST": ADMIN_FORM},
    "admin_calendar.remove": {"POST": ADMIN_FORM},
    "duty.roster": {"GET": ADMIN_PAGE},
    # An empty form is a complete edit of a line: every box unticked takes it off duty.
    "duty.edit": {"GET": ADMIN_PAGE, "POST": ADMIN_FORM, "POST /admin/duty/<int:line_id>": ADMIN_DONE},
    "notify.outbox": {"GET": ADMIN_PAGE},
    "notify.retry": {"POST": ADMIN_DONE},
    "webhooks.index": {"GET": ADMIN_PAGE},
    "webhooks.new": {"GET": ADMIN_PAGE, "POST": ADMIN_FORM},
    "webhooks.edit": {"GET": ADMIN_PAGE, "POST": ADMIN_FORM},
    "webhooks.activate": {"POST": ADMIN_DONE},
    "webhooks.deactivate": {"POST": ADMIN_DONE},
    # An empty form is the whole action: the new secret is shown in the answer, once.
    "webhooks.secret": {"POST": only(200, "admin")},
    "webhooks.deliveries": {"GET": ADMIN_PAGE},
    "webhooks.retry": {"POST": ADMIN_DONE},
    "spool.index": {"GET": ADMIN_PAGE},
    "spool.replay_all": {"POST": ADMIN_DONE},
    "spool.retry": {"POST": ADMIN_FORM},
    "tickets.desk": {"GET": DESK_PAGE},
    "tickets.lookup": {"GET": DESK_PAGE},
    "tickets.new_call": {"GET": DESK_PAGE, "POST": only(400, *DESK)},
    "tickets.triage_text_hint": {"POST": only(200, *DESK)},
    "intake.live": {"GET": DESK_PAGE},
    # Staff of a referred unit are sent on to their referral; other units cannot tell it exists.
    "tickets.show": {"GET": only(200, *DESK, hidden=("dept_b",)) | dict.fromkeys(REFERRED_UNITS, 302)},
    "tickets.answer": {"POST": TICKET_ACTION},
    "tickets.callback": {"POST": TICKET_ACTION},
    "tickets.close": {"POST": TICKET_ACTION},
    "tickets.contact": {"POST": TICKET_ACTION},
    "tickets.merge": {"POST": TICKET_ACTION},
    "tickets.note": {"POST": TICKET_ACTION},
    "tickets.priority": {"POST": TICKET_ACTION},
    "tickets.reopen": {"POST": TICKET_ACTION},
    "tickets.repeat_call": {"POST": only(302, *DESK, hidden=DEPARTMENTS)},  # nothing to fill in
    "tickets.take": {"POST": TICKET_ACTION},
    "tickets.transfer": {"POST": TICKET_ACTION},
    "tickets.triage": {"POST": TICKET_ACTION},
    "tickets.unmask": {"POST": TICKET_ACTION},
    "intake.sms": {"POST": TICKET_ACTION},
    "escalation.pause": {"POST": TICKET_ACTION},
    "escalation.resume": {"POST": TICKET_ACTION},
    "escalation.supervise": {"POST": only(400, "manager", hidden=DEPARTMENTS)},
    "escalation.supervision": {"GET": only(200, "manager")},
    "referrals.dispatch": {"POST": TICKET_ACTION},
    "referrals.inbox": {"GET": only(200, *DEPARTMENTS)},
    "referrals.show": {
        "GET": only(200, "dept_a", hidden=("dept_b", "township", "village")) | dict.fromkeys(DESK, 302),
        "village": {"GET": only(200, "township", "village", hidden=("dept_a", "dept_b")) | dict.fromkeys(DESK, 302)},
    },
    **{
        f"referrals.{name}": {"POST": UNIT_ON_A, "village": {"POST": UNIT_ON_VILLAGE}}
        for name in ("acknowledge", "progress", "request_return", "request_extension", "pass_on", "resolve", "unmask")
    },
    **{
        f"referrals.{name}": {"POST": HOTLINE_ON_REFERRAL, "village": {"POST": HOTLINE_ON_REFERRAL}}
        for name in ("cancel", "reopen", "return_decision")
    },
    "referrals.extension_decision": {
        "POST": only(400, "manager", hidden=DEPARTMENTS),
        "village": {"POST": only(400, "manager", hidden=DEPARTMENTS)},
    },
    "relief.grant": {"POST": RELIEF_ACTION},
    "relief.not_needed": {"POST": RELIEF_ACTION},
    "relief.paperwork_done": {"POST": RELIEF_ACTION},
    "relief.decision": {"POST": RELIEF_ACTION},
    "relief.payment": {"POST": RELIEF_ACTION},
    # Papers and services of a case: like relief, the hotline and the units the case is referred to.
    "casework.upload": {"POST": RELIEF_ACTION},
    "casework.record_service": {"POST": RELIEF_ACTION},
    "casework.document": {"GET": only(200, *DESK, *REFERRED_UNITS, hidden=("dept_b",))},
    # Everyone who handles cases declares their own relatives; a declaration is its declarer's alone.
    "casework.relatives": {"GET": only(200, *DESK, *DEPARTMENTS), "POST": only(400, *DESK, *DEPARTMENTS)},
    "casework.withdraw_relative": {"POST": only(400, "operator", hidden=("operator_b", "manager", *DEPARTMENTS))},
    "casework.audit": {"GET": only(200, "manager")},
    "alerts.index": {"GET": only(200, *ALERT_IMPORT), "POST": only(400, *ALERT_IMPORT)},
    "alerts.show": {"GET": only(200, "admin", hidden=("township",))},
    "alerts.commit": {"POST": only(302, "admin", hidden=("township",))},
    "alerts.step": {"POST": only(302, "admin", hidden=("township",))},
    "alerts.report": {"GET": only(200, "admin", hidden=("township",))},
    "reports.dashboard": {"GET": REPORTS},
    "reports.times": {"GET": REPORTS},
    "reports.relief": {"GET": REPORTS},
    "reports.items": {"GET": REPORTS},
    "reports.export_report": {"GET": REPORTS},
    "funds.index": {"GET": only(200, "manager", "admin", *DEPARTMENTS)},
    "funds.create": {"POST": only(400, "manager", "admin")},
    "funds.show": {"GET": FUND_PAGE},
    "funds.export_statement": {"GET": FUND_PAGE},
    "funds.income": {"POST": FUND_ENTRY},
    "funds.reversal": {"POST": FUND_ENTRY},
    # Releasing a held payment is the fund's managers' (not an administrator's, who sees the fund).
    "funds.payout_decision": {"POST": only(400, "manager", "township", hidden=("dept_a", "dept_b", "village"))},
    **{
        f"twilio.{name}": {"POST": WEBHOOK}
        for name in ("sms", "sms_status", "voice", "voice_menu", "voice_dial", "voice_status", "voice_voicemail")
    },
    "twilio.recording": {"POST": WEBHOOK},
    "admin_tokens.index": {"GET": ADMIN_PAGE},
    "admin_tokens.new": {"GET": ADMIN_PAGE, "POST": ADMIN_FORM},
    "admin_tokens.revoke": {"POST": ADMIN_DONE},
    # The partner API: public description; the rest takes a bearer token, never a session (401 for all).
    "api.openapi": {"GET": everyone(200)},
    "api.report_case": {"POST": API},
    "api.read_ticket": {"GET": API},
    "api.list_tickets": {"GET": API},
    **{
        f"api.{name}": {"POST": API, "village": {"POST": API}}
        for name in ("acknowledge", "progress", "resolve", "request_return", "request_extension")
    },
    "grid.report": {"GET": only(200, *FIELD), "POST": only(400, *FIELD)},
    "grid.my_reports": {"GET": only(200, *FIELD)},
    # The village's staff made the world's report: only they follow it; the hotline sees its photo.
    "grid.report_status": {"GET": only(200, "village", hidden=("dept_a", "dept_b", "township"))},
    "grid.photo": {"GET": only(200, "village", *DESK, hidden=DEPARTMENTS[:3])},
    "grid.visit_list": {"GET": only(200, *FIELD)},
    "grid.visit": {"GET": ON_HOUSEHOLD, "POST": only(400, *FIELD, hidden=("dept_a", "dept_b"))},
    "grid.visit_record": {"GET": ON_HOUSEHOLD},
    # The one tap has nothing to fill in: it makes the ticket (a second tap finds the first).
    "grid.visit_ticket": {"POST": only(302, *FIELD, hidden=("dept_a", "dept_b"))},
}
#: After these, sessions are signed in again (they end the caller's, or the world operator's, sessions).
ENDS_SESSIONS = ("auth.logout", "auth.sign_out_everywhere")


def routes(app) -> list[tuple]:
    """(rule, method) for every route of the application, in a stable order."""
    return [
        (rule, method)
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


def fill(rule, values: dict) -> str:
    """The rule's path with its placeholders replaced by the world's objects."""
    return rule.build(values, append_unknown=False)[1]


def outcome(response):
    if response.status_code == 302 and urlsplit(response.location).path == "/login":
        return LOGIN
    return response.status_code


def expectations(rule, method) -> list[tuple[str, dict]]:
    """[(variant, role -> expected)] for one route; fails with a message when it is not classified."""
    entry = MATRIX.get(rule.endpoint)
    expected = entry and (entry.get(f"{method} {rule.rule}") or entry.get(method))
    if expected is None:
        pytest.fail(
            f"{method} {rule.rule} (endpoint {rule.endpoint!r}) is not classified: add what each kind of user "
            f"gets to MATRIX in tests/test_access_matrix.py"
        )
    found = [("", expected)]
    if "referral_id" in rule.arguments:
        found.append(("village", entry["village"][method]))
    return found


@pytest.fixture
def world(app, make_user, make_department, now):
    return build_world(app, make_user, make_department, now)


def test_every_route_answers_every_kind_of_user_as_classified(app, world):
    wrong, cells = [], 0
    for rule, method in routes(app):
        for variant, expected in expectations(rule, method):
            url = fill(rule, world.values_village if variant else world.values)
            for role in ROLES:
                client = world.clients[role]
                data = {"csrf_token": world.tokens[role]}
                response = client.get(url) if method == "GET" else client.post(url, data=data)
                cells += 1
                if outcome(response) != expected[role]:
                    wrong.append(
                        f"{method} {url} [{rule.endpoint}] as {role}: {outcome(response)}, not {expected[role]}"
                    )
                if rule.endpoint in ENDS_SESSIONS:
                    for again in ROLES:
                        sign_in(app, world, again)
    assert not wrong, "\n".join(wrong)
    assert cells >= len(routes(app)) * len(ROLES)


def test_an_unclassified_route_fails_the_matrix_with_a_message(app):
    @app.get("/brand-new-page")
    def brand_new_page():
        return "new"

    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "brand_new_page")
    with pytest.raises(pytest.fail.Exception, match="not classified: add what each kind of user gets to MATRIX"):
        expectations(rule, "GET")


def test_the_matrix_names_no_route_that_is_gone(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(MATRIX) - endpoints == set()
