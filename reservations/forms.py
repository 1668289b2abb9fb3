"""Forms of the reservations domain. They check shape and single fields; rules live in the use cases
(bookings.py, workshops.py, rooms.py)."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from core.forms import BaseForm
from core.hours import WEEKDAYS, format_hours, parse_hours
from core.input import day_in_range

from .identity import IdentityError, clean_first_name, parse_contact
from .models import SLOT_LENGTHS, Attendance, Level

HOURS_FIELDS = ["hours_0", "hours_1", "hours_2", "hours_3", "hours_4", "hours_5", "hours_6"]


class IdentityMixin:
    """First name and a phone number or an e-mail: the light identity of a resident."""

    def validate_first_name(self, field):
        try:
            field.data = clean_first_name(field.data)
        except IdentityError as exc:
            raise ValidationError(str(exc)) from exc

    def validate_contact(self, field):
        try:
            self.parsed_contact = parse_contact(field.data)
        except IdentityError as exc:
            raise ValidationError(str(exc)) from exc


class BookingForm(IdentityMixin, BaseForm):
    first_name = StringField(_l("Votre prénom"), validators=[Length(max=200)])
    contact = StringField(_l("Votre numéro de téléphone ou votre e-mail"), validators=[Length(max=254)])
    # Consent to reminders (core/messaging/consent.py): ticked by default, easy to untick.
    reminders = BooleanField(_l("Recevoir un rappel par SMS / par e-mail"), default=True)


class DeskSeatForm(BookingForm):
    first_name = StringField(_l("Prénom de la personne"), validators=[Length(max=200)])
    contact = StringField(_l("Son téléphone ou son e-mail"), validators=[Length(max=254)])
    slot = SelectField(_l("Créneau"), validators=[InputRequired(_l("Choisissez un créneau."))])

    def validate_slot(self, field):
        """The slot's UTC start, as the day's page lists it: `self.starts_at`."""
        try:
            starts_at = datetime.fromisoformat(field.data)
        except (TypeError, ValueError):
            starts_at = None
        if starts_at is None or starts_at.tzinfo is None or not day_in_range(starts_at.date()):  # year 9999: no UTC conversion
            raise ValidationError(_l("Choisissez un créneau dans la liste."))
        self.starts_at = starts_at


class DeskWorkshopForm(BookingForm):
    first_name = StringField(_l("Prénom de la personne"), validators=[Length(max=200)])
    contact = StringField(_l("Son téléphone ou son e-mail"), validators=[Length(max=254)])


class RoomForm(BaseForm):
    site_id = SelectField(_l("Centre"), coerce=int, validators=[InputRequired(_l("Choisissez le centre."))])
    name = StringField(_l("Nom de la salle"), validators=[InputRequired(_l("Indiquez le nom de la salle.")), Length(max=80)])
    workstations = IntegerField(
        _l("Nombre de postes"),
        validators=[InputRequired(_l("Indiquez le nombre de postes.")), NumberRange(1, 200, _l("Entre 1 et 200 postes."))],
    )
    notes = TextAreaField(_l("Accessibilité et équipement"), validators=[Optional(), Length(max=2000)])
    slot_minutes = SelectField(
        _l("Durée d'un créneau"), coerce=int, choices=[SelectChoice(m, _l("%(n)s minutes", n=m)) for m in SLOT_LENGTHS]
    )
    days_ahead = IntegerField(
        _l("Réservation possible jusqu'à combien de jours à l'avance"),
        default=14,
        validators=[InputRequired(_l("Indiquez un nombre de jours.")), NumberRange(0, 90, _l("Entre 0 et 90 jours."))],
    )
    minutes_before = IntegerField(
        _l("Réservation en ligne close combien de minutes avant le début"),
        default=30,
        validators=[InputRequired(_l("Indiquez un nombre de minutes.")), NumberRange(0, 1440, _l("Entre 0 et 1440 minutes."))],
    )
    hours_0 = StringField(WEEKDAYS[0], validators=[Optional(), Length(max=200)])
    hours_1 = StringField(WEEKDAYS[1], validators=[Optional(), Length(max=200)])
    hours_2 = StringField(WEEKDAYS[2], validators=[Optional(), Length(max=200)])
    hours_3 = StringField(WEEKDAYS[3], validators=[Optional(), Length(max=200)])
    hours_4 = StringField(WEEKDAYS[4], validators=[Optional(), Length(max=200)])
    hours_5 = StringField(WEEKDAYS[5], validators=[Optional(), Length(max=200)])
    hours_6 = StringField(WEEKDAYS[6], validators=[Optional(), Length(max=200)])
    active = BooleanField(_l("Ouverte à la réservation"), default=True)

    def __init__(self, *args, site_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.site_id.choices = [SelectChoice(s.id, s.name) for s in site_choices]
        self.parsed_hours = []

    def hours_fields(self):
        return [getattr(self, name) for name in HOURS_FIELDS]

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        self.parsed_hours = []
        for weekday, field in enumerate(self.hours_fields()):
            try:
                for start, end in parse_hours(field.data):
                    self.parsed_hours.append((weekday, start, end))
            except ValueError as exc:
                field.errors = list(field.errors) + [str(exc.args[0])]
                ok = False
        return ok

    def fill_hours(self, room):
        for weekday, field in enumerate(self.hours_fields()):
            field.data = format_hours((h.starts, h.ends) for h in room.hours if h.weekday == weekday)


class ClosureForm(BaseForm):
    room_id = SelectField(_l("Fermeture de"), coerce=int)
    first_day = DateField(_l("Premier jour"), validators=[InputRequired(_l("Indiquez le premier jour."))])
    last_day = DateField(_l("Dernier jour (vide : un seul jour)"), validators=[Optional()])
    reason = StringField(_l("Motif (montré aux habitants)"), validators=[InputRequired(_l("Indiquez le motif.")), Length(max=200)])
    # The fingerprint of the cancellations shown on the confirmation page (rooms.ClosureImpact).
    confirmed = HiddenField(validators=[Optional(), Length(max=64)])

    def __init__(self, *args, rooms=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.room_id.choices = [SelectChoice(0, _l("Tout le centre"))] + [SelectChoice(r.id, r.name) for r in rooms]

    def validate_last_day(self, field):
        if field.data and self.first_day.data and field.data < self.first_day.data:
            raise ValidationError(_l("Le dernier jour doit être après le premier jour."))


class WorkshopTextForm(BaseForm):
    title = StringField(_l("Titre"), validators=[InputRequired(_l("Indiquez le titre.")), Length(max=120)])
    description = TextAreaField(_l("Description en mots simples"), validators=[Optional(), Length(max=2000)])
    level = SelectField(_l("Niveau"), default=Level.everyone.value)
    facilitator = StringField(_l("Animateur ou animatrice"), validators=[Optional(), Length(max=120)])
    places = IntegerField(
        _l("Nombre de places"),
        validators=[InputRequired(_l("Indiquez le nombre de places.")), NumberRange(1, 200, _l("Au moins 1 place."))],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.level.choices = [SelectChoice(lvl.value, lvl.label) for lvl in Level]


class WorkshopForm(WorkshopTextForm):
    room_id = SelectField(_l("Salle"), coerce=int, validators=[InputRequired(_l("Choisissez la salle."))])
    day = DateField(_l("Jour"), validators=[InputRequired(_l("Indiquez le jour."))])
    starts = TimeField(_l("Début"), validators=[InputRequired(_l("Indiquez l'heure de début."))])
    ends = TimeField(_l("Fin"), validators=[InputRequired(_l("Indiquez l'heure de fin."))])
    repeat_weeks = IntegerField(
        _l("Répéter chaque semaine, pendant combien de semaines de plus (0 : une seule fois)"),
        default=0,
        validators=[Optional(), NumberRange(0, 26, _l("Entre 0 et 26 semaines."))],
    )

    def __init__(self, *args, rooms=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.room_id.choices = [SelectChoice(r.id, f"{r.site.name} – {r.name} ({r.workstations} postes)") for r in rooms]

    def validate_ends(self, field):
        if field.data and self.starts.data and field.data <= self.starts.data:
            raise ValidationError(_l("L'heure de fin doit être après l'heure de début."))


class AttendanceForm(BaseForm):
    attendance = SelectField(validators=[InputRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.attendance.choices = [SelectChoice(a.value, a.label) for a in Attendance]
