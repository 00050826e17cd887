"""Forms of the funds pages: set up a fund, money in, a reversal, a decision on a held payment."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from hotline.forms import choices

FUND_KIND_LABEL = {
    "town": _l("Township emergency fund (乡镇救急难基金)"),
    "county": _l("County emergency fund (县级救急难基金)"),
    "charity": _l("Charity fund (慈善资金)"),
}
ENTRY_KIND_LABEL = {
    "allocation": _l("Allocation (拨入)"),
    "donation": _l("Donation (捐赠)"),
    "payout": _l("Payout (支出)"),
    "reversal": _l("Reversal (冲正)"),
}


class FundForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(_l("Give the fund a code.")), Length(max=32)],
        render_kw={"placeholder": "town_chengguan"},
    )
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the fund's name.")), Length(max=120)])
    kind = SelectField(
        _l("Kind of fund"),
        choices=choices(FUND_KIND_LABEL.items()),
        validators=[DataRequired(_l("Choose the kind of fund."))],
    )
    owner_unit_id = SelectField(
        _l("Held by"), coerce=int, choices=[], validators=[DataRequired(_l("Choose the unit that holds the fund."))]
    )


class IncomeForm(FlaskForm):
    kind = RadioField(
        _l("Money in"),
        choices=choices([("allocation", ENTRY_KIND_LABEL["allocation"]), ("donation", ENTRY_KIND_LABEL["donation"])]),
        default="allocation",
        validators=[InputRequired(_l("Choose allocation or donation."))],
    )
    amount = StringField(
        _l("Amount (yuan)"),
        validators=[DataRequired(_l("Write the amount in yuan.")), Length(max=32)],
        render_kw={"inputmode": "decimal", "autocomplete": "off", "placeholder": "10000.00"},
    )
    note = StringField(
        _l("From whom, on what document"),
        validators=[DataRequired(_l("Say where the money comes from (the document or the donor).")), Length(max=500)],
    )


class ReversalForm(FlaskForm):
    note = StringField(
        _l("Why it is reversed"), validators=[DataRequired(_l("Say why the entry is reversed.")), Length(max=500)]
    )


class PayoutDecisionForm(FlaskForm):
    #: The held payment's version as shown.
    version = IntegerField(validators=[InputRequired()])
    decision = RadioField(
        _l("Decision"),
        choices=choices([("release", _l("Release: pay from the fund")), ("refuse", _l("Refuse"))]),
        validators=[InputRequired(_l("Release or refuse the payment."))],
    )
    comment = TextAreaField(
        _l("Reasoning"), validators=[DataRequired(_l("Write the reasoning of the decision.")), Length(max=4000)]
    )
