"""The one way a form posts an action: validate, act, commit, redirect, or refuse keeping what was typed."""

from collections.abc import Callable

from flask import flash, redirect
from sqlalchemy.orm.exc import StaleDataError

from hotline import labels
from hotline.errors import DomainError, StaleError
from hotline.extensions import db


def run_form_action(
    form,
    action: Callable[[], object],
    *,
    render: Callable,
    done_url: str,
    message: str | None = None,
    current_version: Callable[[], int] | None = None,
):
    """Run ``action()`` for a valid ``form`` and commit; then flash the success message and go to ``done_url``.

    The message is ``message``, or what ``action()`` returns when ``message`` is
    None (relief says how much was granted, or why a manager must decide).

    A refusal rolls back and calls ``render(status, error)`` to show the page
    again with the submitted form: 400 for invalid input, 409 when the record
    changed meanwhile (the version check in a service, or the database's), and
    the domain rule's own status otherwise. After a 409 the form's ``version``
    is set to ``current_version()``, the record's version now, so that sending
    the form again, having seen what changed, goes through.
    """
    if not form.validate_on_submit():
        return render(400, None)
    try:
        result = action()
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        _bring_up_to_date(form, current_version)
        return render(409, str(labels.STALE))
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, StaleError):
            _bring_up_to_date(form, current_version)
        return render(exc.status_code, str(exc.message))
    flash(message if message is not None else result, "success")
    return redirect(done_url)


def _bring_up_to_date(form, current_version: Callable[[], int] | None) -> None:
    if current_version is not None and getattr(form, "version", None) is not None:
        form.version.data = current_version()
        form.version.raw_data = [str(form.version.data)]
