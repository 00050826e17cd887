"""Who may see and act on what: every access rule of a case, in one place.

The rules are plain functions of a user and a record (``can_see_ticket(user,
ticket)``), so services, views, templates and the reports ask the same
question the same way. Hotline staff (operators and managers) see every
ticket; department staff see a ticket only through a referral to their unit
or a unit below it (a township sees its villages' referrals); admins see no
case. Acting takes more: the first-contact owner or a manager runs a ticket,
staff of the receiving unit work its referral, a manager decides what needs
a second pair of eyes (and never on their own request).

``ticket_condition`` and ``referred_to`` are the same rules as SQL, for the
queue, search, reports and exports. The loaders at the end apply the rules to
the current request: what a user may not see is a 404, the same answer as
for something that does not exist, so ticket numbers cannot be probed.

Which role may reach a route at all is said at the route, by
:func:`hotline.security.require_role`.
"""

from flask import abort
from flask_login import current_user
from sqlalchemy import exists, false, select, true
from sqlalchemy.orm import joinedload

from hotline.extensions import db
from hotline.idcard import normalize_id_number
from models.alert_import import AlertImport
from models.department import Department
from models.external_report import ExternalReport
from models.fund import Fund, FundEntry, FundPayoutRequest
from models.interaction import Interaction
from models.referral import Referral
from models.relative import DeclaredRelative
from models.relief import AdvanceRelief
from models.relief_document import ReliefDocument
from models.ticket import Ticket
from models.user import CASE_ROLES, HOTLINE_ROLES, User
from models.visit import Visit, VisitPlan

#: Who holds relief funds: county bureaus and the charity fund, and townships; villages and grids do not.
GRANTING_LEVELS = ("county", "township")

# --- units ---------------------------------------------------------------------------------


def unit_ids(department_id: int) -> set[int]:
    """The unit and every unit below it (a township's villages and grids)."""
    rows = db.session.execute(select(Department.id, Department.parent_id)).all()
    children: dict[int | None, list[int]] = {}
    for ident, parent in rows:
        children.setdefault(parent, []).append(ident)
    found, todo = set(), [department_id]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.add(current)
        todo.extend(children.get(current, []))
    return found


def user_units(user: User) -> frozenset[int]:
    """The units whose cases a department user sees (their own and those below it); none for anyone else."""
    if user.role != "department" or user.department_id is None:
        return frozenset()
    return frozenset(unit_ids(user.department_id))


def report_units(user: User) -> frozenset[int] | None:
    """Whose figures ``user`` may read: None for every unit (a manager), else the units of :func:`user_units`.

    An empty set (a department account without a unit) may read nothing.
    """
    if user.role == "manager":
        return None
    return user_units(user)


# --- tickets -------------------------------------------------------------------------------


def is_hotline(user: User) -> bool:
    """Operators and managers: they see every ticket and work on the ticket page."""
    return user.role in HOTLINE_ROLES


def can_see_ticket(user: User, ticket: Ticket) -> bool:
    """The hotline, and staff of a unit the ticket is referred to (or of a unit above it)."""
    return is_hotline(user) or bool(visible_referrals(user, ticket))


def can_manage_ticket(user: User, ticket: Ticket) -> bool:
    """The first-contact owner or a manager: closes, merges, hands over, refers, grants, pauses clocks."""
    return user.role == "manager" or (user.role == "operator" and ticket.first_contact_owner_id == user.id)


def can_ticket_call(call: Interaction, user: User) -> bool:
    """Whether ``user`` may log the ticket of a call that reached the line and has none yet.

    That is the operator who took the call, a manager, or anyone while nobody
    is known to have taken it; a missed call already has its ticket.
    """
    if call.channel != "voice" or call.direction != "inbound" or call.ticket_id is not None or call.missed_at:
        return False
    return user.role == "manager" or call.handled_by_id in (None, user.id)


def can_supervise(user: User) -> bool:
    """督办 by hand, decisions on extensions and on relief above the limit: managers."""
    return user.role == "manager"


def referred_to(units, ticket_id=Ticket.id):
    """SQL: the ticket whose id is ``ticket_id`` (a column) has a referral to one of ``units``."""
    return exists().where(Referral.ticket_id == ticket_id, Referral.department_id.in_(units))


def ticket_condition(user: User, ticket_id=Ticket.id):
    """SQL: the tickets ``user`` may see (:func:`can_see_ticket` for a whole list), by the column ``ticket_id``."""
    if is_hotline(user):
        return true()
    units = user_units(user)
    return referred_to(units, ticket_id) if units else false()


# --- referrals -----------------------------------------------------------------------------


def visible_referrals(user: User, ticket: Ticket) -> list[Referral]:
    """The referrals of ``ticket`` that ``user`` may see: all for the hotline, their units' for departments."""
    if is_hotline(user):
        return list(ticket.referrals)
    units = user_units(user)
    return [r for r in ticket.referrals if r.department_id in units]


def can_see_referral(user: User, referral: Referral) -> bool:
    """The hotline, and staff of the referral's unit or of a unit above it."""
    return is_hotline(user) or referral.department_id in user_units(user)


def works_on_referral(user: User, referral: Referral) -> bool:
    """Staff of the unit the case was referred to: they acknowledge, report progress, ask, pass on, resolve."""
    return user.role == "department" and user.department_id == referral.department_id


def unit_referral(user: User, ticket: Ticket) -> Referral | None:
    """A department user's way into ``ticket``: their own unit's newest referral, else the newest they see."""
    visible = visible_referrals(user, ticket)
    own = [r for r in visible if r.department_id == user.department_id] or visible
    return own[-1] if own else None


def unit_referral_ids(user: User, ticket_ids: list[int]) -> dict[int, int]:
    """:func:`unit_referral` for a list of tickets at once: ticket id -> referral id, for those ``user`` sees
    through a referral (none for the hotline, which opens the ticket page itself)."""
    units = user_units(user)
    if not ticket_ids or not units:
        return {}
    rows = db.session.execute(
        select(Referral.ticket_id, Referral.id, Referral.department_id)
        .where(Referral.ticket_id.in_(ticket_ids), Referral.department_id.in_(units))
        .order_by(Referral.id)
    )
    found: dict[int, int] = {}
    through_own: set[int] = set()
    for ticket_id, referral_id, department_id in rows:
        if department_id == user.department_id:
            through_own.add(ticket_id)
            found[ticket_id] = referral_id
        elif ticket_id not in through_own:
            found[ticket_id] = referral_id
    return found


# --- advance relief ------------------------------------------------------------------------


def _case_units_referrals(user: User, ticket: Ticket) -> list[Referral]:
    """The referrals of ``ticket`` a department user works on (their unit and the units below it)."""
    if user.role != "department":
        return []
    return visible_referrals(user, ticket)


def can_grant_relief(user: User, ticket: Ticket) -> bool:
    """The owner, a manager, or staff of a granting unit currently working on the case (an active referral)."""
    if can_manage_ticket(user, ticket):
        return True
    if user.department is None or user.department.level not in GRANTING_LEVELS:
        return False
    return any(r.is_active for r in _case_units_referrals(user, ticket))


def can_grant_for(user: User, unit: Department) -> bool:
    """Department staff grant in their own unit's name only; the hotline names any granting unit."""
    return user.role != "department" or unit.id == user.department_id


def can_pay_relief(user: User, relief: AdvanceRelief, ticket: Ticket) -> bool:
    """The owner, a manager, or staff of the unit that granted the relief (it pays), while it sees the case."""
    if can_manage_ticket(user, ticket):
        return True
    return user.department_id == relief.granting_unit_id and bool(_case_units_referrals(user, ticket))


def can_complete_paperwork(user: User, ticket: Ticket) -> bool:
    """The owner, a manager, or staff of a unit that granted an approved relief on the case."""
    if can_manage_ticket(user, ticket):
        return True
    granted_by = {r.granting_unit_id for r in ticket.reliefs if r.status == "approved"}
    return user.department_id in granted_by and bool(_case_units_referrals(user, ticket))


def can_decide_relief(user: User, relief: AdvanceRelief) -> bool:
    """A manager other than the one who asked (four eyes: nobody approves their own request), and not one who
    declared the person a relative (关系保, :func:`declared_relative`)."""
    if not can_supervise(user) or relief.requested_by_id == user.id:
        return False
    contact = db.session.get(Ticket, relief.ticket_id).contact
    return not declared_relative(user, contact.id_number if contact else None)


def declared_relative(user: User, id_number: str | None) -> bool:
    """Whether ``user`` declared the person with ``id_number`` a relative (and has not withdrawn it)."""
    number = normalize_id_number(id_number)
    if number is None:
        return False
    return bool(
        db.session.scalar(
            select(DeclaredRelative.id).where(
                DeclaredRelative.user_id == user.id,
                DeclaredRelative.id_number == number,
                DeclaredRelative.withdrawn_at.is_(None),
            )
        )
    )


def can_override_paperwork(user: User) -> bool:
    """补齐手续 by hand while papers of the checklist are missing (checked on paper, a system down): managers."""
    return can_supervise(user)


def can_upload_document(user: User, ticket: Ticket) -> bool:
    """Who grants relief on the case or records its paperwork may add its papers (a granting unit collects them)."""
    return can_complete_paperwork(user, ticket) or can_grant_relief(user, ticket)


def can_record_service(user: User, ticket: Ticket) -> bool:
    """服务类救助: the owner, a manager, or staff of any unit the case is referred to (a village visits)."""
    return can_manage_ticket(user, ticket) or bool(_case_units_referrals(user, ticket))


def can_declare_relatives(user: User) -> bool:
    """Everyone who handles cases declares their own relatives; admins handle none."""
    return user.role in CASE_ROLES


def can_audit_relief(user: User) -> bool:
    """The managers' audit list (人情保、关系保、错保、漏保): managers."""
    return can_supervise(user)


def can_record_relief_not_needed(user: User, ticket: Ticket) -> bool:
    """The owner or a manager."""
    return can_manage_ticket(user, ticket)


def relief_referral(user: User, ticket: Ticket) -> Referral | None:
    """The referral a unit's relief action is filed under (so its referral page shows it); None for the hotline.

    Their own unit's newest active referral, else its newest; a unit above works through its villages'.
    """
    referrals = _case_units_referrals(user, ticket)
    if not referrals:
        return None
    own = [r for r in referrals if r.department_id == user.department_id] or referrals
    return ([r for r in own if r.is_active] or own)[-1]


# --- relief funds (救急难基金, 慈善资金) -------------------------------------------------------


def can_see_funds(user: User) -> bool:
    """Who has the funds pages at all: managers, admins, and staff of units (their own units' funds)."""
    return user.role in ("manager", "admin", "department")


def fund_condition(user: User):
    """SQL: the funds ``user`` may see: every fund for managers and admins, else those its units hold."""
    if user.role in ("manager", "admin"):
        return true()
    units = user_units(user)
    return Fund.owner_unit_id.in_(units) if units else false()


def can_see_fund(user: User, fund: Fund) -> bool:
    """Managers and admins; staff of the unit holding the fund or of a unit above it."""
    return user.role in ("manager", "admin") or fund.owner_unit_id in user_units(user)


def can_create_fund(user: User) -> bool:
    """Setting up a fund: managers and admins."""
    return user.role in ("manager", "admin")


def can_record_fund_entry(user: User, fund: Fund) -> bool:
    """Allocations, donations and their reversals: managers, admins, and staff of the unit holding the fund."""
    return user.role in ("manager", "admin") or (user.role == "department" and user.department_id == fund.owner_unit_id)


def can_manage_fund(user: User, fund: Fund) -> bool:
    """The fund's managers, who release or refuse a payout held above the balance: managers, and staff of the
    unit holding the fund (an administrator keeps accounts and funds apart, and decides no case's money)."""
    return user.role == "manager" or (user.role == "department" and user.department_id == fund.owner_unit_id)


def can_decide_payout(user: User, request: FundPayoutRequest, fund: Fund) -> bool:
    """A manager of the fund other than the one who entered the payment (four eyes)."""
    return can_manage_fund(user, fund) and request.requested_by_id != user.id


# --- the alert import (主动发现) ---------------------------------------------------------------


def can_import_alerts(user: User) -> bool:
    """Admins, and staff of a township (its own alerts only: :func:`alert_townships`)."""
    if user.role == "admin":
        return True
    return user.role == "department" and user.department is not None and user.department.level == "township"


def alert_townships(user: User | None) -> frozenset[int] | None:
    """The townships whose alerts ``user`` may import: None for all (an admin, or the server's console
    with no user), the own township for its staff, none for anyone else (their rows are errors)."""
    if user is None or user.role == "admin":
        return None
    return frozenset({user.department_id}) if can_import_alerts(user) else frozenset()


def can_see_alert_import(user: User, job: AlertImport) -> bool:
    """An import's pages and report: admins see every import, township staff those they uploaded."""
    return user.role == "admin" or (can_import_alerts(user) and job.created_by_id == user.id)


# --- partner API tokens --------------------------------------------------------------------
#
# A token reads and acts as what it is bound to: a token without a unit reads every ticket, as the hotline
# does (a county platform syncing the cases it sent); a token with a unit acts as that unit's service
# account (``ApiToken.service_user``), so it sees and works on exactly what the unit's staff do.


def token_allows(token, scope: str) -> bool:
    """The token is not revoked and holds ``scope`` (``read_personal`` also reads)."""
    if token.revoked_at is not None:
        return False
    return scope in token.scopes or (scope == "read" and "read_personal" in token.scopes)


def token_reads_personal(token) -> bool:
    """Names, phone and ID numbers and addresses unmasked: only with ``read_personal``."""
    return token.revoked_at is None and "read_personal" in token.scopes


def token_ticket_condition(token, ticket_id=Ticket.id):
    """SQL: the tickets ``token`` may read (:func:`token_can_see_ticket` for a whole list)."""
    if token.service_user is None:
        return true()
    return ticket_condition(token.service_user, ticket_id)


def token_can_see_ticket(token, ticket: Ticket) -> bool:
    """Every ticket for a token without a unit; a unit's token, what the unit's staff see."""
    return token.service_user is None or can_see_ticket(token.service_user, ticket)


def token_referrals(token, ticket: Ticket) -> list[Referral]:
    """The referrals of ``ticket`` a token reads: all without a unit, else its unit's (and those below it)."""
    if token.service_user is None:
        return list(ticket.referrals)
    return visible_referrals(token.service_user, ticket)


def token_can_see_referral(token, referral: Referral) -> bool:
    """A unit's token reaches its unit's referrals and those below it; a token without a unit none."""
    return token.service_user is not None and can_see_referral(token.service_user, referral)


# --- grid reports and household visits (四级联动) ----------------------------------------

#: Units whose staff report cases from their phone and visit households: townships, villages and grids.
FIELD_LEVELS = ("township", "village", "grid")


def is_field_staff(user: User) -> bool:
    """Staff of a township, village or grid unit: 网格员, 村社会救助协理员, township staff."""
    return user.role == "department" and user.department is not None and user.department.level in FIELD_LEVELS


def can_report_case(user: User) -> bool:
    """Field staff report a case (主动发现) from the phone page; the hotline logs calls on its desk instead."""
    return is_field_staff(user)


def visit_village_ids(user: User) -> frozenset[int]:
    """The villages whose households ``user`` visits and whose overdue visits they see: a grid worker's
    village, a village's own, a township's villages. None for anyone else."""
    if not is_field_staff(user):
        return frozenset()
    unit = user.department
    if unit.level == "grid":
        return frozenset({unit.parent_id}) if unit.parent_id is not None else frozenset()
    return user_units(user)


def can_visit(user: User, plan: VisitPlan) -> bool:
    """Field staff of the household's village (or its township, or one of its grids) record its visits."""
    return plan.village_id in visit_village_ids(user)


def can_follow_report(user: User, report: ExternalReport) -> bool:
    """A report's status page (我的报告) is its reporter's: they follow the case without seeing the ticket."""
    return report.reporter_id is not None and report.reporter_id == user.id


def can_see_report_photo(user: User, report: ExternalReport) -> bool:
    """A report's photo: its reporter, and whoever may see the ticket it went to."""
    if can_follow_report(user, report):
        return True
    return report.ticket is not None and can_see_ticket(user, report.ticket)


# --- loaders: the rules applied to the current request (404 when not allowed) -------------


def load_case_ticket(number: str) -> Ticket:
    """The ticket behind a URL that the hotline and the units working on it share (relief), or 404
    when it does not exist or ``current_user`` may not see it (:func:`can_see_ticket`)."""
    ticket = db.session.scalar(
        select(Ticket)
        .where(Ticket.number == number)
        .options(joinedload(Ticket.contact), joinedload(Ticket.first_contact_owner))
    )
    if ticket is None or not can_see_ticket(current_user, ticket):
        abort(404)
    return ticket


def load_ticket(number: str) -> Ticket:
    """The ticket behind a hotline URL (the ticket page and its actions), or 404 for anyone else.

    Department staff reach a ticket only through their referral page, and an
    unknown or forbidden ticket looks the same (404) so numbers cannot be probed.
    """
    if not is_hotline(current_user):
        abort(404)
    return load_case_ticket(number)


def load_referral(referral_id: int) -> Referral:
    """The referral behind a URL, or 404 when it does not exist or ``current_user`` may not see it."""
    referral = db.session.get(Referral, referral_id)
    if referral is None or not can_see_referral(current_user, referral):
        abort(404)
    return referral


def load_alert_import(import_id: int) -> AlertImport:
    """An alert import, or 404 when it does not exist or ``current_user`` may not see it."""
    job = db.session.get(AlertImport, import_id)
    if job is None or not can_see_alert_import(current_user, job):
        abort(404)
    return job


def _load_with_ticket(model, ident: int) -> tuple:
    """A row of a case (``model`` has ``ticket_id``) and its ticket, or 404 when either is missing or
    ``current_user`` may not see the ticket."""
    row = db.session.get(model, ident)
    ticket = db.session.get(Ticket, row.ticket_id) if row is not None else None
    if ticket is None or not can_see_ticket(current_user, ticket):
        abort(404)
    return row, ticket


def load_relief(relief_id: int) -> tuple[AdvanceRelief, Ticket]:
    """A relief and its ticket, or 404 as :func:`_load_with_ticket`."""
    return _load_with_ticket(AdvanceRelief, relief_id)


def load_fund(fund_id: int) -> Fund:
    """The fund behind a URL, or 404 when it does not exist or ``current_user`` may not see it."""
    fund = db.session.get(Fund, fund_id)
    if fund is None or not can_see_fund(current_user, fund):
        abort(404)
    return fund


def _load_with_fund(model, ident: int) -> tuple:
    """A row of a fund (``model`` has ``fund_id``) and its fund, or 404 as :func:`load_fund`."""
    row = db.session.get(model, ident)
    if row is None:
        abort(404)
    return row, load_fund(row.fund_id)


def load_fund_entry(entry_id: int) -> tuple[FundEntry, Fund]:
    """An entry and its fund, or 404 as :func:`load_fund`."""
    return _load_with_fund(FundEntry, entry_id)


def load_payout_request(request_id: int) -> tuple[FundPayoutRequest, Fund]:
    """A held payout and its fund, or 404 as :func:`load_fund`."""
    return _load_with_fund(FundPayoutRequest, request_id)


def load_document(document_id: int) -> tuple[ReliefDocument, Ticket]:
    """A case's paper and its ticket, or 404 as :func:`_load_with_ticket`."""
    return _load_with_ticket(ReliefDocument, document_id)


def load_visit_plan(plan_id: int) -> VisitPlan:
    """A household's visit plan, or 404 when it does not exist or ``current_user`` does not visit its village."""
    plan = db.session.get(VisitPlan, plan_id)
    if plan is None or not can_visit(current_user, plan):
        abort(404)
    return plan


def load_visit(visit_id: int) -> Visit:
    """A recorded visit, or 404 when it does not exist or ``current_user`` does not visit its village."""
    visit = db.session.get(Visit, visit_id)
    if visit is None or not can_visit(current_user, visit.plan):
        abort(404)
    return visit


def load_own_report(report_id: int) -> ExternalReport:
    """A report ``current_user`` made, or 404 (another's report looks like none)."""
    report = db.session.get(ExternalReport, report_id)
    if report is None or not can_follow_report(current_user, report):
        abort(404)
    return report


def load_report_photo(report_id: int) -> ExternalReport:
    """A report with a photo that ``current_user`` may see (:func:`can_see_report_photo`), or 404."""
    report = db.session.get(ExternalReport, report_id)
    if report is None or not (report.extra or {}).get("photo") or not can_see_report_photo(current_user, report):
        abort(404)
    return report
