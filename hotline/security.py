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


def set_security_headers(response):
    """Headers every answer carries; no inline script or style is ever needed.

    Nothing but a static file may be kept by a browser or a proxy: pages, JSON
    (desk panels, notifications, the phone lookup with the caller's name), exports
    and webhook answers all carry personal data or depend on who asks, so every
    other answer is ``Cache-Control: no-store``. With ``HOTLINE_SECURE_COOKIES=1``
    the site is HTTPS and says so for a year (HSTS).
    """
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if not _is_static_file():
        response.headers["Cache-Control"] = "no-store"
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
    fields = [*request.args.lists(), *request.form.lists()]
    if "\x00" in request.path or any("\x00" in value for _name, values in fields for value in values):
        abort(400)
    page = request.args.get("page", type=int)
    if page is not None and page > MAX_PAGE:
        abort(404)
