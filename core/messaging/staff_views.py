"""Staff pages of the messages: the "Messages" page (managers: their sites; admins: all), one message,
"Renvoyer" (staff of the message's site, rate-limited), and each site's message settings (its managers).

The messages of one booking, loan or resident are shown on those pages by the include
templates/messages/staff/_list.html, fed by core.messaging.staff.messages_about (one query)."""
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..answers import attempt, error_of, status_of
from ..authz import get_in_site_or_404, get_site_or_404, refuse, staff_required
from ..extensions import db, limiter
from ..forms import EmptyForm
from ..input import page_number
from ..models import Role, Site
from . import staff
from .forms import MessageFilterForm, MessageSettingsForm
from .models import Message

bp = Blueprint("messages", __name__)


@bp.record_once
def _setup(state):
    from ..demo import register_demo_loader
    from ..templating import MANAGERS, add_nav
    from .demo import load_demo

    app = state.app
    add_nav(app, "messages.index", _l("Messages"), roles=MANAGERS, order=70)
    app.jinja_env.filters["masked"] = staff.mask_recipient
    register_demo_loader(app, load_demo)


# --- the "Messages" page --------------------------------------------------------------------------


@bp.get("/messages")
@staff_required(Role.manager)
def index():
    sites = db.session.scalars(current_user.visible_sites_query()).all()
    form = MessageFilterForm(request.args, sites=sites)
    if request.args and not form.validate():
        return render_template("messages/staff/index.html", form=form, page=None, filters=None, sites=sites, resends={}), 400
    filters = form.filters(page_number(request.args.get("page")))
    page = staff.message_page(current_user, filters)
    return render_template("messages/staff/index.html", form=form, page=page, filters=filters, sites=sites,
                           resends=staff.resend_counts(page.items))


@bp.get("/messages/<int:message_id>")
@staff_required(Role.manager)
def detail(message_id):
    message = get_in_site_or_404(Message, message_id)
    shown = staff.MessagesShown([message], staff.resend_counts([message]))
    return render_template("messages/staff/detail.html", message=message, shown=shown)


# --- resend ---------------------------------------------------------------------------------------


def _resend_limit() -> str:
    return current_app.config.get("MESSAGE_RESEND_LIMIT", "10 per minute")


def _resender() -> str:
    return f"resend-user-{current_user.id}"


def _back(raw: str | None, message: Message) -> str:
    """Where to go after "Renvoyer": the page it was clicked on (a path of this site), else the message."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw and not urlsplit(raw).netloc:
        return raw
    if staff.can_see_all_messages(current_user):
        return url_for("messages.detail", message_id=message.id)
    return url_for("main.staff_home")


@bp.post("/messages/<int:message_id>/renvoyer")
@staff_required()
@limiter.limit(_resend_limit, key_func=_resender)
def resend(message_id):
    message = get_in_site_or_404(Message, message_id)
    back = _back(request.form.get("next"), message)
    if not EmptyForm().validate_on_submit():
        abort(400)
    outcome = attempt(staff.resend, current_user, message.id)
    if outcome:
        flash(_("Le message sera renvoyé à %(to)s dans quelques minutes.", to=staff.mask_recipient(message.recipient)), "success")
    else:
        flash(outcome.error, "error")
    return redirect(back)


# --- a site's settings ----------------------------------------------------------------------------


@bp.route("/structures/<int:site_id>/messages", methods=["GET", "POST"])
@staff_required(Role.manager)
def settings(site_id):
    site = get_site_or_404(site_id)
    if not staff.can_manage_settings(current_user, site.id):
        refuse("site")
    form = MessageSettingsForm()
    outcome = None
    if request.method == "GET":
        form.fill(staff.settings_for(site.id))
    elif form.validate_on_submit():
        outcome = attempt(staff.save_settings, current_user, site.id, form=form, **form.values())
        if outcome:
            flash(_("Réglages des messages enregistrés."), "success")
            return redirect(url_for("messages.settings", site_id=site.id))
    return render_template("messages/staff/settings.html", site=site, form=form, error=error_of(outcome),
                           other_sites=_settings_sites()), status_of(form, outcome)


def _settings_sites() -> list[Site]:
    return db.session.scalars(current_user.visible_sites_query()).all()
