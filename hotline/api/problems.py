"""Errors of the partner API as ``application/problem+json`` (RFC 9457), with a ``detail`` in Chinese."""

from flask import jsonify
from werkzeug.http import HTTP_STATUS_CODES

PROBLEM_JSON = "application/problem+json"


class ApiProblem(Exception):
    """Raised by the API's views and checks; answered as a problem document."""

    def __init__(self, status: int, detail, *, headers: dict | None = None, errors: list | None = None):
        super().__init__(str(detail))
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.errors = errors

    def response(self):
        return problem(self.status, self.detail, headers=self.headers, errors=self.errors)


def problem(status: int, detail, *, headers: dict | None = None, errors: list | None = None):
    """The answer for an error: ``type`` about:blank, the status's English ``title``, our ``detail``."""
    body = {"type": "about:blank", "title": HTTP_STATUS_CODES.get(status, "Error"), "status": status}
    body["detail"] = str(detail)
    if errors is not None:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    response.headers.update(headers or {})
    return response
