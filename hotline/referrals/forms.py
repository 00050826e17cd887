"""Forms of the referral panel (hotline side) and the department's referral page."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from hotline import labels
from hotline.forms import choices
from models.referral import OUTCOMES, RETURN_REASONS


class VersionedForm(FlaskForm):
    #: The referral (or ticket) version the page was built from.
    version = IntegerField(validators=[InputRequired()])


class DispatchForm(VersionedForm):
    department_id = SelectField(_l("Unit"), coerce=int, choices=[], validators=[DataRequired(_l("Choose a unit."))])
    role = RadioField(
        _l("Role"),
        choices=choices([("lead", labels.REFERRAL_ROLE["lead"]), ("assist", labels.REFERRAL_ROLE["assist"])]),
        default="lead",
        validators=[InputRequired(_l("Choose lead or assist."))],
    )
    instructions = TextAreaField(_l("Instructions for the unit"), validators=[Optional(), Length(max=4000)])


class ReasonForm(VersionedForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Give a reason.")), Length(max=500)])


class ReturnDecisionForm(VersionedForm):
    decision = RadioField(
        _l("Decision"),
        choices=choices([("accept", _l("Accept the return")), ("reject", _l("Reject: the unit keeps the case"))]),
        validators=[InputRequired(_l("Accept or reject the return."))],
    )
    redispatch_to = SelectField(_l("Redispatch to"), coerce=int, choices=[])
    #: What the unit redispatched to is asked to do; starts as the returned referral's instructions.
    redispatch_instructions = TextAreaField(
        _l("Instructions for the new unit"), validators=[Optional(), Length(max=4000)]
    )
    comment = StringField(_l("Comment"), validators=[Optional(), Length(max=500)])


class ExtensionDecisionForm(VersionedForm):
    decision = RadioField(
        _l("Decision"),
        choices=choices([("approve", _l("Approve")), ("deny", _l("Deny"))]),
        validators=[InputRequired(_l("Approve or deny the extension."))],
    )
    comment = StringField(_l("Comment"), validators=[Optional(), Length(max=500)])


class AcknowledgeForm(VersionedForm):
    pass


class ProgressForm(FlaskForm):
    text = TextAreaField(
        _l("Progress"), validators=[DataRequired(_l("Write the progress note first.")), Length(max=4000)]
    )
    contacted = BooleanField(_l("We reached the person in difficulty"))


class ReturnRequestForm(VersionedForm):
    reason = SelectField(
        _l("Reason"), choices=choices([("", _l("Choose…"))] + [(r, labels.RETURN_REASON[r]) for r in RETURN_REASONS])
    )
    comment = TextAreaField(
        _l("Explanation"), validators=[DataRequired(_l("Explain the return in a few words.")), Length(max=4000)]
    )

    def validate_reason(self, field):
        if field.data not in RETURN_REASONS:
            raise ValidationError(_l("Choose a reason for the return."))


class ExtensionRequestForm(VersionedForm):
    until = DateTimeLocalField(
        _l("New deadline"),
        format="%Y-%m-%dT%H:%M",
        validators=[InputRequired(_l("Choose the proposed date and time."))],
    )
    reason = StringField(
        _l("Reason"), validators=[DataRequired(_l("Give a reason for the extension.")), Length(max=500)]
    )


class PassOnForm(VersionedForm):
    department_id = SelectField(
        _l("Pass on to"), coerce=int, choices=[], validators=[DataRequired(_l("Choose a unit."))]
    )
    instructions = TextAreaField(_l("Instructions"), validators=[Optional(), Length(max=4000)])


class ResolveForm(VersionedForm):
    outcome = SelectField(
        _l("Outcome"), choices=choices([("", _l("Choose…"))] + [(o, labels.OUTCOME[o]) for o in OUTCOMES])
    )
    result = TextAreaField(
        _l("What your unit did"), validators=[DataRequired(_l("Write what your unit did.")), Length(max=4000)]
    )

    def validate_outcome(self, field):
        if field.data not in OUTCOMES:
            raise ValidationError(_l("Choose an outcome."))


class UnmaskForm(FlaskForm):
    reason = StringField(
        _l("Why do you need the full numbers?"),
        validators=[DataRequired(_l("Say why you need to see the full numbers.")), Length(max=500)],
    )
