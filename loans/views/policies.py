"""Per-site loan rules, set by the site's managers: default loan length and devices per resident, per kind."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from core.authz import get_site_or_404, staff_required
from core.extensions import db
from core.models import Role

from .. import lending
from ..lending_forms import policy_form
from ..models import DeviceKind, LoanPolicy
from . import bp


@bp.route("/structures/<int:site_id>/regles-de-pret", methods=["GET", "POST"])
@staff_required(Role.manager)
def loan_policies(site_id):
    site = get_site_or_404(site_id)
    kinds = db.session.scalars(select(DeviceKind).order_by(DeviceKind.position, DeviceKind.name)).all()
    saved = {p.kind_id: p for p in db.session.scalars(select(LoanPolicy).where(LoanPolicy.site_id == site.id))}
    current = {}
    for kind in kinds:
        policy = saved.get(kind.id)
        current[f"days_{kind.id}"] = policy.default_days if policy else lending.DEFAULT_DAYS.get(kind.code, lending.FALLBACK_DAYS)
        current[f"max_{kind.id}"] = policy.max_per_resident if policy else 1
    if request.method == "GET":
        form = policy_form(kinds, formdata=None, data=current)
    else:
        form = policy_form(kinds)
        if form.validate():
            for kind in kinds:
                lending.set_policy(site.id, kind.id, form[f"days_{kind.id}"].data, form[f"max_{kind.id}"].data)
            db.session.commit()
            flash(_("Règles de prêt de %(site)s enregistrées.", site=site.name), "success")
            return redirect(url_for("loans.loan_policies", site_id=site.id))
    rows = [(kind, form[f"days_{kind.id}"], form[f"max_{kind.id}"]) for kind in kinds]
    status = 400 if form.errors else 200
    return render_template("loans/lending/policies.html", site=site, rows=rows, form=form), status
