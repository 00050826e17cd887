"""Fuzzing every form field, query parameter and Twilio webhook field: never a 5xx, and a refused request
writes nothing.

The names come from the application itself: the routes from ``app.url_map``, form fields from every
Flask-WTF form class, query parameters and webhook fields from the views' source (``args.get("x")``,
``form["X"]``). Hypothesis draws a route, a kind of user and a few names with hostile values (numbers
beyond 64 bits, years 0001 and 9999, long and odd text); webhooks are signed as Twilio signs them, so
the values reach the code that stores them. Derandomized with a fixed number of examples: the same
requests on every run.
"""

import re
import sys
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from wtforms.fields.core import UnboundField

from hotline.extensions import db
from tests.access_world import ROLES, build_world
from tests.test_access_matrix import LOGIN, expectations, fill, routes
from tests.twilio_helpers import BASE, call_form, signature, sms_form

#: Requests with each query parameter (and each webhook field) of a route, and with mixed names per route.
PER_NAME, MIXED = 3, 3
HOTLINE = Path(__file__).resolve().parent.parent / "hotline"
#: Takes no input, and ends the sessions the other examples use.
SKIPPED = {"static", "auth.logout", "auth.sign_out_everywhere"}
#: Refused logins are recorded on purpose: each is an attempt on an account (audit log, per-address limit).
WRITTEN_ON_REFUSAL = {"auth.login": {"audit_log", "login_attempt"}}


def query_names(module_file: str) -> list[str]:
    """The query parameters a view module reads (``args.get("x")``, ``args["x"]``)."""
    source = Path(module_file).read_text()
    return sorted(set(re.findall(r"(?<![\w.])(?:request\.)?args(?:\.get\(|\[)\"([a-z_]+)\"", source)))


def form_names(package: str) -> list[str]:
    """The fields of every Flask-WTF form defined in ``package`` (a view's own package)."""
    found, pending = set(), [FlaskForm]
    while pending:
        form_class = pending.pop()
        pending.extend(form_class.__subclasses__())
        if form_class.__module__.startswith(package):
            found |= {n for n in dir(form_class) if isinstance(getattr(form_class, n, None), UnboundField)}
    return sorted(found)


def webhook_names() -> list[str]:
    source = (HOTLINE / "intake" / "views.py").read_text()
    return sorted(set(re.findall(r"form(?:\.get\(|\[)\"([A-Za-z]+)\"", source)) | {"MediaUrl0"})


def names_of(app, endpoint: str) -> tuple[list[str], list[str]]:
    """(query names, form or webhook field names) a route may read, from its view's module and package."""
    module = sys.modules[app.view_functions[endpoint].__module__]
    package = module.__name__.rpartition(".")[0] or module.__name__
    if endpoint.startswith("twilio."):
        return query_names(module.__file__), webhook_names()
    return query_names(module.__file__) or ["page"], form_names(package) or ["text"]


EDGES = [
    "",
    " ",
    "0",
    "-1",
    "1.5",
    str(2**31),
    str(2**63 - 1),
    str(2**63),
    str(2**64),
    str(-(2**63) - 1),
    str(10**15),
    str(-(10**15)),
    str(2**70),
    "9" * 40,
    "1e309",
    "NaN",
    "0001-01-01",
    "9999-12-31",
    "2025-02-30",
    "2025-10-09",
    "2025-10-09T25:61",
    "Thu, 09 Oct 2025 04:00:00 +0000",
    "Mon, 01 Jan 0001 00:00:00 +0000",
    "P0",
    "P9",
    "completed",
    "custom",
    "in-progress",
    "+8613812341234",
    '=HYPERLINK("http://evil.example","x")',
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "\u202e\u200b",
    "长" * 3000,
    "1" * 5000,
]
VALUES = st.one_of(
    st.sampled_from(EDGES),
    st.sampled_from(EDGES),  # twice: the edges are where the bugs were
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.dates().map(date.isoformat),
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=100, max_size=600),
)


def reaching(rule, method) -> list[str]:
    """The kinds of user the access matrix lets through to this route (all of them when none is)."""
    expected = expectations(rule, method)[0][1]
    through = [role for role in ROLES if expected[role] not in (403, 404, LOGIN)]
    return through or list(ROLES)


def row_counts() -> dict[str, int]:
    """Every table's row count, in one statement (it runs before and after each of thousands of requests)."""
    tables = db.metadata.sorted_tables
    counts = [select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables]
    return dict(zip((t.name for t in tables), db.session.execute(select(*counts)).one(), strict=True))


@pytest.fixture
def world(app, make_user, make_department, now):
    return build_world(app, make_user, make_department, now)


def test_no_input_gives_a_5xx_and_a_refusal_writes_nothing(app, world):
    targets = [(rule, method) for rule, method in routes(app) if rule.endpoint not in SKIPPED]
    assert {"unit", "township", "from", "to", "range", "bucket"} <= set(names_of(app, "reports.items")[0])
    assert {"call", "phone"} <= set(names_of(app, "tickets.new_call")[0])
    assert {"version", "summary", "phone", "township_id"} <= set(names_of(app, "tickets.new_call")[1])
    assert {"duty", "next", "line"} <= set(names_of(app, "twilio.voice_dial")[0])
    assert {"CallDuration", "DialCallDuration", "RecordingDuration", "Body"} <= set(names_of(app, "twilio.sms")[1])
    # A plausible request of every webhook at once: each drawn field replaces a value the code would use.
    base_webhook = (
        sms_form()
        | call_form()
        | {
            "MessageStatus": "delivered",
            "RecordingSid": "RE" + "1" * 32,
            "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1",
            "RecordingStatus": "completed",
            "RecordingDuration": "5",
            "DialCallStatus": "completed",
            "DialCallDuration": "30",
            "CallDuration": "30",
            "Digits": "1",
            "Timestamp": "Thu, 09 Oct 2025 04:00:00 +0000",
        }
    )
    seen = {"examples": 0, "5xx": [], "written": []}
    planned = []

    def fuzz(rule, method, focus: str | None, count: int):
        """``count`` requests to one route; ``focus`` (a query or field name) is in every one of them."""
        query_pool, field_pool = names_of(app, rule.endpoint)
        webhook = rule.endpoint.startswith("twilio.")
        allowed = ["twilio"] if webhook else reaching(rule, method)
        planned.append(count)

        @settings(
            max_examples=count,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def probe(data):
            url = fill(rule, world.values_village if data.draw(st.booleans()) else world.values)
            # Names of one request often share a value (a period from and to the same day, say).
            shared = data.draw(st.lists(VALUES, min_size=1, max_size=2), label="shared")
            value = st.one_of(st.sampled_from(shared), VALUES)
            names = data.draw(st.lists(st.sampled_from(query_pool), unique=True, max_size=3), label="query")
            query = {name: data.draw(value, label=name) for name in sorted({*names, *[focus] * (focus in query_pool)})}
            if query:
                url += "?" + urlencode(query)
            fields = {}
            if method == "POST":
                names = data.draw(st.lists(st.sampled_from(field_pool), unique=True, max_size=6), label="fields")
                chosen = sorted({*names, *[focus] * (focus in field_pool)})
                fields = {name: data.draw(value, label=name) for name in chosen}
            role = data.draw(st.sampled_from(allowed), label="role")
            where = f"{method} {url[:300]} {sorted(fields)} as {role}"
            before = row_counts()
            seen["examples"] += 1
            try:
                if webhook:
                    # Fresh ids: a request behind a spooled one of the same call waits in the spool unread.
                    sids = {"CallSid": f"CA{seen['examples']:032d}", "MessageSid": f"SM{seen['examples']:032d}"}
                    form = base_webhook | sids | fields
                    headers = {"X-Twilio-Signature": signature(BASE + url, form)}
                    status = world.clients["anonymous"].post(url, data=form, headers=headers).status_code
                elif method == "GET":
                    status = world.clients[role].get(url).status_code
                else:
                    sent = fields | {"csrf_token": world.tokens[role]}
                    status = world.clients[role].post(url, data=sent).status_code
            except Exception as exc:  # the test app lets errors through; a server answers them with a 500
                db.session.rollback()
                seen["5xx"].append(f"{where}: {type(exc).__name__}: {str(exc)[:200]}")
                return
            if status >= 500:
                seen["5xx"].append(f"{where}: {status}")
            elif status >= 400:
                after = row_counts()
                allowed_writes = WRITTEN_ON_REFUSAL.get(rule.endpoint, set())
                changed = {t for t in after if after[t] != before[t] and t not in allowed_writes}
                if changed:
                    seen["written"].append(f"{where}: {status} but {sorted(changed)} changed")
            db.session.rollback()

        probe()

    for rule, method in targets:
        query_pool, field_pool = names_of(app, rule.endpoint)
        # Every query parameter (and every webhook field) in turn, then a few requests of mixed names;
        # a page form gets mixed requests only (its fields go through the form's validation first).
        focused = [*query_pool, *(field_pool if rule.endpoint.startswith("twilio.") else [])]
        if method == "GET" or rule.endpoint.startswith("twilio."):
            for name in focused:
                fuzz(rule, method, name, PER_NAME)
        fuzz(rule, method, None, MIXED + (len(field_pool) // 2 if method == "POST" else 0))
    print(f"fuzz: {seen['examples']} requests over {len(targets)} routes, {len(seen['5xx'])} answered 5xx")
    assert seen["examples"] == sum(planned)
    assert not seen["5xx"], "\n".join(seen["5xx"])
    assert not seen["written"], "\n".join(seen["written"])
