"""Per-site loan rules, set by the site's managers: default loan length and devices per resident, per kind."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from core.answers import attempt
from core.authz import get_site_or_404, staff_required
from core.models import Role

from .. import lending, queries
from ..lending_forms import policy_form
from . import bp


@bp.route("/structures/<int:site_id>/regles-de-pret", methods=["GET", "POST"])
@staff_required(Role.manager)
def loan_policies(site_id):
    site = get_site_or_404(site_id)
    kinds = queries.all_kinds()
    if request.method == "GET":
        form = policy_form(kinds, rules=lending.site_policies(site.id, kinds))
    else:
        form = policy_form(kinds)
        if form.validate() and attempt(lending.set_policies, current_user, site.id, form.rules()):
            flash(_("Règles de prêt de %(site)s enregistrées.", site=site.name), "success")
            return redirect(url_for("loans.loan_policies", site_id=site.id))
    rows = [(kind, form[f"days_{kind.id}"], form[f"max_{kind.id}"]) for kind in kinds]
    status = 400 if form.errors else 200
    return render_template("loans/lending/policies.html", site=site, rows=rows, form=form), status
