"""Administration of users and departments: what the forms accept, refuse and record.

Every change an admin makes leaves an audit_log row naming who did it.
"""

import pytest
from sqlalchemy import func, select

from hotline.extensions import db
from models.audit import AuditLog
from models.department import Department
from models.user import User
from tests.conftest import PASSWORD, login, post_form
from tests.helpers import count, reload


@pytest.fixture
def admin(make_user):
    return make_user("admin", username="root", display_name="系统管理员")


@pytest.fixture
def as_admin(client, logged_in, admin):
    logged_in(admin)
    return client


def audit_entries(kind: str | None = None) -> list[AuditLog]:
    stmt = select(AuditLog).order_by(AuditLog.id)
    if kind:
        stmt = stmt.where(AuditLog.kind == kind)
    return list(db.session.scalars(stmt))


def admin_changes() -> list[AuditLog]:
    """Audit rows of admin actions (the admin's own login is not one)."""
    return [e for e in audit_entries() if e.kind != "login"]


def new_user_form(**overrides) -> dict:
    return {
        "username": "li_na",
        "display_name": "李娜",
        "role": "operator",
        "department_id": "0",
        "password": "a-long-password",
    } | overrides


def edit_form(user: User, **overrides) -> dict:
    """What the edit page posts back when nothing is changed."""
    data = {
        "display_name": user.display_name,
        "role": user.role,
        "department_id": str(user.department_id or 0),
        "password": "",
    }
    if user.active:
        data["active"] = "y"
    return data | overrides


def department_form(**overrides) -> dict:
    return {
        "code": "town_shiqiao",
        "name": "石桥镇",
        "kind": "township",
        "level": "township",
        "parent_id": "0",
        "duty_phone": "13900000103",
    } | overrides


def page(response) -> str:
    return response.get_data(as_text=True)


# --- users ---------------------------------------------------------------------------------


def test_admin_creates_an_operator_who_can_then_log_in(app, as_admin, admin):
    response = post_form(as_admin, "/admin/users/new", new_user_form())
    assert response.status_code == 302 and response.location == "/admin/users"
    user = db.session.scalar(select(User).where(User.username == "li_na"))
    assert (user.display_name, user.role, user.department_id, user.active) == ("李娜", "operator", None, True)
    assert "li_na" in page(as_admin.get("/admin/users"))
    created = audit_entries("user_created")[0]
    assert (created.actor_id, created.target) == (admin.id, "li_na")
    assert created.payload == {"role": "operator", "department": None}
    assert login(app.test_client(), "li_na", "a-long-password").status_code == 302


def test_admin_creates_department_staff_in_their_unit(as_admin, make_department):
    unit = make_department()
    form = new_user_form(username="civil1", role="department", department_id=str(unit.id))
    assert post_form(as_admin, "/admin/users/new", form).status_code == 302
    user = db.session.scalar(select(User).where(User.username == "civil1"))
    assert user.department_id == unit.id
    assert audit_entries("user_created")[0].payload == {"role": "department", "department": "civil_affairs"}


def test_only_department_staff_keep_a_department(as_admin, make_department):
    unit = make_department()
    form = new_user_form(role="manager", department_id=str(unit.id))
    assert post_form(as_admin, "/admin/users/new", form).status_code == 302
    assert db.session.scalar(select(User).where(User.username == "li_na")).department_id is None


def test_department_staff_without_a_department_are_refused_and_the_form_kept(as_admin):
    response = post_form(as_admin, "/admin/users/new", new_user_form(username="civil9", role="department"))
    html = page(response)
    assert response.status_code == 400
    assert 'class="flash flash-danger"' in html
    assert 'value="civil9"' in html and 'value="李娜"' in html
    assert count(User, User.username == "civil9") == 0
    assert admin_changes() == []


def test_duplicate_username_is_refused_whatever_its_case(as_admin, operator):
    response = post_form(as_admin, "/admin/users/new", new_user_form(username="OP_ZHANG"))
    assert response.status_code == 400 and 'class="flash flash-danger"' in page(response)
    assert count(User, func.lower(User.username) == "op_zhang") == 1
    assert admin_changes() == []


@pytest.mark.parametrize(
    ("overrides", "typed"),
    [
        ({"username": "bad name!"}, 'value="bad name!"'),
        ({"username": ""}, 'value="李娜"'),
        ({"display_name": ""}, 'value="li_na"'),
        ({"password": ""}, 'value="li_na"'),
        ({"password": "short"}, 'value="li_na"'),
        ({"role": "superuser"}, 'value="li_na"'),
        ({"department_id": "999999"}, 'value="li_na"'),
        ({"department_id": "abc"}, 'value="li_na"'),
    ],
    ids=["bad-username", "no-username", "no-name", "no-password", "short-password", "role", "dept", "dept-garbage"],
)
def test_invalid_new_user_shows_the_error_and_keeps_what_was_typed(as_admin, overrides, typed):
    response = post_form(as_admin, "/admin/users/new", new_user_form(**overrides))
    html = page(response)
    assert response.status_code == 400
    assert 'class="error"' in html and typed in html
    assert "a-long-password" not in html  # a password is never sent back
    assert count(User) == 1 and admin_changes() == []


def test_admin_changes_a_users_name_and_role(as_admin, admin, operator):
    response = post_form(
        as_admin, f"/admin/users/{operator.id}", edit_form(operator, display_name="张主任", role="manager")
    )
    assert response.status_code == 302
    assert (reload(operator).display_name, operator.role) == ("张主任", "manager")
    [updated] = audit_entries("user_updated")
    assert (updated.actor_id, updated.target) == (admin.id, "op_zhang")
    assert updated.payload["changes"] == {"display_name": ["张晓红", "张主任"], "role": ["operator", "manager"]}


def test_saving_an_unchanged_user_records_nothing(as_admin, operator):
    assert post_form(as_admin, f"/admin/users/{operator.id}", edit_form(operator)).status_code == 302
    assert admin_changes() == []


def test_username_cannot_be_changed(as_admin, operator):
    post_form(as_admin, f"/admin/users/{operator.id}", edit_form(operator, username="renamed"))
    assert reload(operator).username == "op_zhang"


def test_moving_a_user_to_department_staff_needs_a_unit(as_admin, operator):
    response = post_form(as_admin, f"/admin/users/{operator.id}", edit_form(operator, role="department"))
    assert response.status_code == 400 and 'class="flash flash-danger"' in page(response)
    assert reload(operator).role == "operator" and admin_changes() == []


@pytest.mark.parametrize("change", [{"active": None}, {"role": "operator"}], ids=["deactivate", "change-role"])
def test_admin_cannot_deactivate_themselves_or_change_their_own_role(as_admin, admin, change):
    form = edit_form(admin, **change)
    form = {k: v for k, v in form.items() if v is not None}
    response = post_form(as_admin, f"/admin/users/{admin.id}", form)
    assert response.status_code == 400 and 'class="flash flash-danger"' in page(response)
    assert reload(admin).active and admin.role == "admin"
    assert as_admin.get("/admin/users").status_code == 200  # still logged in
    assert admin_changes() == []


def test_clear_failed_logins_is_offered_only_for_an_account_with_failures(as_admin, operator):
    unlock_url = f"/admin/users/{operator.id}/unlock"
    assert unlock_url not in page(as_admin.get(f"/admin/users/{operator.id}"))
    operator.failed_logins = 3
    db.session.commit()
    assert unlock_url in page(as_admin.get(f"/admin/users/{operator.id}"))


def test_deactivating_a_user_ends_their_session_and_their_logins(app, as_admin, operator):
    their_browser = app.test_client()
    assert login(their_browser, "op_zhang").status_code == 302
    assert their_browser.get("/desk").status_code == 200
    form = edit_form(operator)
    del form["active"]
    assert post_form(as_admin, f"/admin/users/{operator.id}", form).status_code == 302
    assert not reload(operator).active
    response = their_browser.get("/desk")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert login(their_browser, "op_zhang").status_code == 401
    assert audit_entries("user_updated")[0].payload["changes"] == {"active": [True, False]}


def test_changing_a_users_role_ends_their_session(app, as_admin, operator):
    their_browser = app.test_client()
    login(their_browser, "op_zhang")
    post_form(as_admin, f"/admin/users/{operator.id}", edit_form(operator, role="manager"))
    assert their_browser.get("/desk").status_code == 302


def test_admin_resets_a_password(app, as_admin, admin, operator):
    their_browser = app.test_client()
    login(their_browser, "op_zhang")
    response = post_form(as_admin, f"/admin/users/{operator.id}", edit_form(operator, password="reset-by-admin-1"))
    assert response.status_code == 302
    assert reload(operator).check_password("reset-by-admin-1") and not operator.check_password(PASSWORD)
    assert their_browser.get("/desk").status_code == 302
    changed = audit_entries("password_changed")[-1]
    assert (changed.actor_id, changed.target) == (admin.id, "op_zhang")
    assert audit_entries("user_updated")[0].payload["changes"] == {"password_reset": True}


def test_unknown_user_is_not_found(as_admin):
    assert as_admin.get("/admin/users/999999").status_code == 404


def test_audit_page_lists_what_admins_did(as_admin):
    post_form(as_admin, "/admin/users/new", new_user_form())
    html = page(as_admin.get("/admin/audit"))
    assert "新建用户" in html and "user_created" not in html and "li_na" in html and "系统管理员" in html


# --- departments ---------------------------------------------------------------------------


def test_admin_creates_an_active_department(as_admin, admin):
    response = post_form(as_admin, "/admin/departments/new", department_form())
    assert response.status_code == 302 and response.location == "/admin/departments"
    unit = db.session.scalar(select(Department).where(Department.code == "town_shiqiao"))
    assert (unit.name, unit.kind, unit.level, unit.parent_id) == ("石桥镇", "township", "township", None)
    assert unit.active, "a new unit must be able to take referrals"
    assert "石桥镇" in page(as_admin.get("/admin/departments"))
    [created] = audit_entries("department_created")
    assert (created.actor_id, created.target, created.payload["name"]) == (admin.id, "town_shiqiao", "石桥镇")


def test_village_is_created_under_its_township(as_admin, make_department):
    town = make_department("town_shiqiao", "石桥镇", "township", "township")
    form = department_form(code="village_taoyuan", name="桃园村", kind="village", level="village", parent_id=town.id)
    assert post_form(as_admin, "/admin/departments/new", form).status_code == 302
    village = db.session.scalar(select(Department).where(Department.code == "village_taoyuan"))
    assert village.parent_id == town.id
    assert audit_entries("department_created")[0].payload["parent"] == "town_shiqiao"


@pytest.mark.parametrize(
    ("overrides", "typed"),
    [
        ({"code": "Bad Code"}, 'value="Bad Code"'),
        ({"code": ""}, 'value="石桥镇"'),
        ({"name": ""}, 'value="town_shiqiao"'),
        ({"kind": "planet"}, 'value="石桥镇"'),
        ({"level": "galaxy"}, 'value="石桥镇"'),
        ({"parent_id": "999999"}, 'value="石桥镇"'),
        ({"name": "镇" * 121}, 'value="town_shiqiao"'),
    ],
    ids=["bad-code", "no-code", "no-name", "kind", "level", "parent", "long-name"],
)
def test_invalid_department_shows_the_error_and_keeps_what_was_typed(as_admin, overrides, typed):
    response = post_form(as_admin, "/admin/departments/new", department_form(**overrides))
    html = page(response)
    assert response.status_code == 400
    assert 'class="error"' in html and typed in html
    assert count(Department) == 0 and admin_changes() == []


def test_duplicate_department_code_is_refused(as_admin, make_department):
    make_department("town_shiqiao", "石桥镇", "township", "township")
    response = post_form(as_admin, "/admin/departments/new", department_form(name="另一个石桥镇"))
    html = page(response)
    assert response.status_code == 400 and 'class="flash flash-danger"' in html and 'value="另一个石桥镇"' in html
    assert count(Department) == 1 and admin_changes() == []


def test_admin_renames_a_department_but_its_code_stays(as_admin, make_department):
    unit = make_department()
    form = department_form(code="renamed", name="县民政局（社会救助科）", kind="bureau", level="county", active="y")
    assert post_form(as_admin, f"/admin/departments/{unit.id}", form).status_code == 302
    assert (reload(unit).code, unit.name, unit.active) == ("civil_affairs", "县民政局（社会救助科）", True)
    [updated] = audit_entries("department_updated")
    assert updated.target == "civil_affairs" and updated.payload["name"] == "县民政局（社会救助科）"


def test_admin_deactivates_a_department(as_admin, make_department):
    unit = make_department()
    form = department_form(name=unit.name, kind="bureau", level="county")  # the box is left unticked
    assert post_form(as_admin, f"/admin/departments/{unit.id}", form).status_code == 302
    assert not reload(unit).active
    assert audit_entries("department_updated")[0].payload["active"] is False


def test_department_cannot_be_placed_under_its_own_village(as_admin, make_department):
    town = make_department("town_shiqiao", "石桥镇", "township", "township")
    village = make_department("village_taoyuan", "桃园村", "village", "village", parent=town)
    form = department_form(parent_id=str(village.id), active="y")
    response = post_form(as_admin, f"/admin/departments/{town.id}", form)
    assert response.status_code == 400 and 'class="flash flash-danger"' in page(response)
    assert reload(town).parent_id is None and admin_changes() == []


def test_unknown_department_is_not_found(as_admin):
    assert as_admin.get("/admin/departments/999999").status_code == 404
