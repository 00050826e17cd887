"""HTTP side of the desk and the ticket page: parse, authorise, call a service, render."""

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hotline import labels, user_notifications
from hotline.actions import run_form_action
from hotline.errors import DomainError
from hotline.escalation import clocks
from hotline.extensions import db
from hotline.formatting import localtime
from hotline.forms import choices
from hotline.intake.forms import SmsForm
from hotline.policy import catalogue, category_label
from hotline.privacy import mask_id_number, mask_phone, normalize_phone
from hotline.referrals import service as referral_service
from hotline.security import require_role
from hotline.tickets import forms, service
from hotline.tickets.queries import SCOPES, QueueFilters, queue_select, unclaimed, urgent_alerts
from hotline.timeutil import utcnow
from hotline.triage import triage_text
from hotline.validation import MAX_TEXT
from models.department import Department
from models.interaction import CHANNELS, Interaction
from models.ticket import PRIORITIES, STATUSES, Ticket, TicketEvent
from models.user import HOTLINE_ROLES, User

bp = Blueprint("tickets", __name__)


def _locale() -> str:
    return str(get_locale() or "zh_CN")


def load_ticket(number: str) -> Ticket:
    """The ticket behind a URL, or 404 for anyone who may not see it.

    Department staff reach a ticket only through a referral to their unit;
    until referrals exist they reach none, and an unknown or forbidden ticket
    looks the same (404) so numbers cannot be probed.
    """
    if current_user.role not in HOTLINE_ROLES:
        abort(404)
    ticket = db.session.scalar(
        select(Ticket)
        .where(Ticket.number == number)
        .options(joinedload(Ticket.contact), joinedload(Ticket.first_contact_owner))
    )
    if ticket is None:
        abort(404)
    return ticket


def triage_headline(ticket: Ticket) -> str:
    """The ticket's triage suggestion as operators read it: 系统研判：P0 危及生命 · 走失儿童 — 命中：孩子、走丢."""
    if ticket.triage_priority is None:
        return ""
    return _headline(ticket.triage_priority, ticket.triage_category, ticket.triage_reasons)


def _headline(priority: str, category: str | None, reasons) -> str:
    values = {"priority": labels.PRIORITY.get(priority, priority), "category": category_label(category)}
    if not reasons:
        return _("Triage: %(priority)s · %(category)s", **values)
    separator = "、" if _locale().startswith("zh") else ", "
    return _("Triage: %(priority)s · %(category)s — matched: %(reasons)s", reasons=separator.join(reasons), **values)


# --- desk ----------------------------------------------------------------------------------


@bp.get("/desk")
@require_role(*HOTLINE_ROLES)
def desk():
    args = request.args
    scope = args.get("scope", "mine")
    filters = QueueFilters(
        scope=scope if scope in SCOPES else "mine",
        status=args.get("status") if args.get("status") in STATUSES else None,
        priority=args.get("priority") if args.get("priority") in PRIORITIES else None,
        channel=args.get("channel") if args.get("channel") in CHANNELS else None,
        q=(args.get("q") or "").strip()[:64] or None,
    )
    if filters.q and "scope" not in args:
        filters.scope = "all"  # a search looks everywhere unless a tab was chosen
    now = utcnow()
    page = db.paginate(
        queue_select(current_user, filters, now=now),
        page=args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "tickets/desk.html",
        page=page,
        filters=filters,
        now=now,
        unclaimed=unclaimed(),
        alerts=urgent_alerts(),
        triage_headline=triage_headline,
        replied=user_notifications.unread_replies(current_user.id, [t.id for t in page.items]),
        statuses=STATUSES,
        priorities=PRIORITIES,
        channels=CHANNELS,
        take_form=forms.TakeForm(),
    )


# --- logging a call ------------------------------------------------------------------------


@bp.route("/tickets/new", methods=["GET", "POST"])
@require_role(*HOTLINE_ROLES)
def new_call():
    form = forms.LogCallForm(catalogue=catalogue(), locale=_locale())
    if request.method == "GET" and request.args.get("phone"):
        form.phone.data = request.args["phone"][:40]
    # ?call=<id>: the ticket of a call that reached the line, opened from the desk's live panel.
    call = db.session.get(Interaction, request.args.get("call", 0, type=int)) if "call" in request.args else None
    if "call" in request.args and (call is None or not service.can_ticket_call(call, current_user)):
        abort(404)
    if request.method == "GET" and call is not None:
        form.phone.data = call.from_number
        form.channel.data = "voice"
    error = None
    if form.validate_on_submit():
        try:
            ticket = service.log_call(
                actor=current_user,
                now=utcnow(),
                phone=form.phone.data,
                caller_name=form.caller_name.data,
                channel=form.channel.data,
                category=form.category.data,
                priority=form.priority.data,
                summary=form.summary.data,
                description=form.description.data,
                confidential=form.confidential.data,
                sensitive=form.sensitive.data,
                mandatory_report=form.mandatory_report.data,
                emergency_service=form.emergency_service.data or None,
                answered_on_call=form.answered_on_call.data,
                answer=form.answer.data,
                checklist=form.p0_checks.data + form.p1_checks.data,
                call=call,
            )
        except DomainError as exc:
            db.session.rollback()
            error = str(exc.message)
        else:
            db.session.commit()
            flash(_("Ticket %(number)s created. You own it until it is closed.", number=ticket.number), "success")
            return redirect(url_for("tickets.show", number=ticket.number))
    status = 400 if request.method == "POST" else 200
    p1_categories = [c.code for c in catalogue().categories if c.priority == "P1"]
    return render_template("tickets/new.html", form=form, error=error, p1_categories=p1_categories), status


@bp.post("/tickets/triage-text")
@require_role(*HOTLINE_ROLES)
def triage_text_hint():
    """The triage of what the operator is typing on the call form (POST: the words stay out of URLs and logs)."""
    text = (request.form.get("text") or "")[: MAX_TEXT + 200]
    if not text.strip():
        return jsonify(priority=None, category=None, triage="")
    triage = triage_text(text)
    return jsonify(
        priority=triage.priority,
        category=triage.category,
        triage=_headline(triage.priority, triage.category, triage.reasons),
    )


@bp.get("/tickets/lookup")
@require_role(*HOTLINE_ROLES)
def lookup():
    """Caller history for the phone being typed on the call form (JSON, masked)."""
    phone = (request.args.get("phone") or "").strip()[:40]
    e164 = normalize_phone(phone) if phone else None
    if not e164:
        return jsonify(valid=False, contact=None, tickets=[], recent_open=None)
    contact, tickets = service.caller_history(phone)
    recent = service.find_recent_open_ticket(phone, now=utcnow(), hours=current_app.config["REPEAT_CALL_HOURS"])

    def row(t: Ticket) -> dict:
        return {
            "number": t.number,
            "url": url_for("tickets.show", number=t.number),
            "status": str(labels.STATUS.get(t.status, t.status)),
            "priority": t.priority,
            "summary": t.summary,
            "created": localtime(t.created_at),
        }

    return jsonify(
        valid=True,
        phone=mask_phone(e164),
        contact=(
            {"name": contact.name or "", "flags": [str(labels.FLAG[f]) for f in contact.flags]} if contact else None
        ),
        tickets=[row(t) for t in tickets],
        recent_open=(
            dict(row(recent), add_url=url_for("tickets.repeat_call", number=recent.number)) if recent else None
        ),
    )


# --- the ticket page -----------------------------------------------------------------------


def _operators() -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.role == "operator", User.active.is_(True)).order_by(User.display_name)
        )
    )


def _places() -> list[Department]:
    return list(
        db.session.scalars(
            select(Department)
            .where(Department.level.in_(("township", "village")), Department.active.is_(True))
            .order_by(Department.code)
        )
    )


def _action_forms(ticket: Ticket) -> dict:
    """Fresh forms for every action the page shows, preset to the ticket's version."""
    v = {"version": ticket.version}
    transfer = forms.TransferForm(data=v)
    transfer.new_owner.choices = choices(
        (u.id, u.display_name) for u in _operators() if u.id != ticket.first_contact_owner_id
    )
    contact = forms.ContactForm(obj=ticket.contact) if ticket.contact else None
    if contact is not None:
        places = _places()
        none = [(0, "—")]
        contact.township_id.choices = choices(none + [(d.id, d.name) for d in places if d.level == "township"])
        contact.village_id.choices = choices(none + [(d.id, d.name) for d in places if d.level == "village"])
        # The full ID number never goes into the page: the field starts empty, shows the
        # masked number as a hint, and left empty keeps the number on record.
        contact.id_number.data = None
        contact.id_number.render_kw = {"placeholder": mask_id_number(ticket.contact.id_number)}
        if request.method == "GET":
            contact.township_id.data = ticket.contact.township_id or 0
            contact.village_id.data = ticket.contact.village_id or 0
    return {
        "note": forms.NoteForm(),
        "repeat_call": forms.RepeatCallForm(),
        "take": forms.TakeForm(data=v),
        "priority": forms.PriorityForm(data=dict(v, priority=ticket.priority)),
        "triage": forms.TriageForm(
            data=dict(v, priority=ticket.triage_priority, category=ticket.triage_category),
            catalogue=catalogue(),
            locale=_locale(),
        ),
        "transfer": transfer,
        "merge": forms.MergeForm(data=v),
        "answer": forms.AnswerForm(data=v),
        "callback": forms.CallbackForm(data=v),
        "close": forms.CloseForm(data=v),
        "reopen": forms.ReopenForm(data=v),
        "unmask": forms.UnmaskForm(),
        "sms": SmsForm(),
        "contact": contact,
    }


def render_ticket(
    ticket: Ticket,
    *,
    status: int = 200,
    override: dict | None = None,
    referral_override: dict | None = None,
    error: str | None = None,
    unmasked=False,
):
    """The ticket page. ``override`` / ``referral_override`` put a submitted form (with what was
    typed and its errors) in place of the fresh one and open its panel."""
    from hotline.referrals.views import referral_forms

    action_forms = _action_forms(ticket)
    if override:
        action_forms.update(override)
    ref_forms = referral_forms(ticket)
    open_referral_form = None
    if referral_override:
        key, form = next(iter(referral_override.items()))
        open_referral_form = key
        if key == "dispatch":
            form.department_id.choices = ref_forms["dispatch"].department_id.choices
            ref_forms["dispatch"] = form
        else:
            name, _sep, ident = key.rpartition("-")
            slot = {"cancel": "cancel", "return": "return_decision", "extension": "extension_decision"}.get(name, name)
            if slot == "return_decision":
                form.redispatch_to.choices = ref_forms["per_referral"][int(ident)][slot].redispatch_to.choices
            ref_forms["per_referral"][int(ident)][slot] = form
    events = db.session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id)
        .options(joinedload(TicketEvent.actor))
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
    ).all()
    interactions = db.session.scalars(
        select(Interaction).where(Interaction.ticket_id == ticket.id).order_by(Interaction.started_at.desc())
    ).all()
    merged_here = db.session.scalars(select(Ticket).where(Ticket.merged_into_id == ticket.id)).all()
    can_manage = current_user.role == "manager" or ticket.first_contact_owner_id == current_user.id
    return (
        render_template(
            "tickets/show.html",
            ticket=ticket,
            events=events,
            interactions=interactions,
            merged_here=merged_here,
            forms=action_forms,
            ref_forms=ref_forms,
            ticket_clocks=_clock_rows(ticket),
            open_referral_form=open_referral_form,
            error=error,
            open_form=next(iter(override)) if override else None,
            can_manage=can_manage,
            unmasked=unmasked,
            triage=triage_headline(ticket),
            now=utcnow(),
        ),
        status,
    )


def _clock_rows(ticket: Ticket) -> list[dict]:
    """Every running clock of the ticket and its referrals, soonest first, for the clocks panel."""
    rows = [{"clock": s.clock, "start": s.start, "due": s.due, "unit": None} for s in clocks.ticket_spans(ticket)]
    for referral in ticket.referrals:
        rows += [
            {"clock": s.clock, "start": s.start, "due": s.due, "unit": referral.department.name}
            for s in clocks.referral_spans(referral)
        ]
    return sorted(rows, key=lambda row: row["due"])


@bp.get("/tickets/<number>")
@require_role(*HOTLINE_ROLES, "department")
def show(number: str):
    if current_user.role == "department":
        return redirect(url_for("referrals.show", referral_id=_department_referral_id(number)))
    ticket = load_ticket(number)
    if user_notifications.mark_replies_read(current_user.id, ticket.id, now=utcnow()):
        db.session.commit()
    return render_ticket(ticket)


def _department_referral_id(number: str) -> int:
    """The newest referral of ticket ``number`` that the department user may see, or 404."""
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
    visible = referral_service.visible_referrals(current_user, ticket) if ticket else []
    if not visible:
        abort(404)
    return visible[-1].id


def _run(ticket: Ticket, name: str, form, action, success_message: str):
    """Run a ticket action from its form; a refusal re-renders the ticket page with what was typed."""
    return run_form_action(
        form,
        action,
        render=lambda status, error: render_ticket(ticket, status=status, override={name: form}, error=error),
        done_url=url_for("tickets.show", number=ticket.number),
        message=success_message,
    )


@bp.post("/tickets/<number>/take")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def take(number):
    ticket = load_ticket(number)
    form = forms.TakeForm()
    return _run(
        ticket,
        "take",
        form,
        lambda: service.take_ticket(ticket, actor=current_user, now=utcnow(), expected_version=form.version.data),
        _("You now own this ticket."),
    )


@bp.post("/tickets/<number>/note")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def note(number):
    ticket = load_ticket(number)
    form = forms.NoteForm()
    return _run(
        ticket,
        "note",
        form,
        lambda: service.add_note(ticket, actor=current_user, now=utcnow(), text=form.text.data),
        _("Note added."),
    )


@bp.post("/tickets/<number>/repeat-call")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def repeat_call(number):
    ticket = load_ticket(number)
    form = forms.RepeatCallForm()
    return _run(
        ticket,
        "repeat_call",
        form,
        lambda: service.log_repeat_call(ticket, actor=current_user, now=utcnow(), note=form.note.data),
        _("The call was added to this ticket."),
    )


@bp.post("/tickets/<number>/triage")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def triage(number):
    """One click on the triage suggestion: confirm it, or correct priority and category."""
    ticket = load_ticket(number)
    form = forms.TriageForm(catalogue=catalogue(), locale=_locale())
    confirm = bool(form.confirm.data)
    return _run(
        ticket,
        "triage",
        form,
        lambda: service.review_triage(
            ticket,
            actor=current_user,
            now=utcnow(),
            priority=None if confirm else form.priority.data,
            category=None if confirm else form.category.data,
            emergency_service=form.emergency_service.data or None,
            expected_version=form.version.data,
        ),
        _("Triage suggestion confirmed.") if confirm else _("Triage suggestion corrected."),
    )


@bp.post("/tickets/<number>/priority")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def priority(number):
    ticket = load_ticket(number)
    form = forms.PriorityForm()
    return _run(
        ticket,
        "priority",
        form,
        lambda: service.change_priority(
            ticket,
            actor=current_user,
            now=utcnow(),
            priority=form.priority.data,
            reason=form.reason.data,
            emergency_service=form.emergency_service.data or None,
            expected_version=form.version.data,
        ),
        _("Priority changed."),
    )


@bp.post("/tickets/<number>/transfer")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def transfer(number):
    ticket = load_ticket(number)
    form = forms.TransferForm()
    form.new_owner.choices = choices((u.id, u.display_name) for u in _operators())

    def action():
        new_owner = db.session.get(User, form.new_owner.data)
        service.transfer_owner(
            ticket,
            actor=current_user,
            now=utcnow(),
            new_owner=new_owner,
            reason=form.reason.data,
            expected_version=form.version.data,
        )

    return _run(ticket, "transfer", form, action, _("Ownership handed over."))


@bp.post("/tickets/<number>/merge")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def merge(number):
    ticket = load_ticket(number)
    form = forms.MergeForm()

    def action():
        target = db.session.scalar(select(Ticket).where(Ticket.number == (form.target.data or "").strip()))
        if target is None:
            raise DomainError(_("There is no ticket with number %(number)s.", number=form.target.data))
        service.merge_ticket(
            ticket,
            actor=current_user,
            now=utcnow(),
            target=target,
            reason=form.reason.data,
            expected_version=form.version.data,
        )

    return _run(ticket, "merge", form, action, _("Ticket merged."))


@bp.post("/tickets/<number>/answer")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def answer(number):
    ticket = load_ticket(number)
    form = forms.AnswerForm()
    return _run(
        ticket,
        "answer",
        form,
        lambda: service.resolve_directly(
            ticket, actor=current_user, now=utcnow(), answer=form.answer.data, expected_version=form.version.data
        ),
        _("Recorded as answered. The ticket now waits for its callback."),
    )


@bp.post("/tickets/<number>/callback")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def callback(number):
    ticket = load_ticket(number)
    form = forms.CallbackForm()
    return _run(
        ticket,
        "callback",
        form,
        lambda: service.record_callback(
            ticket,
            actor=current_user,
            now=utcnow(),
            reached=form.reached.data == "yes",
            satisfaction=int(form.satisfaction.data) if form.satisfaction.data else None,
            comment=form.comment.data,
            expected_version=form.version.data,
        ),
        _("Callback recorded."),
    )


@bp.post("/tickets/<number>/close")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def close(number):
    ticket = load_ticket(number)
    form = forms.CloseForm()
    return _run(
        ticket,
        "close",
        form,
        lambda: service.close_ticket(
            ticket,
            actor=current_user,
            now=utcnow(),
            resolution=form.resolution.data,
            expected_version=form.version.data,
            leave_relief_unpaid=form.leave_relief_unpaid.data,
        ),
        _("Ticket closed."),
    )


@bp.post("/tickets/<number>/reopen")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def reopen(number):
    ticket = load_ticket(number)
    form = forms.ReopenForm()
    return _run(
        ticket,
        "reopen",
        form,
        lambda: service.reopen_ticket(
            ticket, actor=current_user, now=utcnow(), reason=form.reason.data, expected_version=form.version.data
        ),
        _("Ticket reopened."),
    )


@bp.post("/tickets/<number>/contact")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def contact(number):
    ticket = load_ticket(number)
    form = forms.ContactForm()
    base = _action_forms(ticket)["contact"]
    if base is None:
        abort(404)
    form.township_id.choices = base.township_id.choices
    form.village_id.choices = base.village_id.choices
    return _run(
        ticket,
        "contact",
        form,
        lambda: service.update_contact(
            ticket,
            actor=current_user,
            now=utcnow(),
            name=form.name.data,
            id_number=(form.id_number.data or "").strip().upper() or ticket.contact.id_number,
            address=form.address.data,
            township_id=form.township_id.data or None,
            village_id=form.village_id.data or None,
            flags={k: getattr(form, k).data for k in ("is_elderly", "is_child", "has_disability", "lives_alone")},
        ),
        _("Caller details saved."),
    )


@bp.post("/tickets/<number>/unmask")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def unmask(number):
    """Show the full numbers once, for a stated reason that goes on the timeline."""
    ticket = load_ticket(number)
    form = forms.UnmaskForm()
    if not form.validate_on_submit():
        return render_ticket(ticket, status=400, override={"unmask": form})
    try:
        service.unmask_contact(ticket, actor=current_user, now=utcnow(), reason=form.reason.data)
    except DomainError as exc:
        db.session.rollback()
        return render_ticket(ticket, status=exc.status_code, override={"unmask": form}, error=str(exc.message))
    db.session.commit()
    return render_ticket(ticket, unmasked=True)
