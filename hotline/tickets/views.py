"""HTTP side of the desk and the ticket page's actions: parse, authorise, call a service, render.

The page itself is composed in :mod:`hotline.tickets.page`; who may open it, in :mod:`hotline.access`.
"""

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from hotline import access, labels, user_notifications
from hotline.access import load_ticket
from hotline.actions import run_form_action
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.formatting import localtime
from hotline.forms import choices
from hotline.policy import catalogue
from hotline.privacy import mask_phone, normalize_phone
from hotline.security import require_role
from hotline.tickets import forms, service
from hotline.tickets.page import action_forms, headline, locale, operators, render_ticket, triage_headline
from hotline.tickets.queries import SCOPES, QueueFilters, queue_select, unclaimed, urgent_alerts
from hotline.timeutil import utcnow
from hotline.triage import triage_text
from hotline.validation import MAX_TEXT
from models.contact import FLAGS
from models.interaction import CHANNELS, Interaction
from models.ticket import PRIORITIES, STATUSES, Ticket
from models.user import HOTLINE_ROLES, User

bp = Blueprint("tickets", __name__)


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
    form = forms.LogCallForm(catalogue=catalogue(), locale=locale())
    if request.method == "GET" and request.args.get("phone"):
        form.phone.data = request.args["phone"][:40]
    # ?call=<id>: the ticket of a call that reached the line, opened from the desk's live panel.
    call = db.session.get(Interaction, request.args.get("call", 0, type=int)) if "call" in request.args else None
    if "call" in request.args and (call is None or not access.can_ticket_call(call, current_user)):
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
        triage=headline(triage.priority, triage.category, triage.reasons, triage.kind),
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
    """The department user's way into ticket ``number``: their referral page (:func:`access.unit_referral`), or 404."""
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
    referral = access.unit_referral(current_user, ticket) if ticket else None
    if referral is None:
        abort(404)
    return referral.id


def _on_ticket_page(ticket: Ticket, name: str, form) -> dict:
    """How :func:`run_form_action` answers for a form of the ticket page: the page again with ``form``
    open as typed, or back to the page when done."""
    return {
        "render": lambda status, error: render_ticket(ticket, status=status, override={name: form}, error=error),
        "done_url": url_for("tickets.show", number=ticket.number),
        "current_version": lambda: ticket.version,
    }


@bp.post("/tickets/<number>/take")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def take(number):
    ticket = load_ticket(number)
    form = forms.TakeForm()
    return run_form_action(
        form,
        lambda: service.take_ticket(ticket, actor=current_user, now=utcnow(), expected_version=form.version.data),
        message=_("You now own this ticket."),
        **_on_ticket_page(ticket, "take", form),
    )


@bp.post("/tickets/<number>/note")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def note(number):
    ticket = load_ticket(number)
    form = forms.NoteForm()
    return run_form_action(
        form,
        lambda: service.add_note(ticket, actor=current_user, now=utcnow(), text=form.text.data),
        message=_("Note added."),
        **_on_ticket_page(ticket, "note", form),
    )


@bp.post("/tickets/<number>/repeat-call")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def repeat_call(number):
    ticket = load_ticket(number)
    form = forms.RepeatCallForm()
    return run_form_action(
        form,
        lambda: service.log_repeat_call(ticket, actor=current_user, now=utcnow(), note=form.note.data),
        message=_("The call was added to this ticket."),
        **_on_ticket_page(ticket, "repeat_call", form),
    )


@bp.post("/tickets/<number>/triage")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def triage(number):
    """One click on the triage suggestion: confirm it, or correct priority and category."""
    ticket = load_ticket(number)
    form = forms.TriageForm(catalogue=catalogue(), locale=locale())
    confirm = bool(form.confirm.data)
    return run_form_action(
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
        message=_("Triage suggestion confirmed.") if confirm else _("Triage suggestion corrected."),
        **_on_ticket_page(ticket, "triage", form),
    )


@bp.post("/tickets/<number>/priority")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def priority(number):
    ticket = load_ticket(number)
    form = forms.PriorityForm()
    return run_form_action(
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
        message=_("Priority changed."),
        **_on_ticket_page(ticket, "priority", form),
    )


@bp.post("/tickets/<number>/transfer")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def transfer(number):
    ticket = load_ticket(number)
    form = forms.TransferForm()
    form.new_owner.choices = choices((u.id, u.display_name) for u in operators())

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

    return run_form_action(
        form, action, message=_("Ownership handed over."), **_on_ticket_page(ticket, "transfer", form)
    )


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

    return run_form_action(form, action, message=_("Ticket merged."), **_on_ticket_page(ticket, "merge", form))


@bp.post("/tickets/<number>/answer")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def answer(number):
    ticket = load_ticket(number)
    form = forms.AnswerForm()
    return run_form_action(
        form,
        lambda: service.resolve_directly(
            ticket, actor=current_user, now=utcnow(), answer=form.answer.data, expected_version=form.version.data
        ),
        message=_("Recorded as answered. The ticket now waits for its callback."),
        **_on_ticket_page(ticket, "answer", form),
    )


@bp.post("/tickets/<number>/callback")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def callback(number):
    ticket = load_ticket(number)
    form = forms.CallbackForm()
    return run_form_action(
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
        message=_("Callback recorded."),
        **_on_ticket_page(ticket, "callback", form),
    )


@bp.post("/tickets/<number>/close")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def close(number):
    ticket = load_ticket(number)
    form = forms.CloseForm()
    return run_form_action(
        form,
        lambda: service.close_ticket(
            ticket,
            actor=current_user,
            now=utcnow(),
            resolution=form.resolution.data,
            expected_version=form.version.data,
            leave_relief_unpaid=form.leave_relief_unpaid.data,
        ),
        message=_("Ticket closed."),
        **_on_ticket_page(ticket, "close", form),
    )


@bp.post("/tickets/<number>/reopen")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def reopen(number):
    ticket = load_ticket(number)
    form = forms.ReopenForm()
    return run_form_action(
        form,
        lambda: service.reopen_ticket(
            ticket, actor=current_user, now=utcnow(), reason=form.reason.data, expected_version=form.version.data
        ),
        message=_("Ticket reopened."),
        **_on_ticket_page(ticket, "reopen", form),
    )


@bp.post("/tickets/<number>/contact")
@require_role(*HOTLINE_ROLES, not_found_for=("department",))
def contact(number):
    ticket = load_ticket(number)
    form = forms.ContactForm()
    base = action_forms(ticket)["contact"]
    if base is None:
        abort(404)
    form.township_id.choices = base.township_id.choices
    form.village_id.choices = base.village_id.choices
    return run_form_action(
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
            flags={k: getattr(form, k).data for k in FLAGS},
        ),
        message=_("Caller details saved."),
        **_on_ticket_page(ticket, "contact", form),
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
