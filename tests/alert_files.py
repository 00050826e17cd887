"""Monitoring exports as people send them, built for the alert import's tests (and its benchmark)."""

import io
from datetime import date, datetime, timedelta

from openpyxl import Workbook

from tests.helpers import PHONE

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


WANG = id_number("11010519491231002")
LI = id_number("52010219800101123")
ZHAO = id_number("52010219900202234")
OPEN_CASE = id_number("52010219700303345")
#: The title row above the header of the dirty workbook.
TITLE = "2025年10月低收入人口动态监测预警名单"


def dirty_rows() -> list[list]:
    """Row 3 onwards of the dirty workbook (a merged title on row 1, the header on row 2)."""
    return [
        # 3: full-width digits, a phone with spaces, an Excel date: valid
        [
            "YJ001",
            "王某",
            full_width(WANG),
            "138 0013 8000",
            "东镇",
            "东村",
            "大额医疗支出",
            "住院自付3万元",
            datetime(2025, 10, 3, 9, 30),
        ],
        # 4: a wrong check digit
        ["YJ002", "李某", bad_check(LI), None, "东镇", None, "失业", None, None],
        # 5: an unknown township
        ["YJ003", "孙某", None, None, "北镇", None, "失业", None, None],
        # 6: a village of another township
        ["YJ004", "周某", None, None, "东镇", "南村", "失业", None, None],
        # 7: no name
        ["YJ005", None, None, "13900000005", "东镇", None, "失业", None, None],
        # 8: blank (spaces only): ignored
        [None, "  ", None, None, None, None, None, None, None],
        # 9: row 3 again
        ["YJ001", "王某", WANG, "13800138000", "东镇", "东村", "大额医疗支出", "住院自付3万元", None],
        # 10: the ID number stored as a number: Excel kept 15 digits
        ["YJ006", "吴某", float(ZHAO), None, "东镇", None, "失业", None, None],
        # 11: +86 and dashes, a township with an ideographic space, an Excel serial date: valid
        ["YJ007", "郑某", ZHAO, "+86 139-0000-0007", "南\u3000乡", "南村", "独居老人", "独居无人照料", 45933],
        # 12: the person of an open ticket (by phone): added to it
        ["YJ008", "王秀英", None, PHONE, "东镇", None, "收入骤减", "务工收入中断", "2025/10/5"],
        # 13: imported before: a duplicate
        ["YJ009", "钱某", None, None, "东镇", None, "失业", None, None],
        # 14: an alert type not in alerts.toml, a date in Chinese, an ID with spaces: valid
        [
            "YJ010",
            "冯某",
            f"{OPEN_CASE[:6]} {OPEN_CASE[6:14]} {OPEN_CASE[14:]}",
            None,
            " 东 镇 ",
            None,
            "其他困难",
            "家中失火",
            "2025年10月6日",
        ],
        # 15: a date that is none
        ["YJ011", "陈某", None, None, "东镇", None, "失业", None, "下周"],
    ]


def dirty_workbook() -> bytes:
    return workbook(dirty_rows(), title=TITLE)
