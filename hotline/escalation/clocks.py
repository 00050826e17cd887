"""The clocks on tickets and referrals: start, stop, pause, and what falls due next.

A clock's deadline column is set when the state that starts it is entered; when
its goal is met the clock stops running but the deadline stays (the reports
compare it with when the goal was met). ``sync_ticket`` (and ``sync_referral``) bring
every clock of a ticket in line with its state after any change; service
functions call them last, with their ``now``.

An open ticket always runs a clock, so no case waits unseen:

- ``new`` / ``open`` with no active referral: the hotline's own clock,
  ``dispatch`` (派单/答复: refer it or answer the caller), from when the ticket
  came to need it: logged, its last active referral ended, or reopened
  (``dispatch_started_at``). Taking or handing over the ticket does not restart
  it: the caller has been waiting since then.
- ``referred``: the active referrals' clocks (acknowledge, resolve, return review).
- ``pending_callback``: ``callback`` until a callback attempt is recorded, then
  ``close`` (结案) from the last attempt until the ticket is closed; each new
  attempt starts it again.
- paused (P2/P3): every other clock stands still and ``pause_review`` runs from
  the pause, so a pause that lasts too long climbs the ladder like a breach.

Besides these, ``first_contact``, ``advance_relief`` and ``paperwork`` run while
their goal is not met. The functions also keep two denormalised, indexed columns:

- ``next_deadline_at``: the earliest running deadline (the ticket's own and its
  active referrals'): queue order, "time left", overdue;
- ``next_escalation_at``: the next ladder instant (warn at 75 %, urge at the
  deadline, supervise, case conference) not yet handled by the sweep, so the
  sweep finds what is due with one index range scan.
"""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l

from hotline.errors import DomainError
from hotline.escalation import sla
from models.referral import ACTIVE_STATUSES
from models.ticket import OPEN_STATUSES, URGENT_PRIORITIES, Ticket

TICKET_CLOCKS = ("dispatch", "first_contact", "advance_relief", "paperwork", "callback", "close", "pause_review")
#: The ticket clocks a pause stops (and a resume moves on); the pause's own review runs meanwhile.
PAUSING_CLOCKS = TICKET_CLOCKS[:-1]
REFERRAL_CLOCKS = ("acknowledge", "resolve", "return_review")


@dataclass(frozen=True)
class Span:
    """One running clock: ``clock`` started at ``start`` and due at ``due``."""

    clock: str
    start: datetime
    due: datetime


def has_clock(priority: str, clock: str) -> bool:
    try:
        sla.sla_policy().rule(priority, clock)
    except LookupError:
        return False
    return True


# --- which clocks run ----------------------------------------------------------------------


def needs_own_clock(ticket: Ticket) -> bool:
    """Whether the hotline's own clock (派单/答复) should run: the ticket is with the hotline, no referral active."""
    return ticket.status in ("new", "open") and not any(r.status in ACTIVE_STATUSES for r in ticket.referrals)


def _ticket_starts(ticket: Ticket) -> dict[str, datetime | None]:
    """For each ticket clock: when it started if it should be running now, else None.

    Reads the ticket's own columns only (not its referrals), so the sweep can
    ask it of a plain row; ``sync_ticket`` keeps ``dispatch_started_at`` right.
    """
    is_open = ticket.status in OPEN_STATUSES
    granted = ticket.advance_relief_outcome == "granted"
    called_back = ticket.last_callback_at is not None and (
        ticket.resolved_at is None or ticket.last_callback_at >= ticket.resolved_at
    )
    awaiting = ticket.status == "pending_callback"
    return {
        "dispatch": ticket.dispatch_started_at if ticket.status in ("new", "open") else None,
        "first_contact": ticket.created_at if is_open and ticket.first_contact_at is None else None,
        "advance_relief": ticket.created_at if is_open and ticket.advance_relief_at is None else None,
        "paperwork": ticket.advance_relief_at
        if granted and ticket.paperwork_done_at is None and ticket.status != "merged"
        else None,
        "callback": ticket.resolved_at if awaiting and not called_back else None,
        "close": ticket.last_callback_at if awaiting and called_back else None,
        "pause_review": ticket.paused_at if is_open else None,
    }


def ticket_spans(ticket: Ticket) -> list[Span]:
    """The ticket's own running clocks (not its referrals'); only the pause review while paused."""
    starts = _ticket_starts(ticket)
    spans = []
    for clock in ("pause_review",) if ticket.paused_at is not None else PAUSING_CLOCKS:
        due = getattr(ticket, f"{clock}_due_at")
        if due is not None and starts[clock] is not None:
            spans.append(Span(clock, starts[clock], due))
    return spans


def referral_spans(referral) -> list[Span]:
    """The referral's running clocks, empty when it is finished or its ticket is paused."""
    if referral.status not in ACTIVE_STATUSES or referral.ticket.paused_at is not None:
        return []
    spans = []
    if referral.status == "dispatched" and referral.acknowledge_due_at:
        spans.append(Span("acknowledge", referral.dispatched_at, referral.acknowledge_due_at))
    if referral.resolve_due_at:
        spans.append(Span("resolve", referral.dispatched_at, referral.resolve_due_at))
    if referral.status == "return_requested" and referral.return_review_due_at and referral.return_requested_at:
        spans.append(Span("return_review", referral.return_requested_at, referral.return_review_due_at))
    return spans


def next_ladder_instant(priority: str, spans: list[Span], after: datetime | None) -> datetime | None:
    """The earliest ladder step of ``spans`` later than ``after`` (all of them when ``after`` is None)."""
    best = None
    for span in spans:
        for step in sla.ladder_steps(priority, span.clock, span.start, span.due):
            if after is None or step.at > after:  # steps come in ladder order: the first later one
                if best is None or step.at < best:
                    best = step.at
                break
    return best


# --- keeping the columns right ---------------------------------------------------------------


def sync_referral(referral, now: datetime) -> None:
    """Refresh a referral's ``next_deadline_at`` / ``next_escalation_at``, then its ticket's."""
    spans = referral_spans(referral)
    referral.next_deadline_at = min((s.due for s in spans), default=None)
    referral.next_escalation_at = next_ladder_instant(referral.ticket.priority, spans, referral.escalation_checked_at)
    sync_ticket(referral.ticket, now)


def sync_ticket(ticket: Ticket, now: datetime) -> None:
    """Start and stop the ticket's clocks for its current state, and refresh its denormalised columns."""
    priority = ticket.priority
    if ticket.paused_at is not None and ticket.status not in OPEN_STATUSES:
        ticket.paused_at = ticket.pause_reason = None  # closed or merged: the pause ends with the case
    if needs_own_clock(ticket):
        if ticket.dispatch_started_at is None:  # the ticket has just come back to the hotline: a new run
            ticket.dispatch_started_at = now
            ticket.dispatch_due_at = None
    else:
        ticket.dispatch_started_at = None  # met (or no longer the hotline's): the deadline stays, for the reports
    for clock, start in _ticket_starts(ticket).items():
        column = f"{clock}_due_at"
        if not has_clock(priority, clock):
            setattr(ticket, column, None)
        elif start is not None:
            if getattr(ticket, column) is None:
                setattr(ticket, column, sla.deadline(priority, clock, start))
        elif clock in ("callback", "close") and ticket.status not in ("pending_callback", "closed"):
            # Reopened or referred again: the next resolution (and callback) starts them anew.
            setattr(ticket, column, None)
        elif clock == "pause_review":
            ticket.pause_review_due_at = None  # resumed: the next pause is reviewed on its own
        # Otherwise the clock stopped because its goal was met: its deadline stays, for the reports.
    own = ticket_spans(ticket)
    referral_dues = [r.next_deadline_at for r in ticket.referrals if r.next_deadline_at is not None]
    if ticket.paused_at is not None:
        referral_dues = []
    ticket.next_deadline_at = min([s.due for s in own] + referral_dues, default=None)
    ticket.next_escalation_at = next_ladder_instant(priority, own, ticket.escalation_checked_at)


def own_clock_start(ticket: Ticket, events: list[tuple[str, datetime]]) -> datetime:
    """When the ticket's own clock should have started, from its history (``(kind, at)`` events).

    For tickets written before the own clock ran for every priority: the last
    time the ticket came back to the hotline (its last referral ended, it was
    reopened), else its creation.
    """
    back = [at for kind, at in events if kind in ("referrals_none_left", "reopened")]
    return max([ticket.created_at, *back])


def restart_for_priority(ticket: Ticket, now: datetime) -> None:
    """A new priority means new clock lengths: recompute every running deadline from its start."""
    for clock, start in _ticket_starts(ticket).items():
        if start is not None:
            setattr(ticket, f"{clock}_due_at", None)
    ticket.escalation_checked_at = None
    for referral in ticket.referrals:
        if referral.status in ACTIVE_STATUSES:
            referral.acknowledge_due_at = (
                sla.deadline(ticket.priority, "acknowledge", referral.dispatched_at)
                if referral.status == "dispatched"
                else None
            )
            if referral.extension_state != "approved":
                referral.resolve_due_at = sla.deadline(ticket.priority, "resolve", referral.dispatched_at)
            referral.escalation_checked_at = None
            sync_referral(referral, now)
    sync_ticket(ticket, now)


# --- pausing (P2/P3 only) --------------------------------------------------------------------


def pause(ticket: Ticket, *, now: datetime, reason: str) -> None:
    """Stop the clocks while waiting for the caller. 救急难 (P0/P1) clocks never pause.

    The pause itself runs a clock (``pause_review`` in sla.toml): a pause that
    lasts past it escalates, so a ticket never waits paused and unseen. A
    priority without that clock cannot be paused.
    """
    if ticket.priority in URGENT_PRIORITIES:
        raise DomainError(_l("P0 and P1 clocks never pause."))
    if not has_clock(ticket.priority, "pause_review"):
        raise DomainError(_l("sla.toml sets no pause review for this priority, so its clocks cannot be paused."))
    if ticket.status not in OPEN_STATUSES:
        raise DomainError(_l("Only an open ticket's clocks can be paused."))
    if ticket.paused_at is not None:
        raise DomainError(_l("The clocks are already paused."))
    ticket.paused_at = now
    ticket.pause_reason = reason
    sync_ticket(ticket, now)
    for referral in ticket.referrals:
        referral.next_escalation_at = None


def resume(ticket: Ticket, *, now: datetime) -> float:
    """Restart paused clocks; each running deadline moves on by the working time it spent paused.

    Returns the paused working time in hours.
    """
    paused_at = ticket.paused_at
    if paused_at is None:
        raise DomainError(_l("The clocks are not paused."))
    calendar = sla.working_calendar()
    shift = calendar.working_time_between(paused_at, now)
    starts = _ticket_starts(ticket)
    ticket.paused_at = None
    ticket.pause_reason = None

    def moved(due: datetime, start: datetime) -> datetime:
        # A clock started during the pause (its referral came back, a callback was recorded) lost only
        # the paused time after its start.
        begun = max(paused_at, start)
        return calendar.add_working_duration(due, calendar.working_time_between(begun, now)) if begun < now else due

    # Only running clocks move: a met clock keeps the deadline it was met against.
    for clock in PAUSING_CLOCKS:
        due = getattr(ticket, f"{clock}_due_at")
        if due is not None and starts[clock] is not None:
            setattr(ticket, f"{clock}_due_at", moved(due, starts[clock]))
    for referral in ticket.referrals:
        if referral.status not in ACTIVE_STATUSES:
            continue
        if referral.status == "dispatched" and referral.acknowledge_due_at is not None:
            referral.acknowledge_due_at = moved(referral.acknowledge_due_at, referral.dispatched_at)
        if referral.resolve_due_at is not None:
            referral.resolve_due_at = moved(referral.resolve_due_at, referral.dispatched_at)
        if referral.status == "return_requested" and referral.return_review_due_at is not None:
            referral.return_review_due_at = moved(referral.return_review_due_at, referral.return_requested_at)
    for referral in ticket.referrals:
        if referral.status in ACTIVE_STATUSES:
            sync_referral(referral, now)
    sync_ticket(ticket, now)
    return shift.total_seconds() / 3600
