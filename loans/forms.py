"""Forms of the inventory, and the French readings of dates and amounts they share with the CSV import."""
import re
from datetime import date
from decimal import Decimal

from babel.numbers import format_decimal, parse_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, Field, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, Regexp, ValidationError
from wtforms.widgets import TextInput

from core.clock import today
from core.forms import PHONE, BaseForm
from core.input import parse_french_date

LOCALE = "fr_FR"
MAX_PRICE = Decimal("99999999.99")  # Numeric(10, 2)


# --- French readings (raise ValueError with the French sentence to show) ----------------------


def parse_purchase_date(raw: str) -> date | None:
    """A purchase date as a person types it (core.input.parse_french_date): a past date only, since
    a purchase date in the future is a typing mistake."""
    value = parse_french_date(raw)
    if value is not None and value > today():
        raise ValueError(_("La date d'achat ne peut pas être dans le futur."))
    return value


_SPACES = re.compile(r"[\s\u00a0\u202f']")


def parse_french_price(raw: str) -> Decimal | None:
    """'1 234,56' (also '1234.56', '1.234,56', '1 234,56 €') → Decimal('1234.56'), at least 0."""
    text = (raw or "").strip()
    if not text:
        return None
    compact = _SPACES.sub("", text).removesuffix("€").removeprefix("€")
    if "," in compact and "." in compact:
        # The last separator is the decimal one, the other groups thousands.
        thousands = "." if compact.rfind(",") > compact.rfind(".") else ","
        compact = compact.replace(thousands, "")
    if not re.fullmatch(r"-?[0-9]+([.,][0-9]+)?", compact):  # no exponent, no stray sign or letter
        raise ValueError(_("Montant illisible : « %(value)s ». Écrivez par exemple 349,90.", value=text))
    value = parse_decimal(compact.replace(".", ","), locale=LOCALE)
    if value < 0:
        raise ValueError(_("Le prix ne peut pas être négatif."))
    if value > MAX_PRICE:  # first: quantize() fails on more digits than the decimal context holds
        raise ValueError(_("Ce prix est trop élevé."))
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(_("Le prix a au plus deux chiffres après la virgule."))
    return value.quantize(Decimal("0.01"))


def format_french_price(value: Decimal | None) -> str:
    """Decimal('1234.5') → '1 234,50' (a narrow no-break space between the thousands)."""
    return "" if value is None else format_decimal(value, format="#,##0.00", locale=LOCALE)


def check_imei(raw: str) -> str:
    digits = re.sub(r"\s", "", raw or "")
    if digits and not re.fullmatch(r"\d{14,16}", digits):
        raise ValueError(_("L'IMEI compte 15 chiffres (14 à 16 selon l'appareil)."))
    return digits


# --- fields -------------------------------------------------------------------------------------


class FrenchDateField(Field):
    """A text field read as a French date (jj/mm/aaaa); works without JavaScript or a date picker."""

    widget = TextInput()

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return self.data.strftime("%d/%m/%Y") if self.data else ""

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = None
            self.data = parse_purchase_date(valuelist[0])


class FrenchDecimalField(Field):
    """An amount typed the French way: 1 234,56."""

    widget = TextInput()

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return format_french_price(self.data).replace("\u202f", " ")

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = None
            self.data = parse_french_price(valuelist[0])


class ChoiceField(SelectField):
    """A select whose refusal of an unknown value is a French sentence chosen by the form."""

    def __init__(self, label=None, validators=None, invalid_message=None, **kwargs):
        super().__init__(label, validators, coerce=int, **kwargs)
        self.invalid_message = invalid_message or _l("Choisissez une valeur dans la liste.")

    def process_formdata(self, valuelist):
        if valuelist:
            try:
                self.data = int(valuelist[0]) if valuelist[0] != "" else None
            except ValueError:
                self.data = None
                raise ValueError(str(self.invalid_message)) from None

    def pre_validate(self, form):
        if self.data is not None and self.data not in {value for value, _label in self.choices}:
            raise ValidationError(str(self.invalid_message))


def _strip(value):
    return value.strip() if isinstance(value, str) else value


# --- device forms -------------------------------------------------------------------------------


class DeviceForm(BaseForm):
    class Meta:
        filters = {}

    kind = ChoiceField(
        _l("Type d'équipement"),
        validators=[InputRequired(_l("Choisissez le type d'équipement."))],
        invalid_message=_l("Choisissez un type d'équipement dans la liste."),
    )
    home_site = ChoiceField(
        _l("Structure"),
        validators=[InputRequired(_l("Choisissez la structure de l'équipement."))],
        invalid_message=_l("Choisissez une de vos structures."),
    )
    brand = StringField(_l("Marque"), filters=[_strip], validators=[Length(max=80, message=_l("80 caractères au plus."))])
    model = StringField(_l("Modèle"), filters=[_strip], validators=[Length(max=120, message=_l("120 caractères au plus."))])
    serial_number = StringField(_l("Numéro de série"), filters=[_strip],
                                validators=[Length(max=120, message=_l("120 caractères au plus."))])
    imei = StringField(_l("IMEI"), filters=[_strip])
    phone_number = StringField(_l("Numéro de téléphone de la carte SIM"), filters=[_strip], validators=[Optional(), PHONE])
    operator = StringField(_l("Opérateur"), filters=[_strip], validators=[Length(max=60, message=_l("60 caractères au plus."))])
    data_plan = StringField(_l("Forfait"), filters=[_strip], validators=[Length(max=120, message=_l("120 caractères au plus."))])
    accessories = TextAreaField(_l("Accessoires (un par ligne)"), validators=[Length(max=2000, message=_l("2 000 caractères au plus."))])
    condition_notes = TextAreaField(_l("État du matériel"), filters=[_strip],
                                    validators=[Length(max=2000, message=_l("2 000 caractères au plus."))])
    funding = StringField(_l("Financement"), filters=[_strip], validators=[Length(max=120, message=_l("120 caractères au plus."))])
    purchase_date = FrenchDateField(_l("Date d'achat"))
    purchase_price = FrenchDecimalField(_l("Prix d'achat (en euros)"))
    notes = TextAreaField(_l("Notes"), filters=[_strip], validators=[Length(max=4000, message=_l("4 000 caractères au plus."))])

    def __init__(self, *args, kinds=(), sites=(), creating=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k.id, k.name) for k in kinds]
        if creating:
            self.home_site.choices = [(s.id, s.name) for s in sites]
        else:
            del self.home_site  # the home site changes only through a transfer

    def validate_imei(self, field):
        try:
            field.data = check_imei(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def device_fields(self) -> dict:
        accessories = "\n".join(line.strip() for line in (self.accessories.data or "").splitlines() if line.strip())
        return {
            "brand": self.brand.data or "",
            "model": self.model.data or "",
            "serial_number": self.serial_number.data or None,
            "imei": self.imei.data or "",
            "phone_number": self.phone_number.data or "",
            "operator": self.operator.data or "",
            "data_plan": self.data_plan.data or "",
            "accessories": accessories,
            "condition_notes": self.condition_notes.data or "",
            "funding": self.funding.data or "",
            "purchase_date": self.purchase_date.data,
            "purchase_price": self.purchase_price.data,
            "notes": self.notes.data or "",
        }


SIM_FIELDS = ("imei", "phone_number", "operator", "data_plan")


class DeviceKindForm(BaseForm):
    name = StringField(
        _l("Nom du type"),
        filters=[_strip],
        validators=[InputRequired(_l("Indiquez le nom du type.")), Length(max=80, message=_l("80 caractères au plus."))],
    )
    code = StringField(
        _l("Code interne"),
        filters=[_strip, lambda v: v.lower() if isinstance(v, str) else v],
        validators=[
            InputRequired(_l("Indiquez un code.")),
            Regexp(r"^[a-z0-9][a-z0-9_-]{1,39}$", message=_l("Le code a de 2 à 40 caractères : lettres sans accent, chiffres, - ou _.")),
        ],
    )
    holds_personal_data = BooleanField(_l("Peut contenir des données personnelles (effacement demandé au retour)"))
    has_sim = BooleanField(_l("Contient une carte SIM (IMEI, numéro, opérateur, forfait)"))


# --- actions and import -------------------------------------------------------------------------


class ActionForm(BaseForm):
    note = StringField(_l("Note (facultative)"), filters=[_strip], validators=[Length(max=500, message=_l("500 caractères au plus."))])
    to_site = ChoiceField(_l("Structure de destination"), invalid_message=_l("Choisissez une structure dans la liste."))

    def __init__(self, *args, sites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.to_site.choices = [(s.id, s.name) for s in sites]


class ImportForm(BaseForm):
    file = FileField(_l("Fichier CSV de l'inventaire"), validators=[FileRequired(_l("Choisissez le fichier CSV à importer."))])


class ImportConfirmForm(BaseForm):
    token = HiddenField(validators=[InputRequired(), Length(max=64)])  # device_import_drafts.token
