"""Admin forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from hotline import labels
from hotline.forms import choices
from hotline.tickets.forms import MultiCheckboxField
from models.department import KINDS, LEVELS
from models.user import ROLES


class UserForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[
            DataRequired(_l("Choose a username.")),
            Length(max=64),
            Regexp(r"^[A-Za-z0-9_.\-]+$", message=_l("A username uses letters, digits, dots, dashes and underscores.")),
        ],
    )
    display_name = StringField(
        _l("Display name"), validators=[DataRequired(_l("Give a display name.")), Length(max=120)]
    )
    role = SelectField(_l("Role"), choices=choices([(r, labels.ROLE[r]) for r in ROLES]))
    department_id = SelectField(_l("Department"), coerce=int, choices=[])
    password = PasswordField(
        _l("Password"),
        validators=[Optional(), Length(min=8, max=256, message=_l("A password needs at least 8 characters."))],
    )
    active = BooleanField(_l("Active"), default=True)


class DepartmentForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(_l("Give the unit a code.")),
            Length(max=64),
            Regexp(r"^[a-z0-9_]+$", message=_l("A code uses only lower-case letters, digits and underscores.")),
        ],
    )
    name = StringField(_l("Unit name"), validators=[DataRequired(_l("Give the unit a name.")), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=choices([(k, labels.DEPARTMENT_KIND[k]) for k in KINDS]))
    level = SelectField(_l("Level"), choices=choices([(k, labels.DEPARTMENT_LEVEL[k]) for k in LEVELS]))
    parent_id = SelectField(_l("Parent unit"), coerce=int, choices=[])
    duty_phone = StringField(_l("Duty phone"), validators=[Optional(), Length(max=32)])
    active = BooleanField(_l("Active"), default=True)


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name (the partner system)"), validators=[DataRequired(_l("Give the token a name.")), Length(max=64)]
    )
    scopes = MultiCheckboxField(_l("Scopes"), choices=[])
    department_id = SelectField(_l("Unit"), coerce=int, choices=[])
