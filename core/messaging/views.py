"""Public routes of the messages: the SMS provider's webhook (a reply "STOP"), and the page of the
e-mail's link that stops reminders.

- POST /messages/sms/reponses — Brevo's transactional SMS webhook (events "replied" and
  "unsubscribed"; JSON: `to` or `phoneNumber` the resident's number, `reply` the text,
  `msg_status`/`event` the event). Authenticated by SMS_WEBHOOK_SECRET: sent by Brevo as
  "Authorization: Bearer <secret>" (the webhook's bearer authentication) or an "X-Webhook-Secret"
  header. No secret configured: the route answers 404. A reply STOP (any case, spaces around)
  records wanted=False for that number, how="SMS STOP". Anything else is acknowledged and ignored.
- GET/POST /messages/arret/<stop_token> — the link in each e-mail: a signed message key (consent.py), no
  address in the URL. GET shows a confirm button (a form with CSRF: a mail scanner that follows links
  does not unsubscribe anyone); POST records wanted=False, how="e-mail link".
"""
import hmac
import logging

from flask import Blueprint, abort, current_app, jsonify, render_template, request

from .. import contacts
from ..answers import attempt
from ..authz import public
from ..extensions import csrf
from ..forms import EmptyForm
from . import consent
from .models import Channel

bp = Blueprint("resident_messages", __name__)
log = logging.getLogger(__name__)

STOP_WORDS = {"STOP", "STOP SMS", "ARRET", "ARRÊT", "STOPSMS"}


def _authorised() -> bool:
    secret = current_app.config["SMS_WEBHOOK_SECRET"]
    if not secret:
        abort(404)
    given = request.headers.get("X-Webhook-Secret", "")
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        given = authorization[len("Bearer "):].strip()
    return bool(given) and hmac.compare_digest(given.encode(), secret.encode())


def is_stop(text) -> bool:
    return isinstance(text, str) and " ".join(text.split()).upper() in STOP_WORDS


@bp.post("/messages/sms/reponses")
@public
@csrf.exempt
def sms_webhook():
    if not _authorised():
        return jsonify(error="unauthorised"), 401
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify(error="JSON expected"), 400
    event = str(payload.get("msg_status") or payload.get("event") or "").lower()
    number = payload.get("to") or payload.get("phoneNumber") or payload.get("from") or ""
    if not isinstance(number, str):
        return jsonify(error="number expected"), 400
    if number.isdigit():
        number = "+" + number  # Brevo sends 33612345678
    unsubscribed = event in ("unsubscribed", "unsubscribe") or is_stop(payload.get("reply") or payload.get("text"))
    contact = contacts.sms_number(number) if unsubscribed else None
    if contact is None:
        return jsonify(recorded=False), 200  # not a STOP (or not a number): nothing to do
    outcome = attempt(consent.record_choice, contact, Channel.sms, False, "SMS STOP")
    log.info("SMS STOP recorded (changed=%s)", bool(outcome.value))  # never the number
    return jsonify(recorded=True), 200


@bp.route("/messages/arret/<stop_token>", methods=["GET", "POST"])
@public
def unsubscribe(stop_token):
    message = consent.message_of_token(stop_token)
    if message is None:
        return render_template("messages/unsubscribe.html", state="unknown"), 404
    form = EmptyForm()
    if form.validate_on_submit():
        attempt(consent.record_choice, message.recipient, Channel.email, False, "e-mail link", message.site_id)
        return render_template("messages/unsubscribe.html", state="done", site=message.site)
    done = not consent.wants_reminders(message.recipient, Channel.email)
    return render_template("messages/unsubscribe.html", state="done" if done else "ask", form=form, site=message.site), (
        400 if request.method == "POST" else 200
    )

