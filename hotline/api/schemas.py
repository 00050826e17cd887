"""What the partner API takes and gives, as pydantic models: they validate every request body and query, and
their JSON Schemas make the OpenAPI 3.1 document (``hotline.api.openapi``), so the two never differ.

Text fields refuse the NUL character (no database stores it) and keep to the lengths the service functions
accept; times are ISO 8601 with an offset, turned into UTC; unknown fields are refused.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from hotline.validation import MAX_TEXT
from models.referral import OUTCOMES, RETURN_REASONS
from models.ticket import PRIORITIES

_NO_NUL = r"^[^\x00]*$"


def _text(max_length: int, min_length: int = 0):
    return Annotated[str, StringConstraints(pattern=_NO_NUL, min_length=min_length, max_length=max_length)]


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01 at +08:00 is before the first day Python counts
        raise ValueError("out of range") from exc


_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _written_as_iso(value):
    """A text read as ISO 8601 (never as a number of seconds, as pydantic's lax mode would); others as they come."""
    if not isinstance(value, str):
        return value
    try:
        if not _ISO_MOMENT.match(value):
            raise ValueError(value)
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("an ISO 8601 date and time with its offset, like 2025-10-09T12:00:00+08:00") from None


#: A moment written in ISO 8601 with its UTC offset (``2025-10-09T12:00:00+08:00``), kept in UTC.
Moment = Annotated[AwareDatetime, BeforeValidator(_written_as_iso), AfterValidator(_utc)]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]*$", min_length=1, max_length=64)]
Priority = Literal[PRIORITIES]


class _In(BaseModel):
    """A JSON body: unknown fields refused, and no coercion (``"contacted": 0`` is not a boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class PersonIn(_In):
    """The person the report is about, as far as the partner knows them."""

    name: _text(120) | None = None
    phone: _text(32) | None = Field(None, description="Any written form; kept as E.164 when it is a valid number.")
    id_number: _text(32) | None = Field(None, description="18-digit resident ID number; its check digit is checked.")
    township: Code | None = Field(None, description="The township's unit code (乡镇).")
    village: Code | None = Field(None, description="The village's or community's unit code, under the township.")
    address: _text(500) | None = None


class TicketIn(_In):
    """A case reported by a partner system: a new ticket, the person's open ticket, or the first report's."""

    source: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+$", max_length=16)] = Field(
        description="A source code of the county's sources.toml (monitoring, grid, 12345, partner...)."
    )
    external_id: _text(64, 1) | None = Field(
        None, description="The source's own id: the same source and id never open a second ticket."
    )
    summary: _text(200, 1)
    description: _text(MAX_TEXT) | None = None
    person: PersonIn | None = None
    priority: Priority | None = Field(None, description="P0 (danger to life) .. P3; triage of the text when absent.")
    category: Code | None = Field(None, description="A category code of the dispatch catalogue; triage when absent.")
    due_at: Moment | None = Field(None, description="When the source wants it done by (a 12345 transfer's 办结时限).")


class ProgressIn(_In):
    text: _text(MAX_TEXT, 1)
    contacted: bool = Field(False, description="The unit reached the person in difficulty.")


class ReturnIn(_In):
    reason: Literal[RETURN_REASONS]
    comment: _text(MAX_TEXT, 1)


class ExtensionIn(_In):
    reason: _text(MAX_TEXT, 1)
    until: Moment


class ResolveIn(_In):
    result: _text(MAX_TEXT, 1)
    outcome: Literal[OUTCOMES]


class EmptyIn(_In):
    """No fields: the action needs nothing but the referral."""


# --- answers -------------------------------------------------------------------------------


class PersonOut(BaseModel):
    """The person; without the ``read_personal`` scope, phone and ID numbers are masked as on screens
    (``138****1234``) and name and address are left out."""

    name: str | None
    phone: str | None
    id_number: str | None
    township: str | None = Field(description="Unit code.")
    village: str | None = Field(description="Unit code.")
    address: str | None
    masked: bool


class ReferralOut(BaseModel):
    """A referral (转介) of the ticket to a unit, with its state and deadlines."""

    id: int
    ticket: str = Field(description="The ticket's number.")
    unit: str = Field(description="Unit code.")
    unit_name: str
    role: Literal["lead", "assist"]
    status: str = Field(description="dispatched, acknowledged, in_progress, return_requested, resolved, returned…")
    dispatched_at: datetime
    acknowledged_at: datetime | None
    acknowledge_due_at: datetime | None
    resolve_due_at: datetime | None
    extension_state: str = Field(description="none, requested, approved, denied")
    extension_until: datetime | None
    resolved_at: datetime | None
    outcome: str | None
    escalation_level: str | None = Field(description="warn, urge, supervise, case_conference, or none yet.")


class ReliefOut(BaseModel):
    """Advance relief (先行救助) on the ticket; amounts in fen (1/100 yuan)."""

    kind: str
    status: str = Field(description="pending_approval, approved, rejected")
    amount_fen: int
    paid_fen: int
    granting_unit: str = Field(description="Unit code.")
    decided_at: datetime | None


class TicketOut(BaseModel):
    number: str
    status: str = Field(description="new, open, referred, pending_callback, closed, merged")
    priority: Priority
    channel: str = Field(description="proactive (主动发现: monitoring, grid, visit) or api, or the hotline's own")
    source: str | None
    category: str
    summary: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    merged_into: str | None = Field(description="The ticket a duplicate was merged into.")
    escalation_level: str | None = Field(description="Highest step of the escalation ladder reached.")
    person: PersonOut | None
    referrals: list[ReferralOut]
    relief: list[ReliefOut]
    relief_granted_fen: int = Field(description="Sum of approved advance relief, in fen.")
    relief_summary: dict[str, Any] = Field(
        description="The case's relief at a glance, as the ticket page shows it (hotline.relief.summary): "
        "granted_fen, pending_fen, paid_fen, unpaid_fen, held_fen, case_total_fen, limit_fen; limit "
        "{largest_grant_fen, grant_over_fen, case_over_fen, over: grant | case_total | null}; by_source, "
        "by_unit and by_fund lists. Amounts in fen."
    )


class IntakeOut(TicketOut):
    outcome: Literal["created", "added_to_open", "duplicate"] = Field(
        description="created (201); added_to_open: the person's open ticket took the report (200); "
        "duplicate: the source's id was received before, its ticket is answered (200)."
    )


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None = Field(description="Give it as ?cursor= for what changed after the last item.")
    has_more: bool


class Problem(BaseModel):
    """An error (RFC 9457, ``application/problem+json``); ``detail`` says what to do, in Chinese."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict] | None = None


class TicketQuery(BaseModel):
    """A query string: every value arrives as text, so numbers and times are read from it."""

    model_config = ConfigDict(extra="forbid")

    updated_since: Moment | None = Field(None, description="Tickets changed at or after this moment.")
    cursor: _text(200, 1) | None = Field(None, description="next_cursor of the previous page (opaque).")
    limit: int | None = Field(None, ge=1, description="Items per page (api.toml sets the default and the most).")


#: Every model the document describes, by its name in ``components.schemas``.
MODELS = (
    TicketIn,
    PersonIn,
    ProgressIn,
    ReturnIn,
    ExtensionIn,
    ResolveIn,
    EmptyIn,
    IntakeOut,
    TicketOut,
    PersonOut,
    ReferralOut,
    ReliefOut,
    TicketPage,
    Problem,
)
