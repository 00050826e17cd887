"""Helpers of the partner API's tests: tokens, requests with them, and the answer checked against the OpenAPI
document the API serves."""

import re
from itertools import count

import jsonschema_rs

from hotline.api.tokens import create_token
from hotline.extensions import db

PROBLEM = "application/problem+json"
#: Chinese characters: a problem's detail must hold some.
HAN = re.compile(r"[\u4e00-\u9fff]")


_numbers = count(1)


def make_token(*scopes, name=None, department=None):
    """A token with ``scopes`` (committed) and its secret."""
    name = name or f"partner-{next(_numbers)}"
    token, secret = create_token(actor=None, now=_now(), name=name, scopes=list(scopes), department=department)
    db.session.commit()
    return token, secret


def _now():
    from hotline.timeutil import utcnow

    return utcnow()


def call(client, method, path, secret=None, json=None, headers=None, data=None):
    headers = dict(headers or {})
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    return client.open(path, method=method, json=json, data=data, headers=headers)


def _operation(document, method, path):
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def conforms(client, response, method, path):
    """Assert ``response`` is one the OpenAPI document describes for ``method path``: its status, its media type
    and its body against the status's schema."""
    document = client.get("/api/v1/openapi.json").get_json()
    operation = _operation(document, method, path.split("?")[0])
    answer = operation["responses"].get(str(response.status_code))
    assert answer is not None, f"{method} {path}: {response.status_code} is not documented"
    ((media, content),) = answer["content"].items()
    assert response.mimetype == media, (response.mimetype, media)
    schema = {**content["schema"], "components": document["components"]}
    errors = [e.message for e in jsonschema_rs.validator_for(schema).iter_errors(response.get_json())]
    assert errors == [], errors
    return response.get_json()
