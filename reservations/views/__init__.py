from flask import Blueprint

bp = Blueprint("reservations", __name__)
