"""The forms of the privacy pages: erasing a resident's data at the desk, the filters of the access trail."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..forms import BaseForm, strip
from .erasure import REASON_MAX
from .trail import TrailFilters


class EraseResidentForm(BaseForm):
    reason = StringField(_l("Raison de l'effacement"), filters=[strip],
                         validators=[DataRequired(_l("Indiquez la raison de l'effacement.")),
                                     Length(max=REASON_MAX, message=_l("%(max)d caractères au plus."))])
    confirmed = BooleanField(_l("Je confirme : les données de cette personne seront effacées pour toujours."),
                             validators=[DataRequired(_l("Cochez la case pour confirmer l'effacement."))])


def _optional_int(value):
    if value in (None, ""):
        return None
    return int(value)


class AccessFilterForm(BaseForm):
    """GET form of the access trail: a resident's number (never a name) and a staff account."""

    class Meta:
        csrf = False

    habitant = IntegerField(_l("Numéro de la fiche habitant"), validators=[
        Optional(), NumberRange(min=1, message=_l("Un numéro de fiche est un nombre entier, par exemple 42."))])
    personnel = SelectField(_l("Membre du personnel"), coerce=_optional_int, validators=[Optional()])

    def __init__(self, *args, users=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.personnel.choices = [("", _l("Tout le personnel"))] + [(u.id, u.name) for u in users]

    def filters(self, page: int) -> TrailFilters:
        """What was chosen (after validate)."""
        params = {name: value for name, value in (("habitant", self.habitant.data), ("personnel", self.personnel.data))
                  if value is not None}
        return TrailFilters(resident_id=self.habitant.data, user_id=self.personnel.data, page=page, params=params)
