"""Who reaches which page: every role against every page and every ticket action.

Anonymous visitors are sent to the login page; a role that has no business on
a page gets 403; department staff get 404 on every ticket URL, existing or
not, so ticket numbers cannot be probed; an unknown ticket is 404.
"""

from urllib.parse import parse_qs, urlsplit

import pytest

from hotline.extensions import db
from models.ticket import Ticket, TicketEvent
from models.user import User
from tests.conftest import csrf_token, login, post_form
from tests.helpers import count, log_call

ROLES = ["anonymous", "operator", "department", "manager", "admin"]
UNKNOWN = "202001010001"

#: page -> what each logged-in role gets: a status code, or the path it is redirected to.
PAGES = {
    "/": {"operator": "/desk", "department": "/inbox", "manager": "/supervision", "admin": "/admin/users"},
    "/desk": {"operator": 200, "department": 403, "manager": 200, "admin": 403},
    "/tickets/new": {"operator": 200, "department": 403, "manager": 200, "admin": 403},
    "/tickets/lookup?phone=13812341234": {"operator": 200, "department": 403, "manager": 200, "admin": 403},
    "/tickets/{ticket}": {"operator": 200, "department": 404, "manager": 200, "admin": 403},
    f"/tickets/{UNKNOWN}": {"operator": 404, "department": 404, "manager": 404, "admin": 403},
    "/inbox": {"operator": 403, "department": 200, "manager": 403, "admin": 403},
    "/admin/users": {"operator": 403, "department": 403, "manager": 403, "admin": 200},
    "/admin/users/new": {"operator": 403, "department": 403, "manager": 403, "admin": 200},
    "/admin/users/{user}": {"operator": 403, "department": 403, "manager": 403, "admin": 200},
    "/admin/departments": {"operator": 403, "department": 403, "manager": 403, "admin": 200},
    "/admin/departments/new": {"operator": 403, "department": 403, "manager": 403, "admin": 200},
    "/admin/departments/{department}": {"operator": 403, "department": 403, "manager": 403, "admin": 200},
    "/admin/audit": {"operator": 403, "department": 403, "manager": 200, "admin": 200},
    "/account/password": {"operator": 200, "department": 200, "manager": 200, "admin": 200},
}

#: Every action form of the ticket page. Posted with nothing but the CSRF token,
#: a desk user reaches the form's validation (400); a repeat call needs nothing more.
TICKET_ACTIONS = {
    "take": 400,
    "note": 400,
    "repeat-call": 302,
    "priority": 400,
    "transfer": 400,
    "merge": 400,
    "answer": 400,
    "callback": 400,
    "close": 400,
    "reopen": 400,
    "contact": 400,
    "unmask": 400,
}
DENIED = {"department": 404, "admin": 403}


@pytest.fixture
def world(operator, make_department, now):
    """An open ticket owned by ``operator``, and a department to link to."""
    ticket = log_call(operator, now)
    department = make_department()
    return {"ticket": ticket.number, "user": operator.id, "department": department.id}


@pytest.fixture
def as_role(client, make_user, make_department):
    """Log the test client in with a fresh user of ``role`` (or leave it anonymous)."""

    def do(role: str):
        if role != "anonymous":
            department = (
                make_department("town_hekou", "河口乡", "township", "township") if role == "department" else None
            )
            user = make_user(role, department=department)
            assert login(client, user.username).status_code == 302
        return client

    return do


def assert_sent_to_login(response):
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/login"


def _token_page(role: str) -> str:
    return "/login" if role == "anonymous" else "/account/password"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_page_access_by_role(as_role, world, page, role):
    client = as_role(role)
    response = client.get(page.format(**world))
    if role == "anonymous":
        assert_sent_to_login(response)
        return
    expected = PAGES[page][role]
    if isinstance(expected, str):
        assert response.status_code == 302 and urlsplit(response.location).path == expected
    else:
        assert response.status_code == expected


def test_login_page_sends_the_user_back_to_the_page_they_asked_for(client, operator):
    response = client.get("/desk")
    assert parse_qs(urlsplit(response.location).query)["next"] == ["/desk"]
    token = csrf_token(client, response.location)
    response = client.post(
        response.location, data={"username": operator.username, "password": "correct-horse-42", "csrf_token": token}
    )
    assert response.status_code == 302 and response.location == "/desk"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(TICKET_ACTIONS))
def test_ticket_action_access_by_role(as_role, world, action, role):
    client = as_role(role)
    number = world["ticket"]
    events_before = count(TicketEvent)
    response = post_form(client, f"/tickets/{number}/{action}", {}, page=_token_page(role))
    if role == "anonymous":
        assert_sent_to_login(response)
    elif role in DENIED:
        assert response.status_code == DENIED[role]
    else:
        assert response.status_code == TICKET_ACTIONS[action]
    if response.status_code != 302 or role == "anonymous":
        assert count(TicketEvent) == events_before


@pytest.mark.parametrize("role", ["operator", "manager"])
@pytest.mark.parametrize("action", list(TICKET_ACTIONS))
def test_ticket_action_on_unknown_ticket_is_not_found(as_role, world, action, role):
    client = as_role(role)
    events_before = count(TicketEvent)
    response = post_form(client, f"/tickets/{UNKNOWN}/{action}", {"version": "1", "text": "x", "reason": "x"})
    assert response.status_code == 404
    assert count(TicketEvent) == events_before


def _ticket_post_rules(app) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/tickets/<number>/") and "POST" in rule.methods
    )


def test_every_action_of_the_matrix_is_a_ticket_url(app):
    """The matrix above tests real routes: a renamed action fails here, not silently as a 404."""
    foundation = {f"/tickets/<number>/{a}" for a in TICKET_ACTIONS}
    assert foundation <= set(_ticket_post_rules(app))


@pytest.mark.parametrize("role", ["anonymous", "department", "admin"])
def test_every_ticket_post_url_keeps_out_those_without_access(app, as_role, world, role):
    """Also the actions other features add to the ticket page (referrals...)."""
    client = as_role(role)
    for rule in _ticket_post_rules(app):
        for number in (world["ticket"], UNKNOWN):
            response = post_form(client, rule.replace("<number>", number), {}, page=_token_page(role))
            if role == "anonymous":
                assert_sent_to_login(response)
            else:
                assert response.status_code == DENIED[role], rule


FORMS = {
    "/tickets/new": {"category": "other", "priority": "P3", "summary": "x", "channel": "voice"},
    "/admin/users/new": {"username": "sneaky", "display_name": "x", "role": "admin", "password": "x" * 12},
    "/admin/departments/new": {"code": "sneaky", "name": "x", "kind": "bureau", "level": "county"},
}
FORM_ROLES = {
    "/tickets/new": ("operator", "manager"),
    "/admin/users/new": ("admin",),
    "/admin/departments/new": ("admin",),
}


@pytest.mark.parametrize(
    ("url", "role"),
    [
        (url, role)
        for url in FORMS
        for role in ("operator", "department", "manager", "admin")
        if role not in FORM_ROLES[url]
    ],
)
def test_forms_of_other_roles_cannot_be_posted(as_role, url, role):
    client = as_role(role)
    users, tickets = count(User), count(Ticket)
    response = post_form(client, url, FORMS[url] | {"department_id": "0", "parent_id": "0"})
    assert response.status_code == 403
    assert (count(User), count(Ticket)) == (users, tickets)


def test_department_staff_cannot_tell_existing_ticket_from_missing_one(as_role, world):
    client = as_role("department")
    existing = client.get(f"/tickets/{world['ticket']}")
    missing = client.get(f"/tickets/{UNKNOWN}")
    assert existing.status_code == missing.status_code == 404
    # The pages differ only by the number in the address (kept for the language switch).
    assert existing.get_data(as_text=True).replace(world["ticket"], "N") == missing.get_data(as_text=True).replace(
        UNKNOWN, "N"
    )


def test_deactivated_users_session_ends_at_their_next_request(client, logged_in, operator):
    logged_in(operator)
    assert client.get("/desk").status_code == 200
    operator.active = False
    db.session.commit()
    assert_sent_to_login(client.get("/desk"))
