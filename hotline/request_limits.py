"""Limits on what a request may carry: streamed bodies as large as any other, numbers a database takes."""

import re
from collections.abc import Callable
from functools import cache

from flask import Request, abort, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream
from wtforms import IntegerField
from wtforms.fields.core import UnboundField


class _StreamWithMax(LimitedStream):
    """A streamed body read to its end: 413 when it reaches the limit.

    Werkzeug stops reading a streamed body at ``max_content_length`` and hands on what it has
    read, so an oversized form would be parsed cut short (a Twilio webhook then fails its
    signature, a page form its CSRF token). A body with a ``Content-Length`` over the limit is
    refused before it is read; this gives a streamed one the same answer.
    """

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()  # raises RequestEntityTooLarge (413)
        return data


#: Endpoints whose body may be larger than ``MAX_CONTENT_LENGTH`` (an upload): endpoint -> a function giving
#: (the limit in bytes, what the 413 page says). Registered by the views that take files.
LARGE_BODIES: dict[str, Callable[[], tuple[int, str]]] = {}


def large_body(endpoint: str | None) -> tuple[int, str] | None:
    """(limit, message) of an endpoint that takes files, else None."""
    limit = LARGE_BODIES.get(endpoint or "")
    return limit() if limit else None


class HotlineRequest(Request):
    @property
    def max_content_length(self) -> int | None:
        """The app's ``MAX_CONTENT_LENGTH``, except on the routes that take a file (:data:`LARGE_BODIES`)."""
        if self._max_content_length is None and self.url_rule is not None:
            large = large_body(self.url_rule.endpoint)
            if large is not None:
                return large[0]
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    @cached_property
    def stream(self):
        limit = self.max_content_length
        if limit is not None and self.content_length is None and "wsgi.input_terminated" in self.environ:
            return _StreamWithMax(self.environ["wsgi.input"], limit, is_max=True)
        return get_input_stream(self.environ, max_content_length=limit)


#: The largest whole number a database column or id comparison takes (64-bit, PostgreSQL and SQLite alike).
MAX_INT64 = 2**63 - 1
#: Query parameters that name a row or a year; ``page`` has its own rule (hotline.security.check_request_input).
QUERY_NUMBERS = frozenset({"unit", "township", "call", "duty", "next", "year"})
_WHOLE_NUMBER = re.compile(r"\s*[+-]?\d+\s*")


@cache
def whole_number_parameters() -> frozenset[str]:
    """Names that carry a whole number: the query parameters above and every form's integer fields.

    Read from the form classes (integer fields, choices coerced to ``int``), so a new form's
    numbers are checked without being listed here.
    """
    names = set(QUERY_NUMBERS)
    pending = [FlaskForm]
    while pending:
        form_class = pending.pop()
        pending.extend(form_class.__subclasses__())
        for name in dir(form_class):
            field = getattr(form_class, name, None)
            if isinstance(field, UnboundField) and (
                issubclass(field.field_class, IntegerField) or field.kwargs.get("coerce") is int
            ):
                names.add(name)
    return frozenset(names)


def check_whole_numbers() -> None:
    """A number beyond what the database takes, or a negative id, is a 400 saying so, before any view.

    A value that is not a number at all is left to the view (a form says "not a valid choice",
    a report filter is ignored).
    """
    names = whole_number_parameters()
    for fields in (request.args, request.form):
        for name in names.intersection(fields.keys()):  # mostly none: a Twilio webhook has no such field
            for value in fields.getlist(name):
                _check_whole_number(name, value)


def _check_whole_number(name: str, value: str) -> None:
    if _WHOLE_NUMBER.fullmatch(value):
        try:
            number = int(value)
        except ValueError:  # more digits than Python converts
            number = -1
        if not 0 <= number <= MAX_INT64:
            abort(400, description=_("%(name)s must be a whole number from 0 to %(max)s.", name=name, max=MAX_INT64))
