"""Tickets and referrals as the partner API answers them (``hotline.api.schemas``), masked by the token's scope."""

from hotline import access
from hotline.api.schemas import PersonOut, ReferralOut, ReliefOut, TicketOut
from hotline.privacy import mask_id_number, mask_phone
from hotline.relief.summary import relief_summary
from models.api_token import ApiToken
from models.contact import Contact
from models.referral import Referral
from models.ticket import Ticket


def person_out(contact: Contact | None, *, unmasked: bool) -> PersonOut | None:
    """Without ``unmasked``: phone and ID number masked as on screens, name and address left out."""
    if contact is None:
        return None
    phone = contact.phone or contact.phone_raw
    return PersonOut(
        name=contact.name if unmasked else None,
        phone=phone if unmasked else (mask_phone(phone) or None),
        id_number=contact.id_number if unmasked else (mask_id_number(contact.id_number) or None),
        township=contact.township.code if contact.township else None,
        village=contact.village.code if contact.village else None,
        address=contact.address if unmasked else None,
        masked=not unmasked,
    )


def referral_out(referral: Referral) -> ReferralOut:
    return ReferralOut(
        id=referral.id,
        ticket=referral.ticket.number,
        unit=referral.department.code,
        unit_name=referral.department.name,
        role=referral.role,
        status=referral.status,
        dispatched_at=referral.dispatched_at,
        acknowledged_at=referral.acknowledged_at,
        acknowledge_due_at=referral.acknowledge_due_at,
        resolve_due_at=referral.resolve_due_at,
        extension_state=referral.extension_state,
        extension_until=referral.extension_until,
        resolved_at=referral.resolved_at,
        outcome=referral.outcome,
        escalation_level=referral.escalation_level,
    )


def ticket_out(ticket: Ticket, token: ApiToken) -> TicketOut:
    """The ticket for ``token``: the referrals it may read; personal data with ``read_personal`` only, and never
    for a confidential case (保密)."""
    unmasked = access.token_reads_personal(token) and not ticket.confidential
    reliefs = list(ticket.reliefs)
    return TicketOut(
        number=ticket.number,
        status=ticket.status,
        priority=ticket.priority,
        channel=ticket.channel,
        source=ticket.source,
        category=ticket.category,
        summary=ticket.summary,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        closed_at=ticket.closed_at,
        merged_into=ticket.merged_into.number if ticket.merged_into else None,
        escalation_level=ticket.escalation_level,
        person=person_out(ticket.contact, unmasked=unmasked),
        referrals=[referral_out(r) for r in access.token_referrals(token, ticket)],
        relief=[
            ReliefOut(
                kind=r.kind,
                status=r.status,
                amount_fen=r.amount_fen,
                paid_fen=r.paid_fen,
                granting_unit=r.granting_unit.code,
                decided_at=r.decided_at,
            )
            for r in reliefs
        ],
        relief_granted_fen=sum(r.amount_fen for r in reliefs if r.status == "approved"),
        relief_summary=_glance(relief_summary(ticket)),
    )


#: The parts of the page's relief summary a partner reads: the totals, the limit rule and the splits; the
#: reliefs one by one (with the staff's names and comments) are the ``relief`` list's.
_GLANCE = (
    "limit_fen",
    "granted_fen",
    "pending_fen",
    "paid_fen",
    "unpaid_fen",
    "held_fen",
    "case_total_fen",
    "limit",
    "by_source",
    "by_unit",
    "by_fund",
)


def _glance(summary: dict) -> dict:
    return {key: summary[key] for key in _GLANCE if key in summary}
