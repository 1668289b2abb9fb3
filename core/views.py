"""Pages of the kernel: public home, staff home, login, sites and staff administration."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from . import auth, sessions
from .authz import admin_required, get_site_or_404, public, staff_required
from .extensions import db, limiter
from .forms import ChangePasswordForm, EmptyForm, LoginForm, NewStaffForm, SiteForm, StaffForm
from .models import DeskHours, Role, Site, User, normalise_email
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
        try:
            user = auth.authenticate(form.email.data, form.password.data)
        except auth.AuthError as exc:
            address_failures.count_failure()
            error = str(exc)
        else:
            db.session.commit()
            sessions.start(user, remember=form.remember.data)
            g.login_succeeded = True
            target = _safe_next(request.args.get("next"))
            if kept:
                # A form whose session had ended: back to it, with what was typed, to send again.
                return render_template("auth/resume.html", kept=kept, action=target, token=generate_csrf())
            return redirect(target)
    elif request.method == "POST":
        address_failures.count_failure()
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, error=error, kept=kept), status


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
        try:
            auth.change_password(current_user, form.current_password.data, form.new_password.data)
        except auth.AuthError as exc:
            form.current_password.errors.append(str(exc))
        else:
            user = current_user._get_current_object()
            remember = _remembered()
            db.session.commit()
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
    return _site_form(Site())


@admin_bp.route("/structures/<int:site_id>/modifier", methods=["GET", "POST"])
@admin_required
def site_edit(site_id):
    return _site_form(get_site_or_404(site_id))


def _site_form(site: Site):
    form = SiteForm(obj=site)
    if request.method == "GET":
        form.fill_desk_hours(site)
    if form.validate_on_submit():
        duplicate = db.session.scalar(select(Site.id).where(Site.name == form.name.data.strip(), Site.id != site.id))
        if duplicate:
            form.name.errors.append(_("Une structure porte déjà ce nom."))
        else:
            form.populate_obj(site)
            site.name = site.name.strip()
            for field in ("address", "postcode", "town", "phone", "email", "opening_hours"):
                setattr(site, field, (getattr(site, field) or "").strip())
            site.desk_hours = [DeskHours(weekday=weekday, starts=starts, ends=ends) for weekday, starts, ends in form.parsed_desk_hours]
            db.session.add(site)
            db.session.commit()
            flash(_("Structure enregistrée : %(name)s.", name=site.name), "success")
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
    all_sites = db.session.scalars(select(Site).order_by(Site.name)).all()
    form = NewStaffForm(site_choices=all_sites)
    if form.validate_on_submit():
        if auth.email_taken(form.email.data):
            form.email.errors.append(_("Un compte existe déjà avec cette adresse."))
        else:
            user = User(session_version=1, active=True)
            _fill_staff(user, form, all_sites)
            auth.set_password(user, form.password.data, temporary=True)
            db.session.add(user)
            db.session.commit()
            flash(_("Compte créé pour %(name)s.", name=user.name), "success")
            return redirect(url_for("admin.staff"))
    status = 400 if form.errors else 200
    return render_template("admin/staff_form.html", form=form, user=None), status


@admin_bp.route("/personnel/<int:user_id>/modifier", methods=["GET", "POST"])
@admin_required
def staff_edit(user_id):
    user = db.get_or_404(User, user_id)
    all_sites = db.session.scalars(select(Site).order_by(Site.name)).all()
    form = StaffForm(obj=user, site_choices=all_sites)
    if request.method == "GET":
        form.role.data = user.role.value
        form.sites.data = [s.id for s in user.sites]
    if form.validate_on_submit():
        if auth.email_taken(form.email.data, except_id=user.id):
            form.email.errors.append(_("Un compte existe déjà avec cette adresse."))
        elif user.id == current_user.id and form.role.data != Role.admin.value:
            form.role.errors.append(_("Vous ne pouvez pas retirer votre propre rôle d'administrateur."))
        else:
            _fill_staff(user, form, all_sites)
            db.session.commit()
            flash(_("Compte de %(name)s enregistré.", name=user.name), "success")
            return redirect(url_for("admin.staff"))
    status = 400 if form.errors else 200
    return render_template("admin/staff_form.html", form=form, user=user, action_form=EmptyForm()), status


def _fill_staff(user, form, all_sites):
    user.name = form.name.data.strip()
    user.email = normalise_email(form.email.data)
    user.role = Role(form.role.data)
    chosen = set(form.sites.data or [])
    user.sites = [s for s in all_sites if s.id in chosen]


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
        if user.id == current_user.id:
            flash(_("Vous ne pouvez pas désactiver votre propre compte."), "error")
        else:
            auth.set_active(user, active)
            db.session.commit()
            message = _("Compte de %(name)s réactivé.", name=user.name) if active else _(
                "Compte de %(name)s désactivé : ses sessions sont fermées.", name=user.name
            )
            flash(message, "success")
    return redirect(url_for("admin.staff"))


@admin_bp.post("/personnel/<int:user_id>/deconnecter")
@admin_required
def staff_logout_everywhere(user_id):
    user = db.get_or_404(User, user_id)
    if EmptyForm().validate_on_submit():
        sessions.end_everywhere(user)
        db.session.commit()
        if user.id == current_user.id:
            logout_user()
            flash(_("Toutes vos sessions sont fermées, sur cet appareil et sur les autres."), "success")
            return redirect(url_for("main.home"))
        flash(_("Toutes les sessions de %(name)s sont fermées : il faudra se reconnecter.", name=user.name), "success")
    return redirect(url_for("admin.staff"))


@admin_bp.post("/personnel/<int:user_id>/mot-de-passe")
@admin_required
def staff_reset_password(user_id):
    import secrets

    user = db.get_or_404(User, user_id)
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("admin.staff"))
    temporary = "-".join(secrets.token_urlsafe(4) for _part in range(3))
    auth.set_password(user, temporary, temporary=True)
    db.session.commit()
    # Shown once, in this response only (never in a URL, a flash cookie or a log).
    return render_template("admin/password_reset.html", user=user, temporary=temporary)
