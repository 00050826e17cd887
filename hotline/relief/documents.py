"""The papers of a case (补齐手续): upload, the checklist per relief kind, and reading a paper back.

A paper is a PDF, JPEG or PNG file of at most ``[documents] max_mb`` (``relief_rules.toml``). What it is
is read from its first bytes, never from its name: a renamed program is refused whatever it is called.
It is stored in the upload folder (``UPLOAD_DIR``, ``instance/uploads`` by default: never the static
folder) under a random name; the name it had on the uploader's computer is kept only as display text,
cleaned of folders and control characters. It is served only through :func:`read_document`, to users who
may see the ticket, and every reading is an audit entry (``document_viewed``).

The checklist of a case is the papers every kind of relief approved on it needs (``[checklist]``). When
an upload completes it, the paperwork clock is met by :func:`hotline.relief.service.complete_paperwork`,
the function the "paperwork completed" button called, with the upload's ``now``; that button is now a
manager's override for papers checked outside the system, with the reason as its note.

The file is written before the caller commits: a failed commit leaves an unreferenced file behind (never
the reverse, a row without its file).
"""

import hashlib
import os
import re
import secrets
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from hotline import access, audit
from hotline.errors import DomainError, NotAllowed
from hotline.extensions import db
from hotline.relief.rules import relief_rules
from hotline.tickets.service import add_event
from hotline.uploads import sniff, upload_dir  # the papers' folder and PDF/JPEG/PNG by content
from models.relief_document import ReliefDocument
from models.ticket import Ticket
from models.user import User

#: Longest display name kept (the column's length).
NAME_MAX = 120
_CHUNK = 1024 * 1024


def clean_name(name: str | None) -> str:
    """The uploader's file name as display text: its last path part, no control or format characters, no
    leading dots, at most :data:`NAME_MAX` characters; "document" when nothing is left."""
    text = unicodedata.normalize("NFKC", str(name or ""))
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = text.strip().lstrip(".").strip()
    return text[-NAME_MAX:] if text else "document"


def _read_capped(stream: BinaryIO, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes of ``stream``: one more than allowed is enough to refuse it."""
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _store(content: bytes, extension: str) -> str:
    """Write ``content`` under a new random name (atomically, readable by the application only); the name."""
    folder = upload_dir()
    stored = secrets.token_hex(16) + extension
    temporary = folder / f".{stored}.part"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, folder / stored)
    return stored


# --- the checklist -------------------------------------------------------------------------


def documents_of(ticket: Ticket) -> list[ReliefDocument]:
    """The case's papers, oldest first."""
    return list(
        db.session.scalars(
            select(ReliefDocument).where(ReliefDocument.ticket_id == ticket.id).order_by(ReliefDocument.id)
        )
    )


def required_papers(ticket: Ticket) -> list[str]:
    """The document kinds the case's approved reliefs need (``[checklist]``), each once, in the order listed."""
    checklist = relief_rules().checklist
    kinds = [r.kind for r in ticket.reliefs if r.status == "approved"]
    return list(dict.fromkeys(paper for kind in kinds for paper in checklist.get(kind, ())))


def checklist(ticket: Ticket) -> list[tuple[str, bool]]:
    """(document kind, on file) for each paper the case needs."""
    on_file = {d.kind for d in documents_of(ticket)}
    return [(kind, kind in on_file) for kind in required_papers(ticket)]


def missing_papers(ticket: Ticket) -> list[str]:
    """The papers the case still needs; empty when its checklist is complete (or nothing was granted)."""
    return [kind for kind, present in checklist(ticket) if not present]


def complete_if_papers_done(ticket: Ticket, *, actor: User, now: datetime) -> bool:
    """Meet the paperwork clock when relief was granted and every paper of the checklist is on file.

    Called after an upload and after a grant or approval (papers may come first). Recorded by
    ``complete_paperwork`` in ``actor``'s name, when ``actor`` may record paperwork; otherwise the
    checklist stays complete on screen and the next of them to act records it. True when it did.
    """
    from hotline.relief import service  # service imports this module for its checks

    if ticket.advance_relief_outcome != "granted" or ticket.paperwork_done_at is not None:
        return False
    papers = required_papers(ticket)
    if not papers or missing_papers(ticket) or not access.can_complete_paperwork(actor, ticket):
        return False
    rules = relief_rules()
    names = "、".join(rules.document_kinds[p].label() for p in papers if p in rules.document_kinds)
    service.complete_paperwork(ticket, actor=actor, now=now, note=_("Papers on file: %(papers)s", papers=names))
    return True


# --- actions -------------------------------------------------------------------------------


def upload_document(
    ticket: Ticket,
    *,
    actor: User,
    now: datetime,
    kind: str,
    stream: BinaryIO | None,
    filename: str | None,
) -> ReliefDocument:
    """Add one paper of ``kind`` to the case, read from ``stream``; its checklist may thereby complete."""
    if not access.can_upload_document(actor, ticket):
        raise NotAllowed(
            _l("Only the first-contact owner, a manager, or staff of a unit granting relief can add papers.")
        )
    if ticket.status == "merged":
        raise DomainError(_l("This ticket was merged into another: add the papers there."))
    rules = relief_rules()
    if kind not in rules.document_kinds:
        raise DomainError(_l("Choose what the paper is."))
    if stream is None:
        raise DomainError(_l("Choose the file to upload."))
    content = _read_capped(stream, rules.max_document_bytes)
    if not content:
        raise DomainError(_l("The file is empty."))
    if len(content) > rules.max_document_bytes:
        raise DomainError(
            _l("The file is larger than %(mb)s MB: scan it again at a lower resolution.", mb=_megabytes(rules))
        )
    found = sniff(content[:16])
    if found is None:
        raise DomainError(
            _l("Only PDF, JPEG and PNG files are taken, and this file is none of them (its content was checked).")
        )
    content_type, extension = found
    document = ReliefDocument(
        ticket_id=ticket.id,
        kind=kind,
        display_name=clean_name(filename),
        stored_name=_store(content, extension),
        content_type=content_type,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by_id=actor.id,
        uploaded_at=now,
    )
    db.session.add(document)
    db.session.flush()
    referral = access.relief_referral(actor, ticket)  # before the event exists: the query autoflushes
    event = add_event(
        ticket,
        actor,
        "document_uploaded",
        now,
        document=document.id,
        document_kind=kind,
        name=document.display_name,
        size=document.size_bytes,
    )
    event.referral_id = referral.id if referral else None
    complete_if_papers_done(ticket, actor=actor, now=now)
    return document


def _megabytes(rules) -> int:
    return rules.max_document_bytes // (1024 * 1024)


def too_large_message() -> str:
    """What the 413 page of the upload route says."""
    return _("The file is larger than %(mb)s MB: scan it again at a lower resolution.", mb=_megabytes(relief_rules()))


def read_document(document: ReliefDocument, ticket: Ticket, *, actor: User, now: datetime) -> Path:
    """The stored file of ``document`` for ``actor``, who sees ``ticket``; the reading is audited."""
    if not access.can_see_ticket(actor, ticket):
        raise NotAllowed(_l("You may not see this case."))
    path = upload_dir() / document.stored_name
    if not path.is_file():
        raise DomainError(_l("The file of this paper is missing from the upload folder: tell the administrator."))
    audit.record(
        "document_viewed",
        actor_id=actor.id,
        now=now,
        target=ticket.number,
        document=document.id,
        document_kind=document.kind,
        name=document.display_name,
    )
    return path
