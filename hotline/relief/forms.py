"""Forms of the advance relief panel (ticket page and a unit's referral page).

Amounts are plain text fields: the service reads them (``1500``, ``1,500.50``)
and says what is wrong, and a refused form comes back with what was typed.
Every form has its own prefix, because several of them sit on one page and a
re-rendered page must not fill one form from another's fields.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from hotline import labels
from hotline.forms import choices
from models.relief import KINDS


class VersionedForm(FlaskForm):
    #: The version of the ticket (grant, not needed, paperwork) or relief (decision, payment) shown.
    version = IntegerField(validators=[InputRequired()])


def _amount(label):
    return StringField(
        label,
        validators=[DataRequired(_l("Write the amount in yuan.")), Length(max=32)],
        render_kw={"inputmode": "decimal", "autocomplete": "off", "placeholder": "1500.00"},
    )


class GrantForm(VersionedForm):
    kind = SelectField(
        _l("Kind of relief"),
        choices=choices((k, labels.RELIEF_KIND[k]) for k in KINDS),
        validators=[DataRequired(_l("Choose the kind of relief."))],
    )
    amount = _amount(_l("Amount (yuan)"))
    granting_unit_id = SelectField(
        _l("Granted and paid by"), coerce=int, choices=[], validators=[DataRequired(_l("Choose a unit."))]
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(_l("Give the reason for the relief.")), Length(max=4000)],
    )
    case_conference_ref = StringField(
        _l("Case conference decision (一事一议), above the cap"),
        validators=[Length(max=500)],
        render_kw={"placeholder": _l("e.g. 县救急难个案会商纪要〔2025〕7号")},
    )


class DecisionForm(VersionedForm):
    decision = RadioField(
        _l("Decision"),
        choices=choices([("approve", _l("Approve")), ("reject", _l("Reject"))]),
        validators=[InputRequired(_l("Approve or reject the relief."))],
    )
    comment = TextAreaField(
        _l("Reasoning (一事一议)"),
        validators=[DataRequired(_l("Write the reasoning of the decision.")), Length(max=4000)],
    )


class PaymentForm(VersionedForm):
    amount = _amount(_l("Amount paid (yuan)"))
    note = StringField(
        _l("Which stage, how paid"),
        validators=[DataRequired(_l("Say what this payment is.")), Length(max=500)],
    )


class NotNeededForm(VersionedForm):
    reason = StringField(
        _l("Why no advance relief is needed"),
        validators=[DataRequired(_l("Say why no advance relief is needed.")), Length(max=500)],
    )


class PaperworkForm(VersionedForm):
    note = StringField(
        _l("Documents completed"),
        validators=[DataRequired(_l("Say which documents were completed.")), Length(max=500)],
    )
