"""The forms of the staff's message pages: the filters of the "Messages" page and a site's settings."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import InputRequired, Length, Optional

from ..forms import BaseForm, strip
from .models import Channel, MessageKind, MessageStatus
from .staff import MessageFilters


def _optional_int(value):
    if value in (None, ""):
        return None
    return int(value)


class MessageFilterForm(BaseForm):
    """GET form of the "Messages" page: nothing personal is typed, and the filters stay in the link."""

    class Meta:
        csrf = False

    site = SelectField(_l("Structure"), coerce=_optional_int, validators=[Optional()])
    status = SelectField(_l("État"), validators=[Optional()])
    channel = SelectField(_l("Canal"), validators=[Optional()])
    kind = SelectField(_l("Sorte de message"), validators=[Optional()])
    du = DateField(_l("Écrits à partir du"), validators=[Optional()])
    au = DateField(_l("Jusqu'au"), validators=[Optional()])

    def __init__(self, *args, sites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.site.choices = [("", _l("Toutes les structures"))] + [(s.id, s.name) for s in sites]
        self.status.choices = [("", _l("Tous les états"))] + MessageStatus.choices()
        self.channel.choices = [("", _l("SMS et e-mail"))] + Channel.choices()
        self.kind.choices = [("", _l("Toutes les sortes"))] + MessageKind.choices()

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if ok and self.du.data and self.au.data and self.au.data < self.du.data:
            self.au.errors = [*self.au.errors, _l("Ce jour est avant le premier jour.")]
            ok = False
        return ok

    def filters(self, page: int) -> MessageFilters:
        """What was chosen (after validate)."""
        params = {name: value for name, value in (
            ("site", self.site.data), ("status", self.status.data), ("channel", self.channel.data), ("kind", self.kind.data),
            ("du", self.du.data.isoformat() if self.du.data else None), ("au", self.au.data.isoformat() if self.au.data else None),
        ) if value not in (None, "")}
        return MessageFilters(
            site_id=self.site.data,
            status=MessageStatus(self.status.data) if self.status.data else None,
            channel=Channel(self.channel.data) if self.channel.data else None,
            kind=MessageKind(self.kind.data) if self.kind.data else None,
            since=self.du.data, until=self.au.data, page=page, params=params,
        )


class MessageSettingsForm(BaseForm):
    reminder_time = TimeField(_l("Heure des rappels, la veille"),
                              validators=[InputRequired(_l("Indiquez l'heure des rappels, par exemple 17:00."))])
    overdue_days = StringField(
        _l("Rappels de retard : combien de jours après la date de retour"), filters=[strip],
        validators=[Optional(), Length(max=40, message=_l("40 caractères au plus."))],
    )
    sender_name = StringField(
        _l("Nom de l'expéditeur des SMS"), filters=[strip],
        validators=[Optional(), Length(max=11, message=_l("De 3 à 11 lettres ou chiffres, sans espace ni accent (par exemple : ACSRV)."))],
    )
    confirmations = BooleanField(_l("Confirmation de réservation"))
    reminders = BooleanField(_l("Rappel la veille d'une réservation"))
    waiting_list = BooleanField(_l("Place obtenue sur la liste d'attente"))
    cancellations = BooleanField(_l("Réservation annulée par le centre"))
    loan_reminders = BooleanField(_l("Prêts : rappel la veille du retour et rappels de retard"))
    retention_warning = BooleanField(_l("Prévenir une personne avant d'effacer sa fiche (durée de conservation)"))
    digest_to = TextAreaField(
        _l("Résumé du jour par e-mail : adresses de l'équipe, une par ligne"),
        validators=[Optional(), Length(max=3000, message=_l("3000 caractères au plus."))],
    )

    SWITCHES = ("confirmations", "reminders", "waiting_list", "cancellations", "loan_reminders", "retention_warning")

    def fill(self, settings):
        self.reminder_time.data = settings.reminder_time
        self.overdue_days.data = ", ".join(d for d in (settings.overdue_days or "").split(",") if d)
        self.sender_name.data = settings.sender_name
        self.digest_to.data = settings.digest_to
        for name in self.SWITCHES:
            getattr(self, name).data = getattr(settings, name)

    def values(self) -> dict:
        """Keyword arguments of core.messaging.staff.save_settings (after validate)."""
        return {
            "reminder_time": self.reminder_time.data, "overdue_days": self.overdue_days.data or "",
            "sender_name": self.sender_name.data or "", "digest_to": self.digest_to.data or "",
            **{name: getattr(self, name).data for name in self.SWITCHES},
        }
