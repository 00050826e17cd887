"""Files people upload (a case's papers, a field worker's photo): one folder, one way to tell what a file is.

The folder is ``UPLOAD_DIR`` (``HOTLINE_UPLOAD_DIR``, ``instance/uploads`` by default): never the static
folder, so nothing in it is served but through a view that checks access. A file's type is judged by its
first bytes, never by its name.
"""

from pathlib import Path

from flask import current_app

#: What each kind of file accepted starts with, its content type and the extension it is stored with.
SIGNATURES = {
    "pdf": (b"%PDF-", "application/pdf", ".pdf"),
    "jpeg": (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    "png": (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
}
#: The kinds a picture may be.
PICTURES = ("jpeg", "png")


def sniff(head: bytes, kinds: tuple[str, ...] = tuple(SIGNATURES)) -> tuple[str, str] | None:
    """(content type, extension) of a file whose content starts with ``head``, if it is one of ``kinds``;
    None otherwise."""
    for kind in kinds:
        magic, content_type, extension = SIGNATURES[kind]
        if head.startswith(magic):
            return content_type, extension
    return None


def upload_dir() -> Path:
    """The upload folder (created, private to the application's user, on first use)."""
    folder = Path(current_app.config.get("UPLOAD_DIR") or Path(current_app.instance_path) / "uploads")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder
