"""Access control and response hardening in one place."""

from functools import wraps

from flask import abort, current_app, request
from flask_login import current_user, login_required


def require_role(*roles: str, not_found_for: tuple[str, ...] = ()):
    """Allow the view only to logged-in users whose role is one of ``roles`` (else 403).

    Roles in ``not_found_for`` get 404 instead, so that (for example) department
    staff cannot tell an existing ticket from a missing one.
    """

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role in not_found_for:
                abort(404)
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)


#: HTTPS only for a year, subdomains included: sent when cookies are marked secure (the site is served over HTTPS).
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


#: Headers every answer carries unless its view set them: (name, its lower case, value).
_ALWAYS = (
    ("X-Content-Type-Options", "x-content-type-options", "nosniff"),
    ("X-Frame-Options", "x-frame-options", "DENY"),
    ("Referrer-Policy", "referrer-policy", "same-origin"),
)


def set_security_headers(response):
    """Headers every answer carries; no inline script or style is ever needed.

    Nothing but a static file may be kept by a browser or a proxy: pages, JSON
    (desk panels, notifications, the phone lookup with the caller's name), exports
    and webhook answers all carry personal data or depend on who asks, so every
    other answer is ``Cache-Control: no-store``. With ``HOTLINE_SECURE_COOKIES=1``
    the site is HTTPS and says so for a year (HSTS). A header the view set itself
    is kept, but Cache-Control. The names present are read once and the headers
    added in one go: werkzeug's ``setdefault`` scans the headers each time, and
    this runs on every answer, the SMS webhook's included.
    """
    headers = response.headers
    present = {name.lower() for name, _value in headers}
    added = [(name, value) for name, lower, value in _ALWAYS if lower not in present]
    if current_app.config.get("SESSION_COOKIE_SECURE") and "strict-transport-security" not in present:
        added.append(("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY))
    if response.mimetype == "text/html" and "content-security-policy" not in present:
        added.append(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
    if not _is_static_file():
        if "cache-control" in present:
            del headers["Cache-Control"]
        added.append(("Cache-Control", "no-store"))
    headers.extend(added)
    return response


def _is_static_file() -> bool:
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


#: No list has this many pages; a larger ``?page=`` would overflow the database's OFFSET.
MAX_PAGE = 1_000_000


def check_request_input() -> None:
    """Refuse input the database cannot take before any view passes it on.

    PostgreSQL can neither store nor compare text holding a NUL character, so one
    in the address or in a form is a 400 here, not a 500 halfway through an action.
    A ``?page=`` beyond any list would overflow OFFSET: 404.
    """
    if "\x00" in request.path or _holds_nul(request.args) or _holds_nul(request.form):
        abort(400)
    page = request.args.get("page", type=int)
    if page is not None and page > MAX_PAGE:
        abort(404)


def _holds_nul(fields) -> bool:
    """Whether a value of ``fields`` (a MultiDict) holds a NUL character."""
    return any("\x00" in value for _name, values in fields.lists() for value in values)
