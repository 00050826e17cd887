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
    "referral_dispatched": _l("Referred"),
    "referral_acknowledged": _l("Acknowledged by the unit"),
    "referral_progress": _l("Progress from the unit"),
    "referral_passed_on": _l("Passed on"),
    "referral_resolved": _l("Resolved by the unit"),
    "referral_cancelled": _l("Referral cancelled"),
    "referral_returned": _l("Referral returned"),
    "referral_reopened": _l("Referral reopened"),
    "return_requested": _l("Return requested"),
    "return_accepted": _l("Return accepted"),
    "return_rejected": _l("Return rejected"),
    "extension_requested": _l("Extension requested"),
    "extension_approved": _l("Extension approved"),
    "extension_denied": _l("Extension denied"),
    "referrals_done": _l("All referrals finished"),
    "referrals_none_left": _l("No referral left: back to the owner"),
    "escalation_warn": _l("Warning: a clock reached 75% (预警)"),
    "escalation_urge": _l("Deadline passed: urged (催办)"),
    "escalation_supervise": _l("Supervised (督办)"),
    "escalation_case_conference": _l("Case conference (个案会商)"),
    "supervised": _l("Supervised by a manager (督办)"),
    "clocks_paused": _l("Clocks paused"),
    "clocks_resumed": _l("Clocks resumed"),
    "relief_granted": _l("Advance relief granted (先行救助)"),
    "relief_requested": _l("Advance relief above the limit: waits for approval"),
    "relief_approved": _l("Advance relief approved (一事一议)"),
    "relief_rejected": _l("Advance relief rejected (一事一议)"),
    "relief_paid": _l("Advance relief paid"),
    "relief_payment_held": _l("Relief payment held: more than the fund holds"),
    "relief_payment_refused": _l("Held relief payment refused by the fund's manager"),
    "relief_not_needed": _l("No advance relief needed"),
    "paperwork_done": _l("Paperwork completed (补齐手续)"),
    "document_uploaded": _l("Paper added to the case file"),
    "service_recorded": _l("Service delivered (服务类救助)"),
    "relief_integrity_warning": _l("Integrity check: grant to look at (人情保、关系保)"),
    "triage_reviewed": _l("Triage suggestion reviewed"),
    "triage_raised": _l("A text came out more urgent than the ticket"),
    "urgent_alert": _l("Urgent alert raised (desks and duty phones)"),
    "external_report": _l("Case reported by another system or a grid worker"),
}

TRIAGE_VERDICT = {"confirmed": _l("confirmed"), "corrected": _l("corrected")}

CLOCK = {
    "dispatch": _l("dispatch or answer"),
    "acknowledge": _l("acknowledge"),
    "first_contact": _l("first contact"),
    "advance_relief": _l("advance relief"),
    "resolve": _l("resolve"),
    "paperwork": _l("paperwork"),
    "return_review": _l("return review"),
    "callback": _l("callback"),
    "close": _l("closing"),
    "pause_review": _l("pause review"),
    "manual": _l("by hand"),
}

LEVEL = {
    "warn": _l("Warning"),
    "urge": _l("Urged"),
    "supervise": _l("Supervised"),
    "case_conference": _l("Case conference"),
}

NOTICE = {
    "external_report": _l("%(number)s: a new report about this person came in (%(source)s)."),
    "referrals_done": _l("All referrals of %(number)s are finished: call the person back."),
    "referrals_none_left": _l("%(number)s has no referral left: it is back with you."),
    "return_requested": _l("A unit asks to return a referral of %(number)s."),
    "extension_decided": _l("Your extension request on %(number)s was decided."),
    "escalation_warn": _l("%(number)s: 75%% of the %(clock)s time is gone."),
    "escalation_urge": _l("%(number)s: the %(clock)s deadline has passed (催办)."),
    "escalation_supervise": _l("%(number)s is supervised (督办): the %(clock)s deadline passed long ago."),
    "escalation_case_conference": _l("%(number)s goes to the county case conference (个案会商)."),
    "supervised": _l("A manager supervises %(number)s (督办): %(reason)s"),
    "relief_pending": _l("%(number)s: advance relief of %(amount)s from %(unit)s waits for your approval (一事一议)."),
    "relief_approved": _l("%(number)s: the advance relief of %(amount)s from %(unit)s was approved."),
    "relief_rejected": _l("%(number)s: the advance relief of %(amount)s from %(unit)s was rejected."),
    "caller_replied": _l("The caller replied to %(number)s by text message."),
    "payout_held": _l(
        "%(number)s: a payment of %(amount)s is more than %(fund)s holds and waits for you: release or refuse it on"
        " the fund's page."
    ),
    "payout_released": _l("%(number)s: your payment of %(amount)s from %(fund)s was released and paid."),
    "payout_refused": _l("%(number)s: your payment of %(amount)s from %(fund)s was refused."),
    "ticket_handed_over": _l("%(by)s handed %(number)s over to you: %(reason)s"),
    "ticket_taken_over": _l("%(by)s handed your ticket %(number)s over to %(to)s: %(reason)s"),
    "ticket_merged_in": _l("%(by)s merged %(source)s into your ticket %(number)s: %(reason)s"),
    "ticket_reopened": _l("%(by)s reopened your ticket %(number)s: %(reason)s"),
    "visit_warn": _l("%(household)s (%(village)s): the visit due on %(due_on)s is late (预警)."),
    "visit_urge": _l("%(household)s (%(village)s): the visit is %(days)s days overdue (催办)."),
    "visit_supervise": _l("%(household)s (%(village)s): the visit is %(days)s days overdue and supervised (督办)."),
    "visit_case_conference": _l("%(household)s (%(village)s): the visit is %(days)s days overdue (个案会商)."),
}

REFERRAL_ROLE = {"lead": _l("Lead (主办)"), "assist": _l("Assist (协办)")}

REFERRAL_STATUS = {
    "dispatched": _l("Waiting to be acknowledged"),
    "acknowledged": _l("Acknowledged"),
    "in_progress": _l("In progress"),
    "return_requested": _l("Return requested"),
    "resolved": _l("Resolved"),
    "returned": _l("Returned"),
    "cancelled": _l("Cancelled"),
}

RETURN_REASON = {
    "not_our_remit": _l("Not our remit"),
    "wrong_township": _l("Wrong township"),
    "duplicate": _l("Duplicate"),
    "cannot_contact": _l("Cannot contact the person"),
    "insufficient_information": _l("Not enough information"),
    "other": _l("Other"),
}

OUTCOME = {
    "relief_granted": _l("Relief granted"),
    "referred_on": _l("Referred on"),
    "not_eligible": _l("Not eligible"),
    "unreachable": _l("Person unreachable"),
    "other": _l("Other"),
}

EXTENSION_STATE = {
    "none": "",
    "requested": _l("Extension requested"),
    "approved": _l("Extension approved"),
    "denied": _l("Extension denied"),
}

RELIEF_KIND = {
    "temporary_assistance": _l("Temporary assistance (临时救助)"),
    "medical_assistance": _l("Medical assistance (医疗救助)"),
    "disease_emergency": _l("Disease emergency relief (疾病应急救助)"),
    "emergency_fund": _l("Emergency fund (救急难基金)"),
    "charity": _l("Charity (慈善)"),
}

RELIEF_STATUS = {
    "pending_approval": _l("Waiting for approval"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
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

#: Provider statuses of calls and text messages (Twilio's words) and of the outbox, as kept on an interaction.
INTERACTION_STATUS = {
    "queued": _l("Queued"),
    "ringing": _l("Ringing"),
    "in-progress": _l("In call"),
    "completed": _l("Call ended"),
    "busy": _l("Line busy"),
    "no-answer": _l("No answer"),
    "failed": _l("Failed"),
    "canceled": _l("Caller hung up"),
    "accepted": _l("Accepted by the provider"),
    "scheduled": _l("Scheduled"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "delivered": _l("Delivered"),
    "undelivered": _l("Not delivered"),
    "receiving": _l("Receiving"),
    "received": _l("Message received"),
    "read": _l("Read by the caller"),
    "not_sent": _l("Not sent"),
}

OUTBOX_STATUS = {
    "queued": _l("Queued"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "failed": _l("Failed"),
    "not_sent": _l("Not sent"),
}

WEBHOOK_STATUS = {
    "queued": _l("Queued"),
    "sending": _l("Sending"),
    "delivered": _l("Delivered"),
    "failed": _l("Failed"),
    "cancelled": _l("Cancelled"),
}

FLAG = {
    "is_elderly": _l("Elderly"),
    "is_child": _l("Child"),
    "has_disability": _l("Disability"),
    "lives_alone": _l("Lives alone"),
    "social_assistance": _l("Social-assistance household"),
    "left_behind_children": _l("Children left behind"),
}

#: The caller's details, by field name, as a ``contact_updated`` event lists what changed.
CONTACT_FIELD = {
    "name": _l("Name"),
    "id_number": _l("ID number"),
    "address": _l("Address"),
    "township_id": _l("Township"),
    "village_id": _l("Village or community"),
    **FLAG,
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
