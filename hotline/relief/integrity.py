"""Integrity checks on advance relief (诚信救助): what audits against 人情保、关系保、错保、漏保 look for.

At grant time (:func:`check_grant`, called by ``grant_relief``):

- **repeat grants**: relief approved or asked for, on another ticket, for the same ID number within
  ``[integrity] repeat_days`` (365) warns; the warning is kept on the grant (``integrity``) and on the
  timeline (``relief_integrity_warning``). A person without an ID number on file cannot be checked, and
  the grant says so (``id_checked``: false).
- **一事一议 cap**: a case whose total would pass ``case_conference_cap_yuan`` is refused unless the
  case conference's decision is attached: its reference in words, or the minutes uploaded as a paper of
  kind ``case_conference`` (the newest is linked to the grant).
- **declared relatives** (关系保): a grant to a relative the requester declared waits for a manager
  whatever its amount; no one who declared the person may decide on it (nor, as always, the requester).

The managers' audit list (:func:`audit_list`) gathers repeat grants, grants near the township limit,
requester/approver pairs with their counts, and granted cases whose paperwork is overdue and not done.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, and_, cast, func, select
from sqlalchemy.orm import aliased

from hotline import audit
from hotline.errors import DomainError, NotAllowed
from hotline.extensions import db
from hotline.formatting import format_yuan
from hotline.idcard import check_id_number, normalize_id_number
from hotline.privacy import mask_id_number
from hotline.relief.rules import relief_rules
from hotline.tickets.service import add_event
from hotline.validation import checked_text
from models.contact import Contact
from models.relative import DeclaredRelative
from models.relief import AdvanceRelief
from models.relief_document import ReliefDocument
from models.ticket import Ticket
from models.user import User

#: Reliefs that count as given or asked for (a rejected one was not given).
COUNTED = ("approved", "pending_approval")


@dataclass
class GrantCheck:
    """What the checks found for one grant: kept on it (``integrity``) and said to the user."""

    id_checked: bool
    repeats: list[dict] = field(default_factory=list)
    #: Users who declared the person a relative (the requester among them makes it need other eyes).
    declarers: list[int] = field(default_factory=list)
    requester_is_relative: bool = False
    case_total_fen: int = 0
    conference_ref: str | None = None
    conference_document_id: int | None = None

    def record(self) -> dict:
        return {
            "id_checked": self.id_checked,
            "repeat_count": len(self.repeats),
            "repeats": self.repeats,
            "relative_of": self.declarers,
            "requester_is_relative": self.requester_is_relative,
            "case_total_fen": self.case_total_fen,
        }

    @property
    def warns(self) -> bool:
        return bool(self.repeats or self.declarers)


def person_id_number(ticket: Ticket) -> str | None:
    """The ID number of the person the case is about, normalised; None when none is on file."""
    return normalize_id_number(ticket.contact.id_number) if ticket.contact else None


def earlier_grants(ticket: Ticket, id_number: str, now: datetime) -> list[dict]:
    """Relief on other tickets of the same ID number within ``repeat_days`` before ``now``, newest first."""
    since = now - timedelta(days=relief_rules().repeat_days)
    rows = db.session.execute(
        select(Ticket.number, AdvanceRelief.id, AdvanceRelief.amount_fen, AdvanceRelief.requested_at)
        .join(Ticket, Ticket.id == AdvanceRelief.ticket_id)
        .join(Contact, Contact.id == Ticket.contact_id)
        .where(
            Contact.id_number == id_number,
            AdvanceRelief.ticket_id != ticket.id,
            AdvanceRelief.status.in_(COUNTED),
            AdvanceRelief.requested_at >= since,
            AdvanceRelief.requested_at <= now,
        )
        .order_by(AdvanceRelief.requested_at.desc())
    )
    return [
        {"ticket": number, "relief": ident, "amount_fen": fen, "at": at.isoformat()} for number, ident, fen, at in rows
    ]


def declarers(id_number: str | None) -> list[int]:
    """Users who declared the person with ``id_number`` a relative (declarations not withdrawn)."""
    number = normalize_id_number(id_number)
    if number is None:
        return []
    return sorted(
        db.session.scalars(
            select(DeclaredRelative.user_id).where(
                DeclaredRelative.id_number == number, DeclaredRelative.withdrawn_at.is_(None)
            )
        ).unique()
    )


def check_grant(
    ticket: Ticket, *, actor: User, now: datetime, case_total_fen: int, conference_ref: str | None
) -> GrantCheck:
    """The checks of one grant before it is written; ``DomainError`` above the cap without a decision."""
    conference_ref = checked_text(conference_ref, None, required=False)
    cap = relief_rules().case_conference_cap_fen
    document_id = None
    if case_total_fen > cap:
        document_id = db.session.scalar(
            select(ReliefDocument.id)
            .where(ReliefDocument.ticket_id == ticket.id, ReliefDocument.kind == "case_conference")
            .order_by(ReliefDocument.id.desc())
            .limit(1)
        )
        if conference_ref is None and document_id is None:
            raise DomainError(
                _l(
                    "With this grant the case would receive %(total)s, above %(cap)s: that needs the case "
                    "conference's decision (一事一议). Write its reference, or add its minutes as a paper "
                    "of the case first.",
                    total=format_yuan(case_total_fen),
                    cap=format_yuan(cap),
                )
            )
    number = person_id_number(ticket)
    check = GrantCheck(
        id_checked=number is not None,
        case_total_fen=case_total_fen,
        conference_ref=conference_ref if case_total_fen > cap else None,
        conference_document_id=document_id,
    )
    if number is not None:
        check.repeats = earlier_grants(ticket, number, now)
        check.declarers = declarers(number)
        check.requester_is_relative = actor.id in check.declarers
    return check


def record_warning(ticket: Ticket, relief: AdvanceRelief, check: GrantCheck, *, actor: User, now: datetime) -> None:
    """The timeline's ``relief_integrity_warning`` for a grant the checks flagged (nothing when none)."""
    if not check.warns:
        return
    add_event(
        ticket,
        actor,
        "relief_integrity_warning",
        now,
        relief=relief.id,
        repeats=check.repeats,
        relative_of=check.declarers,
        requester_is_relative=check.requester_is_relative,
    )


def check_decider(relief: AdvanceRelief, actor: User) -> None:
    """Nobody who declared the person a relative decides on their relief (the requester is refused before)."""
    ticket = db.session.get(Ticket, relief.ticket_id)
    if actor.id in declarers(person_id_number(ticket)):
        raise NotAllowed(
            _l("You declared this person a relative: another manager must decide on this relief (关系保).")
        )


def excluded_deciders(relief: AdvanceRelief) -> set[int]:
    """Who may not decide on ``relief``: its requester and everyone who declared the person a relative."""
    ticket = db.session.get(Ticket, relief.ticket_id)
    return {relief.requested_by_id, *declarers(person_id_number(ticket))}


# --- declared relatives ----------------------------------------------------------------------


def declare_relative(
    *, actor: User, now: datetime, id_number: str | None, name: str | None, relation: str | None
) -> DeclaredRelative:
    """利害关系申报: ``actor`` declares a relative by ID number; grants to them then need other eyes."""
    from hotline import access

    if not access.can_declare_relatives(actor):
        raise NotAllowed(_l("Only staff who handle cases declare relatives."))
    number = check_id_number(id_number)
    if number is None:
        raise DomainError(_l("Write the relative's ID number."))
    name = checked_text(name, _l("Write the relative's name."), limit=120)
    relation = checked_text(relation, _l("Say how you are related."), limit=40)
    if actor.id in declarers(number):
        raise DomainError(_l("You have already declared this ID number."))
    declaration = DeclaredRelative(user_id=actor.id, id_number=number, name=name, relation=relation, declared_at=now)
    db.session.add(declaration)
    audit.record(
        "relative_declared",
        actor_id=actor.id,
        now=now,
        target=mask_id_number(number),
        id_number=mask_id_number(number),
        relation=relation,
    )
    return declaration


def withdraw_relative(declaration: DeclaredRelative, *, actor: User, now: datetime) -> None:
    """Withdraw one's own declaration (kept, marked withdrawn: the history of who declared whom stays)."""
    if declaration.user_id != actor.id:
        raise NotAllowed(_l("You can withdraw only your own declarations."))
    if declaration.withdrawn_at is not None:
        raise DomainError(_l("This declaration was already withdrawn."))
    declaration.withdrawn_at = now
    audit.record(
        "relative_withdrawn",
        actor_id=actor.id,
        now=now,
        target=mask_id_number(declaration.id_number),
        id_number=mask_id_number(declaration.id_number),
        relation=declaration.relation,
    )


def declarations_of(user: User):
    """SELECT of ``user``'s declarations, current first, then the newest."""
    return (
        select(DeclaredRelative)
        .where(DeclaredRelative.user_id == user.id)
        .order_by(DeclaredRelative.withdrawn_at.is_not(None), DeclaredRelative.declared_at.desc())
    )


# --- the managers' audit list --------------------------------------------------------------

#: The lists of the audit page, in the order of its tabs.
AUDIT_LISTS = ("repeats", "near_limit", "pairs", "paperwork")


def audit_list(name: str, *, now: datetime, limit_fen: int):
    """The SELECT of one audit list (rows to paginate).

    - ``repeats``: grants the checks flagged as repeating an earlier one (ID number, within the window);
    - ``near_limit``: approved grants whose case total was at least ``near_limit_percent`` of the township
      limit and not above it (amounts kept just under what needs a manager);
    - ``pairs``: (requester, approver) pairs of decided reliefs where they differ, with their count,
      the most frequent first;
    - ``paperwork``: granted cases whose paperwork deadline passed and whose paperwork was never completed.
    """
    repeat_count = AdvanceRelief.integrity["repeat_count"].as_integer()
    case_total = AdvanceRelief.integrity["case_total_fen"].as_integer()
    if name == "repeats":
        return (
            select(AdvanceRelief)
            .where(AdvanceRelief.integrity.is_not(None), repeat_count > 0)
            .order_by(AdvanceRelief.requested_at.desc(), AdvanceRelief.id.desc())
        )
    if name == "near_limit":
        floor = limit_fen * relief_rules().near_limit_percent // 100
        return (
            select(AdvanceRelief)
            .where(
                AdvanceRelief.status == "approved",
                AdvanceRelief.integrity.is_not(None),
                case_total >= floor,
                case_total <= limit_fen,
            )
            .order_by(AdvanceRelief.requested_at.desc(), AdvanceRelief.id.desc())
        )
    if name == "pairs":
        count = func.count(AdvanceRelief.id).label("count")
        requester, approver = aliased(User), aliased(User)
        return (
            select(requester, approver, count, cast(func.sum(AdvanceRelief.amount_fen), BigInteger).label("fen"))
            .select_from(AdvanceRelief)
            .join(requester, requester.id == AdvanceRelief.requested_by_id)
            .join(approver, approver.id == AdvanceRelief.decided_by_id)
            .where(
                and_(
                    AdvanceRelief.decided_by_id.is_not(None),
                    AdvanceRelief.decided_by_id != AdvanceRelief.requested_by_id,
                )
            )
            .group_by(requester.id, approver.id)
            .order_by(count.desc(), requester.id, approver.id)
        )
    if name == "paperwork":
        return (
            select(Ticket)
            .where(
                Ticket.advance_relief_outcome == "granted",
                Ticket.paperwork_done_at.is_(None),
                Ticket.paperwork_due_at < now,
            )
            .order_by(Ticket.paperwork_due_at, Ticket.id)
        )
    raise LookupError(name)
