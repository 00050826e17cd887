"""The referral panels of the ticket page: the referrals with the hotline's forms, and what waits for the reader."""

from flask import request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from hotline import access
from hotline.extensions import db
from hotline.forms import choices
from hotline.panels import handed_back
from hotline.policy import catalogue
from hotline.referrals import forms, service
from models.department import Department
from models.ticket import Ticket

#: A handed-back form's key (``cancel-12``) names its slot among the referral's forms.
_SLOTS = {"cancel": "cancel", "return": "return_decision", "extension": "extension_decision", "reopen": "reopen"}


def unit_choices(exclude_hotline: bool = True):
    units = db.session.scalars(
        select(Department).where(Department.active.is_(True)).order_by(Department.level, Department.code)
    )
    return [(d.id, d.name) for d in units if not (exclude_hotline and d.kind == "hotline")]


def referral_panel(ticket: Ticket) -> dict:
    """The referral panel: the forms of each referral and the dispatch form, a refused one as typed and open.

    A refused form comes back under its key: ``dispatch``, or ``cancel-<id>``,
    ``return-<id>``, ``extension-<id>``, ``reopen-<id>`` for a referral's.
    """
    units = unit_choices()
    dispatch = forms.DispatchForm(data={"version": ticket.version})
    dispatch.department_id.choices = choices([(0, _("Choose…")), *units])
    suggestion = service.suggested_units(ticket, catalogue())
    active_ids = {r.department_id for r in ticket.referrals if r.is_active}
    pending = [(role, unit) for role, unit in suggestion if unit.id not in active_ids]
    if request.method == "GET" and pending:
        has_lead = any(r.role == "lead" and r.is_active for r in ticket.referrals)
        role, unit = pending[0]
        dispatch.department_id.data = unit.id
        dispatch.role.data = "assist" if has_lead else role
    per_referral = {}
    for r in ticket.referrals:
        v = {"version": r.version}
        decision = forms.ReturnDecisionForm(data=dict(v, redispatch_instructions=r.instructions), prefix=f"d{r.id}")
        decision.redispatch_to.choices = choices([(0, _("Nobody: keep it with the hotline")), *units])
        per_referral[r.id] = {
            "cancel": forms.ReasonForm(data=v, prefix=f"c{r.id}"),
            "return_decision": decision,
            "extension_decision": forms.ExtensionDecisionForm(data=v, prefix=f"e{r.id}"),
            "reopen": forms.ReasonForm(data=v, prefix=f"o{r.id}"),
        }
    open_form = None
    for key, form in handed_back("referrals").items():
        open_form = key
        if key == "dispatch":
            form.department_id.choices = dispatch.department_id.choices
            dispatch = form
            continue
        name, _sep, ident = key.rpartition("-")
        fresh = per_referral[int(ident)]
        slot = _SLOTS[name]
        if slot == "return_decision":
            form.redispatch_to.choices = fresh[slot].redispatch_to.choices
        fresh[slot] = form
    return {
        "forms": {"dispatch": dispatch, "suggestion": suggestion, "per_referral": per_referral},
        "open_form": open_form,
        "can_manage": access.can_manage_ticket(current_user, ticket),
        "can_supervise": access.can_supervise(current_user),
    }


def attention_panel(ticket: Ticket) -> dict:
    """Top of the ticket page: what the referrals wait for from the reader, so it is seen without scrolling.

    Returns to decide (the owner or a manager) and extensions to decide (a
    manager), never the reader's own request (four eyes); and, once every unit
    has finished, the callback.
    """
    user = current_user
    can_manage = access.can_manage_ticket(user, ticket)
    returns = [
        r
        for r in ticket.referrals
        if can_manage and r.status == "return_requested" and service.requester_id(r, "return_requested") != user.id
    ]
    extensions = [
        r
        for r in ticket.referrals
        if access.can_supervise(user)
        and r.extension_state == "requested"
        and r.is_active
        and service.requester_id(r, "extension_requested") != user.id
    ]
    done_by_units = ticket.status == "pending_callback" and any(r.status == "resolved" for r in ticket.referrals)
    return {"returns": returns, "extensions": extensions, "done_by_units": done_by_units}
