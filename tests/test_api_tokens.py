"""Partner API tokens: the create-token command, the admin's pages (list, create with the secret shown once,
revoke), what is stored (the hash, never the secret) and the audit trail."""

import re

import pytest
from sqlalchemy import select

from hotline.api.tokens import create_token, hash_secret
from hotline.errors import DomainError
from hotline.extensions import db
from models.api_token import ApiToken
from models.audit import AuditLog
from models.user import User
from tests.conftest import login, post_form
from tests.helpers import audit_kinds, count

SECRET_RE = re.compile(r"hk_[A-Za-z0-9_\-]{43}")


def test_create_token_prints_the_secret_once_as_the_last_line_and_stores_its_hash(app, runner, client):
    result = runner.invoke(args=["hotline", "create-token", "county-12345", "--scope", "intake", "--scope", "read"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert SECRET_RE.fullmatch(secret)
    assert result.output.count(secret) == 1
    token = db.session.scalar(select(ApiToken))
    assert (token.name, token.scopes, token.department_id) == ("county-12345", ["intake", "read"], None)
    assert token.secret_hash == hash_secret(secret) and token.prefix == secret[:11]
    stored = [str(v) for row in db.session.execute(select(ApiToken.__table__)).all() for v in row]
    assert not any(secret in value for value in stored)
    assert client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert audit_kinds("county-12345") == ["api_token_created"]


def test_a_department_token_gets_a_service_account_that_cannot_log_in(app, runner, client, civil):
    result = runner.invoke(
        args=["hotline", "create-token", "civil-app", "--scope", "referrals", "--department", "civil_affairs"]
    )
    assert result.exit_code == 0, result.output
    token = db.session.scalar(select(ApiToken))
    user = token.service_user
    assert (user.role, user.department_id, user.active) == ("department", civil.id, False)
    assert user.username in result.output and user.username == f"api-{token.prefix}"
    assert login(client, user.username, "!").status_code == 401  # the login form again: refused
    assert not user.check_password("!")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x", "--scope", "referrals"], "referrals 权限需要指定单位"),
        (["x", "--scope", "read", "--department", "nowhere"], "no department with code 'nowhere'"),
        (["x", "--scope", "admin"], "Invalid value for '--scope'"),
        (["x"], "Missing option '--scope'"),
    ],
)
def test_create_token_refuses_what_it_cannot_make(app, runner, args, message):
    result = runner.invoke(args=["hotline", "create-token", *args])
    assert result.exit_code != 0 and message in result.output
    assert count(ApiToken) == 0


def test_token_names_are_unique_and_scopes_known(app):
    create_token(actor=None, now=_now(), name="Partner", scopes=["read"])
    with pytest.raises(DomainError, match="已有名为"):
        create_token(actor=None, now=_now(), name="partner", scopes=["read"])
    with pytest.raises(DomainError, match="请至少选择一项权限"):
        create_token(actor=None, now=_now(), name="other", scopes=[])


def _now():
    from hotline.timeutil import utcnow

    return utcnow()


@pytest.fixture
def admin_browser(client, make_user):
    admin = make_user("admin", username="root")
    assert login(client, admin.username).status_code == 302
    return client


def test_the_admin_creates_a_token_and_sees_the_secret_once(admin_browser, civil):
    page = admin_browser.get("/admin/tokens").get_data(as_text=True)
    assert "还没有接口令牌" in page
    form = admin_browser.get("/admin/tokens/new").get_data(as_text=True)
    assert "intake：报送案件" in form and "县民政局" in form
    response = post_form(
        admin_browser,
        "/admin/tokens/new",
        {"name": "民政业务系统", "scopes": ["read", "referrals"], "department_id": str(civil.id)},
        page="/admin/tokens/new",
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    secret = SECRET_RE.search(html).group(0)
    assert "只显示这一次" in html
    token = db.session.scalar(select(ApiToken))
    assert token.secret_hash == hash_secret(secret) and token.service_user.department_id == civil.id
    listing = admin_browser.get("/admin/tokens").get_data(as_text=True)
    assert secret not in listing and token.prefix in listing and "read, referrals" in listing
    assert token.service_user.username in listing and "从未" in listing


def test_the_admin_form_says_what_is_wrong(admin_browser):
    response = post_form(
        admin_browser,
        "/admin/tokens/new",
        {"name": "x", "scopes": ["referrals"], "department_id": "0"},
        page="/admin/tokens/new",
    )
    assert response.status_code == 400
    assert "referrals 权限需要指定单位" in response.get_data(as_text=True)
    assert count(ApiToken) == 0


def test_the_admin_revokes_a_token_after_confirming(app, admin_browser):
    token, secret = create_token(actor=None, now=_now(), name="old-partner", scopes=["read"])
    db.session.commit()
    listing = admin_browser.get("/admin/tokens").get_data(as_text=True)
    assert 'data-confirm="吊销令牌 old-partner？' in listing
    response = post_form(admin_browser, f"/admin/tokens/{token.id}/revoke", {}, page="/admin/tokens")
    assert response.status_code == 302
    assert "已吊销" in admin_browser.get("/admin/tokens").get_data(as_text=True)
    assert db.session.get(ApiToken, token.id).revoked_at is not None
    assert admin_browser.get("/api/v1/tickets", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    entry = db.session.scalar(select(AuditLog).where(AuditLog.kind == "api_token_revoked"))
    assert entry.target == "old-partner" and entry.actor.username == "root"
    audit_page = admin_browser.get("/admin/audit").get_data(as_text=True)
    assert "吊销接口令牌" in audit_page and "令牌前缀" in audit_page


def test_only_admins_reach_the_token_pages(client, make_user):
    operator = make_user("operator")
    assert login(client, operator.username).status_code == 302
    assert client.get("/admin/tokens").status_code == 403
    assert count(User, User.username.like("api-%")) == 0
