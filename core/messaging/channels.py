"""The ways a message leaves: one small interface, `send(message) -> provider_ref`.

A channel either returns the provider's reference of the accepted message, or raises
- `Undeliverable`: it will never go this way (refused address, invalid number, the provider refusing
  our account): the message is marked undelivered at once, with the reason for the staff;
- `TryLater`: a passing trouble (server busy, time-out, SMTP 421/451, HTTP 429/5xx): the message
  goes back to the queue with a growing delay, and is marked undelivered after too many attempts.
`channel_for(message)` gives None when the message's channel is not configured (no MAIL_SERVER, no
SMS_API_KEY): the message is then kept in the database (status `kept`) for the admins to read.
"""
import hashlib
import re
import smtplib
from email.mime.text import MIMEText

from flask import current_app


class Undeliverable(Exception):
    """Permanent: sending it again would fail again. str(exc) is shown to the staff (French)."""


class TryLater(Exception):
    """Temporary: the provider could not take it now. str(exc) is shown to the staff (French)."""


class EmailChannel:
    """E-mail over SMTP with Flask-Mailman (MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USE_SSL,
    MAIL_USERNAME, MAIL_PASSWORD, MAIL_DEFAULT_SENDER, MAIL_TIMEOUT)."""

    name = "email"

    def __init__(self, app):
        from flask_mailman import Mail

        if "mailman" not in app.extensions:
            Mail(app)
        self.app = app

    def build(self, message):
        from flask_mailman import EmailMessage

        config = self.app.config
        sender = config.get("MAIL_DEFAULT_SENDER") or f"ne-pas-repondre@{config['MAIL_SERVER']}"
        mail = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=sender,
            to=[message.recipient],
            headers={"Message-ID": message_id_header(message.key, sender)},
        )
        if message.calendar:
            part = MIMEText(message.calendar, "calendar", "utf-8")
            part.set_param("method", calendar_method(message.calendar))
            part.add_header("Content-Disposition", "attachment", filename="rendez-vous.ics")
            mail.attach(part)
        return mail

    def send(self, message) -> str:
        mail = self.build(message)
        header = mail.extra_headers["Message-ID"]
        mailman = self.app.extensions["mailman"]
        try:
            with mailman.get_connection(backend="smtp") as connection:
                connection.send_messages([mail])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (550, b""))
            raise _smtp_error(code, text, "Adresse refusée par le serveur d'e-mail") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise Undeliverable(
                "Le serveur d'e-mail refuse l'identifiant ou le mot de passe : vérifiez MAIL_USERNAME et MAIL_PASSWORD."
            ) from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, 421 on connect…
            raise _smtp_error(exc.smtp_code, exc.smtp_error, "Message refusé par le serveur d'e-mail") from exc
        except (smtplib.SMTPException, OSError) as exc:  # disconnected, refused, time-out
            raise TryLater(f"Serveur d'e-mail injoignable ({type(exc).__name__}).") from exc
        return header.strip("<>")[:100]


def _smtp_error(code, text, what):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    reason = f"{what} : {code} {text}".strip()[:400]
    return TryLater(reason) if 400 <= int(code) < 500 else Undeliverable(reason)


def message_id_header(key: str, sender: str) -> str:
    """The same Message-ID for every attempt of one message: a mail server that got it twice (the one
    window of a duplicate, see sending.py) can tell, and the person's mail client threads nothing wrong."""
    domain = sender.rsplit("@", 1)[-1].strip(" >") or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def calendar_method(ics: str) -> str:
    match = re.search(r"^METHOD:(\w+)", ics, re.MULTILINE)
    return match.group(1).upper() if match else "PUBLISH"


def channel_for(message, app=None):
    """The configured channel of this message, or None when nothing is configured for it."""
    app = app or current_app._get_current_object()
    channels = app.extensions.setdefault("message_channels", {})
    name = getattr(message.channel, "value", message.channel)
    if name not in channels:
        channels[name] = _make(name, app)
    return channels[name]


def _make(name, app):
    config = app.config
    if name == "email":
        return EmailChannel(app) if config.get("MAIL_SERVER") else None
    if name == "sms":
        if not config.get("SMS_API_KEY"):
            return None
        provider = (config.get("SMS_PROVIDER") or "brevo").lower()
        if provider != "brevo":
            raise RuntimeError(f"SMS_PROVIDER={provider!r} is not known (brevo is)")
        from .brevo import BrevoSms

        return BrevoSms(config)
    return None
