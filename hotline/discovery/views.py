"""The alert import's pages: upload, preview, commit with a progress bar, the report (HTTP only).

The rules are in :mod:`hotline.discovery.alerts` and :mod:`hotline.discovery.alert_jobs`; who may import
and see an import in :mod:`hotline.access`.
"""

from urllib.parse import quote

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from hotline.access import can_import_alerts, load_alert_import
from hotline.discovery import alert_jobs
from hotline.discovery.alert_policy import alert_policy
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.reports import export
from hotline.security import require_role
from hotline.timeutil import to_local, utcnow
from models.alert_import import AlertImport, AlertImportRow

bp = Blueprint("alerts", __name__, url_prefix="/alerts/import")


class UploadForm(FlaskForm):
    file = FileField(_l("The platform's export (XLSX or CSV)"), validators=[FileRequired(_l("Choose the file."))])


class ConfirmForm(FlaskForm):
    """The commit and each step of it: nothing but the CSRF token."""


@bp.url_value_preprocessor
def _upload_limit(endpoint, values):
    """An export is larger than a form: the upload takes up to ``ALERT_IMPORT_MAX_BYTES``.

    A URL value preprocessor, because those run before every ``before_request`` (one reads the form).
    """
    if endpoint == "alerts.index" and request.method == "POST":
        request.max_content_length = current_app.config["ALERT_IMPORT_MAX_BYTES"]


def _require_importer():
    if not can_import_alerts(current_user):
        abort(403)


@bp.route("", methods=["GET", "POST"])
@require_role("admin", "department")
def index():
    _require_importer()
    form = UploadForm()
    error = None
    if request.method == "POST":
        if form.validate_on_submit():
            upload = form.file.data
            try:
                job = alert_jobs.preview_upload(upload.read(), upload.filename or "", actor=current_user, now=utcnow())
                db.session.commit()
                return redirect(url_for("alerts.show", import_id=job.id))
            except DomainError as exc:
                db.session.rollback()
                error = str(exc.message)
        status = 400
    else:
        status = 200
    imports = select(AlertImport).order_by(AlertImport.id.desc())
    if current_user.role != "admin":
        imports = imports.where(AlertImport.created_by_id == current_user.id)
    page = db.paginate(imports, per_page=current_app.config["PAGE_SIZE"], error_out=False)
    policy = alert_policy()
    columns = [policy.titles[name] for name in policy.titles]
    required = [policy.titles[name] for name in policy.required]
    return (
        render_template(
            "discovery/alert_upload.html",
            form=form,
            error=error,
            page=page,
            columns=columns,
            required=required,
            max_mb=current_app.config["ALERT_IMPORT_MAX_BYTES"] // (1024 * 1024),
            statuses=STATUSES,
        ),
        status,
    )


#: An import's state, as the list of imports shows it.
STATUSES = {"previewed": _l("Checked, not imported"), "importing": _l("Importing"), "done": _l("Imported")}
#: The row filters of an import's page.
SHOWS = {"all": None, "errors": "error", "valid": "valid"}


@bp.get("/<int:import_id>")
@require_role("admin", "department")
def show(import_id: int):
    _require_importer()
    job = load_alert_import(import_id)
    shown = request.args.get("show", "errors" if job.errors else "all")
    if shown not in SHOWS:
        abort(404)
    rows = select(AlertImportRow).where(AlertImportRow.import_id == job.id).order_by(AlertImportRow.row)
    if shown == "errors":
        rows = rows.where(AlertImportRow.error.is_not(None))
    elif shown == "valid":
        rows = rows.where(AlertImportRow.error.is_(None))
    page = db.paginate(rows, per_page=50, error_out=False)
    return render_template(
        "discovery/alert_import.html",
        job=job,
        page=page,
        shown=shown,
        predicted=alert_jobs.predicted_counts(job),
        form=ConfirmForm(),
        outcomes=alert_jobs.OUTCOME_ZH,
    )


@bp.post("/<int:import_id>/commit")
@require_role("admin", "department")
def commit(import_id: int):
    _require_importer()
    job = load_alert_import(import_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        alert_jobs.start_import(job, actor=current_user, now=utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
    return redirect(url_for("alerts.show", import_id=job.id))


@bp.post("/<int:import_id>/step")
@require_role("admin", "department")
def step(import_id: int):
    """One step of the import: the page's script calls it until ``done`` (JSON); a form post (no script)
    is sent back to the page, which shows the progress and a button for the next step."""
    _require_importer()
    job = load_alert_import(import_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        alert_jobs.import_step(job, actor=current_user, now=utcnow())
        db.session.commit()
    except OperationalError:  # SQLite: another step of this import holds the write lock; the next call goes on
        db.session.rollback()
        db.session.refresh(job)
    if request.accept_mimetypes.best == "application/json":
        figures = alert_jobs.progress(job)
        figures["text"] = _("%(processed)s of %(valid)s rows imported", processed=job.processed, valid=job.valid)
        return jsonify(figures)
    return redirect(url_for("alerts.show", import_id=job.id))


@bp.get("/<int:import_id>/report.<fmt>")
@require_role("admin", "department")
def report(import_id: int, fmt: str):
    _require_importer()
    job = load_alert_import(import_id)
    if fmt not in export.FORMATS:
        abort(404)
    now = utcnow()
    table = alert_jobs.report_table(job)
    body = export.render([table], fmt)
    export.audit_export(
        actor_id=current_user.id,
        now=now,
        report="alert_import",
        fmt=fmt,
        filters={"import": job.id},
        rows=len(table.rows),
    )
    db.session.commit()
    filename = f"预警导入报告_{job.id}_{to_local(now).strftime('%Y%m%d%H%M')}.{fmt}"
    response = current_app.response_class(body, mimetype=export.FORMATS[fmt])
    ascii_name = f"alert_import_{job.id}.{fmt}"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    return response
