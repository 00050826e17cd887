"""Forms of the phone pages: a grid worker's report, a visit, the one-tap ticket; each carries a CSRF token."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from hotline.forms import choices

URGENCY_LABELS = {"general": _l("Ordinary"), "urgent": _l("Urgent"), "danger": _l("Danger to life")}


class ReportForm(FlaskForm):
    household = SelectField(_l("Household with a visit plan"), coerce=int, choices=[], validate_choice=True, default=0)
    name = StringField(_l("Who (name)"), validators=[Optional(), Length(max=120)])
    phone = StringField(_l("Their phone"), validators=[Optional(), Length(max=40)])
    village_id = SelectField(_l("Village"), coerce=int, choices=[], validate_choice=True)
    address = StringField(_l("Where exactly"), validators=[Optional(), Length(max=500)])
    text = TextAreaField(_l("What happened"), validators=[DataRequired(), Length(max=2000)])
    urgency = RadioField(
        _l("How urgent"), choices=choices(URGENCY_LABELS.items()), default="general", validators=[InputRequired()]
    )
    photo = FileField(_l("Photo (optional)"))


class VisitForm(FlaskForm):
    seen = RadioField(
        _l("Seen in person"),
        choices=choices([("yes", _l("Yes")), ("no", _l("No"))]),
        validators=[InputRequired()],
    )
    condition = TextAreaField(_l("How they are"), validators=[DataRequired(), Length(max=2000)])
    needs = TextAreaField(_l("What they need"), validators=[Optional(), Length(max=2000)])
    difficulty = BooleanField(_l("Found difficulty (make it a ticket)"))


class VisitTicketForm(FlaskForm):
    """The one tap: nothing to fill in, the ticket is prefilled from the visit."""
