"""The partner API, ``/api/v1``: JSON in and out, a bearer token instead of a login, no CSRF (no cookie).

Each route is declared with :func:`operation`, which says its scope, its body and its answers once: the
OpenAPI document is built from the same declarations (``hotline.api.openapi``). Around every view it

1. finds the token (``Authorization: Bearer hk_...``): none, unknown or revoked -> 401;
2. counts the request against the token's per-minute limit (``api.toml``) -> 429 with ``Retry-After``;
3. checks the scope -> 403;
4. validates the query and the body with the operation's models -> 422 naming the fields;
5. with an ``Idempotency-Key`` on a POST, answers a retry with the first answer, or claims the key;
6. runs the view: service functions only, with ``now`` read here; a refused action is 422 (403 when the
   token's unit may not do it, 409 when the record changed meanwhile); commits once;
7. writes one audit entry for the use (every request of a known token but the throttled ones).
"""

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps

from flask import Blueprint, current_app, jsonify, request
from flask_babel import force_locale
from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from hotline import access, labels
from hotline.api import idempotency, tokens
from hotline.api.policy import api_policy
from hotline.api.present import referral_out, ticket_out
from hotline.api.problems import ApiProblem
from hotline.api.schemas import (
    EmptyIn,
    ExtensionIn,
    IntakeOut,
    ProgressIn,
    ReferralOut,
    ResolveIn,
    ReturnIn,
    TicketIn,
    TicketOut,
    TicketPage,
    TicketQuery,
)
from hotline.errors import DomainError, NotAllowed, StaleError
from hotline.extensions import db
from hotline.referrals import service as referrals
from hotline.tickets.external import Person, receive_report
from hotline.timeutil import utcnow
from models.api_token import ApiToken
from models.department import Department
from models.referral import Referral
from models.relief import AdvanceRelief
from models.ticket import Ticket

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: The largest id a path may name: primary keys are INTEGER (32-bit on PostgreSQL).
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Operation:
    """One route as the OpenAPI document describes it."""

    method: str
    rule: str
    endpoint: str
    scope: str
    summary: str
    answers: dict[int, type[BaseModel]]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    idempotent: bool = False
    description: str = ""
    path_params: dict[str, dict] = field(default_factory=dict)


#: Every operation, in the order the document lists them.
OPERATIONS: list[Operation] = []


def operation(method: str, rule: str, *, scope: str, summary: str, answers: dict, body=None, query=None, **extra):
    """Declare an API route (see the module's docstring for what happens around the view).

    The view is called with the token, then the path's values, then ``body=`` and ``query=`` (validated
    models) when the operation has them, and returns (status, model).
    """

    def decorator(view):
        op = Operation(method, rule, f"api.{view.__name__}", scope, summary, answers, body, query, **extra)
        OPERATIONS.append(op)

        @wraps(view)
        def wrapped(**path):
            with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
                return _handle(op, view, path)

        bp.add_url_rule(rule, view.__name__, wrapped, methods=[method])
        return view

    return decorator


def _handle(op: Operation, view, path: dict):
    now = utcnow()
    try:
        token = _authenticate()
    except ApiProblem as problem:
        return problem.response()
    policy = api_policy()
    retry_after = tokens.count_request(
        token, now=now, limit=policy.requests_per_minute, keep_keys=timedelta(hours=policy.idempotency_hours)
    )
    if retry_after is not None:
        return ApiProblem(
            429,
            _(
                "Too many requests: at most %(n)s a minute for each token. Try again in %(s)s seconds.",
                n=policy.requests_per_minute,
                s=retry_after,
            ),
            headers={"Retry-After": str(retry_after)},
        ).response()
    noted: dict = {}
    try:
        response = _run(op, view, path, token, now, noted)
    except ApiProblem as problem:
        db.session.rollback()
        response = problem.response()
    except StaleError as exc:
        db.session.rollback()
        response = ApiProblem(409, exc.message).response()
    except StaleDataError:  # another request changed the row between our read and our write (version column)
        db.session.rollback()
        response = ApiProblem(409, labels.STALE).response()
    except NotAllowed as exc:
        db.session.rollback()
        response = ApiProblem(403, exc.message).response()
    except DomainError as exc:
        db.session.rollback()
        response = ApiProblem(422, exc.message).response()
    tokens.record_use(token, now=now, method=op.method, path=request.path, status=response.status_code, **noted)
    return response


def _authenticate() -> ApiToken:
    scheme, _sep, secret = request.headers.get("Authorization", "").partition(" ")
    token = tokens.find_token(secret.strip()) if scheme.lower() == "bearer" else None
    challenge = {"WWW-Authenticate": 'Bearer realm="hotline"'}
    if token is None:
        raise ApiProblem(401, _("Send a valid API token: Authorization: Bearer <token>."), headers=challenge)
    if token.revoked_at is not None:
        raise ApiProblem(
            401, _("This API token has been revoked: ask the hotline's administrator for a new one."), headers=challenge
        )
    return token


def _run(op: Operation, view, path: dict, token: ApiToken, now: datetime, noted: dict):
    if not access.token_allows(token, op.scope):
        raise ApiProblem(403, _("This token does not have the %(scope)s scope.", scope=op.scope))
    kwargs = {}
    if op.query is not None:
        kwargs["query"] = _validated(op.query, request.args.to_dict())
    raw = request.get_data(cache=True)
    if op.body is not None:
        kwargs["body"] = _validated_json(op.body, raw)
    key = request.headers.get("Idempotency-Key") if op.idempotent else None
    if key is not None:
        stored = idempotency.claim(
            token, key, request_hash=idempotency.request_hash(op.method, request.path, raw), now=now
        )
        if stored is not None:
            noted["replayed"] = True
            return _json(stored.status_code, stored.body, replayed=True)
    status, answer = view(token, now, noted, **path, **kwargs)
    body = answer.model_dump(mode="json")
    if key is not None:
        idempotency.store(token, key, status_code=status, body=body)
    db.session.commit()
    return _json(status, body)


def _json(status: int, body: dict, *, replayed: bool = False):
    response = jsonify(body)
    response.status_code = status
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _field_names(error: ValidationError) -> list[dict]:
    return [
        {"field": ".".join(str(part) for part in e["loc"]) or "(body)", "type": e["type"], "message": e["msg"]}
        for e in error.errors(include_url=False, include_context=False, include_input=False)
    ]


def _refused(error: ValidationError) -> ApiProblem:
    errors = _field_names(error)
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return ApiProblem(
        422,
        _("The request does not match the API description; check these fields: %(fields)s.", fields=fields),
        errors=errors,
    )


def _validated_json(model: type[BaseModel], raw: bytes) -> BaseModel:
    if not raw.strip() and model is EmptyIn:
        return EmptyIn()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise _refused(exc) from None


def _validated(model: type[BaseModel], values: dict) -> BaseModel:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _refused(exc) from None


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document: public, as an API's description is (it holds no case data)."""
    from hotline.api.openapi import openapi_document

    return jsonify(openapi_document())


# --- tickets -------------------------------------------------------------------------------


def _unit_id(code: str | None, level: str, message) -> int | None:
    if code is None:
        return None
    found = db.session.scalar(select(Department.id).where(Department.code == code, Department.level == level))
    if found is None:
        raise ApiProblem(422, message)
    return found


@operation(
    "POST",
    "/tickets",
    scope="intake",
    summary="Report a case",
    answers={201: IntakeOut, 200: IntakeOut},
    body=TicketIn,
    idempotent=True,
    description="201 with a new ticket; 200 with the person's open ticket the report was added to, or with "
    "the ticket of the same source and external_id received before. The same Idempotency-Key answers the "
    "first answer again; with another body, 422.",
)
def report_case(token: ApiToken, now: datetime, noted: dict, *, body: TicketIn):
    person = body.person
    township_id = _unit_id(
        person and person.township,
        "township",
        _("Unknown township code %(code)s.", code=person.township if person else ""),
    )
    village_id = _unit_id(
        person and person.village, "village", _("Unknown village code %(code)s.", code=person.village if person else "")
    )
    received = receive_report(
        now=now,
        source=body.source,
        summary=body.summary,
        via="api",
        description=body.description,
        external_id=body.external_id,
        person=Person(
            name=person.name,
            phone=person.phone,
            id_number=person.id_number,
            township_id=township_id,
            village_id=village_id,
            address=person.address,
        )
        if person
        else None,
        priority=body.priority,
        category=body.category,
        due_at=body.due_at,
        extra={"token": token.name},
    )
    noted.update(ticket=received.ticket.number, outcome=received.outcome)
    answer = ticket_out(received.ticket, token)
    return (201 if received.outcome == "created" else 200), IntakeOut(**answer.model_dump(), outcome=received.outcome)


def _loaded():
    return (
        selectinload(Ticket.contact),
        selectinload(Ticket.merged_into),
        selectinload(Ticket.referrals).selectinload(Referral.department),
        selectinload(Ticket.reliefs).selectinload(AdvanceRelief.payments),
        selectinload(Ticket.reliefs).selectinload(AdvanceRelief.granting_unit),
    )


@operation(
    "GET",
    "/tickets/<number>",
    scope="read",
    summary="Read a ticket",
    answers={200: TicketOut},
    description="Status, priority, referrals with their states and deadlines, escalation level, relief granted. "
    "Personal data is masked without the read_personal scope. A unit's token reads its unit's tickets only.",
)
def read_ticket(token: ApiToken, now: datetime, noted: dict, *, number: str):
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number[:32]).options(*_loaded()))
    if ticket is None or not access.token_can_see_ticket(token, ticket):
        raise ApiProblem(404, _("No ticket %(number)s.", number=number[:32]))
    noted["ticket"] = ticket.number
    return 200, ticket_out(ticket, token)


def _cursor(updated_at: datetime, ident: int) -> str:
    raw = json.dumps([updated_at.isoformat(), ident]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _position(cursor: str) -> tuple[datetime, int]:
    try:
        updated_at, ident = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = datetime.fromisoformat(updated_at), int(ident)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiProblem(422, _("This cursor is not one the API gave: start again with updated_since.")) from None
    if position[0].tzinfo is None or not 0 < position[1] <= MAX_ID:
        raise ApiProblem(422, _("This cursor is not one the API gave: start again with updated_since."))
    return position


@operation(
    "GET",
    "/tickets",
    scope="read",
    summary="Tickets changed since a moment (partner sync)",
    answers={200: TicketPage},
    query=TicketQuery,
    description="Oldest change first, by (updated_at, number). Keep next_cursor and ask with ?cursor= next "
    "time: what changed since comes then, and nothing is missed or repeated.",
)
def list_tickets(token: ApiToken, now: datetime, noted: dict, *, query: TicketQuery):
    policy = api_policy()
    limit = min(query.limit or policy.default_limit, policy.max_limit)
    stmt = select(Ticket).where(access.token_ticket_condition(token))
    if query.cursor is not None:
        after, ident = _position(query.cursor)
        stmt = stmt.where(or_(Ticket.updated_at > after, and_(Ticket.updated_at == after, Ticket.id > ident)))
    elif query.updated_since is not None:
        stmt = stmt.where(Ticket.updated_at >= query.updated_since)
    found = list(db.session.scalars(stmt.order_by(Ticket.updated_at, Ticket.id).limit(limit + 1).options(*_loaded())))
    items = found[:limit]
    next_cursor = _cursor(items[-1].updated_at, items[-1].id) if items else query.cursor
    noted["items"] = len(items)
    return 200, TicketPage(
        items=[ticket_out(t, token) for t in items], next_cursor=next_cursor, has_more=len(found) > limit
    )


# --- the unit's referrals ------------------------------------------------------------------

_REFERRAL_PATH = {"referral_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def _referral(token: ApiToken, referral_id: int, noted: dict) -> Referral:
    referral = db.session.get(Referral, referral_id)
    if referral is None or not access.token_can_see_referral(token, referral):
        raise ApiProblem(404, _("No referral %(id)s for this token's unit.", id=referral_id))
    noted.update(referral=referral.id, ticket=referral.ticket.number)
    return referral


def _referral_action(rule: str, summary: str, body):
    return operation(
        "POST",
        f"/referrals/<int(max={MAX_ID}):referral_id>/{rule}",
        scope="referrals",
        summary=summary,
        answers={200: ReferralOut},
        body=body,
        path_params=_REFERRAL_PATH,
        description="Through the same service function as the unit's page, as the token's service account.",
    )


@_referral_action("acknowledge", "Acknowledge a referral (签收)", EmptyIn)
def acknowledge(token, now, noted, *, referral_id: int, body: EmptyIn):
    referral = _referral(token, referral_id, noted)
    referrals.acknowledge(referral, actor=token.service_user, now=now)
    return 200, referral_out(referral)


@_referral_action("progress", "Add a progress note", ProgressIn)
def progress(token, now, noted, *, referral_id: int, body: ProgressIn):
    referral = _referral(token, referral_id, noted)
    referrals.add_progress(referral, actor=token.service_user, now=now, text=body.text, contacted=body.contacted)
    return 200, referral_out(referral)


@_referral_action("resolve", "Resolve a referral (办结)", ResolveIn)
def resolve(token, now, noted, *, referral_id: int, body: ResolveIn):
    referral = _referral(token, referral_id, noted)
    referrals.resolve(referral, actor=token.service_user, now=now, result=body.result, outcome=body.outcome)
    return 200, referral_out(referral)


@_referral_action("return", "Ask to return a referral (退单)", ReturnIn)
def request_return(token, now, noted, *, referral_id: int, body: ReturnIn):
    referral = _referral(token, referral_id, noted)
    referrals.request_return(referral, actor=token.service_user, now=now, reason=body.reason, comment=body.comment)
    return 200, referral_out(referral)


@_referral_action("extension", "Ask for an extension (延期)", ExtensionIn)
def request_extension(token, now, noted, *, referral_id: int, body: ExtensionIn):
    referral = _referral(token, referral_id, noted)
    referrals.request_extension(referral, actor=token.service_user, now=now, reason=body.reason, until=body.until)
    return 200, referral_out(referral)
