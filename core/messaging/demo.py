"""Demo messages: the demo's bookings and loans have their real messages — sent, kept, waiting for
their time, and one that could not be delivered — so a newcomer sees the "Messages" page, and the
messages on a booking, a loan and a resident, at once.

The texts are the real ones: the reservations demo books through the use cases, whose receivers
write the confirmations and reminders (core/messaging/writing.py); this loader runs the loan
planners (due tomorrow, overdue) and then gives the messages already due the outcomes a week of
sending would have left (no worker runs while the demo loads). Runs after the loans and reservations
demos (the messages blueprint is registered after theirs). Idempotent: the planners write a key once,
and only messages still waiting are given an outcome.
"""
from datetime import timedelta

from sqlalchemy import select

from .. import clock
from ..extensions import db
from .models import Channel, Message, MessageStatus

UNDELIVERED_ERROR = {  # what a provider answers, as the worker writes it for the staff
    Channel.sms: "Numéro injoignable : le téléphone est éteint ou hors réseau depuis 48 heures (réponse de l'opérateur).",
    Channel.email: "Adresse refusée par le serveur du destinataire : cette boîte aux lettres n'existe pas (550).",
}


def load_demo(sites) -> list[str]:
    from .writing import plan_loans_due, plan_overdue

    at = clock.now()
    for days_ago in range(7, -1, -1):  # the loan reminders a worker would have written over the past week
        plan_loans_due(at - timedelta(days=days_ago))
        plan_overdue(at - timedelta(days=days_ago))
    db.session.flush()
    due = db.session.scalars(
        select(Message)
        .where(Message.site_id.in_([site.id for site in sites.values()]), Message.status == MessageStatus.pending,
               Message.not_before <= at)
        .order_by(Message.site_id, Message.id)
    ).all()
    # One message a site the provider refused: an SMS where the site has one (the usual case).
    refused = {}
    for message in due:
        if message.site_id not in refused or (message.channel is Channel.sms and refused[message.site_id].channel is not Channel.sms):
            refused[message.site_id] = message
    for n, message in enumerate(due):
        message.attempts = 1
        if message is refused[message.site_id]:
            message.status, message.last_error = MessageStatus.undelivered, UNDELIVERED_ERROR[message.channel]
            message.attempts = 1 if message.channel is Channel.email else 6
        elif n % 3 == 0:  # as with nothing configured: kept for the "Messages" page
            message.status = MessageStatus.kept
        else:
            message.status, message.sent_at = MessageStatus.sent, message.not_before + timedelta(minutes=1)
            message.provider_ref = f"demo-{message.id}"
    db.session.flush()
    return [f"Messages de démonstration écrits : {len(due)}"]
