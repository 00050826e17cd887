"""Translatable names for the codes stored in the database."""

from flask_babel import lazy_gettext as _l

STATUS = {
    "new": _l("New, unclaimed"),
    "open": _l("Open"),
    "referred": _l("Referred"),
    "pending_callback": _l("Awaiting callback"),
    "closed": _l("Closed"),
    "merged": _l("Merged"),
}

PRIORITY = {
    "P0": _l("P0 danger to life"),
    "P1": _l("P1 urgent hardship"),
    "P2": _l("P2 urgent"),
    "P3": _l("P3 ordinary"),
}

CHANNEL = {
    "voice": _l("Phone call"),
    "sms": _l("Text message"),
    "web": _l("Web"),
    "api": _l("API"),
    "walk_in": _l("Walk-in"),
    "proactive": _l("Proactive discovery"),
}

ROLE = {
    "operator": _l("Hotline operator"),
    "department": _l("Department staff"),
    "manager": _l("Manager"),
    "admin": _l("Administrator"),
}

DEPARTMENT_KIND = {
    "hotline": _l("Hotline centre"),
    "bureau": _l("County bureau"),
    "township": _l("Township"),
    "village": _l("Village"),
    "community": _l("Community"),
    "grid": _l("Grid unit"),
    "charity": _l("Charity"),
}

DEPARTMENT_LEVEL = {
    "county": _l("County"),
    "township": _l("Township"),
    "village": _l("Village"),
    "grid": _l("Grid"),
}

EVENT = {
    "created": _l("Ticket created"),
    "note": _l("Note"),
    "taken": _l("Taken by operator"),
    "priority_changed": _l("Priority changed"),
    "owner_changed": _l("Owner changed"),
    "merged_into": _l("Merged into another ticket"),
    "merged_from": _l("Duplicate merged in"),
    "emergency_handover": _l("Handed over to emergency services"),
    "resolved_directly": _l("Answered on the call"),
    "callback": _l("Callback"),
    "closed": _l("Closed"),
    "reopened": _l("Reopened"),
    "repeat_call": _l("Repeat call"),
    "unmasked": _l("Personal data shown"),
    "contact_updated": _l("Caller details updated"),
    "sms_in": _l("Text message received"),
    "sms_out": _l("Text message sent to the caller"),
    "sms_failed": _l("Text message not delivered"),
    "sms_opt_out": _l("Caller opted out of text messages"),
    "sms_opt_in": _l("Caller opted back in to text messages"),
    "missed_call": _l("Missed call"),
    "voicemail": _l("Voicemail"),
}

CALL_STATE = {
    "ringing": _l("Ringing"),
    "in_call": _l("In call"),
    "missed": _l("Missed"),
    "ended": _l("Ended"),
}

CALL_LINE = {
    "urgent": _l("Urgent hardship"),
    "policy": _l("Policy question"),
}

OUTBOX_STATUS = {
    "queued": _l("Queued"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "failed": _l("Failed"),
    "not_sent": _l("Not sent"),
}

FLAG = {
    "is_elderly": _l("Elderly"),
    "is_child": _l("Child"),
    "has_disability": _l("Disability"),
    "lives_alone": _l("Lives alone"),
}

LOGIN_REQUIRED = _l("Please log in to continue.")
ERROR_400 = _l("The request could not be understood.")
ERROR_CSRF = _l("The form expired or was sent from elsewhere. Reload the page and try again.")
ERROR_403 = _l("You are not allowed to do this.")
ERROR_404 = _l("Not found.")
ERROR_405 = _l("This address does not accept that kind of request.")
ERROR_413 = _l("What was sent is too large.")
ERROR_500 = _l("Something went wrong on our side. It has been logged.")
STALE = _l(
    "Someone else changed this ticket while you were working on it. "  # keep the message whole for translators
    "Nothing was saved; check the timeline and try again."
)
