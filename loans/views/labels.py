"""Label sheets: print the QR labels of ticked or filtered devices, and reprint one device's label."""
import re

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import Length, ValidationError

from core.authz import staff_required
from core.extensions import db
from core.forms import BaseForm

from .. import labels, queries, tags
from ..models import DeviceKind, DeviceStatus
from . import bp

FILTERS = ("site", "kind", "status", "q")


class LabelSheetForm(BaseForm):
    """The sheet's settings and, without ticked devices, the inventory filters. Read from the query
    string (GET) or a posted form (many ticked devices); validated by hand for French messages."""

    class Meta:
        csrf = False  # POSTs are still checked by the app-wide CSRFProtect

    format = SelectField(_l("Format des étiquettes"), validate_choice=False, default=labels.DEFAULT_FORMAT)
    start = StringField(_l("Étiquettes déjà utilisées sur la première planche"), default="0")
    site = SelectField(_l("Structure"), validate_choice=False, default="")
    kind = SelectField(_l("Type d'équipement"), validate_choice=False, default="")
    status = SelectField(_l("État"), validate_choice=False, default="")
    q = StringField(_l("Code, numéro de série ou modèle"), validators=[Length(max=100, message=_l("100 caractères au plus."))])

    def __init__(self, *args, sites=(), kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.format.choices = [(f.code, f"{f.name} – {f.product}") for f in labels.FORMATS.values()]
        self.site.choices = [("", _("Toutes vos structures"))] + [(str(s.id), s.name) for s in sites]
        self.kind.choices = [("", _("Tous les types"))] + [(str(k.id), k.name) for k in kinds]
        self.status.choices = [("", _("Tous les états"))] + [(s.value, s.label) for s in DeviceStatus]

    @property
    def sheet_format(self) -> labels.SheetFormat:
        return labels.FORMATS.get(self.format.data) or labels.FORMATS[labels.DEFAULT_FORMAT]

    def validate_format(self, field):
        if field.data not in labels.FORMATS:
            raise ValidationError(_("Choisissez un format de la liste."))

    def validate_start(self, field):
        per_sheet = self.sheet_format.per_sheet
        text = (field.data or "").strip() or "0"
        if not re.fullmatch(r"[0-9]{1,4}", text) or int(text) >= per_sheet:
            raise ValidationError(_("Indiquez un nombre entre 0 et %(n)s.", n=per_sheet - 1))
        field.data = str(int(text))

    def _in_choices(self, field):
        if field.data and field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_("Choisissez une valeur de la liste."))

    validate_site = validate_kind = validate_status = _in_choices

    def inventory_filters(self) -> queries.InventoryFilters:
        return queries.InventoryFilters(
            site=int(self.site.data) if self.site.data else None,
            kind=int(self.kind.data) if self.kind.data else None,
            status=DeviceStatus(self.status.data) if self.status.data else None,
            q=(self.q.data or "").strip(),
        )


def _requested_tags(values) -> list[str]:
    raw = []
    for value in values.getlist("tag"):
        raw.extend(part for part in value.split(",") if part.strip())
    return raw


@bp.route("/etiquettes", methods=["GET", "POST"])
@staff_required()
def label_sheet():
    values = request.values
    raw_tags = _requested_tags(values)
    sites = kinds = ()
    if not raw_tags:  # the filters are offered only when no device was ticked
        sites = db.session.scalars(current_user.visible_sites_query()).all()
        kinds = db.session.scalars(select(DeviceKind).order_by(DeviceKind.position, DeviceKind.name)).all()
    form = LabelSheetForm(values, sites=sites, kinds=kinds)
    context = dict(form=form, by_tags=bool(raw_tags), tags=[], sheets=[], ignored=0, total=0, too_many=False,
                   max_labels=f"{labels.MAX_LABELS:,}".replace(",", "\u202f"))
    if not (raw_tags or any(name in values for name in (*FILTERS, "format"))):
        return render_template("loans/labels/sheet.html", **context)
    if not form.validate():
        return render_template("loans/labels/sheet.html", **context), 400
    chosen = labels.select_for_sheet(current_user, raw_tags=raw_tags, filters=form.inventory_filters())
    context.update(ignored=chosen.ignored, too_many=chosen.too_many)
    if chosen.too_many:
        return render_template("loans/labels/sheet.html", **context), 400
    context.update(tags=[d.tag for d in chosen.devices] if raw_tags else [], fmt=form.sheet_format, total=len(chosen.devices),
                   sheets=labels.paginate(labels.build_labels(chosen.devices), form.sheet_format, int(form.start.data)))
    return render_template("loans/labels/sheet.html", **context)


@bp.get("/equipements/<tag>/etiquette")
@staff_required()
def device_label(tag):
    """Reprint one label: the sheet page for this device alone (the person picks the position)."""
    try:
        tag = tags.normalise(tag)
    except tags.TagError:
        abort(404)
    found = labels.sheet_devices(current_user, tags=[tag], limit=1)
    if not found:
        abort(404)
    device = found[0]
    fmt = "dongle" if device.kind.has_sim else labels.DEFAULT_FORMAT
    return redirect(url_for("loans.label_sheet", tag=device.tag, format=fmt))
