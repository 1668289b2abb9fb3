"""Inventory pages: the list, a device's page and its named actions, create and edit, CSV import and export.

Who: every staff member sees the devices of their sites (home or current site), read-only for
reception; managers change the devices of their sites; admins everything. Staff of another site get
a limited page (what the device is and where it belongs), never its history, notes or price.
"""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from core import csv_export
from core.answers import attempt
from core.authz import admin_required, refuse, staff_required
from core.clock import today
from core.extensions import db
from core.models import Role, Site
from core.templating import ADMINS, add_nav

from .. import csv_io, labels, operations, queries
from ..forms import SIM_FIELDS, ActionForm, DeviceForm, DeviceKindForm, ImportConfirmForm, ImportForm, format_french_price
from ..models import DeviceStatus
from . import bp

DANGER_VERBS = {"declare_lost", "retire"}


@bp.record_once
def _register_menu(state):
    add_nav(state.app, "loans.inventory", _l("Inventaire"), order=20)
    add_nav(state.app, "loans.device_kinds", _l("Types d'équipement"), roles=ADMINS, order=82)
    state.app.jinja_env.filters["price_fr"] = format_french_price


def _label_formats():
    return [(code, f.name) for code, f in labels.FORMATS.items()], labels.DEFAULT_FORMAT


def _canonical(tag: str) -> str:
    return "".join((tag or "").split()).upper()


def _device_or_404(tag: str):
    device = queries.find_device(_canonical(tag))
    if device is None:
        abort(404)
    return device


# --- the list -----------------------------------------------------------------------------------


@bp.get("/equipements")
@staff_required()
def inventory():
    filters = queries.InventoryFilters.from_args(request.args)
    page = queries.inventory_page(current_user, filters)
    formats, default_format = _label_formats()
    return render_template(
        "loans/inventory/list.html",
        page=page,
        filters=filters,
        sites=queries.visible_sites(current_user),
        kinds=queries.all_kinds(),
        statuses=list(DeviceStatus),
        label_formats=formats,
        default_format=default_format,
    )


@bp.get("/equipements/export.csv")
@staff_required()
def inventory_export():
    filters = queries.InventoryFilters.from_args(request.args)
    body = csv_io.export(queries.inventory_rows(current_user, filters))
    return csv_export.response(body, f"inventaire-{today().isoformat()}.csv")


# --- one device ---------------------------------------------------------------------------------


def _render_device(device, *, status=200, error=None, failed_verb=None, form=None):
    full = operations.can_view(current_user, device)
    context = {"device": device, "full": full}
    if full:
        actions = operations.available_actions(current_user, device)
        primary = operations.NEXT_ACTION.get(device.status)
        actions.sort(key=lambda item: item[0] != primary)
        transfer_sites = []
        if any(verb == "transfer" for verb, _t in actions):
            transfer_sites = db.session.scalars(
                select(Site).where(Site.id != device.home_site_id).order_by(Site.name)
            ).all()
        context.update(
            history=queries.device_history(device),
            actions=actions,
            primary=primary,
            danger=DANGER_VERBS,
            transfer_sites=transfer_sites,
            can_edit=operations.can_manage(current_user, device),
            error=error,
            failed_verb=failed_verb,
            posted_form=form,
        )
    return render_template("loans/device.html", **context), status


@bp.get("/equipements/<tag>")
@staff_required()
def device(tag):
    canonical = _canonical(tag)
    if canonical != tag:
        return redirect(url_for("loans.device", tag=canonical))
    return _render_device(_device_or_404(canonical))


@bp.post("/equipements/<tag>/actions/<verb>")
@staff_required()
def device_action(tag, verb):
    if verb not in operations.TRANSITIONS:
        abort(404)
    device = _device_or_404(tag)
    if not operations.can_view(current_user, device):
        refuse("site")
    sites = db.session.scalars(select(Site).where(Site.id != device.home_site_id).order_by(Site.name)).all()
    form = ActionForm(sites=sites)
    if not form.validate_on_submit():
        return _render_device(device, status=400, failed_verb=verb, form=form)
    to_site = db.session.get(Site, form.to_site.data) if verb == "transfer" and form.to_site.data else None
    outcome = attempt(operations.apply, verb, current_user, device.id, site_id=operations.acting_site_id(current_user, device),
                      note=form.note.data or "", to_site=to_site)
    if not outcome:
        return _render_device(device, status=outcome.status, error=outcome.error, failed_verb=verb)
    flash(operations.done_message(verb, outcome.value), "success")
    return redirect(url_for("loans.device", tag=device.tag))


# --- create and edit ----------------------------------------------------------------------------


def _sim_kind_ids(kinds) -> str:
    return " ".join(str(k.id) for k in kinds if k.has_sim)


def _render_form(form, device, kinds, *, no_site=False):
    return render_template("loans/inventory/form.html", form=form, device=device, sim_kinds=_sim_kind_ids(kinds),
                           sim_fields=SIM_FIELDS, no_site=no_site), 400 if form.errors else 200


@bp.route("/equipements/nouveau", methods=["GET", "POST"])
@staff_required(Role.manager)
def device_new():
    kinds = queries.all_kinds()
    sites = [s for s in queries.visible_sites(current_user) if operations.can_manage_site(current_user, s.id)]
    form = DeviceForm(kinds=kinds, sites=sites, creating=True)
    if len(sites) == 1 and not form.is_submitted():
        form.home_site.data = sites[0].id
    if form.validate_on_submit():
        outcome = attempt(operations.add_device, current_user, form.home_site.data, form.kind.data,
                          **form.device_fields(), form=form)
        if outcome:
            flash(_("Équipement %(tag)s ajouté à l'inventaire.", tag=outcome.value.tag), "success")
            return redirect(url_for("loans.device", tag=outcome.value.tag))
    return _render_form(form, None, kinds, no_site=not sites)


@bp.route("/equipements/<tag>/modifier", methods=["GET", "POST"])
@staff_required(Role.manager)
def device_edit(tag):
    device = _device_or_404(tag)
    if not operations.can_manage(current_user, device):
        refuse("site")
    kinds = queries.all_kinds()
    initial = {name: getattr(device, name) for name in operations.EDITABLE if name != "kind"}
    initial["kind"] = device.kind_id
    form = DeviceForm(data=initial, kinds=kinds, creating=False)
    if form.validate_on_submit():
        outcome = attempt(operations.edit_device, current_user, device.id, form.kind.data, **form.device_fields(), form=form)
        if outcome:
            flash(_("Fiche de l'équipement %(tag)s enregistrée.", tag=device.tag), "success")
            return redirect(url_for("loans.device", tag=device.tag))
    return _render_form(form, device, kinds)


# --- device kinds (admins) ----------------------------------------------------------------------


@bp.route("/admin/types-equipement", methods=["GET", "POST"])
@admin_required
def device_kinds():
    form = DeviceKindForm()
    if form.validate_on_submit():
        outcome = attempt(operations.create_kind, form.name.data, form.code.data, form=form,
                          holds_personal_data=form.holds_personal_data.data, has_sim=form.has_sim.data)
        if outcome:
            flash(_("Type d'équipement ajouté : %(name)s.", name=outcome.value.name), "success")
            return redirect(url_for("loans.device_kinds"))
    status = 400 if form.errors else 200
    return render_template("loans/inventory/kinds.html", form=form, kinds=queries.all_kinds()), status


# --- CSV import ---------------------------------------------------------------------------------


def _render_import(form, preview=None, *, token=None, error=None, status=200):
    return render_template(
        "loans/inventory/import.html",
        form=form,
        preview=preview,
        confirm_form=ImportConfirmForm(token=token) if token else None,
        error=error,
        kinds=queries.all_kinds() if preview is None or not preview.ok else [],
        shown_rows=_shown_rows(preview),
    ), status


PREVIEW_ROWS = 200


def _shown_rows(preview):
    if preview is None:
        return []
    rows = preview.rows_with_errors or preview.rows
    return rows[:PREVIEW_ROWS]


@bp.route("/equipements/import", methods=["GET", "POST"])
@staff_required(Role.manager)
def inventory_import():
    form = ImportForm()
    if not form.validate_on_submit():
        return _render_import(form, status=400 if form.errors else 200)
    upload = form.file.data
    filename = (upload.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    outcome = attempt(csv_io.upload, current_user, upload.read(), filename)
    if not outcome:
        return _render_import(form, outcome.exception.preview, error=outcome.error or None, status=outcome.status)
    preview, token = outcome.value
    return _render_import(form, preview, token=token)


@bp.post("/equipements/import/confirmer")
@staff_required(Role.manager)
def inventory_import_confirm():
    form = ImportConfirmForm()
    outcome = attempt(csv_io.confirm, current_user, form.token.data if form.validate_on_submit() else None)
    if not outcome:
        return _render_import(ImportForm(formdata=None), outcome.exception.preview, error=outcome.error or None,
                              status=outcome.status)
    count, filename = outcome.value
    flash(ngettext("%(num)s équipement importé depuis %(name)s.", "%(num)s équipements importés depuis %(name)s.", count,
                   name=filename or "le fichier"), "success")
    return redirect(url_for("loans.inventory"))
