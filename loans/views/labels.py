"""labels routes of the loans blueprint."""
from . import bp  # noqa: F401
