"""The compiled translation catalogues (``messages.mo``), made from the ``.po`` files on every start path.

``*.mo`` files are build output and not in git, yet a deployment that only
installs ``requirements.txt`` and starts gunicorn must show Chinese. So
``create_app`` compiles every catalogue whose ``.mo`` is missing or older than
its ``.po`` before Flask-Babel reads it; when they are current this is one
``stat`` per language. Several workers may start at once: each writes to a
temporary file and renames it into place, so none ever reads half a catalogue.
"""

import logging
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)


def compile_stale(directory: str | Path) -> list[Path]:
    """Compile each ``<lang>/LC_MESSAGES/messages.po`` under ``directory`` whose ``.mo`` is stale; return those.

    A catalogue that cannot be written (a read-only install) is logged and
    skipped: the UI then falls back to English for that language, and says so
    in the log instead of failing to start.
    """
    written = []
    for po in sorted(Path(directory).glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        locale = po.parent.parent.name
        try:
            with po.open("rb") as source:
                catalog = read_po(source, locale=locale)
            fd, tmp = tempfile.mkstemp(dir=po.parent, prefix=".messages-", suffix=".mo")
        except OSError as exc:
            log.error("cannot compile the %s translations (%s): the UI falls back to English", locale, exc)
            continue
        try:
            with os.fdopen(fd, "wb") as target:
                write_mo(target, catalog)
            os.replace(tmp, mo)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        written.append(mo)
    return written
