"""One way to tell an uploaded file's type (its first bytes, never its name) and one folder for uploads."""

from pathlib import Path

from hotline.uploads import PICTURES, sniff, upload_dir

PDF, JPEG, PNG = b"%PDF-1.7\n", b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\x89PNG\r\n\x1a\n\x00\x00"


def test_papers_may_be_pdf_jpeg_or_png_and_photos_only_pictures():
    assert sniff(PDF) == ("application/pdf", ".pdf")
    assert sniff(JPEG) == ("image/jpeg", ".jpg") == sniff(JPEG, PICTURES)
    assert sniff(PNG, PICTURES) == ("image/png", ".png")
    assert sniff(PDF, PICTURES) is None  # a photo is a picture
    assert sniff(b"MZ\x90\x00 renamed.pdf") is None and sniff(b"GIF89a") is None and sniff(b"") is None


def test_the_upload_folder_is_the_configured_one_and_private(app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path / "files")
    folder = upload_dir()
    assert folder == Path(tmp_path / "files") and folder.is_dir()
    assert folder.stat().st_mode & 0o077 == 0
