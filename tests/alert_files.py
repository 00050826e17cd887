"""Monitoring exports as people send them, built for the alert import's tests (and its benchmark)."""

import io
from datetime import date, datetime, timedelta

from openpyxl import Workbook

HEADERS = ["预警编号", "姓名", "身份证号", "联系电话", "乡镇", "村（社区）", "预警类型", "预警内容", "预警日期"]
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(first17: str) -> str:
    """An ID number with its GB 11643 check character (the test's own oracle)."""
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def bad_check(number: str) -> str:
    """The same ID number with a wrong check character."""
    return number[:17] + ("0" if number[17] != "0" else "1")


def full_width(text: str) -> str:
    """Digits and letters as a Chinese input method types them (１２３Ｘ)."""
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isalnum() else ch for ch in text)


def workbook(rows: list[list], *, title: str | None = None, headers=HEADERS, merges=()) -> bytes:
    """An XLSX export: an optional merged title row, the header row, then ``rows`` as given (cells keep their
    Python types: a float stays a number cell, a datetime a date cell)."""
    book = Workbook()
    sheet = book.active
    if title:
        sheet.append([title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    sheet.append(list(headers))
    for row in rows:
        sheet.append(row)
    for cells in merges:
        sheet.merge_cells(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def csv_export(rows: list[list], *, encoding="gbk", headers=HEADERS) -> bytes:
    """A CSV export in ``encoding`` (Chinese Excel writes GBK), without a byte-order mark."""
    lines = [",".join(headers)] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def big_export(count: int, townships: list[tuple[str, str]], *, start: int = 1) -> bytes:
    """``count`` valid alerts of as many people (phones and ID numbers all different) spread over
    ``townships`` ((township, village) names), as an XLSX export."""
    types = ["大额医疗支出", "独居老人", "失业", "收入骤减", "困境儿童"]
    rows = []
    for i in range(start, start + count):
        township, village = townships[i % len(townships)]
        rows.append(
            [
                f"YJ{i:07d}",
                f"居民{i}",
                id_number(f"520102{date(1960, 1, 1) + timedelta(days=i // 1000):%Y%m%d}{i % 1000:03d}"),
                f"139{i:08d}",
                township,
                village,
                types[i % len(types)],
                "系统比对发现家庭收支异常，请入户核实",
                datetime(2025, 10, 1 + i % 8),
            ]
        )
    return workbook(rows)
