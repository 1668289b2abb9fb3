"""Blueprint of the reservations domain. Each module adds its routes to `bp`."""
from flask import Blueprint

from .. import models  # noqa: F401  (tables known to the app and to Alembic)

bp = Blueprint("reservations", __name__)
