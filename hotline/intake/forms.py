"""Forms of intake: the SMS answer on the ticket page and the duty roster."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from hotline.notify.service import MAX_BODY


class SmsForm(FlaskForm):
    text = TextAreaField(
        _l("Text message to the caller"),
        validators=[DataRequired(_l("Write the message first.")), Length(max=MAX_BODY)],
    )


class DutyLineForm(FlaskForm):
    user_id = SelectField(_l("Operator"), coerce=int, choices=[])
    label = StringField(_l("Label"), validators=[Optional(), Length(max=120)])
    phone = StringField(_l("Phone number"), validators=[Optional(), Length(max=40)])
    client_identity = StringField(
        _l("Twilio Client identity"),
        validators=[
            Optional(),
            Length(max=64),
            Regexp(r"^[A-Za-z0-9_.@\-]+$", message=_l("Letters, digits, dots, dashes, @ and underscores only.")),
        ],
    )
    position = IntegerField(_l("Ring order"), default=10, validators=[NumberRange(min=0, max=9999)])
    on_duty = BooleanField(_l("On duty now"), default=True)
