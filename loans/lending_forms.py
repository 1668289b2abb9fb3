"""Forms of the desk: lend, take back, extend, lost, found; residents; per-site loan rules.

Forms check shape and single fields (a date that exists, a name that is not blank); the rules that
span rows (device available, limit per resident, due date after today…) stay in loans.lending, so
that the view, the CLI and the demo share them.
"""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, EmailField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError

from core import forms as core_forms
from core.forms import PHONE, BaseForm, FrenchIntegerField, resident_phone_digits, strip
from core.input import parse_id

from .lending import NewPerson


class MultiCheckboxField(core_forms.MultiCheckboxField):
    """A list of checkboxes (accessories); a value that is not in the list gets a French message."""

    def pre_validate(self, form):
        if self.data and not set(self.data) <= {choice.value for choice in self.choices}:
            raise ValidationError(_l("Cet élément ne fait pas partie de la liste."))


def site_select(label):
    return SelectField(label, coerce=int, validators=[InputRequired(_l("Choisissez la structure."))],
                       invalid_value_message=_l("Choisissez la structure dans la liste."),
                       invalid_choice_message=_l("Choisissez une de vos structures."))

CHARTER_CHOICES = [
    SelectChoice("ticked", _l("La personne a lu et accepte la charte de prêt (coché par l'agent)")),
    SelectChoice("signed", _l("La personne a signé la charte de prêt (papier ou tablette)")),
]


class FrenchDateField(DateField):
    """An HTML date input (YYYY-MM-DD). Empty → no value (InputRequired says so); a date that does not
    exist (30 February) → a French message next to the field."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("format", "%Y-%m-%d")
        kwargs.setdefault("invalid_value_message", _l("Cette date n'existe pas : choisissez-la dans le calendrier (jj/mm/aaaa)."))
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not "".join(valuelist).strip():
            self.data = None
            return
        super().process_formdata(valuelist)


def _name_field(label):
    # No Optional(): it would stop the chain before validate_first_name / validate_last_name.
    return StringField(label, filters=[strip], validators=[Length(max=80, message=_l("80 caractères au plus."))])


class LendForm(BaseForm):
    # Chosen in the list of search results: a resident id, or "new" for the person typed below.
    resident = StringField(_l("Emprunteur ou emprunteuse"), filters=[strip])
    q = StringField(_l("Nom, téléphone ou n° d'adhérent"), filters=[strip], validators=[Optional(), Length(max=100)])

    first_name = _name_field(_l("Prénom"))
    last_name = _name_field(_l("Nom"))
    phone = StringField(_l("Téléphone (facultatif)"), filters=[strip], validators=[Optional(), PHONE, resident_phone_digits])
    email = EmailField(_l("Adresse e-mail (facultatif)"), filters=[strip],
                       validators=[Optional(), Email(_l("Adresse e-mail invalide.")), Length(max=254)])
    membership_number = StringField(_l("N° d'adhérent (facultatif)"), filters=[strip], validators=[Optional(), Length(max=40)])
    # Consent to reminders (core/messaging/consent.py): ticked by default, easy to untick.
    reminders = BooleanField(_l("Recevoir un rappel par SMS / par e-mail"), default=True)
    # Shown when a person with the same name (and phone) exists: the agent confirms it is someone else.
    confirm_new = BooleanField(_l("C'est une autre personne : créer sa fiche"))

    due_on = FrenchDateField(_l("Date de retour prévue"), validators=[InputRequired(_l("Indiquez la date de retour."))])
    accessories = MultiCheckboxField(_l("Accessoires remis"))
    condition = TextAreaField(_l("État au départ (facultatif)"), filters=[strip], validators=[Optional(), Length(max=1000)])
    charter = RadioField(
        _l("Charte de prêt"),
        choices=CHARTER_CHOICES,
        invalid_choice_message=_l("La personne doit accepter la charte de prêt avant de partir avec l'équipement : "
                                  "cochez une des deux cases."),
    )
    override_reason = TextAreaField(_l("Raison du dépassement de la limite"), filters=[strip],
                                    validators=[Optional(), Length(max=500)])
    form_key = HiddenField(validators=[Length(max=64)])  # loans.form_key

    def __init__(self, *args, accessories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.accessories.choices = [SelectChoice(a, a) for a in accessories]

    @property
    def wants_new_resident(self) -> bool:
        return self.resident.data == "new" or (not self.resident.data and bool(self.first_name.data or self.last_name.data))

    def validate_resident(self, field):
        if self.wants_new_resident:
            return
        if not field.data:
            raise ValidationError(_l("Choisissez la personne qui emprunte, ou remplissez « Nouvelle personne »."))
        if parse_id(field.data) is None:
            raise ValidationError(_l("Choisissez la personne dans la liste."))

    def loan_terms(self) -> dict:
        """What lending.lend_at_desk needs from the form: the person (chosen, or new) and the loan's terms."""
        new_person = None
        if self.wants_new_resident:
            new_person = NewPerson(
                first_name=self.first_name.data, last_name=self.last_name.data, phone=self.phone.data or "",
                email=self.email.data or "", membership_number=self.membership_number.data or "",
                confirmed=bool(self.confirm_new.data),
            )
        return dict(
            resident_id=None if new_person else parse_id(self.resident.data),
            new_person=new_person,
            due_on=self.due_on.data,
            accessories=self.accessories.data or [],
            charter_method=self.charter.data,
            condition=self.condition.data or "",
            form_key=self.form_key.data or None,
            override_reason=self.override_reason.data or "",
        )

    def validate_first_name(self, field):
        if self.wants_new_resident and not field.data:
            raise ValidationError(_l("Indiquez le prénom de la nouvelle personne."))

    def validate_last_name(self, field):
        if self.wants_new_resident and not field.data:
            raise ValidationError(_l("Indiquez le nom de la nouvelle personne."))


class TakeBackForm(BaseForm):
    site = site_select(_l("Structure où l'équipement est rendu"))
    accessories = MultiCheckboxField(_l("Accessoires rendus"))
    condition = TextAreaField(_l("État au retour (facultatif)"), filters=[strip], validators=[Optional(), Length(max=1000)])
    damaged = BooleanField(_l("Abîmé : envoyer en réparation"))
    data_wiped = BooleanField(_l("Les données personnelles de la personne ont été effacées"))

    def __init__(self, *args, sites=(), accessories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.site.choices = [SelectChoice(s.id, s.name) for s in sites]
        self.accessories.choices = [SelectChoice(a, a) for a in accessories]


class ReplaceAccessoryForm(BaseForm):
    """One button per missing accessory on the device page: the accessory's name travels in the body."""

    accessory = HiddenField(filters=[strip], validators=[InputRequired(_l("Choisissez l'accessoire remplacé.")),
                                                         Length(max=1000)])


class ExtendForm(BaseForm):
    new_due_on = FrenchDateField(_l("Nouvelle date de retour"), validators=[InputRequired(_l("Indiquez la nouvelle date de retour."))])
    agreed_by = StringField(_l("Qui a accepté la prolongation"), filters=[strip],
                            validators=[InputRequired(_l("Indiquez qui a accepté la prolongation.")), Length(max=120)])


class DeclareLostForm(BaseForm):
    confirm = BooleanField(_l("Je confirme : la personne a perdu l'équipement ou ne le rendra pas"),
                           validators=[InputRequired(_l("Cochez la case pour confirmer la perte."))])
    note = TextAreaField(_l("Ce que la personne a dit (facultatif)"), filters=[strip], validators=[Optional(), Length(max=1000)])


class FoundAgainForm(BaseForm):
    site = site_select(_l("Structure où l'équipement a été rapporté"))
    note = TextAreaField(_l("Où et comment il a été retrouvé (facultatif)"), filters=[strip], validators=[Optional(), Length(max=1000)])

    def __init__(self, *args, sites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.site.choices = [SelectChoice(s.id, s.name) for s in sites]


class ResidentForm(BaseForm):
    first_name = StringField(_l("Prénom"), filters=[strip],
                             validators=[DataRequired(_l("Indiquez le prénom.")), Length(max=80, message=_l("80 caractères au plus."))])
    last_name = StringField(_l("Nom"), filters=[strip],
                            validators=[DataRequired(_l("Indiquez le nom.")), Length(max=80, message=_l("80 caractères au plus."))])
    phone = StringField(_l("Téléphone (facultatif)"), filters=[strip], validators=[Optional(), PHONE, resident_phone_digits])
    email = EmailField(_l("Adresse e-mail (facultatif)"), filters=[strip],
                       validators=[Optional(), Email(_l("Adresse e-mail invalide.")), Length(max=254)])
    membership_number = StringField(_l("N° d'adhérent (facultatif)"), filters=[strip], validators=[Optional(), Length(max=40)])
    notes = TextAreaField(_l("Remarques utiles au prêt (facultatif)"), filters=[strip], validators=[Optional(), Length(max=2000)])
    reminders = BooleanField(_l("Recevoir un rappel par SMS / par e-mail"), default=True)


class PolicyForm(BaseForm):
    """One row per kind of device, named days_<kind_id> / max_<kind_id>; built by policy_form()."""

    kinds = ()

    def rules(self) -> dict[int, tuple[int, int]]:
        """kind id → (default days, max per resident), as lending.set_policies takes them."""
        return {kind.id: (self[f"days_{kind.id}"].data, self[f"max_{kind.id}"].data) for kind in self.kinds}


def policy_form(kinds, rules=None, **kwargs):
    """A form with two fields per kind of device: default days (0-365) and max per resident (1-10);
    `rules` (kind id → (days, max)) fills it, else the posted form does."""

    class Form(PolicyForm):
        pass

    Form.kinds = tuple(kinds)
    if rules is not None:
        kwargs.update(formdata=None, data={f"{name}_{kind_id}": value for kind_id, pair in rules.items()
                                           for name, value in zip(("days", "max"), pair, strict=True)})

    for kind in kinds:
        setattr(Form, f"days_{kind.id}", FrenchIntegerField(
            _l("Durée du prêt en jours (%(kind)s)", kind=kind.name),
            validators=[InputRequired(_l("Indiquez un nombre de jours.")),
                        NumberRange(0, 365, message=_l("Entre 0 (prêt sur place, le jour même) et 365 jours."))],
        ))
        setattr(Form, f"max_{kind.id}", FrenchIntegerField(
            _l("Nombre maximum par personne (%(kind)s)", kind=kind.name),
            validators=[InputRequired(_l("Indiquez un nombre.")), NumberRange(1, 10, message=_l("Entre 1 et 10."))],
        ))
    return Form(**kwargs)
