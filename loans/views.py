from flask import Blueprint

bp = Blueprint("loans", __name__)
