"""Forms of the kernel: login, passwords, sites, staff accounts."""
import re
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length, Optional, Regexp, StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .admin import SiteDetails
from .hours import WEEKDAYS, format_hours, parse_hours
from .input import FIRST_DAY, LAST_DAY, MAX_INT, day_in_range
from .models import Role

MIN_PASSWORD = 10


def strip(value):
    """Pasted values often carry stray spaces; a name of spaces alone is no name."""
    return value.strip() if isinstance(value, str) else value


class BaseForm(FlaskForm):
    """The base of every form (tests/core/test_hostile_input.py checks it): bounds no field may lack.

    Control characters never reach a form (core/input.py cleans every request's values); here each
    bound field also gets, after its own validators, a check that its value fits where it is stored:
    a date within the application's range (year 1 or 9999 would overflow the UTC conversion and the
    month arithmetic), a whole number within the database's INTEGER.
    """

    class Meta(FlaskForm.Meta):
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, (DateField, DateTimeField)):
                field.validators = [*field.validators, _date_in_range]
            elif isinstance(field, IntegerField):
                field.validators = [*field.validators, _integer_in_range]
            return field


class FrenchIntegerField(IntegerField):
    """A whole number; anything else gets a French message."""

    def process_formdata(self, valuelist):
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_l("Indiquez un nombre entier.")) from None

    def pre_validate(self, form):
        if self.process_errors:  # the one message: no range check of a value that is not a number
            raise StopValidation()


def _date_in_range(form, field):
    value = field.data.date() if isinstance(field.data, datetime) else field.data
    if isinstance(value, date) and not day_in_range(value):  # a TimeField is a DateTimeField too: its time passes
        raise StopValidation(_l("Choisissez une date entre %(first)s et %(last)s.", first=FIRST_DAY.year, last=LAST_DAY.year))


def _integer_in_range(form, field):
    if field.data is not None and not -MAX_INT <= field.data <= MAX_INT:
        raise StopValidation(_l("Ce nombre est trop grand."))


class EmptyForm(BaseForm):
    """One-button actions (deactivate, log out…): just the CSRF token."""


class LoginForm(BaseForm):
    email = EmailField(_l("Adresse e-mail"), validators=[InputRequired(_l("Indiquez votre adresse e-mail."))])
    password = PasswordField(_l("Mot de passe"), validators=[InputRequired(_l("Indiquez votre mot de passe."))])
    remember = BooleanField(_l("Rester connecté sur cet ordinateur (seulement sur un ordinateur personnel)"), default=False)


def new_password_field(label):
    return PasswordField(
        label,
        validators=[
            InputRequired(_l("Choisissez un mot de passe.")),
            Length(min=MIN_PASSWORD, max=200, message=_l("Le mot de passe doit faire au moins %(n)s caractères.", n=MIN_PASSWORD)),
        ],
    )


class ChangePasswordForm(BaseForm):
    current_password = PasswordField(_l("Mot de passe actuel"), validators=[InputRequired(_l("Indiquez votre mot de passe actuel."))])
    new_password = new_password_field(_l("Nouveau mot de passe (10 caractères au moins)"))
    confirm = PasswordField(
        _l("Nouveau mot de passe, une seconde fois"),
        validators=[
            InputRequired(_l("Retapez le nouveau mot de passe.")),
            EqualTo("new_password", _l("Les deux mots de passe sont différents.")),
        ],
    )


PHONE = Regexp(r"^[0-9 +().-]{6,30}$", message=_l("Numéro de téléphone invalide (chiffres, espaces, + et - seulement)."))
RESIDENT_PHONE_DIGITS = 20  # residents.phone holds 20 characters; E.164 has 15 digits at most (core/contacts.py)


def resident_phone_digits(form, field):
    """A resident's phone is stored in E.164 (core/contacts.py): no more digits than its column holds."""
    if field.data and len(re.sub(r"\D", "", field.data)) > RESIDENT_PHONE_DIGITS:
        raise ValidationError(_l("Numéro de téléphone trop long (%(n)s chiffres au plus).", n=RESIDENT_PHONE_DIGITS))


class SiteForm(BaseForm):
    name = StringField(_l("Nom de la structure"), filters=[strip], validators=[DataRequired(_l("Indiquez le nom.")), Length(max=120)])
    address = StringField(_l("Adresse"), filters=[strip], validators=[Optional(), Length(max=200)])
    postcode = StringField(_l("Code postal"), filters=[strip],
                           validators=[Optional(), Regexp(r"^\d{5}$", message=_l("Le code postal a 5 chiffres."))])
    town = StringField(_l("Ville"), filters=[strip], validators=[Optional(), Length(max=80)])
    phone = StringField(_l("Téléphone"), filters=[strip], validators=[Optional(), PHONE])
    email = EmailField(_l("Adresse e-mail"), filters=[strip],
                       validators=[Optional(), Email(_l("Adresse e-mail invalide.")), Length(max=254)])
    opening_hours = TextAreaField(_l("Horaires d'ouverture"), filters=[strip], validators=[Optional(), Length(max=2000)])
    # The reception's hours, one field per weekday: due dates fall on days the desk is open.
    desk_0 = StringField(WEEKDAYS[0], validators=[Optional(), Length(max=200)])
    desk_1 = StringField(WEEKDAYS[1], validators=[Optional(), Length(max=200)])
    desk_2 = StringField(WEEKDAYS[2], validators=[Optional(), Length(max=200)])
    desk_3 = StringField(WEEKDAYS[3], validators=[Optional(), Length(max=200)])
    desk_4 = StringField(WEEKDAYS[4], validators=[Optional(), Length(max=200)])
    desk_5 = StringField(WEEKDAYS[5], validators=[Optional(), Length(max=200)])
    desk_6 = StringField(WEEKDAYS[6], validators=[Optional(), Length(max=200)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parsed_desk_hours = []

    def desk_fields(self):
        return [getattr(self, f"desk_{weekday}") for weekday in range(7)]

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        self.parsed_desk_hours = []
        for weekday, field in enumerate(self.desk_fields()):
            try:
                self.parsed_desk_hours += [(weekday, start, end) for start, end in parse_hours(field.data)]
            except ValueError as exc:
                field.errors = list(field.errors) + [str(exc.args[0])]
                ok = False
        return ok

    def fill_desk_hours(self, site):
        for weekday, field in enumerate(self.desk_fields()):
            field.data = format_hours((h.starts, h.ends) for h in site.desk_hours if h.weekday == weekday)

    def details(self):
        """What was typed, as plain values for core.admin.create_site / edit_site (after validate)."""
        return SiteDetails(**{name: getattr(self, name).data for name in SiteDetails.TEXT_FIELDS}, desk_hours=self.parsed_desk_hours)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class StaffForm(BaseForm):
    name = StringField(_l("Nom et prénom"), filters=[strip], validators=[DataRequired(_l("Indiquez le nom.")), Length(max=120)])
    email = EmailField(
        _l("Adresse e-mail"), filters=[strip],
        validators=[DataRequired(_l("Indiquez l'adresse e-mail.")), Email(_l("Adresse e-mail invalide.")), Length(max=254)],
    )
    role = SelectField(_l("Rôle"), validators=[InputRequired()])
    sites = MultiCheckboxField(_l("Structures"), coerce=int)

    def __init__(self, *args, site_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = Role.choices()
        self.sites.choices = [(s.id, s.name) for s in site_choices]

    def account(self) -> dict:
        """What was typed, as keyword arguments of core.admin.create_staff_account and edit_staff_account."""
        return {"name": self.name.data, "email": self.email.data, "role": self.role.data, "site_ids": self.sites.data or []}


class NewStaffForm(StaffForm):
    password = new_password_field(_l("Mot de passe provisoire (10 caractères au moins)"))
