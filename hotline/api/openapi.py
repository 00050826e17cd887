"""The OpenAPI 3.1 document of ``/api/v1``, built from the operations the views declare and the pydantic models
that validate their requests (their JSON Schema is OpenAPI 3.1's). Sources and categories are listed from the
county's policy files, so the document says what this installation accepts."""

import re

from pydantic.json_schema import models_json_schema

from hotline.api.schemas import MODELS, EmptyIn, TicketIn
from hotline.api.views import OPERATIONS, Operation
from hotline.policy import catalogue, sources

_REF = "#/components/schemas/{model}"
_PLACEHOLDER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
#: Answers every operation may give, besides its own.
_ERRORS = {
    400: "The request could not be read (a NUL character in its address or query).",
    401: "No token, an unknown one, or a revoked one.",
    403: "The token lacks the operation's scope, or its unit may not do this.",
    422: "The request does not match the description, or the action was refused (detail says why).",
    429: "Too many requests this minute; Retry-After says when to try again.",
}


def _problem(description: str, headers: dict | None = None) -> dict:
    answer = {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}},
    }
    if headers:
        answer["headers"] = headers
    return answer


def _parameters(op: Operation) -> list[dict]:
    params = []
    for name in _PLACEHOLDER.findall(op.rule):
        schema = op.path_params.get(name, {"type": "string", "maxLength": 32})
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=_REF)
        for name, prop in schema["properties"].items():
            params.append({"name": name, "in": "query", "required": False, "schema": prop})
    if op.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "The same key answers the first answer again, and does the work once.",
                "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,128}$"},
            }
        )
    return params


def _operation(op: Operation) -> dict:
    responses = {
        str(status): {
            "description": "OK",
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}},
        }
        for status, model in op.answers.items()
    }
    for status, description in _ERRORS.items():
        headers = {"Retry-After": {"schema": {"type": "integer"}}} if status == 429 else None
        responses[str(status)] = _problem(description, headers)
    if "<" in op.rule:
        responses["404"] = _problem("Nothing with this number or id that the token may read.")
    if op.method == "POST":
        responses["409"] = _problem("The record changed meanwhile: read it again.")
        responses["413"] = _problem("The body is larger than the server takes (HOTLINE_MAX_CONTENT_LENGTH).")
    found = {
        "operationId": op.endpoint.removeprefix("api."),
        "summary": op.summary,
        "description": op.description or op.summary,
        "security": [{"token": []}],
        "x-scope": op.scope,
        "parameters": _parameters(op),
        "responses": responses,
    }
    if op.body is not None:
        found["requestBody"] = {
            "required": op.body is not EmptyIn,  # an action that needs nothing may be sent without a body
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=op.body.__name__)}}},
        }
    return found


def openapi_document() -> dict:
    """The document, as ``GET /api/v1/openapi.json`` serves it."""
    _, schemas = models_json_schema([(model, "validation") for model in MODELS], ref_template=_REF)
    components = schemas["$defs"]
    ticket_in = components[TicketIn.__name__]["properties"]
    ticket_in["source"]["enum"] = sorted(sources())
    ticket_in["category"]["anyOf"][0]["enum"] = [c.code for c in catalogue().categories]
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        path = "/api/v1" + _PLACEHOLDER.sub(r"{\1}", op.rule)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "救急难热线 partner API",
            "version": "1",
            "description": "Report cases to the hotline, follow them, and work a unit's referrals. "
            "Errors are application/problem+json with a detail in Chinese.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `flask --app app hotline create-token` or the admin page.",
                }
            },
        },
    }
