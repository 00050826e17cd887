"""The test client and the CLI runner give each request and command its own database session, as a server does.

A view or a command that changes rows and forgets to commit must fail its
tests: its change is lost when its session is removed at the end of the
request, and the test, reading from its own session, does not see it. What a
request commits, the test sees, even through objects it loaded before.
"""

import click
from sqlalchemy import select

from hotline.extensions import db
from models.department import Department

RENAMED = "县民政局（改）"


def _rename(department_id: int, *, commit: bool) -> None:
    """What the test routes and commands do, in the session of the request or command that runs them."""
    db.session.get(Department, department_id).name = RENAMED
    db.session.flush()  # the UPDATE reaches the database inside the request's transaction
    if commit:
        db.session.commit()


def test_a_view_that_does_not_commit_loses_its_change(app, client, make_department):
    department = make_department()
    department_id = department.id

    def rename_without_commit():
        _rename(department_id, commit=False)
        return "renamed"

    app.add_url_rule("/test-only/rename-without-commit", view_func=rename_without_commit)
    response = client.get("/test-only/rename-without-commit")
    assert response.status_code == 200 and response.get_data(as_text=True) == "renamed"
    # With the old fixture the request ran in the test's application context, so in the test's
    # session: the flushed UPDATE stayed in that session's open transaction, `department.name` and
    # this query both read "县民政局（改）", and a view that never commits passed. The request's own
    # session is now removed at its end, which rolls the UPDATE back.
    assert department.name == "县民政局"
    assert db.session.scalar(select(Department.name).where(Department.id == department.id)) == "县民政局"


def test_what_a_view_commits_the_test_sees_through_the_objects_it_holds(app, client, make_department):
    department = make_department()
    department_id = department.id
    assert department.name == "县民政局"  # loaded in the test's session before the request

    def rename_and_commit():
        _rename(department_id, commit=True)
        return "renamed"

    app.add_url_rule("/test-only/rename-and-commit", view_func=rename_and_commit)
    assert client.get("/test-only/rename-and-commit").status_code == 200
    assert department.name == RENAMED


def test_a_request_sees_what_the_test_wrote_before_it(app, client, make_department):
    department = make_department()
    department.name = RENAMED  # not committed by the test: the client commits it before the request

    def name():
        return db.session.scalar(select(Department.name).where(Department.code == "civil_affairs"))

    app.add_url_rule("/test-only/name", view_func=name)
    assert client.get("/test-only/name").get_data(as_text=True) == RENAMED


def test_a_command_that_does_not_commit_loses_its_change(app, runner, make_department):
    department = make_department()

    department_id = department.id

    @app.cli.command("rename-without-commit")
    def rename_without_commit():
        _rename(department_id, commit=False)
        click.echo("renamed")

    result = runner.invoke(args=["rename-without-commit"])
    assert result.exit_code == 0, result.output
    assert result.output == "renamed\n"
    # With the old runner the command ran in the test's application context and session, as the
    # view above did: the change would have been visible here.
    assert department.name == "县民政局"
    assert db.session.scalar(select(Department.name).where(Department.id == department.id)) == "县民政局"


def test_what_a_command_commits_the_test_sees(app, runner, make_department):
    department = make_department()
    department_id = department.id

    @app.cli.command("rename-and-commit")
    def rename_and_commit():
        _rename(department_id, commit=True)

    assert runner.invoke(args=["rename-and-commit"]).exit_code == 0
    assert department.name == RENAMED
