"""Scanning: the label URL /d/<TAG> (public finder page or staff redirect) and the desk scan box."""
from flask import current_app, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import StringField

from core.authz import public, staff_required
from core.extensions import db, limiter
from core.forms import BaseForm
from core.templating import add_nav

from .. import tags
from ..models import Device
from . import bp

ROBOTS = "noindex, nofollow"


@bp.record_once
def _register_nav(state):
    add_nav(state.app, "loans.scan", _l("Scanner"), order=20)


# --- the label URL -------------------------------------------------------------------------------


def _public_limit():
    return current_app.config.get("PUBLIC_TAG_LIMIT", "60 per minute")


# Routes are case-sensitive: the labels encode /D/ (upper case, for a smaller QR code), people
# type /d/. `path:` so that a stray trailing slash or an encoded space still reaches the view.
@bp.get("/D/<path:tag>")
@bp.get("/d/<path:tag>")
@public
@limiter.limit(_public_limit, scope="public-tag", exempt_when=lambda: current_user.is_authenticated)
def public_device(tag):
    try:
        tag = tags.normalise(tag.strip().strip("/"))
    except tags.TagError as exc:
        return _public_page(None, exc.reason), 404
    if current_user.is_authenticated:
        # Staff scanning at a desk: straight to the device page, when the code is a device's.
        if db.session.scalar(select(Device.id).where(Device.tag == tag)) is None:
            return _public_page(None, "unknown"), 404
        return redirect(url_for("loans.device", tag=tag))
    device = db.session.scalar(select(Device).where(Device.tag == tag).options(joinedload(Device.home_site)))
    if device is None:
        return _public_page(None, "unknown"), 404
    return _public_page(device, None)


def _public_page(device, problem):
    """The finder's page: whose device it is and how to bring it back. Nothing about who had it."""
    return render_template("loans/public_device.html", device=device, problem=problem)


@bp.after_request
def _not_for_search_engines(response):
    # Every answer of the label URL, refusals and "too many requests" included.
    if request.endpoint == "loans.public_device":
        response.headers["X-Robots-Tag"] = ROBOTS
    return response


# --- the desk scan box ---------------------------------------------------------------------------


class ScanForm(BaseForm):
    """GET form: what is typed is a device code, not personal data, and GET lets a keyboard-wedge
    scanner (which types the label URL then Enter) and a browser without JavaScript both work."""

    class Meta:
        csrf = False

    code = StringField(
        _l("Code de l'équipement ou adresse de l'étiquette"),
        render_kw={"autocapitalize": "characters", "spellcheck": "false", "enterkeyhint": "go", "maxlength": 500},
    )


MESSAGES = {
    "empty": (_l("Scannez l'étiquette ou tapez le code de l'équipement."), 400),
    "format": (tags.PROBLEMS["format"], 400),
    "checksum": (tags.PROBLEMS["checksum"], 400),
    "unknown": (_l("Aucun équipement ne porte ce code."), 404),
}


@bp.get("/guichet/scanner")
@staff_required()
def scan():
    form = ScanForm(request.args)
    if "code" not in request.args:
        return render_template("loans/scan/desk.html", form=form)
    raw = (form.code.data or "")[:500]
    problem = None
    if not raw.strip():
        problem = "empty"
    else:
        try:
            tag = tags.normalise(raw)
        except tags.TagError as exc:
            problem = exc.reason
        else:
            if db.session.scalar(select(Device.id).where(Device.tag == tag)) is None:
                problem = "unknown"
    if problem:
        message, status = MESSAGES[problem]
        form.code.errors = [str(message)]
        return render_template("loans/scan/desk.html", form=form), status
    return redirect(url_for("loans.device", tag=tag))
