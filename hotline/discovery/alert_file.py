"""Reading the monitoring platform's export (低收入人口动态监测预警): XLSX or CSV, as people really send it.

What is read, and how:

- **Format** by content, not by name: a ZIP (``PK``) is an XLSX workbook; an old binary ``.xls`` is refused
  (save it as XLSX or CSV); anything else is CSV: UTF-8 with or without a byte-order mark, else GB18030 (the
  superset of GBK, which Chinese Excel writes CSV in), or UTF-16 with its mark (Excel's "Unicode text").
  The CSV delimiter is the comma, or the tab when the header row has more tabs than commas.
- **The header row** is the first row, among the first ``header_search_rows`` of ``alerts.toml``, that names
  every required column (预警编号, 姓名, 乡镇 as shipped); rows above it are titles and are skipped. Headers
  are compared after NFKC with every space removed, so 村（社区）and 村(社区) are one; ``alerts.toml`` lists
  the variants each field accepts. Columns with another header, and empty trailing columns, are ignored.
- **Rows keep the numbers the spreadsheet shows** (the header on row 1 makes the first alert row 2; a title
  row above moves everything down by one). Blank rows are skipped and not counted. A merged cell (a township
  written once for five rows) counts for every row it covers.
- **Values**: full-width digits, letters and spaces are made half-width in the ID number, phone, alert id,
  places and date; runs of spaces become one. An ID number the spreadsheet stored as a number (a numeric
  cell, or ``1.10105E+17`` in a CSV) has lost digits when it is not a valid number any more: the row says so.
  A date may be an Excel date, an Excel serial number, or text (``2026-11-03``, ``2026/11/3``,
  ``2026年11月3日``, ``20261103``, with an optional ``14:20``).

The result is plain data (:class:`AlertRow`); :mod:`hotline.discovery.alerts` checks and imports it.
"""

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l

from hotline.discovery.alert_policy import AlertPolicy, header_key
from hotline.errors import DomainError
from hotline.idcard import id_number_problem, normalize_id_number

#: Excel's day 0 (the 1900 date system, with its 1900-02-29 that never was: serials from 61 on are right).
_EXCEL_EPOCH = datetime(1899, 12, 30)
_SCIENTIFIC = re.compile(r"\d+(\.\d+)?[eE][+-]?\d+")
_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]*(\d{1,2})[:：时](\d{1,2})(?:[:：分](\d{1,2})秒?)?分?)?"
)
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")


@dataclass
class AlertRow:
    """One alert as read: its spreadsheet row number, each field's text (None when empty), and what could
    not be read (an ID number that lost digits, a date that is none)."""

    row: int
    values: dict[str, str | None]
    problems: list[str] = field(default_factory=list)
    #: The ID number lost digits as a spreadsheet number (its check digit says nothing more then).
    id_number_lost: bool = False


def read_alert_file(data: bytes, policy: AlertPolicy) -> list[AlertRow]:
    """The alert rows of an export; ``DomainError`` when the file cannot be read as one at all."""
    if not data:
        raise DomainError(_l("The file is empty."))
    if data[:4] == b"PK\x03\x04":
        rows = _xlsx_rows(data)
    elif data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise DomainError(_l("This is an old Excel file (.xls): save it as .xlsx or CSV and upload that."))
    else:
        rows = _csv_rows(data)
    return _alert_rows(rows, policy)


# --- sheets -----------------------------------------------------------------------------------------


def _xlsx_rows(data: bytes) -> list[tuple[int, list]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise DomainError(_l("The file cannot be read as an Excel workbook (.xlsx).")) from exc
    sheet = book.worksheets[0]
    rows = [list(values) for values in sheet.iter_rows(min_row=1, values_only=True)]
    for merged in sheet.merged_cells.ranges:  # a merged cell's value counts for every cell it covers
        value = rows[merged.min_row - 1][merged.min_col - 1] if merged.min_row <= len(rows) else None
        for r in range(merged.min_row, min(merged.max_row, len(rows)) + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                if c - 1 < len(rows[r - 1]):
                    rows[r - 1][c - 1] = value
    return [(number, row) for number, row in enumerate(rows, start=1)]


def _csv_rows(data: bytes) -> list[tuple[int, list]]:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16")
    elif data.startswith(codecs.BOM_UTF8):
        text = data[3:].decode("utf-8", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError as exc:
                raise DomainError(_l("The file is neither an Excel workbook nor a CSV file in UTF-8 or GBK.")) from exc
    if "\x00" in text:
        raise DomainError(_l("The file is neither an Excel workbook nor a CSV file in UTF-8 or GBK."))
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise DomainError(_l("The CSV file cannot be read: %(problem)s", problem=str(exc))) from exc
    return [(number, list(record)) for number, record in enumerate(records, start=1)]


def _alert_rows(rows: list[tuple[int, list]], policy: AlertPolicy) -> list[AlertRow]:
    columns = None
    for number, row in rows[: policy.header_search_rows]:
        found: dict[int, str] = {}
        for index, value in enumerate(row):
            name = policy.headers.get(header_key(value))
            if name is not None and name not in found.values():
                found[index] = name
        if all(name in found.values() for name in policy.required):
            columns, header_row = found, number
            break
    if columns is None:
        names = "、".join(policy.titles[name] for name in policy.required)
        raise DomainError(
            _l(
                "No header row: none of the first %(rows)s rows names the columns %(names)s.",
                rows=policy.header_search_rows,
                names=names,
            )
        )
    out = []
    for number, row in rows:
        if number <= header_row or all(_blank(v) for v in row):
            continue
        cells = {name: row[index] if index < len(row) else None for index, name in columns.items()}
        out.append(_alert_row(number, cells, policy))
        if len(out) > policy.max_rows:
            raise DomainError(
                _l("The file has more than %(max)s alerts: split it into smaller files.", max=policy.max_rows)
            )
    return out


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --- values -----------------------------------------------------------------------------------------


def _alert_row(number: int, cells: dict, policy: AlertPolicy) -> AlertRow:
    row = AlertRow(number, {})
    for name, value in cells.items():
        if name == "id_number":
            row.values[name] = _id_number(value, row, policy)
        elif name == "alert_date":
            row.values[name] = _alert_date(value, row, policy)
        elif name in ("alert_id", "phone", "township", "village"):
            row.values[name] = _plain(_half_width(value))
        else:
            row.values[name] = _plain(value)
    return row


def _plain(value) -> str | None:
    """Text with runs of spaces (the ideographic one too) made one, trimmed; numbers without a ".0"."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = re.sub(r"\s+", " ", str(value).replace("\u3000", " ")).strip()
    return text or None


def _half_width(value):
    return unicodedata.normalize("NFKC", value) if isinstance(value, str) else value


def _id_number(value, row: AlertRow, policy: AlertPolicy) -> str | None:
    lost = _l(
        "%(column)s was stored as a number, and a spreadsheet keeps only 15 digits of a number: its last digits "
        "are lost. Format the column as text in the platform's export and export it again.",
        column=policy.titles.get("id_number", "身份证号"),
    )
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int | float):
        digits = str(int(value)) if float(value).is_integer() else str(value)
        # A float holds about 15 significant digits (Excel keeps exactly 15): an 18-digit number in one has
        # lost its last digits whatever they now say. A whole number written by a tool may be intact.
        if (isinstance(value, float) and abs(value) >= 1e15) or id_number_problem(digits) is not None:
            row.problems.append(str(lost))
            row.id_number_lost = True
        return digits
    text = _plain(_half_width(value))
    if text and _SCIENTIFIC.fullmatch(text):
        row.problems.append(str(lost))
        row.id_number_lost = True
    return normalize_id_number(text)


def _alert_date(value, row: AlertRow, policy: AlertPolicy) -> str | None:
    """The alert's date as ``YYYY-MM-DD``, or ``YYYY-MM-DDTHH:MM`` when it has a time (local time)."""
    if _blank(value):
        return None
    found = None
    if isinstance(value, datetime):
        found = value.replace(tzinfo=None)
    elif isinstance(value, date):
        found = datetime.combine(value, time())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found = _serial(value)
    else:
        text = _half_width(str(value)).strip()
        match = _DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)
        if match:
            parts = [int(p) if p else 0 for p in match.groups()]
            try:
                found = datetime(*parts[:3], *parts[3:6]) if len(parts) > 3 else datetime(*parts)
            except ValueError:
                found = None
        elif re.fullmatch(r"\d+(\.\d+)?", text):
            found = _serial(float(text))
    if found is None or not 2000 <= found.year <= 2099:
        column = policy.titles.get("alert_date", "预警日期")
        row.problems.append(str(_l("%(column)s is not a date: %(value)s.", column=column, value=_plain(value))))
        return None
    return found.date().isoformat() if found.time() == time() else found.strftime("%Y-%m-%dT%H:%M")


def _serial(value: float) -> datetime | None:
    if not 1 <= value < 2958466:  # Excel's last day is 9999-12-31
        return None
    return _EXCEL_EPOCH + timedelta(days=value)
