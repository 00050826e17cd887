"""The papers of a case (补齐手续): uploads checked by content, stored privately, served audited; the checklist."""

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.errors import DomainError, NotAllowed
from hotline.extensions import db
from hotline.referrals import service as rs
from hotline.relief import documents
from hotline.relief import service as relief
from models.audit import AuditLog
from models.relief_document import ReliefDocument
from tests.conftest import login, post_form
from tests.helpers import count, events, log_call

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
#: A Windows program (MZ header) and a Linux one (ELF), renamed to look like a scan.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64
PAPERS = ("id_card", "household_register", "application_form")  # temporary_assistance's checklist


@pytest.fixture
def town(make_department):
    return make_department("town_chengguan", "城关镇", kind="township", level="township")


@pytest.fixture
def ticket(operator, now):
    return log_call(operator, now)


def grant(ticket, actor, at, unit, amount="1500", kind="temporary_assistance"):
    r = relief.grant_relief(
        ticket, actor=actor, now=at, kind=kind, amount_yuan=amount, granting_unit=unit, reason="住院押金不足"
    )
    db.session.commit()
    return r


def upload(ticket, actor, at, kind="id_card", content=PDF, name="身份证.pdf"):
    doc = documents.upload_document(ticket, actor=actor, now=at, kind=kind, stream=io.BytesIO(content), filename=name)
    db.session.commit()
    return doc


def stored_files(app) -> list[Path]:
    return sorted(p for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file())


# --- content, size, names ------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "kind"), [(PDF, "application/pdf"), (JPEG, "image/jpeg"), (PNG, "image/png")])
def test_pdf_jpeg_and_png_are_recognised_by_their_content(app, ticket, operator, now, content, kind):
    doc = upload(ticket, operator, now, content=content, name="scan.bin")
    assert doc.content_type == kind and doc.size_bytes == len(content)
    [path] = stored_files(app)
    assert path.read_bytes() == content and path.name == doc.stored_name
    assert path.suffix == {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}[kind]


@pytest.mark.parametrize("content", [EXE, ELF, b"<html><script>alert(1)</script>", b"GIF89a" + b"\x00" * 20])
def test_a_renamed_program_or_other_content_is_refused_whatever_its_name(app, ticket, operator, now, content):
    with pytest.raises(DomainError, match="PDF"):
        documents.upload_document(
            ticket, actor=operator, now=now, kind="id_card", stream=io.BytesIO(content), filename="身份证扫描.pdf"
        )
    db.session.rollback()
    assert count(ReliefDocument) == 0 and stored_files(app) == []


def test_a_file_over_the_policy_cap_is_refused_and_one_at_it_is_taken(app, ticket, operator, now):
    cap = 10 * 1024 * 1024
    with pytest.raises(DomainError, match="10 MB"):
        documents.upload_document(
            ticket,
            actor=operator,
            now=now,
            kind="id_card",
            stream=io.BytesIO(PDF + b"0" * (cap + 1 - len(PDF))),
            filename="big.pdf",
        )
    db.session.rollback()
    assert stored_files(app) == []
    doc = upload(ticket, operator, now, content=PDF + b"0" * (cap - len(PDF)), name="just.pdf")
    assert doc.size_bytes == cap


def test_an_empty_file_and_a_missing_kind_are_refused(ticket, operator, now):
    with pytest.raises(DomainError):
        documents.upload_document(
            ticket, actor=operator, now=now, kind="id_card", stream=io.BytesIO(b""), filename="a.pdf"
        )
    with pytest.raises(DomainError):
        documents.upload_document(
            ticket, actor=operator, now=now, kind="passport", stream=io.BytesIO(PDF), filename="a"
        )


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("../../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\windows\\system32\\x.pdf", "x.pdf"),
        ("/var/www/static/evil.pdf", "evil.pdf"),
        ("..", "document"),
        (".hidden.pdf", "hidden.pdf"),
        ("a\x00b\r\n.pdf", "ab.pdf"),
        ("", "document"),
    ],
)
def test_a_path_in_the_file_name_is_only_display_text(app, ticket, operator, now, typed, shown):
    doc = upload(ticket, operator, now, name=typed)
    assert doc.display_name == shown
    [path] = stored_files(app)
    assert path.parent == Path(app.config["UPLOAD_DIR"])  # under its random name, in the upload folder
    # A random name (32 hex digits) with the type's extension: nothing of what was typed (a typed name that
    # happens to be a hex string's last letters, "ab.pdf", is in 1 of 256 random names all the same).
    assert path.name == doc.stored_name and re.fullmatch(r"[0-9a-f]{32}\.pdf", doc.stored_name)


def test_the_upload_folder_is_not_the_static_folder(app):
    folder = documents.upload_dir().resolve()
    assert not folder.is_relative_to(Path(app.static_folder).resolve())


# --- over HTTP -----------------------------------------------------------------------------------


def test_upload_over_http_lists_the_paper_and_a_renamed_program_is_refused(app, client, operator, ticket, now):
    login(client, operator.username)
    page = f"/tickets/{ticket.number}"
    ok = post_form(client, f"{page}/documents", {"kind": "id_card", "file": (io.BytesIO(PDF), "身份证.pdf")}, page=page)
    assert ok.status_code == 302 and ok.location.endswith("#papers")
    html = client.get(page).get_data(as_text=True)
    assert "身份证.pdf" in html and 'id="papers"' in html
    bad = post_form(
        client, f"{page}/documents", {"kind": "id_card", "file": (io.BytesIO(EXE), "户口簿.pdf")}, page=page
    )
    assert bad.status_code == 400
    assert "PDF" in bad.get_data(as_text=True) and count(ReliefDocument) == 1


def test_a_body_over_the_upload_limit_gets_a_413_page_that_says_the_limit(client, operator, ticket):
    login(client, operator.username)
    page = f"/tickets/{ticket.number}"
    huge = PDF + b"0" * (11 * 1024 * 1024)
    response = post_form(
        client, f"{page}/documents", {"kind": "id_card", "file": (io.BytesIO(huge), "a.pdf")}, page=page
    )
    assert response.status_code == 413
    assert "10 MB" in response.get_data(as_text=True)
    assert count(ReliefDocument) == 0


def test_other_forms_keep_the_ordinary_body_limit(client, operator, ticket):
    login(client, operator.username)
    page = f"/tickets/{ticket.number}"
    response = post_form(client, f"{page}/note", {"text": "x" * (2 * 1024 * 1024)}, page=page)
    assert response.status_code == 413


def test_download_is_an_audited_attachment_for_those_who_see_the_case(
    app, client, operator, make_user, make_department, ticket, now
):
    civil = make_department("civil_affairs", "县民政局")
    health = make_department("health", "县卫健局")
    rs.dispatch_referral(ticket, department=civil, role="lead", actor=operator, now=now)
    db.session.commit()
    doc = upload(ticket, operator, now, content=PNG, name="<b>户口簿</b>.png")
    url = f"/documents/{doc.id}"

    login(client, make_user("department", department=civil).username)
    response = client.get(url)
    assert response.status_code == 200 and response.data == PNG
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    [entry] = db.session.scalars(select(AuditLog).where(AuditLog.kind == "document_viewed")).all()
    assert entry.target == ticket.number and entry.payload["document"] == doc.id

    other = app.test_client()
    login(other, make_user("department", department=health).username)
    assert other.get(url).status_code == 404
    assert other.get("/documents/999999").status_code == 404
    assert count(AuditLog, AuditLog.kind == "document_viewed") == 1


# --- the checklist and the paperwork clock -------------------------------------------------------


def test_the_last_paper_of_the_checklist_meets_the_paperwork_clock_at_its_upload(ticket, operator, town, now):
    grant(ticket, operator, now, town)
    assert documents.missing_papers(ticket) == list(PAPERS)
    upload(ticket, operator, now + timedelta(hours=1), kind="id_card")
    upload(ticket, operator, now + timedelta(hours=2), kind="household_register", content=JPEG, name="hk.jpg")
    assert ticket.paperwork_done_at is None and documents.missing_papers(ticket) == ["application_form"]
    last = now + timedelta(days=2)
    upload(ticket, operator, last, kind="application_form")
    assert ticket.paperwork_done_at == last
    [done] = events(ticket, "paperwork_done")
    assert done.at == last and done.actor_id == operator.id and done.payload["on_time"] is True
    assert "missing" not in done.payload and "救助申请书" in done.payload["note"]


def test_a_medical_grant_needs_its_own_papers_too(ticket, operator, town, now):
    grant(ticket, operator, now, town)
    grant(ticket, operator, now, town, amount="500", kind="medical_assistance")
    for kind in PAPERS:
        upload(ticket, operator, now, kind=kind)
    assert ticket.paperwork_done_at is None
    assert documents.missing_papers(ticket) == ["hospital_bills", "diagnosis"]


def test_papers_uploaded_before_the_grant_complete_the_paperwork_at_the_grant(ticket, operator, town, now):
    for kind in PAPERS:
        upload(ticket, operator, now, kind=kind)
    assert ticket.paperwork_done_at is None  # nothing granted yet: no paperwork clock
    at = now + timedelta(hours=3)
    grant(ticket, operator, at, town)
    assert ticket.paperwork_done_at == at


def test_the_paperwork_button_is_a_managers_override_while_papers_are_missing(
    client, ticket, operator, manager, town, now
):
    grant(ticket, operator, now, town)
    with pytest.raises(NotAllowed, match="身份证"):
        relief.complete_paperwork(ticket, actor=operator, now=now, note="齐了")
    db.session.rollback()
    login(client, operator.username)
    page = client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert "/paperwork-done" not in page
    assert page.count('<li class="missing">') == 3 and "救助申请书" in page
    relief.complete_paperwork(ticket, actor=manager, now=now + timedelta(hours=1), note="乡镇窗口已核验原件")
    db.session.commit()
    [done] = events(ticket, "paperwork_done")
    assert done.actor_id == manager.id and done.payload["missing"] == list(PAPERS)


def test_the_button_is_shown_to_a_manager_only_while_papers_are_missing(
    app, client, ticket, operator, manager, town, now
):
    grant(ticket, operator, now, town)
    login(client, operator.username)
    assert "/paperwork-done" not in client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    other = app.test_client()
    login(other, manager.username)
    assert "/paperwork-done" in other.get(f"/tickets/{ticket.number}").get_data(as_text=True)


def test_staff_of_an_unrelated_unit_cannot_add_papers(ticket, make_user, make_department, now):
    outsider = make_user("department", department=make_department("health", "县卫健局"))
    with pytest.raises(NotAllowed):
        upload(ticket, outsider, now)


# --- the policy ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("max_mb = 10", "max_mb = 0", "max_mb"),
        ('charity = ["id_card", "application_form"]', 'charity = ["id_card", "passport"]', "unknown document kinds"),
        ('charity = ["id_card", "application_form"]', "", "charity"),
        ("near_limit_percent = 90", "near_limit_percent = 100", "near_limit_percent"),
        ('code = "care"', 'code = "visit"', "appears twice"),
    ],
)
def test_a_malformed_relief_rules_file_stops_start_up_naming_the_key(tmp_path, database_url, old, new, message):
    import shutil

    from config.settings import ROOT
    from hotline import create_app
    from hotline.relief.rules import ReliefRulesError
    from tests.conftest import app_config

    folder = tmp_path / "policy"
    shutil.copytree(ROOT / "config" / "policy", folder)
    path = folder / "relief_rules.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ReliefRulesError, match=message):
        create_app(app_config(database_url) | {"POLICY_DIR": folder})
