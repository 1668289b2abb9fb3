"""The forms of the rights of the person: erasing a resident's data at the desk."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from core.forms import BaseForm, strip

from .erasure import REASON_MAX


class EraseResidentForm(BaseForm):
    reason = StringField(_l("Raison de l'effacement"), filters=[strip],
                         validators=[DataRequired(_l("Indiquez la raison de l'effacement.")),
                                     Length(max=REASON_MAX, message=_l("%(max)d caractères au plus."))])
    confirmed = BooleanField(_l("Je confirme : les données de cette personne seront effacées pour toujours."),
                             validators=[DataRequired(_l("Cochez la case pour confirmer l'effacement."))])
