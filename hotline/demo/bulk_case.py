"""The bulk demo's case writer: one step of a case at a time, as the service functions and the sweep write it.

Each step takes explicit instants (integer epoch seconds) and sets the columns
and appends the event its service function would (:mod:`hotline.tickets.service`,
:mod:`hotline.referrals.service`, :mod:`hotline.relief.service`; events with the
columns ``add_event`` fills); :meth:`CaseWriter.finish` then writes the
rows, with the ladder steps the escalation sweep would have written for every
clock run (the sweep runs every :data:`SWEEP_EVERY` seconds, at whole
multiples of it) and the clock columns ``sync_ticket`` / ``sync_referral`` and
the sweep leave. Nothing here draws a random number: the story of a case
(which steps, when) is :class:`hotline.demo.bulk.Generator`'s, and
``tests/test_demo_bulk.py`` drives these steps with fixed times beside the
same case run through the services.

Not written here: notifications, the SMS outbox, the interactions of a call
(the generator writes those), and ``version`` stays 1 (the optimistic-lock
counter of rows no form has seen). Actions the stories never take (pauses,
priority changes, transfers, passing a referral on) have no step here.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from hotline.demo.bulk_clocks import Clocks
from hotline.demo.bulk_rows import ID_TABLES, Writer
from hotline.relief.service import _plain_yuan as plain_yuan
from hotline.triage import triage_text
from models.escalation import LEVELS
from models.referral import ACTIVE_STATUSES
from models.ticket import OPEN_STATUSES

#: The escalation sweep's period in ``make run`` and production (the scheduler runs it every 30 seconds).
SWEEP_EVERY = 30
RANK = {level: i for i, level in enumerate(LEVELS)}


def swept(at: int) -> int:
    """When the sweep that writes a step due at ``at`` runs: the first sweep at or after it."""
    return -(-at // SWEEP_EVERY) * SWEEP_EVERY


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


class Ids:
    """The next id of each table the generator writes (rows come with their ids)."""

    def __init__(self, first: dict[str, int]):
        self._next = {table: first.get(table, 1) for table in ID_TABLES}

    def next(self, table: str) -> int:
        value = self._next[table]
        self._next[table] = value + 1
        return value


@dataclass
class Case:
    """The mutable state of one case while its history is written; becomes one ``ticket`` row and its referrals'."""

    values: dict
    #: The referrals' rows being built (column name -> value), plus ``_unit`` (the unit's name).
    referrals: list[dict] = field(default_factory=list)
    #: The advance reliefs' rows being built, plus ``_unit`` and ``_paid`` (fen paid so far).
    reliefs: list[dict] = field(default_factory=list)
    level: str | None = None
    #: The dispatch clock's goal: the first referral, or the answer given directly, of its current run.
    first_dispatch: int | None = None
    #: When the current run of the dispatch clock (the hotline's own) started: logged, or reopened.
    own_start: int | None = None
    #: The first callback after the current resolution (the callback clock's goal).
    callback_at: int | None = None
    #: Ticket's own steps: the latest sweep that wrote one (the ticket's ``escalation_checked_at``).
    checked: int | None = None

    def raise_level(self, level: str | None) -> None:
        if level and (self.level is None or RANK[level] > RANK[self.level]):
            self.level = level


class CaseWriter:
    """The steps of a case, each as its service function writes it; ``finish`` writes the rows."""

    def __init__(self, writer: Writer, clocks: Clocks, ids: Ids, now: int):
        self.w = writer
        self.clocks = clocks
        self.ids = ids
        self.now = now
        self._triage: dict[str, object] = {}

    def event(self, ticket_id: int, kind: str, at: int, actor: int | None = None, referral_id=None, **payload):
        """One ``ticket_event`` row: the columns ``add_event`` fills, and the referral the referral service sets."""
        self.w.add(
            "ticket_event",
            {
                "id": self.ids.next("ticket_event"),
                "ticket_id": ticket_id,
                "referral_id": referral_id,
                "actor_id": actor,
                "kind": kind,
                "payload": payload,
                "at": at,
            },
        )

    def _referral_event(self, c: Case, r: dict, kind: str, at: int, actor: int | None, **payload) -> None:
        self.touch(c, at)  # a referral's change is its ticket's (the referral service's ``_event``)
        self.event(c.values["id"], kind, at, actor, r["id"], department=r["_unit"], **payload)

    def _triaged(self, text: str):
        if text not in self._triage:
            self._triage[text] = triage_text(text)
        return self._triage[text]

    @staticmethod
    def touch(c: Case, at: int) -> None:
        """``updated_at``: the latest change (a story may write a later step of a case before an earlier one)."""
        c.values["updated_at"] = max(c.values["updated_at"], at)

    # --- the ticket service's steps ----------------------------------------------------------

    def open(
        self,
        *,
        number: str,
        channel: str,
        contact_id: int | None,
        contact_is_child: bool,
        category: str,
        priority: str,
        summary: str,
        created: int,
        owner: int | None,
        confidential: bool = False,
        sensitive: bool = False,
        emergency_service: str | None = None,
        answer: str | None = None,
        contact_by: int | None = None,
    ) -> Case:
        """``log_call`` (an ``owner``: the operator on the call) or ``open_unclaimed_ticket`` (no owner).

        ``answer``: the call was answered directly (``log_call``'s ``answered_on_call``).
        ``contact_by``: the first contact promised to an unclaimed ticket's person (``build_unclaimed_ticket``).
        """
        tid = self.ids.next("ticket")
        v = {
            "id": tid,
            "number": number,
            "channel": channel,
            "contact_id": contact_id,
            "category": category,
            "priority": priority,
            "summary": summary,
            "status": "new" if owner is None else "open",
            "first_contact_owner_id": owner,
            "created_by_id": owner,
            "confidential": confidential,
            "sensitive": sensitive or contact_is_child,
            "emergency_service": emergency_service,
            "created_at": created,
            "updated_at": created,
        }
        for clock in ("dispatch", "first_contact", "advance_relief", "paperwork", "callback", "close"):
            v[f"{clock}_due_at"] = None
        v.update(first_contact_at=None, advance_relief_at=None, paperwork_done_at=None, last_callback_at=None)
        v.update(resolved_at=None, closed_at=None, advance_relief_outcome=None)
        c = Case(v)
        payload = {"channel": channel, "priority": priority, "category": category}
        if owner is not None:  # log_call triages the summary and counts it reviewed, and keeps the checklist
            triage = self._triaged(summary)
            verdict = "confirmed" if (triage.priority, triage.category) == (priority, category) else "corrected"
            v.update(triage_priority=triage.priority, triage_category=triage.category)
            v.update(triage_reasons=list(triage.reasons), triage_kind=triage.kind)
            v.update(triage_verdict=verdict, triage_reviewed_at=created)
            payload["checklist"] = []
            if channel in ("voice", "walk_in"):
                v["first_contact_at"] = created  # the operator is talking with the person
        self.event(tid, "created", created, owner, **payload)
        if emergency_service:
            self.event(tid, "emergency_handover", created, owner, service=emergency_service)
        if answer is not None:
            self.resolve_directly(c, owner, created, answer)
        # sync_ticket: the clocks that start with the ticket.
        clocks = self.clocks
        if v["status"] in ("new", "open") and clocks.has(priority, "dispatch"):
            v["dispatch_due_at"] = clocks.due(priority, "dispatch", created)
            c.own_start = created
        if v["first_contact_at"] is None and clocks.has(priority, "first_contact"):
            v["first_contact_due_at"] = clocks.due(priority, "first_contact", created)
            if contact_by is not None and owner is None:
                v["first_contact_due_at"] = min(contact_by, v["first_contact_due_at"])
        if clocks.has(priority, "advance_relief"):
            v["advance_relief_due_at"] = clocks.due(priority, "advance_relief", created)
        return c

    def take(self, c: Case, owner: int, at: int) -> None:
        """``take_ticket``."""
        c.values.update(status="open", first_contact_owner_id=owner)
        self.touch(c, at)
        self.event(c.values["id"], "taken", at, owner)

    def callback(
        self, c: Case, owner: int, at: int, *, reached: bool, satisfaction: int | None, comment: str | None = None
    ) -> None:
        """``record_callback``: on an open ticket (first contact) or one awaiting its callback."""
        v = c.values
        v.update(last_callback_at=at, close_due_at=None)
        self.touch(c, at)
        if reached:
            v["satisfaction"] = satisfaction
            if v["first_contact_at"] is None:
                v["first_contact_at"] = at
        self.event(v["id"], "callback", at, owner, reached=reached, satisfaction=satisfaction, comment=comment)
        if v["status"] == "pending_callback":
            if c.callback_at is None:
                c.callback_at = at
            v["close_due_at"] = self.clocks.due(v["priority"], "close", at)

    def resolve_directly(self, c: Case, owner: int, at: int, answer: str) -> None:
        """``resolve_directly`` (or ``log_call`` answered on the call)."""
        v = c.values
        v.update(status="pending_callback", resolved_at=at, resolution=answer)
        self.touch(c, at)
        if c.first_dispatch is None:
            c.first_dispatch = at
        c.callback_at = None
        self.event(v["id"], "resolved_directly", at, owner, answer=answer)
        v["callback_due_at"] = self.clocks.due(v["priority"], "callback", at)

    def close(self, c: Case, owner: int, at: int, resolution: str | None = None) -> None:
        """``close_ticket``."""
        v = c.values
        if resolution:
            v["resolution"] = resolution
        if v["resolved_at"] is None:
            v["resolved_at"] = at
        v.update(status="closed", closed_at=at)
        self.touch(c, at)
        self.event(v["id"], "closed", at, owner, resolution=resolution)

    def reopen(self, c: Case, owner: int, at: int, reason: str) -> None:
        """``reopen_ticket``: the runs that ended climbed their ladders; the hotline's own clock runs again."""
        v, priority = c.values, c.values["priority"]
        for clock, start, due, end in (
            ("dispatch", c.own_start, v["dispatch_due_at"], c.first_dispatch),
            ("callback", v["resolved_at"], v["callback_due_at"], c.callback_at),
            ("close", v["last_callback_at"] if v["close_due_at"] else None, v["close_due_at"], v["closed_at"]),
        ):
            if start is not None and due is not None:
                c.raise_level(self.ladder_steps(c, None, clock, start, due, end))
        v.update(status="open" if v["first_contact_owner_id"] else "new", closed_at=None, resolved_at=None)
        v.update(callback_due_at=None, close_due_at=None)
        self.touch(c, at)
        v["dispatch_due_at"] = self.clocks.due(priority, "dispatch", at)
        c.own_start, c.first_dispatch, c.callback_at = at, None, None
        self.event(v["id"], "reopened", at, owner, reason=reason)

    def merge(self, c: Case, owner: int, at: int, target_id: int, target_number: str, reason: str) -> None:
        """``merge_ticket``: ``c`` is the duplicate (the target's row is already written: its ``updated_at`` stays)."""
        v = c.values
        v.update(status="merged", merged_into_id=target_id, closed_at=at)
        self.touch(c, at)
        self.event(v["id"], "merged_into", at, owner, target=target_number, reason=reason)
        self.event(target_id, "merged_from", at, owner, source=v["number"], reason=reason)

    # --- the relief service's steps (先行救助) --------------------------------------------------

    def grant_relief(
        self,
        c: Case,
        owner: int,
        at: int,
        *,
        kind: str,
        fen: int,
        unit_id: int,
        unit_name: str,
        reason: str,
        limit: int,
    ) -> dict:
        """``grant_relief`` within the limit (``limit``: fen, the policy's): approved at once, the clocks move."""
        v = c.values
        granted = sum(relief["amount_fen"] for relief in c.reliefs)
        if granted + fen > limit:
            raise ValueError("the bulk demo grants relief within the limit only (no 一事一议 approval)")
        relief = {"id": self.ids.next("advance_relief"), "ticket_id": v["id"], "kind": kind, "amount_fen": fen}
        relief.update(granting_unit_id=unit_id, status="approved", reason=reason, requested_by_id=owner)
        relief.update(requested_at=at, decided_by_id=owner, decided_at=at, _unit=unit_name, _paid=0)
        # The integrity checks as grant_relief keeps them: bulk callers have no ID number on file to check.
        relief["integrity"] = {
            "id_checked": False,
            "repeat_count": 0,
            "repeats": [],
            "relative_of": [],
            "requester_is_relative": False,
            "case_total_fen": granted + fen,
        }
        c.reliefs.append(relief)
        self.touch(c, at)
        about = self._relief_payload(relief)
        total = {"case_total_fen": granted + fen, "limit_fen": limit}
        self.event(v["id"], "relief_granted", at, owner, **about, reason=reason, **total)
        if v["advance_relief_outcome"] != "granted":  # the first grant meets the clock and starts the paperwork
            v.update(advance_relief_at=at, advance_relief_outcome="granted")
            if self.clocks.has(v["priority"], "paperwork"):
                v["paperwork_due_at"] = self.clocks.due(v["priority"], "paperwork", at)
        return relief

    @staticmethod
    def _relief_payload(relief: dict) -> dict:
        fen = relief["amount_fen"]
        about = {"relief": relief["id"], "relief_kind": relief["kind"], "unit": relief["_unit"], "amount_fen": fen}
        return about | {"amount": plain_yuan(fen)}

    def record_payment(self, c: Case, relief: dict, owner: int, at: int, fen: int, note: str) -> None:
        """``record_payment``: one payment under an approved relief."""
        payment = self.ids.next("advance_relief_payment")
        self.w.add(
            "advance_relief_payment",
            {"id": payment, "relief_id": relief["id"], "amount_fen": fen, "paid_at": at, "recorded_by_id": owner}
            | {"note": note},
        )
        relief["_paid"] += fen
        self.touch(c, at)
        paid = {"paid_fen": fen, "paid": plain_yuan(fen), "paid_total_fen": relief["_paid"], "note": note}
        self.event(c.values["id"], "relief_paid", at, owner, **self._relief_payload(relief), payment=payment, **paid)

    def complete_paperwork(self, c: Case, owner: int, at: int, note: str, missing: list[str] | None = None) -> None:
        """``complete_paperwork`` (补齐手续): the paperwork clock's goal; ``missing``: the papers of the checklist
        not on file (recorded by a manager by hand: the bulk demo uploads no files)."""
        v = c.values
        granted = sum(relief["amount_fen"] for relief in c.reliefs)
        on_time = v["paperwork_due_at"] is None or at <= v["paperwork_due_at"]
        v["paperwork_done_at"] = at
        self.touch(c, at)
        amount = {"amount_fen": granted, "amount": plain_yuan(granted)}
        extra = {"missing": missing} if missing else {}
        self.event(v["id"], "paperwork_done", at, owner, note=note, **amount, on_time=on_time, **extra)

    def relief_not_needed(self, c: Case, owner: int, at: int, reason: str) -> None:
        """``relief_not_needed``: the advance-relief clock stops, with a reason."""
        c.values.update(advance_relief_at=at, advance_relief_outcome="not_needed")
        self.touch(c, at)
        self.event(c.values["id"], "relief_not_needed", at, owner, reason=reason)

    # --- the referral service's steps --------------------------------------------------------

    def dispatch(
        self, c: Case, owner: int, unit_id: int, unit_name: str, role: str, at: int, instructions: str | None = None
    ) -> dict:
        """``dispatch_referral``: the referral's acknowledge and resolve clocks start; the hotline's stops."""
        v, priority = c.values, c.values["priority"]
        r = {
            "id": self.ids.next("referral"),
            "_unit": unit_name,
            "ticket_id": v["id"],
            "department_id": unit_id,
            "role": role,
            "instructions": instructions,
            "status": "dispatched",
            "dispatched_by_id": owner,
            "dispatched_at": at,
            "extension_state": "none",
            "updated_at": at,
            "acknowledge_due_at": self.clocks.due(priority, "acknowledge", at),
            "resolve_due_at": self.clocks.due(priority, "resolve", at),
            "return_review_due_at": None,
            "acknowledged_at": None,
            "return_requested_at": None,
            "closed_at": None,
        }
        c.referrals.append(r)
        if c.first_dispatch is None:
            c.first_dispatch = at
        if v["status"] != "referred":
            v.update(status="referred", resolved_at=None)
        self.touch(c, at)
        self._referral_event(c, r, "referral_dispatched", at, owner, role=role, instructions=instructions)
        return r

    def acknowledge(self, c: Case, r: dict, staff: int, at: int) -> None:
        """``acknowledge`` (签收)."""
        r.update(status="acknowledged", acknowledged_at=at, acknowledged_by_id=staff, updated_at=at)
        self._referral_event(c, r, "referral_acknowledged", at, staff)

    def progress(self, c: Case, r: dict, staff: int, at: int, text: str, *, contacted: bool) -> None:
        """``add_progress``: the first note moves an acknowledged referral on; contact meets first contact."""
        if r["status"] == "acknowledged":
            r["status"] = "in_progress"
        r["updated_at"] = at
        if contacted and c.values["first_contact_at"] is None:
            c.values["first_contact_at"] = at
        self._referral_event(c, r, "referral_progress", at, staff, text=text, contacted=contacted)

    def resolve(self, c: Case, r: dict, staff: int, at: int, result: str, outcome: str) -> None:
        """``resolve`` (办结) of a referral; :meth:`roll_up` after the last active one."""
        r.update(result=result, outcome=outcome, resolved_at=at, resolved_by_id=staff, closed_at=at)
        r.update(return_review_due_at=None, status="resolved", updated_at=at)
        self._referral_event(c, r, "referral_resolved", at, staff, result=result, outcome=outcome, via=None)

    def request_extension(self, c: Case, r: dict, staff: int, at: int, reason: str, until: int) -> None:
        """``request_extension`` (延期), asked before the resolve deadline."""
        r.update(extension_state="requested", extension_reason=reason, extension_until=until, updated_at=at)
        self._referral_event(c, r, "extension_requested", at, staff, reason=reason, until=iso(until))

    def decide_extension(self, c: Case, r: dict, manager: int, at: int, *, approve: bool, comment=None) -> None:
        """``decide_extension``: approved, the resolve deadline moves to the date asked for, from ``at`` on."""
        old = r["resolve_due_at"]
        r.update(extension_state="approved" if approve else "denied", updated_at=at)
        if approve:
            r.setdefault("_resolve_dues", []).append((old, at))
            r["resolve_due_at"] = r["extension_until"]
        self._referral_event(
            c,
            r,
            "extension_approved" if approve else "extension_denied",
            at,
            manager,
            comment=comment,
            old_deadline=iso(old),
            new_deadline=iso(r["resolve_due_at"]) if approve else None,
        )

    def request_return(self, c: Case, r: dict, staff: int, at: int, reason: str, comment: str) -> None:
        """``request_return`` (退单): the return review clock starts; the acknowledge clock stops if it ran."""
        r.update(status_before_return=r["status"], status="return_requested", return_requested_at=at)
        r.update(return_reason=reason, return_comment=comment, updated_at=at)
        r["return_review_due_at"] = self.clocks.due(c.values["priority"], "return_review", at)
        self._referral_event(c, r, "return_requested", at, staff, reason=reason, comment=comment)

    def decide_return(self, c: Case, r: dict, owner: int, at: int, *, accept: bool, comment: str) -> None:
        """``decide_return``: rejected, back to the unit; accepted, the referral ends as returned.

        The review's run ends here (its deadline is cleared, as the service does); an
        accepted return's redispatch is :meth:`dispatch` with the referral's instructions.
        """
        r.update(_return_review_due_at=r["return_review_due_at"], _return_decided_at=at, return_review_due_at=None)
        if not accept:
            r.update(status=r["status_before_return"] or "acknowledged", updated_at=at)
            self._referral_event(c, r, "return_rejected", at, owner, comment=comment)
            return
        r.update(status="returned", closed_at=at, closed_reason=comment, updated_at=at)
        self._referral_event(c, r, "return_accepted", at, owner, comment=comment)

    def roll_up(self, c: Case, actor: int | None, at: int) -> None:
        """What the referral service does when no referral is active any more: callback, or back to the hotline."""
        v = c.values
        if v["status"] != "referred" or any(r["status"] in ACTIVE_STATUSES for r in c.referrals):
            return
        resolved = sum(r["status"] == "resolved" for r in c.referrals)
        self.touch(c, at)
        if resolved:
            v.update(status="pending_callback", resolved_at=at)
            c.callback_at = None
            v["callback_due_at"] = self.clocks.due(v["priority"], "callback", at)
            self.event(v["id"], "referrals_done", at, actor, resolved=resolved)
        else:
            v["status"] = "open"
            self.event(v["id"], "referrals_none_left", at, actor)

    # --- the sweep, and the rows ---------------------------------------------------------------

    def ladder_steps(
        self,
        c: Case,
        r: dict | None,
        clock: str,
        start: int,
        due: int,
        end: int | None,
        *,
        since: int | None = None,
        after: int | None = None,
        done: set[str] | None = None,
    ) -> str | None:
        """Write the steps the sweep wrote for a run of ``clock`` that stopped at ``end`` (None: still running).

        A step due at ``at`` is written by the first sweep at or after it, if that sweep
        ran before the clock stopped and by ``now``; a sweep at the instant of an action runs
        before it, so a step due as the run starts (a clock with no working time in it) is
        written by the next one. Returns the highest level written.

        A run whose deadline moved (an approved extension) is passed in again for each
        deadline: ``since`` when this deadline took over (a step already due then is written
        by the next sweep), ``after`` the row's ``escalation_checked_at`` at that moment (the
        sweep skips steps at or before it), ``done`` the levels this run already has (the
        sweep claims the row, and its insert of such a level does nothing).
        """
        v = c.values
        stop = self.now if end is None else min(end, self.now)
        highest = None
        for level, at in self.clocks.ladder(v["priority"], clock, start, due):
            written = swept(max(at, (start if since is None else since) + 1))
            if written > stop:
                break
            if after is not None and at <= after:
                continue
            if r is not None:
                r["_checked"] = max(r.get("_checked") or 0, written)
            else:
                c.checked = max(c.checked or 0, written)
            if done is not None:
                if level in done:
                    continue
                done.add(level)
            payload = {"clock": clock, "level": level, "due_at": iso(at)}
            key = 0
            if r is not None:
                payload["department"] = r["_unit"]
                key = r["id"]
            row = {"id": self.ids.next("escalation_step"), "ticket_id": v["id"], "referral_key": key}
            row.update(clock=clock, started_at=start, level=level, due_at=at, written_at=written)
            self.w.add("escalation_step", row)
            self.event(v["id"], f"escalation_{level}", written, None, key or None, **payload)
            highest = level
        return highest

    def next_ladder(self, priority: str, running: list[tuple[str, int, int]]) -> int | None:
        """The first step not written yet of the running ``(clock, start, due)``: ``next_escalation_at``."""
        best = None
        for clock, start, due in running:
            for _level, at in self.clocks.ladder(priority, clock, start, due):
                if swept(at) > self.now:
                    best = at if best is None else min(best, at)
                    break
        return best

    def _referral_row(self, c: Case, r: dict) -> None:
        priority = c.values["priority"]
        level = None
        ack_goal = r["acknowledged_at"] or r["return_requested_at"]
        reached = [
            self.ladder_steps(
                c, r, "acknowledge", r["dispatched_at"], r["acknowledge_due_at"], ack_goal or r["closed_at"]
            )
        ]
        # The resolve clock's run, with each deadline it had (an approved extension moved it at ``changed``).
        done: set[str] = set()
        since = after = None
        for due, until in [*r.get("_resolve_dues", []), (r["resolve_due_at"], r["closed_at"])]:
            reached.append(
                self.ladder_steps(c, r, "resolve", r["dispatched_at"], due, until, since=since, after=after, done=done)
            )
            since, after = until, r.get("_checked")
        for one in reached:
            if one and (level is None or RANK[one] > RANK[level]):
                level = one
        if r["return_requested_at"] is not None:
            # The review's run ends when it is decided (closed, or back to work: the dict keeps when).
            end = r.get("_return_decided_at")
            due = r.get("_return_review_due_at") or r["return_review_due_at"]
            if due is not None:
                reached = self.ladder_steps(c, r, "return_review", r["return_requested_at"], due, end)
                if reached and (level is None or RANK[reached] > RANK[level]):
                    level = reached
        c.raise_level(level)
        running = []
        if r["status"] in ACTIVE_STATUSES:
            if r["status"] == "dispatched":
                running.append(("acknowledge", r["dispatched_at"], r["acknowledge_due_at"]))
            running.append(("resolve", r["dispatched_at"], r["resolve_due_at"]))
            if r["status"] == "return_requested" and r["return_review_due_at"]:
                running.append(("return_review", r["return_requested_at"], r["return_review_due_at"]))
        r["next_deadline_at"] = min((due for _clock, _start, due in running), default=None)
        r["next_escalation_at"] = self.next_ladder(priority, running)
        r["escalation_checked_at"] = r.get("_checked")
        r["escalation_level"] = level
        self.w.add("referral", {k: value for k, value in r.items() if not k.startswith("_")})

    def finish(self, c: Case) -> None:
        """The referrals' rows, the ticket's own ladder and clock columns (as ``sync_ticket``), and its row."""
        v, priority = c.values, c.values["priority"]
        for r in c.referrals:
            self._referral_row(c, r)
        for relief in c.reliefs:
            self.w.add("advance_relief", {k: value for k, value in relief.items() if not k.startswith("_")})
        is_open = v["status"] in OPEN_STATUSES
        merged = v["status"] == "merged"
        ticket_clocks = (
            ("dispatch", c.own_start, v["dispatch_due_at"], c.first_dispatch or v["closed_at"]),
            ("first_contact", v["created_at"], v["first_contact_due_at"], v["first_contact_at"] or v["closed_at"]),
            ("advance_relief", v["created_at"], v["advance_relief_due_at"], v["advance_relief_at"] or v["closed_at"]),
            (
                "paperwork",
                v["advance_relief_at"],
                v["paperwork_due_at"],
                v["paperwork_done_at"] or (v["closed_at"] if merged else None),
            ),
            ("callback", v["resolved_at"], v["callback_due_at"], c.callback_at or v["closed_at"]),
            ("close", v["last_callback_at"] if v["close_due_at"] else None, v["close_due_at"], v["closed_at"]),
        )
        running = []
        v["dispatch_started_at"] = None
        for clock, start, due, end in ticket_clocks:
            if due is None or start is None:
                continue
            c.raise_level(self.ladder_steps(c, None, clock, start, due, end))
            if end is None and (is_open or clock == "paperwork"):
                running.append((clock, start, due))
                if clock == "dispatch":
                    v["dispatch_started_at"] = start
        v["escalation_level"] = c.level
        referral_dues = [r["next_deadline_at"] for r in c.referrals if r["next_deadline_at"] is not None]
        v["next_deadline_at"] = min([due for _c, _s, due in running] + referral_dues, default=None)
        v["next_escalation_at"] = self.next_ladder(priority, running)
        v["escalation_checked_at"] = c.checked
        self.w.add("ticket", dict(v))
