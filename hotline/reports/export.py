"""CSV and Excel exports of the reports and lists, with Chinese headers, audited.

Personal data leaves only masked: phone numbers as ``138****1234``, no names
and no ID numbers. Unmasking is one ticket at a time, with a reason, on the
ticket page; nobody unmasks in bulk. Every export writes an ``audit_log``
entry (``report_exported``) with the report, its filters and the row count.

Text that came from outside (a summary typed from a text message, a unit's
return comment) must never run as a formula in the manager's spreadsheet
(OWASP "CSV injection"). A text cell whose first character, after NFKC, is
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written to CSV with a
leading apostrophe (Excel and LibreOffice then read it as text; the full-width
``＝＋－＠`` count too, as spreadsheets in a Chinese locale may take them for
the ASCII ones). In Excel files every text cell is a string cell, never a
formula, and such a cell also carries Excel's own "quote prefix" style, so
editing it in Excel keeps it text; its value stays exactly what was typed.
Numbers stay numbers.
"""

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from hotline.audit import record

FORMATS = {
    "csv": "text/csv",  # Werkzeug adds "; charset=utf-8" to every text/* type
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: A list longer than this is not exported: narrow the period or the filters instead.
MAX_ROWS = 100_000


@dataclass
class Table:
    """A sheet: a title, Chinese column headers, and rows of plain values (str, int, float, None)."""

    title: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)


#: First characters that make a spreadsheet read a cell as a formula (OWASP), compared after NFKC.
FORMULA_STARTS = frozenset("=+-@\t\r")


def starts_formula(value) -> bool:
    """True for text a spreadsheet would take for a formula: it starts with one of ``FORMULA_STARTS``."""
    return isinstance(value, str) and bool(value) and unicodedata.normalize("NFKC", value[0])[:1] in FORMULA_STARTS


def csv_cell(value):
    """A value as CSV writes it: None as empty, formula-like text behind an apostrophe, numbers as they are."""
    if value is None:
        return ""
    return "'" + value if starts_formula(value) else value


def to_csv(tables: list[Table]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens the Chinese correctly; several tables one after another."""
    out = io.StringIO()
    writer = csv.writer(out)
    for i, table in enumerate(tables):
        if len(tables) > 1:
            if i:
                writer.writerow([])
            writer.writerow([csv_cell(table.title)])
        writer.writerow([csv_cell(h) for h in table.headers])
        writer.writerows([csv_cell(v) for v in row] for row in table.rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(tables: list[Table]) -> bytes:
    """One worksheet per table, bold frozen header row, columns wide enough for their contents."""
    book = Workbook()
    book.remove(book.active)
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="EEF1F4")
    used = set()
    for table in tables:
        title = _sheet_title(table.title, used)
        sheet = book.create_sheet(title)
        _append(sheet, table.headers)
        for cell in sheet[1]:
            cell.font = header_font
            cell.fill = header_fill
            cell.alignment = Alignment(vertical="center")
        for row in table.rows:
            _append(sheet, row)
        sheet.freeze_panes = "A2"
        for col, header in enumerate(table.headers, start=1):
            longest = max([_width(header)] + [_width(r[col - 1]) for r in table.rows[:500] if col - 1 < len(r)])
            sheet.column_dimensions[get_column_letter(col)].width = min(max(longest + 2, 8), 60)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _append(sheet, values: list) -> None:
    """One row; text is a string cell whatever it starts with (openpyxl would store "=..." as a formula)."""
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
            if starts_formula(cell.value):
                cell.quotePrefix = True


def _width(value) -> int:
    text = "" if value is None else str(value)
    # A Chinese character takes about two columns.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _sheet_title(title: str, used: set) -> str:
    clean = "".join(ch for ch in title if ch not in "[]:*?/\\")[:28] or "Sheet"
    name, n = clean, 2
    while name in used:
        name = f"{clean[:25]}-{n}"
        n += 1
    used.add(name)
    return name


def render(tables: list[Table], fmt: str) -> bytes:
    if fmt == "csv":
        return to_csv(tables)
    if fmt == "xlsx":
        return to_xlsx(tables)
    raise ValueError(f"unknown export format {fmt!r}")


def audit_export(*, actor_id: int, now: datetime, report: str, fmt: str, filters: dict, rows: int) -> None:
    """Write the export on the audit trail (the caller commits)."""
    record("report_exported", actor_id=actor_id, now=now, target=report, format=fmt, filters=filters, rows=rows)
