"""The reception desk's home: the scan box, today's expected returns, overdue loans, devices available now
(the queries: loans/queries.py desk_overview)."""
from flask import render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from core.authz import staff_required
from core.clock import today
from core.templating import add_nav

from .. import queries
from . import bp


@bp.record_once
def _register_nav(state):
    add_nav(state.app, "loans.desk", _l("Guichet"), order=15)


@bp.get("/guichet")
@staff_required()
def desk():
    day = today()
    return render_template(
        "loans/desk.html",
        today=day,
        **vars(queries.desk_overview(current_user, day)),  # overdue, due_today, their counts, available
        shown=queries.DESK_SHOWN,
        sites=current_user.visible_sites(),
        can_set_rules=current_user.is_manager,
    )
