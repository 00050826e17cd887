"""Admin pages of the partner webhooks: subscriptions (URL, secret, changes sent) and their deliveries."""

import json

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from hotline import access
from hotline.errors import DomainError
from hotline.extensions import db
from hotline.security import require_role
from hotline.timeutil import utcnow
from hotline.webhooks import service
from hotline.webhooks.forms import SubscriptionForm
from hotline.webhooks.policy import webhook_policy
from models.ticket import Ticket
from models.webhook import DELIVERY_STATUSES, WebhookDelivery, WebhookSubscription

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")

#: The deliveries page's filter: what admins must act on first, then each status.
SCOPES = {"problems": ("failed", "cancelled"), "waiting": ("queued", "sending"), "all": DELIVERY_STATUSES}


def _subscription(subscription_id: int) -> WebhookSubscription:
    return db.session.get(WebhookSubscription, subscription_id) or abort(404)


def _checked_form() -> None:
    if not FlaskForm().validate_on_submit():
        abort(400)


@bp.get("")
@require_role("admin")
def index():
    subscriptions = db.session.scalars(
        select(WebhookSubscription).order_by(WebhookSubscription.active.desc(), WebhookSubscription.id)
    ).all()
    counts = {
        (sub_id, status): n
        for sub_id, status, n in db.session.execute(
            select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count())
            .where(WebhookDelivery.status.in_(("queued", "sending", "failed")))
            .group_by(WebhookDelivery.subscription_id, WebhookDelivery.status)
        )
    }
    return render_template(
        "webhooks/index.html",
        subscriptions=subscriptions,
        counts=counts,
        form=FlaskForm(),
        mask_secret=service.mask_secret,
    )


def _show_secret(subscription: WebhookSubscription, *, created: bool):
    """The secret, in this answer only: never in a flash message (the session cookie is signed, not secret)."""
    return render_template("webhooks/secret.html", subscription=subscription, created=created)


@bp.route("/new", methods=["GET", "POST"])
@require_role("admin")
def new():
    form = SubscriptionForm()
    if request.method == "GET":
        form.events.data = list(webhook_policy().kinds)
    error = None
    if form.validate_on_submit():
        try:
            subscription = service.create_subscription(
                source=form.source.data, url=form.url.data, events=form.events.data, actor=current_user, now=utcnow()
            )
        except DomainError as exc:
            db.session.rollback()
            error = str(exc.message)
        else:
            db.session.commit()
            return _show_secret(subscription, created=True)
    status = 400 if request.method == "POST" else 200
    return render_template("webhooks/form.html", form=form, subscription=None, error=error), status


@bp.route("/<int:subscription_id>", methods=["GET", "POST"])
@require_role("admin")
def edit(subscription_id: int):
    subscription = _subscription(subscription_id)
    form = SubscriptionForm(obj=subscription)
    form.source.data = subscription.source  # the source never changes: its deliveries name it
    error = None
    if form.validate_on_submit():
        try:
            service.update_subscription(
                subscription, url=form.url.data, events=form.events.data, actor=current_user, now=utcnow()
            )
        except DomainError as exc:
            db.session.rollback()
            error = str(exc.message)
        else:
            db.session.commit()
            flash(_("Webhook saved."), "success")
            return redirect(url_for("webhooks.index"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "webhooks/form.html",
        form=form,
        subscription=subscription,
        error=error,
        action_form=FlaskForm(),
        mask_secret=service.mask_secret,
    ), status


@bp.post("/<int:subscription_id>/deactivate")
@require_role("admin")
def deactivate(subscription_id: int):
    subscription = _subscription(subscription_id)
    _checked_form()
    try:
        cancelled = service.deactivate_subscription(subscription, actor=current_user, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
    else:
        db.session.commit()
        flash(_("Webhook deactivated; %(n)s deliveries still waiting were cancelled.", n=cancelled), "success")
    return redirect(url_for("webhooks.index"))


@bp.post("/<int:subscription_id>/activate")
@require_role("admin")
def activate(subscription_id: int):
    subscription = _subscription(subscription_id)
    _checked_form()
    try:
        service.activate_subscription(subscription, actor=current_user, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
    else:
        db.session.commit()
        flash(_("Webhook active again."), "success")
    return redirect(url_for("webhooks.index"))


@bp.post("/<int:subscription_id>/secret")
@require_role("admin")
def secret(subscription_id: int):
    subscription = _subscription(subscription_id)
    _checked_form()
    service.replace_secret(subscription, actor=current_user, now=utcnow())
    db.session.commit()
    return _show_secret(subscription, created=False)


@bp.get("/deliveries")
@require_role("admin")
def deliveries():
    scope = request.args.get("status", "all")
    if scope not in SCOPES and scope not in DELIVERY_STATUSES:
        scope = "all"
    statuses = SCOPES.get(scope, (scope,))
    stmt = select(WebhookDelivery).where(WebhookDelivery.status.in_(statuses))
    subscription = None
    subscription_id = request.args.get("subscription", type=int)
    if subscription_id:
        subscription = _subscription(subscription_id)
        stmt = stmt.where(WebhookDelivery.subscription_id == subscription.id)
    page = db.paginate(
        stmt.options(selectinload(WebhookDelivery.subscription)).order_by(
            WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()
        ),
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    ticket_ids = {d.ticket_id for d in page.items if d.ticket_id}
    tickets = {
        t.id: t
        for t in db.session.scalars(
            select(Ticket).where(Ticket.id.in_(ticket_ids)).options(selectinload(Ticket.referrals))
        )
    }
    return render_template(
        "webhooks/deliveries.html",
        page=page,
        scope=scope,
        subscription=subscription,
        tickets=tickets,
        openable={tid for tid, t in tickets.items() if access.can_see_ticket(current_user, t)},
        form=FlaskForm(),
        pretty=_pretty,
    )


def _pretty(body: str) -> str:
    """A delivery's body, indented for reading (it is sent compact, exactly as stored)."""
    try:
        return json.dumps(json.loads(body), ensure_ascii=False, indent=2)
    except ValueError:
        return body


@bp.post("/deliveries/<int:delivery_id>/retry")
@require_role("admin")
def retry(delivery_id: int):
    delivery = db.session.get(WebhookDelivery, delivery_id) or abort(404)
    _checked_form()
    try:
        service.retry_delivery(delivery, actor=current_user, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
    else:
        db.session.commit()
        flash(_("The delivery will be sent again within a few seconds."), "success")
    scope = request.form.get("status")
    return redirect(url_for("webhooks.deliveries", status=scope if scope in SCOPES else None))
