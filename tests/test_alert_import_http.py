"""The alert import's pages: upload, preview, commit with progress, the report; who may use them."""

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from hotline.extensions import db
from models.alert_import import AlertImport
from models.audit import AuditLog
from models.external_report import ExternalReport
from models.ticket import Ticket
from tests.alert_files import big_export, dirty_workbook, workbook
from tests.conftest import csrf_token
from tests.helpers import count


@pytest.fixture
def county(make_department, make_user):
    east = make_department("t_east", "东镇", "township", "township")
    south = make_department("t_south", "南乡", "township", "township")
    make_department("v_dongcun", "东村", "village", "village", parent=east)
    make_department("v_nancun", "南村", "village", "village", parent=south)
    return {
        "east": east,
        "south": south,
        "admin": make_user("admin", username="adm"),
        "east_staff": make_user("department", username="east1", department=east),
        "civil_staff": make_user("department", username="civil1", department=make_department()),
        "operator": make_user("operator", username="op1"),
    }


def upload(client, data: bytes, name="预警名单.xlsx"):
    token = csrf_token(client, "/alerts/import")
    return client.post(
        "/alerts/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def post(client, url, page, **headers):
    return client.post(url, data={"csrf_token": csrf_token(client, page)}, headers=headers)


def test_upload_preview_commit_and_download_the_report(app, county, logged_in):
    client = logged_in(county["admin"])
    page = client.get("/alerts/import").get_data(as_text=True)
    assert "导入监测预警" in page and "暂无导入记录" in page
    response = upload(client, dirty_workbook())
    assert response.status_code == 302
    job_url = response.headers["Location"]
    preview = client.get(job_url).get_data(as_text=True)
    assert "12 行：5 行可以导入，7 行有错误" in preview
    assert "预计：新建 5 张工单，0 条并入此人的在办工单，0 条此前已导入" in preview
    assert "与第3行重复（预警编号相同）。" in preview and "未知的乡镇：北镇。" in preview
    valid_rows = client.get(job_url + "?show=valid").get_data(as_text=True)
    assert "1101**********002X" in valid_rows and "11010519491231002X" not in valid_rows + preview  # masked
    assert count(Ticket) == 0 and count(ExternalReport) == 0  # the preview writes no case

    assert post(client, job_url + "/commit", job_url).status_code == 302
    importing = client.get(job_url).get_data(as_text=True)
    assert 'id="import-progress"' in importing and "已导入 0 / 5 行" in importing
    step = post(client, job_url + "/step", job_url, Accept="application/json")
    assert step.get_json() | {"text": None} == {
        "status": "done",
        "done": True,
        "processed": 5,
        "valid": 5,
        "created": 5,
        "duplicates": 0,
        "added_to_open": 0,
        "errors": 7,
        "text": None,
    }
    assert step.get_json()["text"] == "已导入 5 / 5 行"
    done = client.get(job_url).get_data(as_text=True)
    assert 'data-count="created">5<' in done and 'data-count="errors">7<' in done
    assert count(Ticket) == 5
    entry = db.session.query(AuditLog).filter_by(kind="alerts_imported").one()
    assert entry.payload["created"] == 5 and entry.actor_id == county["admin"].id

    report = client.get(job_url + "/report.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(report.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["行号", "预警编号", "乡镇", "村（社区）", "预警类型", "预览", "结果", "原因", "工单编号"]
    by_row = {r[0]: r for r in rows[1:]}
    assert by_row["3"][6] == "新建工单" and re.fullmatch(r"\d{12}", by_row["3"][8])
    assert by_row["9"][6] == "错误" and by_row["9"][7] == "与第3行重复（预警编号相同）。"
    assert "王某" not in report.get_data(as_text=True)  # no names in an export
    book = load_workbook(io.BytesIO(client.get(job_url + "/report.xlsx").data))
    assert book.active.max_row == 13
    assert db.session.query(AuditLog).filter_by(kind="report_exported").count() == 2


def test_a_big_file_is_imported_in_steps_with_progress(app, county, logged_in):
    client = logged_in(county["admin"])
    job_url = upload(client, big_export(450, [("东镇", "东村"), ("南乡", "南村")])).headers["Location"]
    post(client, job_url + "/commit", job_url)
    seen = []
    while True:
        got = post(client, job_url + "/step", job_url, Accept="application/json").get_json()
        seen.append(got["processed"])
        if got["done"]:
            break
    assert seen == list(range(50, 451, 50))  # batch = 50 in alerts.toml
    assert count(Ticket) == 450


def test_without_script_the_step_button_goes_back_to_the_page(app, county, logged_in):
    client = logged_in(county["admin"])
    rows = [["YJ1", "甲", None, None, "东镇", None, None, None, None]]
    job_url = upload(client, workbook(rows)).headers["Location"]
    post(client, job_url + "/commit", job_url)
    assert "继续导入" in client.get(job_url).get_data(as_text=True)
    response = post(client, job_url + "/step", job_url)
    assert response.status_code == 302 and response.headers["Location"].endswith(job_url)
    assert db.session.query(AlertImport).one().status == "done"


def test_a_file_that_is_no_export_is_refused_on_the_page(app, county, logged_in):
    client = logged_in(county["admin"])
    response = upload(client, b"just text\n", name="x.csv")
    assert response.status_code == 400
    assert "找不到表头" in response.get_data(as_text=True)
    assert count(AlertImport) == 0


def test_township_staff_import_their_own_alerts_and_see_their_own_imports(app, county, logged_in, client):
    staff = logged_in(county["east_staff"])
    job_url = upload(staff, dirty_workbook()).headers["Location"]
    preview = staff.get(job_url + "?show=errors").get_data(as_text=True)
    assert "南乡不是您所在的乡镇：只能导入本乡镇的预警。" in preview
    staff.post("/logout", data={"csrf_token": csrf_token(staff, "/alerts/import")})
    admin = logged_in(county["admin"])
    assert admin.get(job_url).status_code == 200  # admins see every import


@pytest.mark.parametrize("who", ["civil_staff", "operator"])
def test_others_may_not_import(app, county, logged_in, who):
    client = logged_in(county[who])
    assert client.get("/alerts/import").status_code == 403


def test_another_township_users_import_is_not_found(app, county, logged_in, make_user):
    south_staff = make_user("department", username="south1", department=county["south"])
    client = logged_in(county["east_staff"])
    job_url = upload(client, workbook([["YJ1", "甲", None, None, "东镇", None, None, None, None]])).headers["Location"]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/alerts/import")})
    other = logged_in(south_staff)
    assert other.get(job_url).status_code == 404
    assert other.get(job_url + "/report.csv").status_code == 404
