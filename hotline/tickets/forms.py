"""Forms of the desk and the ticket page; every one carries a CSRF token."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from hotline import labels
from hotline.forms import choices
from models.ticket import PRIORITIES

ID_NUMBER_RE = re.compile(r"^(\d{15}|\d{17}[\dXx])$")


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def priority_choices():
    return choices((p, labels.PRIORITY[p]) for p in PRIORITIES)


def emergency_choices():
    return choices([("", _l("Not handed over")), ("110", "110"), ("119", "119"), ("120", "120")])


class VersionedForm(FlaskForm):
    #: The ticket version the page was built from; a mismatch means someone acted first.
    version = IntegerField(validators=[InputRequired()])


class LogCallForm(FlaskForm):
    phone = StringField(_l("Caller's phone"), validators=[Optional(), Length(max=40)])
    caller_name = StringField(_l("Caller's name"), validators=[Optional(), Length(max=120)])
    channel = SelectField(
        _l("How it came in"),
        choices=choices(
            [
                ("voice", labels.CHANNEL["voice"]),
                ("walk_in", labels.CHANNEL["walk_in"]),
                ("web", labels.CHANNEL["web"]),
            ]
        ),
        default="voice",
    )
    p0_checks = MultiCheckboxField(_l("Danger to life now?"), choices=[], validate_choice=True)
    p1_checks = MultiCheckboxField(_l("Urgent hardship (救急难)?"), choices=[], validate_choice=True)
    emergency_service = SelectField(_l("Handed over to"), choices=[], default="")
    category = SelectField(_l("Category"), choices=[], validators=[DataRequired(_l("Choose a category."))])
    priority = SelectField(_l("Priority"), choices=[], default="P3")
    summary = StringField(
        _l("Summary"),
        validators=[
            DataRequired(_l("Write a one-line summary of the call.")),
            Length(max=200, message=_l("Keep the summary under 200 characters.")),
        ],
    )
    description = TextAreaField(_l("What the caller said"), validators=[Optional(), Length(max=4000)])
    confidential = BooleanField(_l("Caller asks for confidentiality"))
    sensitive = BooleanField(_l("Sensitive (children's case)"))
    mandatory_report = BooleanField(_l("Suspected child abuse (强制报告)"))
    answered_on_call = BooleanField(_l("Answered on the call (直接答复)"))
    answer = TextAreaField(_l("What the caller was told"), validators=[Optional(), Length(max=4000)])

    def __init__(self, *args, catalogue, locale: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = choices(
            [("", _l("Choose…"))] + [(c.code, c.label(locale)) for c in catalogue.categories]
        )
        self.priority.choices = priority_choices()
        self.emergency_service.choices = emergency_choices()
        self.p0_checks.choices = choices((i.code, i.label(locale)) for i in catalogue.p0_checklist)
        self.p1_checks.choices = choices((i.code, i.label(locale)) for i in catalogue.p1_checklist)

    def validate_phone(self, field):
        if field.data and not re.fullmatch(r"[0-9+\-() ]{3,40}", field.data.strip()):
            raise ValidationError(_l("A phone number has only digits, spaces, + and -."))

    def validate_priority(self, field):
        if self.p0_checks.data and field.data != "P0":
            raise ValidationError(_l("A danger-to-life item is ticked: this call is P0."))
        if field.data == "P0" and not self.emergency_service.data:
            raise ValidationError(_l("A P0 call must be handed over to 110, 119 or 120: choose which."))

    def validate_answer(self, field):
        if self.answered_on_call.data and not (field.data or "").strip():
            raise ValidationError(_l("Write what the caller was told when the call was answered directly."))

    def validate_summary(self, field):
        if field.data is not None and not field.data.strip():
            raise ValidationError(_l("Write a one-line summary of the call."))


class NoteForm(FlaskForm):
    text = TextAreaField(_l("Note"), validators=[DataRequired(_l("Write the note first.")), Length(max=4000)])


class RepeatCallForm(FlaskForm):
    note = TextAreaField(_l("What the caller said this time"), validators=[Optional(), Length(max=4000)])


class TakeForm(VersionedForm):
    pass


class PriorityForm(VersionedForm):
    priority = SelectField(_l("New priority"), choices=[])
    emergency_service = SelectField(_l("Handed over to"), choices=[], default="")
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Give a reason for the change.")), Length(max=500)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.priority.choices = priority_choices()
        self.emergency_service.choices = emergency_choices()


class TriageForm(VersionedForm):
    """One click on the triage suggestion: "confirm" takes it as it is; "correct" takes the chosen values."""

    priority = SelectField(_l("Priority"), choices=[])
    category = SelectField(_l("Category"), choices=[])
    emergency_service = SelectField(_l("Handed over to"), choices=[], default="")
    confirm = SubmitField(_l("Confirm"))
    correct = SubmitField(_l("Correct"))

    def __init__(self, *args, catalogue, locale: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.priority.choices = priority_choices()
        self.category.choices = choices((c.code, c.label(locale)) for c in catalogue.categories)
        self.emergency_service.choices = emergency_choices()


class TransferForm(VersionedForm):
    new_owner = SelectField(_l("Hand over to"), coerce=int, choices=[])
    reason = StringField(
        _l("Reason"), validators=[DataRequired(_l("Give a reason for handing the ticket over.")), Length(max=500)]
    )


class MergeForm(VersionedForm):
    target = StringField(
        _l("Merge into ticket number"),
        validators=[DataRequired(_l("Enter the number of the ticket to merge into.")), Length(max=16)],
    )
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Give a reason for merging.")), Length(max=500)])


class AnswerForm(VersionedForm):
    answer = TextAreaField(
        _l("What the caller was told"),
        validators=[DataRequired(_l("Write what the caller was told.")), Length(max=4000)],
    )


class CallbackForm(VersionedForm):
    reached = RadioField(
        _l("Reached the caller?"),
        choices=choices([("yes", _l("Reached")), ("no", _l("Not reached"))]),
        validators=[InputRequired(_l("Say whether the caller was reached."))],
    )
    satisfaction = SelectField(
        _l("Satisfaction"),
        choices=choices(
            [
                ("", _l("—")),
                ("5", _l("5 very satisfied")),
                ("4", _l("4 satisfied")),
                ("3", _l("3 neutral")),
                ("2", _l("2 dissatisfied")),
                ("1", _l("1 very dissatisfied")),
            ]
        ),
        default="",
    )
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=4000)])

    def validate_satisfaction(self, field):
        if self.reached.data == "yes" and not field.data:
            raise ValidationError(_l("The caller was reached: record their satisfaction from 1 to 5."))
        if self.reached.data == "no" and field.data:
            raise ValidationError(_l("Satisfaction can only be recorded when the caller was reached."))


class CloseForm(VersionedForm):
    resolution = TextAreaField(_l("What was done for the caller"), validators=[Optional(), Length(max=4000)])
    #: Shown only while approved advance relief is unpaid: closing then needs this and a reason.
    leave_relief_unpaid = BooleanField(_l("Close with the approved advance relief unpaid"))


class ReopenForm(VersionedForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Give a reason for reopening.")), Length(max=500)])


class UnmaskForm(FlaskForm):
    reason = StringField(
        _l("Why do you need the full numbers?"),
        validators=[DataRequired(_l("Say why you need to see the full numbers.")), Length(max=500)],
    )


class ContactForm(FlaskForm):
    name = StringField(labels.CONTACT_FIELD["name"], validators=[Optional(), Length(max=120)])
    id_number = StringField(labels.CONTACT_FIELD["id_number"], validators=[Optional(), Length(max=32)])
    address = StringField(labels.CONTACT_FIELD["address"], validators=[Optional(), Length(max=500)])
    township_id = SelectField(labels.CONTACT_FIELD["township_id"], coerce=int, choices=[])
    village_id = SelectField(labels.CONTACT_FIELD["village_id"], coerce=int, choices=[])
    is_elderly = BooleanField(labels.FLAG["is_elderly"])
    is_child = BooleanField(labels.FLAG["is_child"])
    has_disability = BooleanField(labels.FLAG["has_disability"])
    lives_alone = BooleanField(labels.FLAG["lives_alone"])
    social_assistance = BooleanField(labels.FLAG["social_assistance"])
    left_behind_children = BooleanField(labels.FLAG["left_behind_children"])

    def validate_id_number(self, field):
        if field.data and not ID_NUMBER_RE.match(field.data.strip()):
            raise ValidationError(_l("An ID number has 18 characters: 17 digits and a digit or X."))
