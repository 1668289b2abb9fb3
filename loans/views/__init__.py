"""Blueprint of the loans domain. Each module adds its routes to `bp`."""
from flask import Blueprint

from .. import models  # noqa: F401  (tables known to the app and to Alembic)

bp = Blueprint("loans", __name__)

# Route modules, imported for their side effect of registering on `bp`.
from . import inventory, labels, scanning  # noqa: E402,F401
