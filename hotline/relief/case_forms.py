"""Forms of the papers and services panels, the relatives page and the grant's case-conference field.

The choices of kinds come from ``relief_rules.toml`` and are set when a form is built
(:func:`document_form`, :func:`service_form`), so a county's list is the form's.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from hotline.forms import choices
from hotline.relief.rules import relief_rules


class DocumentForm(FlaskForm):
    kind = SelectField(_l("What the paper is"), validators=[DataRequired(_l("Choose what the paper is."))])
    file = FileField(
        _l("File (PDF, JPEG or PNG)"),
        render_kw={"accept": "application/pdf,image/jpeg,image/png,.pdf,.jpg,.jpeg,.png"},
    )


class ServiceForm(FlaskForm):
    kind = SelectField(_l("Service"), validators=[DataRequired(_l("Choose the kind of service."))])
    provider_unit_id = SelectField(_l("Delivered by (unit)"), coerce=int, choices=[])
    provider_org = StringField(
        _l("or by a contracted organisation"),
        validators=[Length(max=120)],
        render_kw={"placeholder": _l("e.g. 县阳光社会工作服务中心")},
    )
    started_on = DateField(
        _l("From"), validators=[DataRequired(_l("Give the day the service started."))], format="%Y-%m-%d"
    )
    ended_on = DateField(_l("To (empty: the same day)"), validators=[Optional()], format="%Y-%m-%d")
    hours = StringField(
        _l("Hours spent"),
        validators=[DataRequired(_l("Write the hours spent.")), Length(max=16)],
        render_kw={"inputmode": "decimal", "autocomplete": "off", "placeholder": "1.5"},
    )
    outcome = TextAreaField(
        _l("Outcome"), validators=[DataRequired(_l("Say what came of the service.")), Length(max=4000)]
    )


class RelativeForm(FlaskForm):
    id_number = StringField(
        _l("Relative's ID number"),
        validators=[DataRequired(_l("Write the relative's ID number.")), Length(max=40)],
        render_kw={"autocomplete": "off"},
    )
    name = StringField(_l("Name"), validators=[DataRequired(_l("Write the relative's name.")), Length(max=120)])
    relation = StringField(
        _l("Relation"),
        validators=[DataRequired(_l("Say how you are related.")), Length(max=40)],
        render_kw={"placeholder": _l("e.g. 父亲、配偶、表兄")},
    )


class WithdrawRelativeForm(FlaskForm):
    confirm = BooleanField(
        _l("Yes, withdraw this declaration"),
        validators=[DataRequired(_l("Tick the box to confirm the withdrawal."))],
    )


def document_form(**kwargs) -> DocumentForm:
    form = DocumentForm(**kwargs)
    form.kind.choices = choices(
        [("", _l("Choose…"))] + [(k.code, k.label()) for k in relief_rules().document_kinds.values()]
    )
    return form


def service_form(unit_choices: list, **kwargs) -> ServiceForm:
    form = ServiceForm(**kwargs)
    form.kind.choices = choices(
        [("", _l("Choose…"))] + [(k.code, k.label()) for k in relief_rules().service_kinds.values()]
    )
    form.provider_unit_id.choices = unit_choices
    return form
