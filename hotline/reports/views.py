"""Reports pages: the dashboard, response times, the lists behind every figure, and their exports.

Managers see every unit. Department staff see the same pages limited to their
unit and the units below it (no call figures, no scheduler health). Operators
and admins have no reports (403): an operator's own work is on the desk.
"""

from datetime import date
from decimal import Decimal

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from hotline import access, labels
from hotline.extensions import db
from hotline.formatting import localtime
from hotline.policy import category_label, source_label, sources
from hotline.privacy import mask_phone
from hotline.relief.rules import relief_rules
from hotline.reports import charts, export, service
from hotline.reports import relief as relief_report
from hotline.reports.service import Filters, Period, Scope
from hotline.reports.services import service_figures
from hotline.security import require_role
from hotline.timeutil import to_local, utcnow
from models.department import Department
from models.interaction import CHANNELS, Interaction
from models.referral import Referral
from models.ticket import OPEN_STATUSES, PRIORITIES, Ticket

bp = Blueprint("reports", __name__, url_prefix="/reports")

REPORT_ROLES = ("manager", "department")
#: The longest period one page or export covers.
MAX_DAYS = 2 * 366
#: Dates a report may name: anything outside is a typing mistake (year 0001 or 9999 would overflow the
#: day arithmetic of periods and buckets).
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2099, 12, 31)

FIGURE_LABEL = {
    "answer_rate": _l("Answer rate"),
    "answered_on_call": _l("Answered on the call"),
    "acknowledged_on_time": _l("Acknowledged on time"),
    "return_rate": _l("Return rate"),
    "resolved_on_time": _l("Resolved on time"),
    "advance_relief_on_time": _l("Advance relief on time"),
    "paperwork_on_time": _l("Paperwork on time"),
    "referrals_closed": _l("Referrals closed"),
    "callback_rate": _l("Callback rate"),
    "satisfaction": _l("Satisfaction"),
    "repeat_callers": _l("Repeat callers"),
    "proactive_share": _l("Found proactively"),
    "triage_right": _l("Triage right"),
}
FIGURE_HINT = {
    "answer_rate": _l("calls answered, of calls answered or missed"),
    "answered_on_call": _l("tickets answered on the call, of all tickets"),
    "acknowledged_on_time": _l("referrals acknowledged (or returned) by the deadline, of those decided"),
    "return_rate": _l("referrals a unit asked to return, of all referrals"),
    "resolved_on_time": _l("referrals resolved by the deadline, of those decided"),
    "advance_relief_on_time": _l("P1 tickets with relief granted or ruled out in 24 h, of those decided"),
    "paperwork_on_time": _l("relief paperwork completed by the deadline, of those decided"),
    "referrals_closed": _l("referred tickets whose referrals are finished with a result, of referred tickets"),
    "callback_rate": _l("resolved tickets whose caller was reached on a callback, of resolved tickets"),
    "satisfaction": _l("satisfied or very satisfied (4–5), of callers who rated"),
    "repeat_callers": _l("tickets with a repeat call, of all tickets"),
    "proactive_share": _l("tickets found proactively (主动发现), of all tickets"),
    "triage_right": _l("triage suggestions the operator confirmed, of those reviewed"),
}
CLOCK_LABEL = {
    "answer": _l("Answer or call back"),
    "dispatch": _l("Dispatch"),
    "acknowledge": _l("Acknowledge"),
    "first_contact": _l("First contact"),
    "advance_relief": _l("Advance relief"),
    "resolve": _l("Resolve"),
    "paperwork": _l("Paperwork"),
    "callback": _l("Callback"),
}
CLOCK_ZH = {
    "answer": "接听或回拨",
    "dispatch": "派单",
    "acknowledge": "签收",
    "first_contact": "首次联系",
    "advance_relief": "先行救助",
    "resolve": "办结",
    "paperwork": "补齐手续",
    "callback": "回访",
}
MEASURE_LABEL = {
    "answer": _l("Time to answer or call back"),
    "acknowledge": _l("Time to acknowledge"),
    "first_contact": _l("Time to first contact"),
    "advance_relief": _l("Time to advance relief"),
    "resolve": _l("Time to resolve (unit)"),
}
DIMENSION_LABEL = {
    "unit": _l("Unit"),
    "priority": _l("Priority"),
    "category": _l("Category"),
    "township": _l("Township"),
    "day": _l("Day"),
    "week": _l("Week"),
    "month": _l("Month"),
}
DIMENSION_ZH = {
    "unit": "单位",
    "priority": "优先级",
    "category": "类别",
    "township": "乡镇",
    "day": "日",
    "week": "周",
    "month": "月",
}
#: Figures shown in red under this percentage: the answer rate by GB/T 33358-2016, the deadline figures
#: by the county's own aim. Return rate, repeat callers and proactive share have no target.
TARGETS = {
    "answer_rate": 95,
    "acknowledged_on_time": 90,
    "resolved_on_time": 90,
    "advance_relief_on_time": 90,
    "paperwork_on_time": 90,
}
RELIEF_DIMENSION_LABEL = {
    "source": _l("Source"),
    "fund": _l("Fund"),
    "unit": _l("Granting and paying unit"),
    "township": _l("Township"),
    "month": _l("Month"),
}
RELIEF_DIMENSION_ZH = {"source": "救助来源", "fund": "基金", "unit": "发放单位", "township": "乡镇", "month": "月份"}
PAYMENT_TIME_LABEL = {
    "from_call": _l("From the call to the first payment"),
    "from_grant": _l("From the first grant to the first payment"),
}
PAYMENT_TIME_ZH = {"from_call": "来电至首笔发放", "from_grant": "首次批准至首笔发放"}
POPULATION_LABEL = {"tickets": _l("Tickets"), "referrals": _l("Referrals"), "calls": _l("Calls")}
STATE_LABEL = {"on_time": _l("On time"), "late": _l("Late"), "pending": _l("Still within time")}
CURRENT_LABEL = {
    "breached": _l("Breached and supervised cases (督办)"),
    "open_urgent": _l("Open P0/P1 cases"),
    "overdue": _l("Referrals past a deadline"),
    "returns_waiting": _l("Return requests waiting for a decision"),
    "extensions_waiting": _l("Extension requests waiting for a decision"),
    "paperwork_overdue": _l("Advance relief with paperwork overdue"),
}
CURRENT_ZH = {
    "breached": "超时及督办工单",
    "open_urgent": "在办P0P1工单",
    "overdue": "超时转介",
    "returns_waiting": "待审核退单",
    "extensions_waiting": "待审批延期",
    "paperwork_overdue": "补齐手续超时",
}


# --- request parsing -------------------------------------------------------------------------


def current_scope() -> Scope:
    """The figures ``current_user`` may read (:func:`hotline.access.report_units`); 403 when none."""
    units = access.report_units(current_user)
    if units is not None and not units:
        abort(403)
    return Scope(units)


def _parse_date(text: str | None) -> date | None:
    """A date typed as YYYY-MM-DD; None when absent or not a date; 400 when outside the years reports cover."""
    try:
        value = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    if value is not None and not FIRST_DATE <= value <= LAST_DATE:
        abort(400, description=_("Reports cover %(first)s to %(last)s.", first=FIRST_DATE, last=LAST_DATE))
    return value


def current_period(now) -> tuple[Period, dict]:
    """The period asked for (``range`` today/7d/30d, or ``from``/``to`` local dates) and the args that repeat it."""
    args = request.args
    name = args.get("range", "30d")
    if name in service.PERIODS:
        return Period.named(name, now), {"range": name}
    first, last = _parse_date(args.get("from")), _parse_date(args.get("to"))
    if first is None or last is None or first > last or (last - first).days >= MAX_DAYS:
        abort(
            400,
            description=_(
                "Give the period as two dates (YYYY-MM-DD), the first not after the second, at most %(days)s days.",
                days=MAX_DAYS,
            ),
        )
    return Period(first, last), {"range": "custom", "from": first.isoformat(), "to": last.isoformat()}


def current_filters() -> Filters:
    args = request.args
    grain = args.get("grain", "day")
    return Filters(
        unit=args.get("unit", type=int),
        priority=args.get("priority") if args.get("priority") in PRIORITIES else None,
        category=(args.get("category") or None) and args["category"][:48],
        township=args.get("township", type=int),
        channel=args.get("channel") if args.get("channel") in CHANNELS else None,
        source=args.get("source") if args.get("source") in sources() else None,
        bucket=args["bucket"] if _parse_date(args.get("bucket")) else None,
        grain=grain if grain in ("day", "week", "month") else "day",
        none_of=args.get("none_of") if args.get("none_of") in service.DIMENSIONS else None,
    )


# --- labels ----------------------------------------------------------------------------------


def group_label(dimension: str, value, names: dict[int, str], measure: str | None = None) -> str:
    if value is None:
        if dimension == "unit" and measure == "answer":
            return _("Hotline (every call)")
        if dimension == "unit":
            return _("Not referred")
        return "—"
    if dimension in ("unit", "township"):
        return names.get(value, "?")
    if dimension == "priority":
        return str(labels.PRIORITY.get(value, value))
    if dimension == "category":
        return category_label(value)
    return str(value)


def group_filters(dimension: str, value) -> dict:
    """Query args narrowing a list to one group of a response-time table."""
    if value is None:
        return {"none_of": dimension}
    if dimension in ("day", "week", "month"):
        return {"bucket": value, "grain": dimension}
    return {dimension: value}


def duration(seconds) -> str:
    """45 s, 12 min, 3.5 h, 2.1 d: the unit a person reads best for the size of the figure."""
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 120:
        return _("%(n)s s", n=f"{seconds:.0f}")
    if seconds < 2 * 3600:
        return _("%(n)s min", n=f"{seconds / 60:.0f}")
    if seconds < 48 * 3600:
        return _("%(n)s h", n=f"{seconds / 3600:.1f}")
    return _("%(n)s d", n=f"{seconds / 86400:.1f}")


def percent(value) -> str:
    return "—" if value is None else f"{value:.1f}%"


@bp.app_template_filter("duration")
def _duration_filter(seconds):
    return duration(seconds)


@bp.app_template_filter("percent")
def _percent_filter(value):
    return percent(value)


# --- the dashboard ---------------------------------------------------------------------------


def dashboard_data(period: Period, scope: Scope, now) -> dict:
    """Everything the dashboard shows; the export writes the same."""
    counts = service.dashboard_counts(period, scope, now)
    return {
        "figures": service.figures(period, scope, now, counts),
        "channels": service.tickets_by_channel(period, scope, now),
        "sources": service.tickets_by_source(period, scope, now, list(sources())),
        "compliance": service.clock_compliance(period, scope, now, counts),
        "times": service.response_times(period, scope, now, None),
        "open_urgent": service.open_urgent(scope),
        "overdue": service.overdue_by_unit(scope, now),
        "current": service.current_counts(scope, now),
        "relief_waiting": service.relief_waiting_approval(scope),
        "trend": service.daily_trend(period, scope, now),
        "units": service.unit_compliance(period, scope, now),
        "histogram": service.relief_histogram(period, scope, now, counts),
    }


def _items_url(period_args: dict, population: str, set_name: str, **filters) -> str:
    return url_for("reports.items", pop=population, set=set_name, **period_args, **filters)


def _charts(data: dict, period_args: dict) -> dict:
    trend = data["trend"]
    every = 1 if len(trend) <= 16 else (2 if len(trend) <= 31 else max(len(trend) // 15, 1))
    trend_chart = charts.columns(
        [
            {
                "value": d["tickets"],
                "line": d["urgent"],
                "label": d["day"][5:],
                "title": _(
                    "%(day)s: %(n)s new tickets, %(urgent)s of them P0/P1",
                    day=d["day"],
                    n=d["tickets"],
                    urgent=d["urgent"],
                ),
                "href": _items_url(period_args, "tickets", "all", bucket=d["day"], grain="day"),
            }
            for d in trend
        ],
        label_every=every,
    )
    unit_rows = []
    for u in data["units"]:
        row = {"label": u["name"]}
        for clock in ("acknowledge", "resolve"):
            cell = u[clock]
            row[clock] = {
                "percent": cell["percent"],
                "title": _(
                    "%(unit)s, %(clock)s: %(on_time)s on time, %(late)s late",
                    unit=u["name"],
                    clock=CLOCK_LABEL[clock],
                    on_time=cell["on_time"],
                    late=cell["late"],
                ),
                "href": _items_url(period_args, "referrals", f"{clock}_counted", unit=u["unit"]),
            }
        unit_rows.append(row)
    histogram = charts.columns(
        [
            {
                "value": b["count"],
                "label": f"{b['low']}–{b['high']} h" if b["high"] else f"≥ {b['low']} h",
                "title": _("%(n)s tickets", n=b["count"]),
                "href": _items_url(period_args, "tickets", b["set"]),
                "css": "late" if b["low"] >= 24 else "",
            }
            for b in data["histogram"]
        ],
        width=600,
        height=240,
    )
    return {
        "trend": trend_chart,
        "units": charts.percent_bars(unit_rows, ["acknowledge", "resolve"]),
        "histogram": histogram,
    }


@bp.get("")
@require_role(*REPORT_ROLES)
def dashboard():
    now = utcnow()
    scope = current_scope()
    period, period_args = current_period(now)
    data = dashboard_data(period, scope, now)
    health = None
    if scope.everything:
        from hotline.escalation.views import scheduler_health

        health = {"scheduler": scheduler_health(now), "outbox": service.outbox_health(now)}
    return render_template(
        "reports/dashboard.html",
        period=period,
        period_args=period_args,
        scope=scope,
        scope_name=_scope_name(scope),
        data=data,
        charts=_charts(data, period_args),
        health=health,
        now=now,
        names=service.department_names(),
        items_url=lambda *a, **k: _items_url(period_args, *a, **k),
        labels_=_label_sets(),
        targets=TARGETS,
        populations=service.CLOCK_POPULATION,
        services=service_figures(period, scope),
        service_label=relief_rules().service_label,
    )


def _scope_name(scope: Scope) -> str:
    if scope.everything:
        return _("Every unit")
    unit = db.session.get(Department, current_user.department_id)
    return _("%(unit)s and the units below it", unit=unit.name) if unit else ""


def _label_sets() -> dict:
    return {
        "figure": FIGURE_LABEL,
        "hint": FIGURE_HINT,
        "clock": CLOCK_LABEL,
        "measure": MEASURE_LABEL,
        "dimension": DIMENSION_LABEL,
        "state": STATE_LABEL,
        "current": CURRENT_LABEL,
        "population": POPULATION_LABEL,
    }


# --- response times --------------------------------------------------------------------------


@bp.get("/times")
@require_role(*REPORT_ROLES)
def times():
    now = utcnow()
    scope = current_scope()
    period, period_args = current_period(now)
    dimension = request.args.get("dim", "unit")
    if dimension not in service.DIMENSIONS:
        abort(404)
    tables = service.response_times(period, scope, now, dimension)
    names = service.department_names()
    if dimension in ("unit", "township", "category"):
        for table in tables:
            table.rows.sort(
                key=lambda r, m=table.measure.key: (r.group is None, group_label(dimension, r.group, names, m))
            )
    return render_template(
        "reports/times.html",
        period=period,
        period_args=period_args,
        scope_name=_scope_name(scope),
        dimension=dimension,
        dimensions=service.DIMENSIONS,
        tables=tables,
        names=names,
        group_label=group_label,
        group_filters=group_filters,
        items_url=lambda *a, **k: _items_url(period_args, *a, **k),
        labels_=_label_sets(),
    )


# --- relief money ----------------------------------------------------------------------------


def relief_group_label(dimension: str, value, names: dict[int, str], fund_names: dict[int, str]) -> str:
    if dimension == "source":
        return str(labels.RELIEF_KIND.get(value, value))
    if dimension == "fund":
        return fund_names.get(value, "?") if value is not None else _("No fund (a unit's budget)")
    if value is None:
        return "—"
    if dimension in ("unit", "township"):
        return names.get(value, "?")
    return str(value)


def relief_data(period: Period, scope: Scope, now, dimension: str) -> dict:
    """The relief report: money by ``dimension`` and the time to the first payment (by it when it can be)."""
    time_dimension = dimension if dimension in relief_report.TIME_DIMENSIONS else None
    times = relief_report.first_payment_times(period, scope, now, time_dimension)
    return {
        "money": relief_report.relief_money(period, scope, dimension),
        "services": relief_report.services_share(period, scope),
        # (sorted [(group, figures)], total figures) per measure; no group is listed last.
        "times": {
            key: (sorted(groups.items(), key=lambda kv: (kv[0] is None, str(kv[0]))), total)
            for key, (groups, total) in times.items()
        },
        "time_dimension": time_dimension,
    }


@bp.get("/relief")
@require_role(*REPORT_ROLES)
def relief():
    now = utcnow()
    scope = current_scope()
    period, period_args = current_period(now)
    dimension = request.args.get("dim", "source")
    if dimension not in relief_report.DIMENSIONS:
        abort(404)
    data = relief_data(period, scope, now, dimension)
    names, funds = service.department_names(), relief_report.fund_names()
    return render_template(
        "reports/relief.html",
        period=period,
        period_args=period_args,
        scope_name=_scope_name(scope),
        dimension=dimension,
        dimensions=relief_report.DIMENSIONS,
        data=data,
        label=lambda d, v: relief_group_label(d, v, names, funds),
        dimension_label=RELIEF_DIMENSION_LABEL,
        time_label=PAYMENT_TIME_LABEL,
    )


def _relief_tables(period: Period, scope: Scope, now, dimension: str) -> list[export.Table]:
    data = relief_data(period, scope, now, dimension)
    names, funds = service.department_names(), relief_report.fund_names()
    zh = RELIEF_DIMENSION_ZH[dimension]
    money = data["money"]

    def yuan(fen):
        return None if fen is None else Decimal(fen).scaleb(-2)

    rows = [
        [
            relief_group_label(dimension, r["group"], names, funds),
            yuan(r["granted_fen"]),
            r["granted_n"],
            r["granted_cases"],
            yuan(r["paid_fen"]),
            r["paid_n"],
            r["paid_cases"],
        ]
        for r in money["rows"]
    ]
    t = money["total"]
    rows.append(
        [
            "合计",
            yuan(t["granted_fen"]),
            t["granted_n"],
            t["granted_cases"],
            yuan(t["paid_fen"]),
            t["paid_n"],
            t["paid_cases"],
        ]
    )
    headers = [zh, "批准金额（元）", "批准笔数", "批准案件数", "发放金额（元）", "发放笔数", "发放案件数"]
    time_rows = []
    tdim = data["time_dimension"]
    for key, (groups, total) in data["times"].items():
        for group, f in [*groups, (None, total)]:
            label = "合计" if f is total else relief_group_label(tdim, group, names, funds)
            time_rows.append(
                [
                    PAYMENT_TIME_ZH[key],
                    label,
                    f["n"],
                    _round1(f["mean"]),
                    _round1(f["p50"]),
                    _round1(f["p90"]),
                    _round1(f["p95"]),
                ]
            )
    return [
        export.Table(f"救助资金（按{zh}） {period.first}至{period.last}", headers, rows),
        export.Table(
            "首笔发放用时",
            [
                "指标",
                RELIEF_DIMENSION_ZH[tdim] if tdim else "范围",
                "件数",
                "平均（秒）",
                "P50（秒）",
                "P90（秒）",
                "P95（秒）",
            ],
            time_rows,
        ),
    ]


# --- the lists -------------------------------------------------------------------------------


def _list_select(now, scope: Scope):
    """(population, title, SELECT, args) of the list asked for; 404 for an unknown one."""
    args = request.args
    current = args.get("list")
    if current:
        if current not in service.CURRENT_LISTS:
            abort(404)
        status = args.get("status") if args.get("status") in OPEN_STATUSES else None
        unit = args.get("unit", type=int)
        population, stmt = service.current_list_select(current, scope, now, unit=unit, status=status)
        title = str(CURRENT_LABEL[current])
        if unit is not None:
            name = service.department_names().get(unit) if unit else _("the hotline's own clocks")
            title += f" · {name}"
        if status:
            title += f" · {labels.STATUS[status]}"
        return population, title, CURRENT_ZH[current], stmt, {"list": current, "unit": unit, "status": status}
    population = args.get("pop", "tickets")
    if population not in service.FACTS:
        abort(404)
    if population == "calls" and not scope.everything:
        abort(404)
    set_name = args.get("set", "all")
    period, period_args = current_period(now)
    filters = current_filters()
    try:
        stmt = service.facts_list_select(population, set_name, period, scope, now, filters)
    except ValueError:
        abort(404)
    title = _list_title(population, set_name, period, filters)
    filter_args = {"pop": population, "set": set_name, **period_args, **filters.as_args()}
    return population, title, f"{population}-{set_name}", stmt, filter_args


def _list_title(population: str, set_name: str, period: Period, filters: Filters) -> str:
    parts = [str(POPULATION_LABEL[population])]
    figure = next(
        (f for f in service.FIGURES if f.population == population and set_name in (f.numerator, f.denominator)),
        None,
    )
    if set_name != "all":
        clock, _sep, state = set_name.rpartition("_")
        if clock in CLOCK_LABEL and state in STATE_LABEL:
            parts.append(f"{CLOCK_LABEL[clock]}: {STATE_LABEL[state]}")
        elif clock in CLOCK_LABEL and state == "counted":
            parts.append(f"{CLOCK_LABEL[clock]}: " + _("on time or late"))
        elif figure is not None and set_name == figure.numerator:
            parts.append(str(FIGURE_LABEL[figure.key]))
        else:
            parts.append(set_name.replace("_", " "))
    names = service.department_names()
    for key in ("unit", "township"):
        value = getattr(filters, key)
        if value is not None:
            parts.append(names.get(value, "?"))
    if filters.priority:
        parts.append(filters.priority)
    if filters.category:
        parts.append(category_label(filters.category))
    if filters.channel:
        parts.append(str(labels.CHANNEL.get(filters.channel, filters.channel)))
    if filters.source:
        parts.append(source_label(filters.source))
    if filters.bucket:
        parts.append(filters.bucket)
    if filters.none_of:
        parts.append(_("no %(dimension)s", dimension=DIMENSION_LABEL[filters.none_of]))
    parts.append(f"{period.first} – {period.last}")
    return " · ".join(parts)


def _with_options(population: str, stmt):
    if population == "tickets":
        return stmt.options(joinedload(Ticket.contact))
    if population == "referrals":
        return stmt.options(joinedload(Referral.ticket).joinedload(Ticket.contact), joinedload(Referral.department))
    return stmt.options(joinedload(Interaction.contact))


def list_rows(population: str, items: list, scope: Scope) -> tuple[list[str], list[str], list[dict]]:
    """(English headers, Chinese headers, rows) of a list; each row has ``cells`` and ``href``.

    Phone numbers are masked; no names and no ID numbers.
    """
    names = service.department_names()
    if population == "calls":
        headers = [_("Started"), _("Phone"), _("Answered or missed"), _("Answer or callback after"), _("Ticket")]
        zh = ["开始时间", "来电号码", "接听情况", "接听或回拨用时（秒）", "工单编号"]
        tickets = {t.id: t.number for t in _tickets_by_id([c.ticket_id for c in items if c.ticket_id])}
        rows = []
        for c in items:
            state = _("answered") if c.answered_at else (_("missed") if c.missed_at else _("ringing"))
            wait = (c.answered_at - c.started_at).total_seconds() if c.answered_at else None
            number = tickets.get(c.ticket_id)
            rows.append(
                {
                    "cells": [
                        localtime(c.started_at, "yyyy-MM-dd HH:mm:ss"),
                        mask_phone(c.from_number),
                        state,
                        wait,
                        number,
                    ],
                    "href": url_for("tickets.show", number=number) if number else None,
                }
            )
        return headers, zh, rows
    if population == "referrals":
        headers = [
            _("Ticket"),
            _("Priority"),
            _("Unit"),
            _("Role"),
            _("Status"),
            _("Dispatched"),
            _("Acknowledge by"),
            _("Acknowledged"),
            _("Resolved"),
            _("Resolve by"),
            _("Extension"),
            _("Return reason"),
        ]
        zh = [
            "工单编号",
            "优先级",
            "承办单位",
            "角色",
            "状态",
            "派单时间",
            "签收时限",
            "签收时间",
            "办结时间",
            "办结时限",
            "延期",
            "退单原因",
        ]
        rows = []
        for r in items:
            href = (
                url_for("tickets.show", number=r.ticket.number)
                if scope.everything
                else url_for("referrals.show", referral_id=r.id)
            )
            rows.append(
                {
                    "cells": [
                        r.ticket.number,
                        r.ticket.priority,
                        names.get(r.department_id, "?"),
                        str(labels.REFERRAL_ROLE.get(r.role, r.role)),
                        str(labels.REFERRAL_STATUS.get(r.status, r.status)),
                        localtime(r.dispatched_at),
                        localtime(r.acknowledge_due_at),
                        localtime(r.acknowledged_at),
                        localtime(r.resolved_at),
                        localtime(r.resolve_due_at),
                        str(labels.EXTENSION_STATE.get(r.extension_state, "")),
                        str(labels.RETURN_REASON.get(r.return_reason, "")) if r.return_reason else "",
                    ],
                    "href": href,
                    "overdue": r.next_deadline_at is not None and r.next_deadline_at < utcnow(),
                }
            )
        return headers, zh, rows
    headers = [
        _("Number"),
        _("Received"),
        _("Channel"),
        _("Priority"),
        _("Category"),
        _("Status"),
        _("Summary"),
        _("Township"),
        _("Phone"),
        _("Level"),
    ]
    zh = ["工单编号", "受理时间", "渠道", "优先级", "类别", "状态", "摘要", "乡镇", "来电号码", "督办级别"]
    via = {} if scope.everything else access.unit_referral_ids(current_user, [t.id for t in items])
    rows = []
    now = utcnow()
    for t in items:
        contact = t.contact
        if scope.everything:
            href = url_for("tickets.show", number=t.number)
        else:
            href = url_for("referrals.show", referral_id=via[t.id]) if t.id in via else None
        rows.append(
            {
                "cells": [
                    t.number,
                    localtime(t.created_at),
                    str(labels.CHANNEL.get(t.channel, t.channel)),
                    t.priority,
                    category_label(t.category),
                    str(labels.STATUS.get(t.status, t.status)),
                    t.summary,
                    names.get(contact.township_id, "") if contact and contact.township_id else "",
                    mask_phone(contact.phone or contact.phone_raw) if contact else "",
                    str(labels.LEVEL.get(t.escalation_level, "")) if t.escalation_level else "",
                ],
                "href": href,
                "overdue": t.is_open and t.next_deadline_at is not None and t.next_deadline_at < now,
            }
        )
    return headers, zh, rows


def _tickets_by_id(ids: list[int]) -> list[Ticket]:
    if not ids:
        return []
    return list(db.session.scalars(select(Ticket).where(Ticket.id.in_(ids))))


@bp.get("/list")
@require_role(*REPORT_ROLES)
def items():
    now = utcnow()
    scope = current_scope()
    population, title, _zh, stmt, args = _list_select(now, scope)
    page = db.paginate(
        _with_options(population, stmt),
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    headers, _zh_headers, rows = list_rows(population, list(page.items), scope)
    return render_template(
        "reports/list.html",
        title=title,
        page=page,
        headers=headers,
        rows=rows,
        export_args={k: v for k, v in args.items() if v is not None},
    )


# --- exports ---------------------------------------------------------------------------------


def _rate_row(rate) -> list:
    return [
        rate.figure.zh,
        str(FIGURE_LABEL[rate.figure.key]),
        rate.numerator,
        rate.denominator,
        None if rate.percent is None else round(rate.percent, 1),
    ]


def _dashboard_tables(period: Period, scope: Scope, now) -> list[export.Table]:
    data = dashboard_data(period, scope, now)
    names = service.department_names()
    span = f"{period.first}至{period.last}"
    tables = [
        export.Table(
            f"指标 {span}",
            ["指标", "名称", "分子", "分母", "比率（%）"],
            [_rate_row(r) for r in data["figures"]],
        ),
        export.Table(
            "新增工单（按渠道）",
            ["渠道", "工单数"],
            [[str(labels.CHANNEL.get(c, c)), n] for c, n in sorted(data["channels"].items())],
        ),
        export.Table(
            "时限达标",
            ["时限", "按时", "超时", "未到期", "达标率（%）"],
            [
                [CLOCK_ZH[c], s["on_time"], s["late"], s["pending"], _pct(s["on_time"], s["on_time"] + s["late"])]
                for c, s in data["compliance"].items()
            ],
        ),
        _times_table("响应时间", "范围", data["times"], None, names),
        export.Table(
            "在办P0P1",
            ["状态", "工单数"],
            [[str(labels.STATUS[s]), n] for s, n in data["open_urgent"].items()],
        ),
        export.Table(
            "超期（按单位）",
            ["单位", "超期件数"],
            [[o["name"] or "热线自身时限", o["count"]] for o in data["overdue"]],
        ),
        export.Table(
            "单位时限达标",
            ["单位", "签收按时", "签收超时", "签收达标率（%）", "办结按时", "办结超时", "办结达标率（%）"],
            [
                [
                    u["name"],
                    u["acknowledge"]["on_time"],
                    u["acknowledge"]["late"],
                    _round1(u["acknowledge"]["percent"]),
                    u["resolve"]["on_time"],
                    u["resolve"]["late"],
                    _round1(u["resolve"]["percent"]),
                ]
                for u in data["units"]
            ],
        ),
        export.Table(
            "主动发现（按来源）",
            ["来源", "工单数", "占全部新增（%）", "已首次联系", "预警至首次联系平均（秒）", "P50（秒）", "P90（秒）"],
            [
                [
                    sources()[r.source].zh,
                    r.tickets,
                    _pct(r.tickets, sum(data["channels"].values())),
                    r.contacted,
                    r.mean,
                    r.p50,
                    r.p90,
                ]
                for r in data["sources"]
            ],
        ),
        export.Table(
            "每日新增",
            ["日期", "新增工单", "其中P0P1"],
            [[d["day"], d["tickets"], d["urgent"]] for d in data["trend"]],
        ),
        export.Table(
            "先行救助用时分布",
            ["用时（小时）", "工单数"],
            [[f"{b['low']}-{b['high']}" if b["high"] else f"{b['low']}以上", b["count"]] for b in data["histogram"]],
        ),
    ]
    return tables


def _pct(num: int, den: int):
    return None if not den else round(100.0 * num / den, 1)


def _round1(value):
    return None if value is None else round(value, 1)


def _times_table(title: str, group_header: str, tables, dimension: str | None, names) -> export.Table:
    headers = [
        "指标",
        group_header,
        "件数",
        "平均（秒）",
        "中位数P50（秒）",
        "P90（秒）",
        "P95（秒）",
        "按时",
        "超时",
        "达标率（%）",
    ]
    rows = []
    for table in tables:
        groups = table.rows if dimension is not None else []
        for row in [*groups, table.total]:
            label = "合计" if row is table.total else group_label(dimension, row.group, names, table.measure.key)
            rows.append(
                [
                    table.measure.zh,
                    label,
                    row.n,
                    _round1(row.mean),
                    _round1(row.p50),
                    _round1(row.p90),
                    _round1(row.p95),
                    row.on_time,
                    row.late,
                    _round1(row.compliance),
                ]
            )
    return export.Table(title, headers, rows)


@bp.get("/export/<report>.<fmt>")
@require_role(*REPORT_ROLES)
def export_report(report: str, fmt: str):
    """``dashboard``, ``times``, ``relief`` or ``list`` (with the page's own query args) as CSV or Excel."""
    if fmt not in export.FORMATS:
        abort(404)
    now = utcnow()
    scope = current_scope()
    if report == "dashboard":
        period, period_args = current_period(now)
        tables = _dashboard_tables(period, scope, now)
        filters, name = period_args, f"报表_{period.first}_{period.last}"
    elif report == "times":
        period, period_args = current_period(now)
        dimension = request.args.get("dim", "unit")
        if dimension not in service.DIMENSIONS:
            abort(404)
        names = service.department_names()
        result = service.response_times(period, scope, now, dimension)
        tables = [
            _times_table(f"响应时间（按{DIMENSION_ZH[dimension]}）", DIMENSION_ZH[dimension], result, dimension, names)
        ]
        filters, name = (
            period_args | {"dim": dimension},
            f"响应时间_{DIMENSION_ZH[dimension]}_{period.first}_{period.last}",
        )
    elif report == "relief":
        period, period_args = current_period(now)
        dimension = request.args.get("dim", "source")
        if dimension not in relief_report.DIMENSIONS:
            abort(404)
        tables = _relief_tables(period, scope, now, dimension)
        filters = period_args | {"dim": dimension}
        name = f"救助资金_{RELIEF_DIMENSION_ZH[dimension]}_{period.first}_{period.last}"
    elif report == "list":
        population, _title, zh_name, stmt, filters = _list_select(now, scope)
        filters = {k: v for k, v in filters.items() if v is not None}
        total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        if total > export.MAX_ROWS:
            flash(
                _(
                    "%(n)s rows are too many for one export (at most %(max)s): choose a shorter period.",
                    n=total,
                    max=export.MAX_ROWS,
                ),
                "warning",
            )
            return redirect(url_for("reports.items", **filters))
        found = list(db.session.scalars(_with_options(population, stmt)).unique())
        _headers, zh_headers, rows = list_rows(population, found, scope)
        tables = [export.Table(zh_name, zh_headers, [r["cells"] for r in rows])]
        name = f"清单_{zh_name}"
    else:
        abort(404)
    body = export.render(tables, fmt)
    export.audit_export(
        actor_id=current_user.id,
        now=now,
        report=report,
        fmt=fmt,
        filters=filters,
        rows=sum(len(t.rows) for t in tables),
    )
    db.session.commit()
    stamp = to_local(now).strftime("%Y%m%d%H%M")
    filename = f"{name}_{stamp}.{fmt}"
    response = Response(body, mimetype=export.FORMATS[fmt])
    response.headers["Content-Disposition"] = _disposition(filename)
    return response


def _disposition(filename: str) -> str:
    """RFC 6266 / 5987: an ASCII fallback name and the UTF-8 one (Chinese) for browsers that read it."""
    from urllib.parse import quote

    ascii_name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
