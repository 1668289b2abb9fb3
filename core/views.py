"""Pages of the kernel: public home, staff home, login and passwords, sites and staff administration.

Each page loads and authorises, reads its form, calls one use case through core.answers.attempt and
answers. The rules are in the use cases: core/admin.py (sites, staff accounts), core/auth.py (login,
passwords).
"""
import functools
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from . import admin, auth, sessions
from .answers import attempt
from .authz import admin_required, get_site_or_404, public, staff_required
from .extensions import db, limiter
from .forms import ChangePasswordForm, EmptyForm, LoginForm, NewStaffForm, SiteForm, StaffForm
from .models import Site, User
from .ratelimits import FailureLimit
from .security import KEPT_PREFIX, kept_fields

main_bp = Blueprint("main", __name__)
auth_bp = Blueprint("auth", __name__)
admin_bp = Blueprint("admin", __name__)


# --- public and staff home -------------------------------------------------------------------


@main_bp.get("/")
@public
def home():
    sites = db.session.scalars(select(Site).order_by(Site.name)).all()
    return render_template("core/home.html", sites=sites)


@main_bp.get("/espace")
@staff_required()
def staff_home():
    sites = db.session.scalars(current_user.visible_sites_query()).all()
    return render_template("core/staff_home.html", sites=sites)


@main_bp.get("/structures/<int:site_id>")
@staff_required()
def site_detail(site_id):
    site = get_site_or_404(site_id)
    staff = db.session.scalars(
        select(User).join(User.sites).where(Site.id == site.id).order_by(User.name)
    ).all()
    return render_template("core/site_detail.html", site=site, staff=staff)


# --- authentication ----------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never an open redirect."""
    if not target:
        return url_for("main.staff_home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("main.staff_home")
    return target


def _login_failed(response):
    # Only failed attempts count towards the per-account limit.
    return not g.get("login_succeeded")


# Past this limit, failures from the address are refused, but the right password still gets in: the
# computer room of a centre shares the desk's public address (core/ratelimits.py).
address_failures = FailureLimit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], "login-address")


@auth_bp.route("/connexion", methods=["GET", "POST"])
@public
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=auth.login_account_key,
    methods=["POST"],
    deduct_when=_login_failed,
)
def login():
    kept, _retype = kept_fields(KEPT_PREFIX)
    if current_user.is_authenticated and not kept:
        return redirect(url_for("main.staff_home"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        outcome = attempt(auth.authenticate, form.email.data, form.password.data)
        if outcome:
            return _logged_in(outcome.value, form.remember.data, kept)
        error = outcome.error
    if request.method == "POST":
        address_failures.count_failure()
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, error=error, kept=kept), status


def _logged_in(user, remember, kept):
    sessions.start(user, remember=remember)
    g.login_succeeded = True
    target = _safe_next(request.args.get("next"))
    if kept:
        # A form whose session had ended: back to it, with what was typed, to send again.
        return render_template("auth/resume.html", kept=kept, action=target, token=generate_csrf())
    return redirect(target)


@auth_bp.post("/deconnexion")
@staff_required()
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
        sessions.end(current_user._get_current_object())
        flash(_("Déconnexion réussie."), "success")
    return redirect(url_for("main.home"))


@auth_bp.post("/deconnexion/partout")
@staff_required()
def logout_everywhere():
    form = EmptyForm()
    if form.validate_on_submit():
        sessions.end_everywhere(current_user._get_current_object())
        db.session.commit()
        logout_user()
        flash(_("Toutes vos sessions sont fermées, sur cet appareil et sur les autres."), "success")
    return redirect(url_for("main.home"))


@auth_bp.route("/mot-de-passe", methods=["GET", "POST"])
@staff_required()
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user, remember = current_user._get_current_object(), _remembered()
        if attempt(auth.change_password, user, form.current_password.data, form.new_password.data, form=form):
            # Every session, this one included, is now ended; this browser goes on with a new one.
            sessions.start(user, remember=remember)
            flash(_("Votre mot de passe est changé. Vos autres sessions sont fermées."), "success")
            return redirect(url_for("main.staff_home"))
    status = 400 if form.errors else 200
    return render_template("auth/change_password.html", form=form), status


def _remembered() -> bool:
    return bool(getattr(current_user, "session_remember", False))


# --- administration: sites ---------------------------------------------------------------------


@admin_bp.get("/structures")
@admin_required
def sites():
    sites = db.session.scalars(select(Site).order_by(Site.name)).all()
    return render_template("admin/sites.html", sites=sites)


@admin_bp.route("/structures/nouvelle", methods=["GET", "POST"])
@admin_required
def site_new():
    return _site_form(Site(), admin.create_site)


@admin_bp.route("/structures/<int:site_id>/modifier", methods=["GET", "POST"])
@admin_required
def site_edit(site_id):
    site = get_site_or_404(site_id)
    return _site_form(site, functools.partial(admin.edit_site, site_id=site.id))


def _site_form(site: Site, save):
    """The form of a new site or of an existing one; `save(actor, details=…)` is the use case."""
    form = SiteForm(obj=site)
    if request.method == "GET":
        form.fill_desk_hours(site)
    if form.validate_on_submit():
        outcome = attempt(save, current_user, details=form.details(), form=form)
        if outcome:
            flash(_("Structure enregistrée : %(name)s.", name=outcome.value.name), "success")
            return redirect(url_for("admin.sites"))
    status = 400 if form.errors else 200
    return render_template("admin/site_form.html", form=form, site=site), status


# --- administration: staff accounts ------------------------------------------------------------


@admin_bp.get("/personnel")
@admin_required
def staff():
    users = db.session.scalars(select(User).options(selectinload(User.sites)).order_by(User.name)).all()
    return render_template("admin/staff.html", users=users, action_form=EmptyForm())


@admin_bp.route("/personnel/nouveau", methods=["GET", "POST"])
@admin_required
def staff_new():
    form = NewStaffForm(site_choices=_all_sites())
    if form.validate_on_submit():
        outcome = attempt(admin.create_staff_account, current_user, **form.account(), password=form.password.data, form=form)
        if outcome:
            flash(_("Compte créé pour %(name)s.", name=outcome.value.name), "success")
            return redirect(url_for("admin.staff"))
    status = 400 if form.errors else 200
    return render_template("admin/staff_form.html", form=form, user=None), status


@admin_bp.route("/personnel/<int:user_id>/modifier", methods=["GET", "POST"])
@admin_required
def staff_edit(user_id):
    user = db.get_or_404(User, user_id)
    form = StaffForm(obj=user, site_choices=_all_sites())
    if request.method == "GET":
        form.role.data = user.role.value
        form.sites.data = [s.id for s in user.sites]
    if form.validate_on_submit():
        outcome = attempt(admin.edit_staff_account, current_user, user.id, **form.account(), form=form)
        if outcome:
            flash(_("Compte de %(name)s enregistré.", name=outcome.value.name), "success")
            return redirect(url_for("admin.staff"))
    status = 400 if form.errors else 200
    return render_template("admin/staff_form.html", form=form, user=user, action_form=EmptyForm()), status


def _all_sites():
    return db.session.scalars(select(Site).order_by(Site.name)).all()


@admin_bp.post("/personnel/<int:user_id>/desactiver")
@admin_required
def staff_deactivate(user_id):
    return _set_active(user_id, False)


@admin_bp.post("/personnel/<int:user_id>/reactiver")
@admin_required
def staff_reactivate(user_id):
    return _set_active(user_id, True)


def _set_active(user_id, active):
    user = db.get_or_404(User, user_id)
    if EmptyForm().validate_on_submit():
        outcome = attempt(admin.set_staff_active, current_user, user.id, active)
        if not outcome:
            flash(outcome.error, "error")
        elif active:
            flash(_("Compte de %(name)s réactivé.", name=user.name), "success")
        else:
            flash(_("Compte de %(name)s désactivé : ses sessions sont fermées.", name=user.name), "success")
    return redirect(url_for("admin.staff"))


@admin_bp.post("/personnel/<int:user_id>/deconnecter")
@admin_required
def staff_logout_everywhere(user_id):
    user = db.get_or_404(User, user_id)
    if EmptyForm().validate_on_submit():
        attempt(admin.end_staff_sessions, current_user, user.id)
        if user.id == current_user.id:
            logout_user()
            flash(_("Toutes vos sessions sont fermées, sur cet appareil et sur les autres."), "success")
            return redirect(url_for("main.home"))
        flash(_("Toutes les sessions de %(name)s sont fermées : il faudra se reconnecter.", name=user.name), "success")
    return redirect(url_for("admin.staff"))


@admin_bp.post("/personnel/<int:user_id>/mot-de-passe")
@admin_required
def staff_reset_password(user_id):
    user = db.get_or_404(User, user_id)
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("admin.staff"))
    outcome = attempt(admin.reset_password, current_user, user.id)
    if not outcome:
        flash(outcome.error, "error")
        return redirect(url_for("admin.staff"))
    # Shown once, in this response only (never in a URL, a flash cookie or a log).
    return render_template("admin/password_reset.html", user=user, temporary=outcome.value)


# --- administration: the access trail of residents' records ------------------------------------


@admin_bp.record_once
def _register_access_nav(state):
    from flask_babel import lazy_gettext as _l

    from .templating import ADMINS, add_nav

    add_nav(state.app, "admin.access_trail", _l("Accès aux fiches"), roles=ADMINS, order=87)


@admin_bp.get("/acces")
@admin_required
def access_trail():
    """Who opened which resident's record or export, and the staff logins: newest first, a page at a time."""
    from .input import page_number
    from .privacy import trail
    from .privacy.forms import AccessFilterForm

    users = db.session.scalars(select(User).order_by(User.name, User.id)).all()
    form = AccessFilterForm(request.args, users=users)
    if request.args and not form.validate():
        return render_template("admin/access_trail.html", form=form, page=None, filters=None), 400
    filters = form.filters(page_number(request.args.get("page")))
    return render_template("admin/access_trail.html", form=form, page=trail.trail_page(filters), filters=filters,
                           resident_label=trail.resident_label)
