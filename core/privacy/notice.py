"""What a person is told when their data is collected (RGPD articles 12 to 14): the public page
"Vos données" of each centre, in plain words (FALC), and its A4 poster for the desk.

Who is responsible (the centre, from its Site row), why, what is kept, for how long (the retention
settings in force: core.privacy.settings), the rights and how to use them (the centre's phone and
address, the federation's DPO from the configuration, the CNIL). Public: no login, no personal data.
"""
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup
from sqlalchemy import select

from core.authz import public
from core.extensions import db
from core.models import Site

from .settings import current_settings

bp = Blueprint("privacy_notice", __name__)

# The supervisory authority: a complaint goes there (RGPD article 77). Public contact details.
CNIL = {
    "complaint_url": "https://www.cnil.fr/fr/plaintes",
    "address": "CNIL, 3 place de Fontenoy, TSA 80715, 75334 Paris Cedex 07",
    "phone": "01 53 73 22 22",
}


@dataclass(frozen=True)
class Dpo:
    """The federation's data protection officer, as configured (DPO_*); any part may be empty."""

    name: str
    email: str
    address: str
    phone: str

    @property
    def reachable(self) -> bool:
        return bool(self.email or self.address or self.phone)


def configured_dpo() -> Dpo | None:
    """The DPO's contact, or None when nothing is configured (the page then says: ask the centre)."""
    cfg = current_app.config
    dpo = Dpo(*(str(cfg.get(key) or "").strip() for key in ("DPO_NAME", "DPO_EMAIL", "DPO_ADDRESS", "DPO_PHONE")))
    return dpo if dpo.reachable else None


def say_months(months: int) -> str:
    """A duration as people say it: "2 ans", "1 an", "18 mois", "1 mois"."""
    if months % 12 == 0:
        return ngettext("%(num)s an", "%(num)s ans", months // 12)
    return ngettext("%(num)s mois", "%(num)s mois", months)


def _site_or_404(site_id) -> Site:
    return db.session.get(Site, site_id) or abort(404)


def _durations():
    """How long each kind of data is kept, in words, from the settings in force."""
    settings = current_settings()
    return {
        "resident": say_months(settings.resident_months),
        "booking_contact": say_months(settings.booking_contact_months),
        "message_body": say_months(settings.message_body_months),
        "log": say_months(settings.log_months),
    }


@bp.get("/vos-donnees")
@public
def centres():
    sites = db.session.scalars(select(Site).order_by(Site.name)).all()
    return render_template("privacy/centres.html", sites=sites)


@bp.get("/vos-donnees/<int:site_id>")
@public
def notice(site_id):
    site = _site_or_404(site_id)
    return render_template("privacy/notice.html", site=site, kept=_durations(), dpo=configured_dpo(), cnil=CNIL)


@bp.get("/vos-donnees/<int:site_id>/affiche")
@public
def poster(site_id):
    """The A4 poster for the desk: the same facts, shorter, large type, a QR code to the full page."""
    from loans.labels import qr_svg  # the labels' QR drawing (inline SVG, CSP-safe)

    site = _site_or_404(site_id)
    page_url = current_app.config["PUBLIC_BASE_URL"] + url_for("privacy_notice.notice", site_id=site.id)
    return render_template(
        "privacy/poster.html", site=site, kept=_durations(), dpo=configured_dpo(), cnil=CNIL, page_url=page_url,
        qr=Markup(qr_svg(page_url, _("Code QR de la page Vos données"))),
    )


@bp.errorhandler(404)
def _unknown_centre(error):
    return render_template("privacy/unknown_centre.html"), 404
