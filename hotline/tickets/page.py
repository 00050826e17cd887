"""The ticket page: the ticket's own parts (its action forms, timeline, caller) and the panels of the other domains.

The panels it shows are listed once, in :data:`TICKET_PANELS`; each domain
builds its own (:mod:`hotline.panels`). Views of every domain render the page
again through :func:`render_ticket` when they refuse a form.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hotline import access, labels
from hotline.escalation.panel import clock_panel
from hotline.extensions import db
from hotline.forms import choices
from hotline.grid.panel import photos_panel
from hotline.intake.forms import SmsForm
from hotline.panels import Panel, compose
from hotline.policy import catalogue, category_label
from hotline.privacy import mask_id_number
from hotline.referrals.panel import attention_panel, referral_panel
from hotline.relief.case_panel import papers_panel, services_panel
from hotline.relief.panel import relief_panel
from hotline.tickets import forms
from hotline.timeutil import utcnow
from hotline.triage import MODEL_KIND
from models.department import Department
from models.interaction import Interaction
from models.ticket import Ticket, TicketEvent
from models.user import User


def calls_panel(ticket: Ticket) -> dict:
    """The calls and text messages of the ticket, newest first."""
    interactions = db.session.scalars(
        select(Interaction).where(Interaction.ticket_id == ticket.id).order_by(Interaction.started_at.desc())
    ).all()
    return {"interactions": interactions}


@dataclass(frozen=True)
class TextEntry:
    """A text the caller sent on their open ticket, as a line of its timeline: an ``sms_in`` event made from
    its Interaction (the text's only record since migration 0023)."""

    kind: str
    payload: dict
    at: datetime
    actor: None = None


def timeline(ticket: Ticket) -> list:
    """The ticket's events and the texts its caller sent on it (:class:`TextEntry`), newest first; at one
    moment, a text before what it caused (a raised triage, an alert)."""
    events = db.session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id)
        .options(joinedload(TicketEvent.actor))
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
    ).all()
    texts = db.session.execute(
        select(Interaction.body, Interaction.media_urls, Interaction.started_at)
        .where(Interaction.ticket_id == ticket.id, Interaction.follow_up.is_(True))
        .order_by(Interaction.id)  # at one moment, the later text on top
    ).all()
    if not texts:
        return list(events)
    entries = [(event.at, 1, event.id, event) for event in events]
    entries += [
        (at, 0, n, TextEntry("sms_in", {"text": body or "", "media": len(media or ())}, at))
        for n, (body, media, at) in enumerate(texts)
    ]
    return [entry[-1] for entry in sorted(entries, key=lambda entry: entry[:3], reverse=True)]


#: The panels of the ticket page, in the order they are shown in each slot (:data:`hotline.panels.SLOTS`).
TICKET_PANELS = (
    Panel("attention", "top", "referrals/_attention.html", attention_panel),
    Panel("relief", "main", "relief/_panel.html", relief_panel),
    Panel("papers", "main", "relief/_papers.html", papers_panel),
    Panel("services", "main", "relief/_services.html", services_panel),
    Panel("referrals", "main", "referrals/_panel.html", referral_panel),
    Panel("photos", "main", "grid/_photos_panel.html", photos_panel),
    Panel("clocks", "side", "escalation/_clocks.html", clock_panel),
    Panel("calls", "side_end", "tickets/_calls.html", calls_panel),
)


def locale() -> str:
    return str(get_locale() or "zh_CN")


def triage_headline(ticket: Ticket) -> str:
    """The ticket's triage suggestion as operators read it: 系统研判：P0 危及生命 · 走失儿童 — 命中：孩子、走丢."""
    if ticket.triage_priority is None:
        return ""
    return headline(ticket.triage_priority, ticket.triage_category, ticket.triage_reasons, ticket.triage_kind)


def headline(priority: str, category: str | None, reasons, kind: str | None = None) -> str:
    """A triage suggestion in words: priority and category, and the words that matched; for a text the triage
    model raised (``kind`` ``model``), the pieces it weighed most, said to be the model's."""
    values = {"priority": labels.PRIORITY.get(priority, priority), "category": category_label(category)}
    if not reasons:
        return _("Triage: %(priority)s · %(category)s", **values)
    separator = "、" if locale().startswith("zh") else ", "
    if kind == MODEL_KIND:
        return _(
            "Triage: %(priority)s · %(category)s — by the model, from: %(reasons)s",
            reasons=separator.join(reasons),
            **values,
        )
    return _("Triage: %(priority)s · %(category)s — matched: %(reasons)s", reasons=separator.join(reasons), **values)


def operators() -> list[User]:
    """Active operators, by name: who a ticket may be handed over to."""
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


def action_forms(ticket: Ticket) -> dict:
    """Fresh forms for every action of the ticket's own, preset to the ticket's version."""
    v = {"version": ticket.version}
    transfer = forms.TransferForm(data=v)
    transfer.new_owner.choices = choices(
        (u.id, u.display_name) for u in operators() if u.id != ticket.first_contact_owner_id
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
            locale=locale(),
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
    error: str | None = None,
    unmasked=False,
):
    """The ticket page. ``override`` puts a submitted form of the ticket's own actions (with what
    was typed and its errors) in place of the fresh one and opens it; a panel's refused form is
    handed back to its panel (:func:`hotline.panels.hand_back`)."""
    own_forms = action_forms(ticket)
    if override:
        own_forms.update(override)
    events = timeline(ticket)
    merged_here = db.session.scalars(select(Ticket).where(Ticket.merged_into_id == ticket.id)).all()
    return (
        render_template(
            "tickets/show.html",
            ticket=ticket,
            events=events,
            merged_here=merged_here,
            forms=own_forms,
            panels=compose(TICKET_PANELS, ticket),
            error=error,
            open_form=next(iter(override)) if override else None,
            can_manage=access.can_manage_ticket(current_user, ticket),
            unmasked=unmasked,
            triage=triage_headline(ticket),
            now=utcnow(),
        ),
        status,
    )
