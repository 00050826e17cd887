"""The one way a form posts an action: validate, act, commit, redirect, or refuse keeping what was typed."""

from collections.abc import Callable

from flask import flash, redirect
from sqlalchemy.orm.exc import StaleDataError

from hotline import labels
from hotline.errors import DomainError
from hotline.extensions import db


def run_form_action(form, action: Callable[[], object], *, render: Callable, done_url: str, message: str):
    """Run ``action()`` for a valid ``form`` and commit; then flash ``message`` and go to ``done_url``.

    A refusal rolls back and calls ``render(status, error)`` to show the page
    again with the submitted form: 400 for invalid input, 409 when the record
    changed meanwhile (the version check in a service, or the database's), and
    the domain rule's own status otherwise.
    """
    if not form.validate_on_submit():
        return render(400, None)
    try:
        action()
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return render(409, str(labels.STALE))
    except DomainError as exc:
        db.session.rollback()
        return render(exc.status_code, str(exc.message))
    flash(message, "success")
    return redirect(done_url)
