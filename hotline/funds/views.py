"""The funds pages: every fund with its balance, a fund's statement for a period, money in, reversals, payments
held for the fund's manager, and the statement as Excel or CSV.

Managers and admins see every fund; department staff see the funds their unit (or a unit below it) holds;
operators have no funds pages (403). A fund another user may not see is a 404 (:func:`hotline.access.load_fund`).
"""

from datetime import date, timedelta
from decimal import Decimal

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from hotline import access
from hotline.access import load_fund, load_fund_entry, load_payout_request
from hotline.actions import run_form_action
from hotline.extensions import db
from hotline.formatting import format_yuan, localtime
from hotline.forms import choices
from hotline.funds import forms, service
from hotline.relief import service as relief_service
from hotline.reports import export
from hotline.reports.service import Period
from hotline.reports.views import _disposition
from hotline.security import require_role
from hotline.timeutil import to_local, utcnow
from models.department import Department
from models.fund import Fund, FundPayoutRequest
from models.relief import AdvanceRelief
from models.ticket import Ticket

bp = Blueprint("funds", __name__, url_prefix="/funds")

FUND_ROLES = ("manager", "admin", "department")
#: The longest statement one page or export covers, and the most entries one page lists.
MAX_DAYS = 2 * 366
MAX_ENTRIES = 2000
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2099, 12, 31)


# --- the list -------------------------------------------------------------------------------


def _owner_choices() -> list:
    units = db.session.scalars(
        select(Department)
        .where(Department.active.is_(True), Department.level.in_(("county", "township")), Department.kind != "hotline")
        .order_by(Department.level, Department.code)
    )
    return choices([(0, _("Choose…")), *((d.id, d.name) for d in units)])


def _render_list(form=None, *, status: int = 200, error: str | None = None):
    funds = db.session.scalars(
        select(Fund).where(access.fund_condition(current_user)).order_by(Fund.kind, Fund.code)
    ).all()
    held = dict(
        db.session.execute(
            select(FundPayoutRequest.fund_id, func.count())
            .where(FundPayoutRequest.status == "pending")
            .group_by(FundPayoutRequest.fund_id)
        ).all()
    )
    can_create = access.can_create_fund(current_user)
    if can_create and form is None:
        form = forms.FundForm(formdata=None)
    if form is not None:
        form.owner_unit_id.choices = _owner_choices()
    return (
        render_template(
            "funds/list.html",
            funds=funds,
            held=held,
            total=sum(f.balance_fen for f in funds),
            form=form,
            can_create=can_create,
            error=error,
            kind_label=forms.FUND_KIND_LABEL,
        ),
        status,
    )


@bp.get("")
@require_role(*FUND_ROLES)
def index():
    return _render_list()


@bp.post("")
@require_role(*FUND_ROLES)
def create():
    if not access.can_create_fund(current_user):
        abort(403)
    form = forms.FundForm()
    form.owner_unit_id.choices = _owner_choices()

    def action():
        fund = service.create_fund(
            actor=current_user,
            now=utcnow(),
            code=form.code.data,
            name=form.name.data,
            kind=form.kind.data,
            owner_unit=db.session.get(Department, form.owner_unit_id.data),
        )
        return _("Fund %(name)s set up. Record its first allocation on its page.", name=fund.name)

    return run_form_action(
        form,
        action,
        render=lambda status, error: _render_list(form, status=status, error=error),
        done_url=url_for("funds.index"),
    )


# --- a fund's statement ---------------------------------------------------------------------


def _parse_date(text: str | None) -> date | None:
    try:
        value = date.fromisoformat(text) if text else None
    except ValueError:
        abort(400, description=_("Give the period as two dates (YYYY-MM-DD)."))
    if value is not None and not FIRST_DATE <= value <= LAST_DATE:
        abort(400, description=_("Give the period as two dates (YYYY-MM-DD)."))
    return value


def statement_period() -> Period:
    """``from``/``to`` local dates, both included; by default the current local month up to today."""
    today = to_local(utcnow()).date()
    first = _parse_date(request.args.get("from")) or today.replace(day=1)
    last = _parse_date(request.args.get("to")) or today
    if first > last or (last - first).days >= MAX_DAYS:
        abort(
            400,
            description=_(
                "Give the period as two dates (YYYY-MM-DD), the first not after the second, at most %(days)s days.",
                days=MAX_DAYS,
            ),
        )
    return Period(first, last)


def _statement(fund: Fund, period: Period) -> service.Statement:
    return service.statement(fund, period.start, period.end, period.first, period.last)


def _ticket_numbers(statement: service.Statement) -> dict[int, str]:
    ids = {e.ticket_id for e in statement.entries if e.ticket_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(ids))).all())


def render_fund(fund: Fund, *, status: int = 200, error: str | None = None, forms_in: dict | None = None):
    period = statement_period()
    st = _statement(fund, period)
    forms_in = forms_in or {}
    can_enter = access.can_record_fund_entry(current_user, fund)
    held = db.session.scalars(
        select(FundPayoutRequest)
        .where(FundPayoutRequest.fund_id == fund.id, FundPayoutRequest.status == "pending")
        .order_by(FundPayoutRequest.id)
    ).all()
    held_rows = []
    for h in held:
        r = db.session.get(AdvanceRelief, h.relief_id)
        held_rows.append(
            {
                "held": h,
                "ticket": db.session.get(Ticket, r.ticket_id),
                "relief": r,
                "can_decide": access.can_decide_payout(current_user, h, fund),
                "form": forms_in.get(f"held-{h.id}")
                or forms.PayoutDecisionForm(formdata=None, prefix=f"h{h.id}", data={"version": h.version}),
            }
        )
    reversed_ids = {e.reverses_id for e in st.entries if e.reverses_id}
    return (
        render_template(
            "funds/show.html",
            fund=fund,
            st=st,
            period=period,
            entries=st.entries[:MAX_ENTRIES],
            too_many=len(st.entries) > MAX_ENTRIES,
            numbers=_ticket_numbers(st),
            reversed_ids=reversed_ids,
            can_enter=can_enter,
            income=forms_in.get("income") or forms.IncomeForm(formdata=None),
            reversal_form=forms_in.get("reversal"),
            reversal_of=forms_in.get("reversal_of"),
            held_rows=held_rows,
            error=error,
            kind_label=forms.FUND_KIND_LABEL,
            entry_label=forms.ENTRY_KIND_LABEL,
            period_args={"from": period.first.isoformat(), "to": period.last.isoformat()},
            last_month=last_month(to_local(utcnow()).date()),
        ),
        status,
    )


def _fund_url(fund: Fund) -> str:
    args = {k: request.args[k] for k in ("from", "to") if request.args.get(k)}
    return url_for("funds.show", fund_id=fund.id, **args)


@bp.get("/<int:fund_id>")
@require_role(*FUND_ROLES)
def show(fund_id: int):
    return render_fund(load_fund(fund_id))


@bp.post("/<int:fund_id>/entries")
@require_role(*FUND_ROLES)
def income(fund_id: int):
    fund = load_fund(fund_id)
    if not access.can_record_fund_entry(current_user, fund):
        abort(403)
    form = forms.IncomeForm()

    def action():
        entry = service.add_income(
            fund,
            actor=current_user,
            now=utcnow(),
            kind=form.kind.data,
            amount_yuan=form.amount.data,
            note=form.note.data,
        )
        return _(
            "%(amount)s recorded. The fund now holds %(balance)s.",
            amount=format_yuan(entry.amount_fen),
            balance=format_yuan(entry.balance_after_fen),
        )

    return run_form_action(
        form,
        action,
        render=lambda status, error: render_fund(fund, status=status, error=error, forms_in={"income": form}),
        done_url=_fund_url(fund),
    )


@bp.post("/entries/<int:entry_id>/reversal")
@require_role(*FUND_ROLES)
def reversal(entry_id: int):
    entry, fund = load_fund_entry(entry_id)
    if not access.can_record_fund_entry(current_user, fund):
        abort(403)
    form = forms.ReversalForm(prefix=f"r{entry.id}")

    def action():
        done = service.reverse_entry(entry, actor=current_user, now=utcnow(), note=form.note.data)
        return _("Entry reversed. The fund now holds %(balance)s.", balance=format_yuan(done.balance_after_fen))

    return run_form_action(
        form,
        action,
        render=lambda status, error: render_fund(
            fund, status=status, error=error, forms_in={"reversal": form, "reversal_of": entry.id}
        ),
        done_url=_fund_url(fund),
    )


@bp.post("/held/<int:request_id>/decision")
@require_role(*FUND_ROLES)
def payout_decision(request_id: int):
    held, fund = load_payout_request(request_id)
    if not access.can_manage_fund(current_user, fund):
        abort(403)
    form = forms.PayoutDecisionForm(prefix=f"h{held.id}")

    def action():
        release = form.decision.data == "release"
        relief_service.decide_payout(
            held,
            actor=current_user,
            now=utcnow(),
            release=release,
            comment=form.comment.data,
            expected_version=form.version.data,
        )
        if release:
            return _("Payment of %(amount)s released and paid from the fund.", amount=format_yuan(held.amount_fen))
        return _("Payment refused: nothing was paid.")

    return run_form_action(
        form,
        action,
        render=lambda status, error: render_fund(fund, status=status, error=error, forms_in={f"held-{held.id}": form}),
        done_url=_fund_url(fund),
        current_version=lambda: held.version,
    )


# --- export ---------------------------------------------------------------------------------


def _yuan(fen: int) -> Decimal:
    """Fen as an exact decimal number of yuan for a spreadsheet cell (never a float)."""
    return Decimal(fen).scaleb(-2)


def statement_tables(st: service.Statement, numbers: dict[int, str]) -> list[export.Table]:
    """The statement as the export writes it: a summary and the entries, with Chinese headers."""
    span = f"{st.first}至{st.last}"
    summary = export.Table(
        f"汇总 {span}",
        ["基金", "代码", "期间", "期初余额（元）", "收入（元）", "支出（元）", "期末余额（元）"],
        [
            [
                st.fund.name,
                st.fund.code,
                span,
                _yuan(st.opening_fen),
                _yuan(st.income_fen),
                _yuan(st.outgo_fen),
                _yuan(st.closing_fen),
            ]
        ],
    )
    kinds = {"allocation": "拨入", "donation": "捐赠", "payout": "支出", "reversal": "冲正"}
    entries = export.Table(
        "明细",
        ["时间", "类型", "金额（元）", "余额（元）", "工单号", "经办人", "摘要"],
        [
            [
                localtime(e.at, "yyyy-MM-dd HH:mm:ss"),
                kinds.get(e.kind, e.kind),
                _yuan(e.amount_fen),
                _yuan(e.balance_after_fen),
                numbers.get(e.ticket_id, ""),
                e.actor.display_name,
                e.note,
            ]
            for e in st.entries
        ],
    )
    return [summary, entries]


@bp.get("/<int:fund_id>/statement.<fmt>")
@require_role(*FUND_ROLES)
def export_statement(fund_id: int, fmt: str):
    fund = load_fund(fund_id)
    if fmt not in export.FORMATS:
        abort(404)
    now = utcnow()
    period = statement_period()
    st = _statement(fund, period)
    tables = statement_tables(st, _ticket_numbers(st))
    body = export.render(tables, fmt)
    export.audit_export(
        actor_id=current_user.id,
        now=now,
        report=f"fund_statement:{fund.code}",
        fmt=fmt,
        filters={"from": period.first.isoformat(), "to": period.last.isoformat()},
        rows=len(st.entries),
    )
    db.session.commit()
    stamp = to_local(now).strftime("%Y%m%d%H%M")
    response = Response(body, mimetype=export.FORMATS[fmt])
    response.headers["Content-Disposition"] = _disposition(
        f"基金对账单_{fund.code}_{period.first}_{period.last}_{stamp}.{fmt}"
    )
    return response


def last_month(today: date) -> tuple[date, date]:
    """The previous calendar month, for the page's quick link."""
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end
