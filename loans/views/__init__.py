"""Blueprint of the loans domain. Each module adds its routes to `bp`."""
from flask import Blueprint

from .. import models  # noqa: F401  (tables known to the app and to Alembic)

bp = Blueprint("loans", __name__)


@bp.record_once
def _register_demo(state):
    from core.demo import register_demo_loader

    from ..demo import load

    register_demo_loader(state.app, load)

    from ..bench import bench_data

    state.app.cli.add_command(bench_data)


# Route modules, imported for their side effect of registering on `bp`.
from . import desk, inventory, labels, lending, policies, residents, scanning  # noqa: E402,F401  (the route modules register on bp, defined above)
