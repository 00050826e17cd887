"""The monitoring platform's alerts, imported: reading dirty exports, the preview, the commit, the command."""

import json
from datetime import UTC, datetime

import pytest

from hotline.discovery.alert_file import read_alert_file
from hotline.discovery.alert_policy import alert_policy
from hotline.discovery.alerts import import_alerts
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.tickets.external import receive_report
from models.audit import AuditLog
from models.contact import Contact
from models.external_report import ExternalReport
from models.notification import Notification
from models.ticket import Ticket, TicketEvent
from tests.alert_files import (
    HEADERS,
    LI,
    OPEN_CASE,
    WANG,
    bad_check,
    csv_export,
    dirty_workbook,
    full_width,
    workbook,
)
from tests.helpers import count, events, log_call


@pytest.fixture
def county(make_department, make_user):
    east = make_department("t_east", "东镇", "township", "township")
    south = make_department("t_south", "南乡", "township", "township")
    places = {
        "east": east,
        "south": south,
        "dongcun": make_department("v_dongcun", "东村", "village", "village", parent=east),
        "nancun": make_department("v_nancun", "南村", "village", "village", parent=south),
        "admin": make_user("admin", username="adm"),
        "east_staff": make_user("department", username="east1", department=east),
    }
    return places


@pytest.fixture
def world(county, operator, now):
    """The county, an open ticket of ``PHONE`` and the alert YJ009 imported before."""
    county["open"] = log_call(operator, now)
    receive_report(now=now, source="monitoring", via="import", external_id="YJ009", summary="监测预警：失业")
    db.session.commit()
    return county


EXPECTED_ERRORS = [
    {"row": 4, "message": "身份证号校验位不符，可能有数字录错。"},
    {"row": 5, "message": "未知的乡镇：北镇。"},
    {"row": 6, "message": "南村不在东镇（在南乡）。"},
    {"row": 7, "message": "姓名为空。"},
    {"row": 9, "message": "与第3行重复（预警编号相同）。"},
    {
        "row": 10,
        "message": "身份证号以数字格式保存，表格只保留数字的前15位，后几位已经丢失。"
        "请在监测平台导出时把该列设为文本，再导出一次。",
    },
    {"row": 15, "message": "预警日期不是日期：下周。"},
]


def test_a_dirty_workbook_is_read_as_the_spreadsheet_shows_it(app):
    rows = read_alert_file(dirty_workbook(), alert_policy())
    assert [r.row for r in rows] == [3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15]  # the blank row 8 is skipped
    first = rows[0].values
    assert (first["id_number"], first["phone"], first["alert_date"]) == (WANG, "138 0013 8000", "2025-10-03T09:30")
    assert rows[7].values["alert_date"] == "2025-10-03"  # serial 45933
    assert rows[8].values["alert_date"] == "2025-10-05"
    assert rows[10].values["alert_date"] == "2025-10-06"
    assert rows[10].values["id_number"] == OPEN_CASE


def test_the_preview_says_each_rows_fate_and_writes_nothing(app, world, now):
    before = {model: count(model) for model in (Ticket, TicketEvent, ExternalReport, Contact, AuditLog)}
    report = import_alerts(dirty_workbook(), actor=world["admin"], now=now, commit=False)
    assert report.summary() == {
        "rows": 12,
        "created": 3,
        "duplicates": 1,
        "added_to_open": 1,
        "errors": EXPECTED_ERRORS,
    }
    outcomes = {r.row: r.outcome for r in report.results}
    assert (outcomes[3], outcomes[11], outcomes[12], outcomes[13], outcomes[14]) == (
        "created",
        "created",
        "added_to_open",
        "duplicate",
        "created",
    )
    db.session.commit()
    assert {model: count(model) for model in before} == before


def test_the_commit_creates_dedupes_and_adds_to_the_open_ticket(app, world, now):
    report = import_alerts(dirty_workbook(), actor=world["admin"], now=now, commit=True)
    db.session.commit()
    assert report.summary() == {
        "rows": 12,
        "created": 3,
        "duplicates": 1,
        "added_to_open": 1,
        "errors": EXPECTED_ERRORS,
    }
    by_row = {r.row: r for r in report.results}
    wang = db.session.get(Ticket, by_row[3].ticket_id)
    assert (wang.channel, wang.source, wang.status) == ("proactive", "monitoring", "new")
    assert (wang.priority, wang.category, wang.summary) == ("P1", "illness_hardship", "监测预警：大额医疗支出")
    assert wang.contact.id_number == WANG and wang.contact.phone == "+8613800138000"
    assert (wang.contact.township_id, wang.contact.village_id) == (world["east"].id, world["dongcun"].id)
    zheng = db.session.get(Ticket, by_row[11].ticket_id)
    assert (zheng.priority, zheng.category) == ("P2", "elderly_alone")
    assert zheng.contact.phone == "+8613900000007" and zheng.contact.township_id == world["south"].id
    other = db.session.get(Ticket, by_row[14].ticket_id)
    assert (other.priority, other.category) == ("P2", "subsistence")  # the default of alerts.toml
    assert by_row[12].ticket_id == world["open"].id
    added = events(world["open"], "external_report")
    assert added and added[0].payload["external_id"] == "YJ008"
    assert count(Notification, Notification.kind == "external_report") == 1  # the open ticket's owner is told
    report_row = db.session.query(ExternalReport).filter_by(external_id="YJ001").one()
    assert report_row.extra == {
        "row": 3,
        "alert_type": "大额医疗支出",
        "alert_date": "2025-10-03T09:30",
        "alerted_at": "2025-10-03T01:30:00+00:00",
    }
    assert report_row.reporter_id == world["admin"].id and report_row.via == "import"
    again = import_alerts(dirty_workbook(), actor=world["admin"], now=now, commit=True)
    assert (again.count("created"), again.count("duplicate")) == (0, 5)


def test_township_staff_import_their_own_townships_alerts_only(app, world, now):
    report = import_alerts(dirty_workbook(), actor=world["east_staff"], now=now, commit=False)
    errors = {e["row"]: e["message"] for e in report.errors}
    assert errors[11] == "南乡不是您所在的乡镇：只能导入本乡镇的预警。"
    assert 3 not in errors and 12 not in errors


def test_a_gbk_csv_export_is_read(app, county, now):
    rows = [
        ["YJ101", "王某", full_width(WANG), "13800138000", "东镇", "东村", "大额医疗支出", "住院", "2025-10-03"],
        ["YJ102", "李某", "1.10105E+17", None, "南乡", "南村", "失业", None, None],
        [None, None, None, None, None, None, None, None, None],
    ]
    data = csv_export(rows, headers=[h.replace("（", "(").replace("）", ")") for h in HEADERS])
    assert data.decode("gbk") and not data.startswith(b"\xef\xbb\xbf")
    report = import_alerts(data, actor=county["admin"], now=now, commit=True)
    assert report.summary()["created"] == 1
    assert [e["row"] for e in report.errors] == [3] and "15" in report.errors[0]["message"]


def test_a_utf8_csv_with_a_byte_order_mark_and_trailing_empty_columns_is_read(app, county, now):
    rows = [["YJ201", "王某", WANG, None, "东镇", None, None, None, None, "", " "]]
    text = csv_export(rows, encoding="utf-8", headers=[*HEADERS, "", ""]).decode()
    report = import_alerts(("\ufeff" + text).encode("utf-8"), actor=county["admin"], now=now, commit=False)
    assert report.summary() == {"rows": 1, "created": 1, "duplicates": 0, "added_to_open": 0, "errors": []}
    assert report.results[0].values["alert_id"] == "YJ201"  # the mark is not part of the first header


def test_merged_cells_count_for_every_row_they_cover(app, county, now):
    rows = [
        ["YJ301", "甲", None, None, "东镇", "东村", None, None, None],
        ["YJ302", "乙", None, None, None, None, None, None, None],
    ]
    data = workbook(rows, merges=("E2:E3",))
    report = import_alerts(data, actor=county["admin"], now=now, commit=False)
    assert report.errors == [] and report.count("created") == 2


def test_two_alerts_of_one_new_person_open_one_ticket(app, county, now):
    rows = [
        ["YJ401", "甲", WANG, None, "东镇", None, "失业", None, None],
        ["YJ402", "甲", WANG, None, "东镇", None, "失业", None, None],
    ]
    preview = import_alerts(workbook(rows), actor=county["admin"], now=now, commit=False)
    done = import_alerts(workbook(rows), actor=county["admin"], now=now, commit=True)
    expected = {"rows": 2, "created": 1, "duplicates": 0, "added_to_open": 1, "errors": []}
    assert preview.summary() == done.summary() == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "文件为空"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
        ("姓名,电话\n王某,1\n".encode(), "表头"),
        (b"PK\x03\x04broken", "Excel"),
    ],
)
def test_a_file_that_is_no_export_is_refused_with_the_reason(app, county, now, data, message):
    with pytest.raises(DomainError) as info:
        import_alerts(data, actor=county["admin"], now=now, commit=False)
    assert message in str(info.value.message)


def test_the_command_prints_the_figures_and_writes_only_with_commit(app, world, runner, tmp_path):
    path = tmp_path / "预警.xlsx"
    path.write_bytes(dirty_workbook())
    dry = runner.invoke(args=["hotline", "import-alerts", str(path)])
    assert dry.exit_code == 0, dry.output
    expected = {"rows": 12, "created": 3, "duplicates": 1, "added_to_open": 1, "errors": EXPECTED_ERRORS}
    assert json.loads(dry.output) == expected
    assert count(ExternalReport) == 1
    done = runner.invoke(args=["hotline", "import-alerts", str(path), "--commit"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == expected
    assert count(ExternalReport) == 5
    entry = db.session.query(AuditLog).filter_by(kind="alerts_imported").one()
    assert entry.payload == {"rows": 12, "created": 3, "duplicates": 1, "added_to_open": 1, "errors": 7}
    assert entry.target == "预警.xlsx" and entry.actor_id is None


def test_the_command_imports_as_township_staff_when_told(app, world, runner, tmp_path):
    path = tmp_path / "预警.xlsx"
    path.write_bytes(dirty_workbook())
    result = runner.invoke(args=["hotline", "import-alerts", str(path), "--user", "east1"])
    errors = {e["row"]: e["message"] for e in json.loads(result.output)["errors"]}
    assert errors[11] == "南乡不是您所在的乡镇：只能导入本乡镇的预警。"
    refused = runner.invoke(args=["hotline", "import-alerts", str(path), "--user", "op_zhang"])
    assert refused.exit_code == 1 and "not an active admin or township staff member" in refused.output


def test_the_command_refuses_a_file_without_a_header_row(app, county, runner, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    result = runner.invoke(args=["hotline", "import-alerts", str(path)])
    assert result.exit_code == 1 and "预警编号" in result.output


def test_the_alert_date_is_kept_as_an_instant(app, county, now):
    rows = [["YJ501", "甲", None, None, "东镇", None, None, None, "2025-10-08"]]
    import_alerts(workbook(rows), actor=county["admin"], now=now, commit=True)
    report = db.session.query(ExternalReport).filter_by(external_id="YJ501").one()
    assert datetime.fromisoformat(report.extra["alerted_at"]) == datetime(2025, 10, 7, 16, 0, tzinfo=UTC)


def test_a_row_gives_every_reason_it_cannot_be_imported(app, county, now):
    rows = [["YJ601", None, bad_check(LI), None, "北镇", None, None, None, "明天"]]
    report = import_alerts(workbook(rows), actor=county["admin"], now=now, commit=False)
    assert report.errors == [
        {
            "row": 2,
            "message": "预警日期不是日期：明天。 姓名为空。 未知的乡镇：北镇。 身份证号校验位不符，可能有数字录错。",
        }
    ]


def test_the_app_does_not_start_with_a_malformed_alerts_file(tmp_path, database_url):
    import shutil
    from pathlib import Path

    from hotline import create_app
    from tests.conftest import app_config

    shutil.copytree(Path(__file__).resolve().parent.parent / "config" / "policy", tmp_path / "policy")
    path = tmp_path / "policy" / "alerts.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('"elderly_alone"', '"lonely"'), "utf-8")
    with pytest.raises(ValueError, match=r"type 独居老人: category 'lonely' is not in catalogue\.toml"):
        create_app(app_config(database_url) | {"POLICY_DIR": tmp_path / "policy"})
