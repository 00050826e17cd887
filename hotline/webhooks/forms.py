"""Forms of the admin's webhook pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from hotline import labels
from hotline.forms import choices
from hotline.policy import source_label, sources
from hotline.tickets.forms import MultiCheckboxField
from hotline.webhooks.policy import webhook_policy


class SubscriptionForm(FlaskForm):
    source = SelectField(_l("Source"), choices=[])
    url = StringField(_l("URL"), validators=[DataRequired(_l("Give the partner's URL.")), Length(max=500)])
    events = MultiCheckboxField(_l("Changes to send"), choices=[], validate_choice=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Partner platforms (channel ``api``: 12345...) first: they are who webhooks are for.
        ordered = sorted(sources().values(), key=lambda source: source.channel != "api")
        self.source.choices = choices((s.code, f"{source_label(s.code)} ({s.code})") for s in ordered)
        self.events.choices = choices((kind, labels.EVENT[kind]) for kind in webhook_policy().kinds)
