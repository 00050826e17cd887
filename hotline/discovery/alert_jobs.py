"""The alert import through the page: upload and preview, then the commit a step at a time, then the report.

A file of 10,000 alerts takes about a minute to import, longer than a request may last. So the page keeps
the checked rows (``alert_import_row``: what each row said, its error, its expected outcome) and imports them
``batch`` rows (``alerts.toml``) per request: the page's script asks for the next step until none is left
and shows the progress bar; without the script a button does the same. Each step is its own transaction,
claimed by the import's ``version`` (two tabs never import one row twice), and goes through
:func:`hotline.discovery.alerts.import_alerts` like the command. An import left halfway (the browser closed)
goes on from where it stopped when its page is opened again. The report lists every row with its outcome.
"""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select, update

from hotline.discovery.alert_file import AlertRow
from hotline.discovery.alert_policy import alert_policy
from hotline.discovery.alerts import audit_import, import_alerts
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.reports.export import Table
from models.alert_import import AlertImport, AlertImportRow
from models.ticket import Ticket
from models.user import User


def preview_upload(data: bytes, filename: str, *, actor: User, now: datetime) -> AlertImport:
    """Check an uploaded export and keep its rows for the commit: no ticket, contact or report is written.

    ``DomainError`` when the file cannot be read as an export.
    """
    report = import_alerts(data, actor=actor, now=now, commit=False)
    if not report.results:
        raise DomainError(_l("The file has a header row but no alerts."))
    invalid = report.count("error")
    job = AlertImport(
        filename=(filename or "")[:255] or "—",
        created_by_id=actor.id,
        created_at=now,
        status="previewed",
        total=len(report.results),
        valid=len(report.results) - invalid,
        processed=0,
        created=0,
        duplicates=0,
        added_to_open=0,
        errors=invalid,
        version=1,
    )
    db.session.add(job)
    db.session.flush()
    db.session.execute(
        insert(AlertImportRow),
        [
            {
                "import_id": job.id,
                "row": r.row,
                "values": r.values,
                "error": r.message if r.outcome == "error" else None,
                "predicted": None if r.outcome == "error" else r.outcome,
                "outcome": "error" if r.outcome == "error" else None,
            }
            for r in report.results
        ],
    )
    return job


def predicted_counts(job: AlertImport) -> dict[str, int]:
    """The preview's expected outcomes: created, added_to_open, duplicate -> rows."""
    rows = db.session.execute(
        select(AlertImportRow.predicted, func.count())
        .where(AlertImportRow.import_id == job.id, AlertImportRow.predicted.is_not(None))
        .group_by(AlertImportRow.predicted)
    )
    return dict(rows.all())


def start_import(job: AlertImport, *, actor: User, now: datetime) -> None:
    """The user confirmed the preview: the import begins (its rows are imported by :func:`import_step`)."""
    if job.status != "previewed":
        raise DomainError(_l("This import has begun already."))
    if job.valid == 0:
        raise DomainError(_l("No row of this file can be imported: correct the file and upload it again."))
    job.status, job.started_at = "importing", now


def import_step(job: AlertImport, *, actor: User, now: datetime) -> bool:
    """Import the next ``batch`` rows of ``job``; finish it when none is left. False when another request
    is stepping the same import (nothing done here); the caller commits."""
    if job.status != "importing":
        return False
    claimed = db.session.execute(
        update(AlertImport)
        .where(AlertImport.id == job.id, AlertImport.version == job.version, AlertImport.status == "importing")
        .values(version=AlertImport.version + 1)
    )
    if claimed.rowcount != 1:
        return False
    db.session.refresh(job)
    pending = db.session.scalars(
        select(AlertImportRow)
        .where(AlertImportRow.import_id == job.id, AlertImportRow.outcome.is_(None))
        .order_by(AlertImportRow.row)
        .limit(alert_policy().batch)
    ).all()
    if pending:
        report = import_alerts([AlertRow(r.row, dict(r.values)) for r in pending], actor=actor, now=now, commit=True)
        for row, result in zip(pending, report.results, strict=True):
            row.outcome, row.ticket_id = result.outcome, result.ticket_id
            if result.outcome == "error":
                row.error = result.message
        job.processed += len(pending)
        job.created += report.count("created")
        job.duplicates += report.count("duplicate")
        job.added_to_open += report.count("added_to_open")
        job.errors += report.count("error")
    if job.processed >= job.valid:
        job.status, job.finished_at = "done", now
        audit_import(
            actor=actor,
            now=now,
            filename=job.filename,
            rows=job.total,
            created=job.created,
            duplicates=job.duplicates,
            added_to_open=job.added_to_open,
            errors=job.errors,
        )
    return True


def progress(job: AlertImport) -> dict:
    """The progress bar's figures."""
    return {
        "status": job.status,
        "done": job.status == "done",
        "processed": job.processed,
        "valid": job.valid,
        "created": job.created,
        "duplicates": job.duplicates,
        "added_to_open": job.added_to_open,
        "errors": job.errors,
    }


#: The report's columns. Names, ID numbers and phone numbers stay out of it, as out of every export.
REPORT_HEADERS = ["行号", "预警编号", "乡镇", "村（社区）", "预警类型", "预览", "结果", "原因", "工单编号"]
OUTCOME_ZH = {"created": "新建工单", "added_to_open": "并入在办工单", "duplicate": "此前已导入", "error": "错误"}


def report_table(job: AlertImport) -> Table:
    """Every row of the file with what the preview expected and what the import did."""
    rows = db.session.execute(
        select(AlertImportRow, Ticket.number)
        .outerjoin(Ticket, Ticket.id == AlertImportRow.ticket_id)
        .where(AlertImportRow.import_id == job.id)
        .order_by(AlertImportRow.row)
    ).all()
    table = Table(f"导入报告 {job.filename}", REPORT_HEADERS)
    for row, number in rows:
        v = row.values
        table.rows.append(
            [
                row.row,
                v.get("alert_id"),
                v.get("township"),
                v.get("village"),
                v.get("alert_type"),
                OUTCOME_ZH.get(row.predicted, ""),
                OUTCOME_ZH.get(row.outcome, "") if job.status != "previewed" else "",
                row.error,
                number,
            ]
        )
    return table
