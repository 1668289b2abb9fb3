"""The admins' page "Données personnelles": the retention periods, what the next run will anonymise,
the last runs, and running it now.

The rules are in core/privacy/settings.py (save_settings) and core/privacy/retention.py (preview,
run_retention). The nightly run is a task of the queue (core/messaging/tasks.py) or
`flask --app wsgi retention` from cron; "Lancer maintenant" queues the same run at once (the task
`retention_now`), for an admin who has just changed a period: a first run takes minutes.
"""
import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.validators import InputRequired, NumberRange

from ..answers import attempt, status_of
from ..authz import admin_required
from ..forms import BaseForm, EmptyForm, FrenchIntegerField
from ..messaging.queue import task
from . import retention
from .settings import RANGES, current_settings, save_settings

log = logging.getLogger(__name__)
bp = Blueprint("privacy_admin", __name__)


@bp.record_once
def _setup(state):
    from ..templating import ADMINS, add_nav

    add_nav(state.app, "privacy_admin.retention_page", _l("Données personnelles"), roles=ADMINS, order=87)


def _months(label, name, missing):
    low, high = RANGES[name]
    unit = _l("jours") if name == "warning_days" else _l("mois")
    return FrenchIntegerField(label, validators=[
        InputRequired(missing), NumberRange(low, high, _l("Choisissez un nombre entre %(low)s et %(high)s (%(unit)s).",
                                                          low=low, high=high, unit=unit))])


class PrivacySettingsForm(BaseForm):
    resident_months = _months(_l("Fiches des habitants : effacées combien de mois après le dernier contact"),
                              "resident_months", _l("Indiquez un nombre de mois, par exemple 24."))
    booking_contact_months = _months(_l("Réservations sans fiche : coordonnées effacées combien de mois après le dernier créneau"),
                                     "booking_contact_months", _l("Indiquez un nombre de mois, par exemple 12."))
    message_body_months = _months(_l("Messages envoyés : texte et destinataire effacés après combien de mois"),
                                  "message_body_months", _l("Indiquez un nombre de mois, par exemple 6."))
    log_months = _months(_l("Connexions du personnel et consultations des fiches : gardées combien de mois"),
                         "log_months", _l("Indiquez un nombre de mois, par exemple 12."))
    warning_days = _months(_l("Prévenir la personne combien de jours avant d'effacer sa fiche"),
                           "warning_days", _l("Indiquez un nombre de jours, par exemple 30."))

    def fill(self, settings):
        for name in RANGES:
            getattr(self, name).data = getattr(settings, name)

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in RANGES}


@bp.route("/donnees-personnelles", methods=["GET", "POST"])
@admin_required
def retention_page():
    form = PrivacySettingsForm()
    if request.method == "GET":
        form.fill(current_settings())
    elif form.validate_on_submit():
        outcome = attempt(save_settings, current_user, form=form, **form.values())
        if outcome:
            flash(_("Durées de conservation enregistrées."), "success")
            return redirect(url_for("privacy_admin.retention_page"))
    return _render(form), status_of(form)


def _render(form):
    return render_template("admin/retention.html", form=form, preview=retention.preview(), runs=retention.last_runs(),
                           run_form=EmptyForm(), kinds=retention.KINDS)


@bp.post("/donnees-personnelles/executer")
@admin_required
def retention_run():
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("privacy_admin.retention_page"))
    try:
        task("retention_now")()
    except Exception:  # the queue out of reach (Redis down): say so, the nightly run or the command remain
        log.exception("The retention run could not be queued")
        flash(_("La file de tâches ne répond pas : l'exécution n'est pas lancée. Réessayez plus tard, ou lancez "
                "« flask --app wsgi retention » sur le serveur."), "error")
        return redirect(url_for("privacy_admin.retention_page"))
    flash(_("Exécution lancée : ses chiffres s'afficheront sous « Dernières exécutions » dans quelques minutes "
            "(rechargez la page)."), "success")
    return redirect(url_for("privacy_admin.retention_page"))
