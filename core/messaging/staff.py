"""What staff see of the messages and what they may do with them: the "Messages" page, the messages of
a booking, a loan or a resident, "Renvoyer", and each site's message settings.

Who sees what:
- admins: every site; managers: the sites they belong to (the "Messages" page, a message's detail,
  the settings of their sites);
- reception: the messages of their sites' bookings, loans and residents, on those pages only (and they
  may resend them: the person at the desk says "I got nothing").
A message of another site is refused (403), like every object of a site (core/authz.py).
"""
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import joinedload

from ..clock import PARIS, now
from ..errors import DomainError
from ..extensions import db
from ..models import User, user_sites
from .models import Channel, Message, MessageKind, MessageSettings, MessageStatus
from .timing import next_allowed

RESEND_MARK = ":renvoi:"
MAX_RESENDS = 3  # a fourth "Renvoyer" of the same message is refused: call the person instead
PAGE_SIZE = 50
ON_A_PAGE = 50  # the messages shown on a booking, loan or resident page (the newest)
# The settings' limits.
OVERDUE_MIN, OVERDUE_MAX, OVERDUE_COUNT = 1, 60, 5
SENDER_NAME = re.compile(r"^[A-Za-z0-9]{3,11}$")  # Brevo: 3 to 11 letters or digits (11 alphanumeric)
DIGEST_MAX = 10
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
# Which messages a site may turn off (MessageSettings booleans), in the order of the settings page.
SWITCHES = ("confirmations", "reminders", "waiting_list", "cancellations", "loan_reminders", "retention_warning")


class MessageError(DomainError):
    pass


# --- who may see and do what -------------------------------------------------------------------


def can_see_all_messages(user: User) -> bool:
    """The "Messages" page and a message's detail: managers (their sites) and admins."""
    return bool(user and user.is_authenticated and user.is_manager)


def can_manage_settings(user: User, site_id: int) -> bool:
    return bool(user and user.is_authenticated and user.is_manager and user.can_access_site(site_id))


def can_resend(user: User, message: Message) -> bool:
    """Staff of the message's site (reception included), and admins."""
    return bool(user and user.is_authenticated and user.can_access_site(message.site_id))


def _visible(query, user: User):
    if user.is_admin:
        return query
    return query.where(Message.site_id.in_(select(user_sites.c.site_id).where(user_sites.c.user_id == user.id)))


# --- how a recipient is shown in a list ----------------------------------------------------------


def mask_recipient(recipient: str) -> str:
    """Enough to recognise whom, not the whole address: "+33 6 •• •• •• 78", "m•••@example.fr"."""
    recipient = recipient or ""
    if "@" in recipient:
        local, _at, domain = recipient.rpartition("@")
        return (local[:1] + "•••" if local else "•••") + "@" + domain
    digits = re.sub(r"\D", "", recipient)
    if recipient.startswith("+33") and len(digits) == 11:
        return f"+33 {digits[2]} •• •• •• {digits[-2:]}"
    if len(digits) >= 4:
        return ("+" if recipient.startswith("+") else "") + digits[:2] + " •• " + digits[-2:]
    return "•••"


def root_key(key: str) -> str:
    return key.split(RESEND_MARK, 1)[0]


# --- the "Messages" page -----------------------------------------------------------------------------


@dataclass
class MessageFilters:
    """The filters of the "Messages" page, already read and checked (core.messaging.forms)."""

    site_id: int | None = None
    status: MessageStatus | None = None
    channel: Channel | None = None
    kind: MessageKind | None = None
    since: date | None = None
    until: date | None = None
    page: int = 1
    params: dict = field(default_factory=dict)  # for the pages' links

    @property
    def is_filtered(self) -> bool:
        return any(v is not None for v in (self.site_id, self.status, self.channel, self.kind, self.since, self.until))


def _local_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=PARIS).astimezone(UTC)


UNDELIVERED_FIRST = case((Message.status == MessageStatus.undelivered, 0), else_=1)


def message_list_query(user: User, filters: MessageFilters):
    """The messages a person may see, filtered: undelivered first, then the newest."""
    query = _visible(select(Message), user)
    if filters.site_id is not None:
        query = query.where(Message.site_id == filters.site_id)
    if filters.status is not None:
        query = query.where(Message.status == filters.status)
    if filters.channel is not None:
        query = query.where(Message.channel == filters.channel)
    if filters.kind is not None:
        query = query.where(Message.kind == filters.kind)
    if filters.since is not None:
        query = query.where(Message.created_at >= _local_midnight_utc(filters.since))
    if filters.until is not None:
        query = query.where(Message.created_at < _local_midnight_utc(filters.until + timedelta(days=1)))
    return query.options(joinedload(Message.site)).order_by(UNDELIVERED_FIRST, Message.created_at.desc(), Message.id.desc())


def message_page(user: User, filters: MessageFilters):
    """One page of the list (db.paginate: the rows, then their count); a page past the end shows the last."""
    query = message_list_query(user, filters)
    page = db.paginate(query, page=filters.page, per_page=PAGE_SIZE, max_per_page=PAGE_SIZE, error_out=False)
    if not page.items and page.total and filters.page > 1:
        page = db.paginate(query, page=page.pages, per_page=PAGE_SIZE, max_per_page=PAGE_SIZE, error_out=False)
    return page


def undelivered_count(user: User) -> int:
    return db.session.scalar(_visible(select(func.count(Message.id)), user).where(Message.status == MessageStatus.undelivered))


# --- the messages of a booking, a loan, a resident ---------------------------------------------------


@dataclass
class MessagesShown:
    """What the small list on a booking, loan or resident page shows (templates/messages/staff/_list.html)."""

    messages: list
    resends: dict  # message id → how many times its root was resent
    more: bool = False

    def __bool__(self):
        return bool(self.messages)


def messages_about(user: User, *, booking_ids=(), loan_ids=(), resident_id: int | None = None) -> MessagesShown:
    """The messages of some bookings, loans or a resident, of the sites the person works at: two
    statements whatever their number (the messages, then the keys of their resends)."""
    conditions = []
    if booking_ids:
        conditions.append(Message.booking_id.in_(list(booking_ids)))
    if loan_ids:
        conditions.append(Message.loan_id.in_(list(loan_ids)))
    if resident_id is not None:
        conditions.append(Message.resident_id == resident_id)
    if not conditions:
        return MessagesShown([], {})
    rows = db.session.scalars(
        _visible(select(Message), user).where(or_(*conditions))
        .order_by(UNDELIVERED_FIRST, Message.created_at.desc(), Message.id.desc()).limit(ON_A_PAGE + 1)
    ).all()
    more = len(rows) > ON_A_PAGE
    rows = rows[:ON_A_PAGE]
    return MessagesShown(rows, resend_counts(rows), more)


def resend_counts(messages) -> dict[int, int]:
    """How many times each message's first sending was sent again (one statement)."""
    roots = {root_key(m.key) for m in messages}
    if not roots:
        return {}
    resent = db.session.scalars(
        select(Message.key).where(or_(*[Message.key.like(_like_prefix(root + RESEND_MARK), escape="\\") for root in sorted(roots)]))
    ).all()
    by_root: dict[str, int] = {}
    for key in resent:
        by_root[root_key(key)] = by_root.get(root_key(key), 0) + 1
    return {m.id: by_root.get(root_key(m.key), 0) for m in messages}


# --- resend ------------------------------------------------------------------------------------------


RESENDABLE = (MessageStatus.sent, MessageStatus.undelivered, MessageStatus.kept, MessageStatus.cancelled)


def resend(actor: User, message_id: int) -> Message:
    """A copy of the message (same recipient, subject, text, calendar) to send again, as a new pending
    row keyed `<first key>:renvoi:<n>`. Refused for another site's message, a message not sent yet,
    and past MAX_RESENDS resends of the same message."""
    query = select(Message).where(Message.id == message_id)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # two clicks at once: the second waits and counts the first
    original = db.session.scalar(query)
    if original is None or not can_resend(actor, original):
        raise MessageError(_("Ce message n'existe pas ou ne concerne pas votre structure."), status=404)
    if original.status not in RESENDABLE:
        raise MessageError(_("Ce message n'est pas encore parti : il n'y a rien à renvoyer."))
    root = root_key(original.key)
    keys = db.session.scalars(select(Message.key).where(Message.key.like(_like_prefix(root + RESEND_MARK), escape="\\"))).all()
    if len(keys) >= MAX_RESENDS:
        raise MessageError(_("Ce message a déjà été renvoyé %(n)s fois. Appelez plutôt la personne.", n=MAX_RESENDS))
    numbers = [int(k.rsplit(RESEND_MARK, 1)[1]) for k in keys if k.rsplit(RESEND_MARK, 1)[1].isdigit()]
    at = now()
    copy = Message(
        key=f"{root}{RESEND_MARK}{max(numbers, default=0) + 1}",
        kind=original.kind, channel=original.channel, status=MessageStatus.pending, site_id=original.site_id,
        booking_id=original.booking_id, loan_id=original.loan_id, resident_id=original.resident_id,
        recipient=original.recipient, subject=original.subject, body=original.body, calendar=original.calendar,
        not_before=next_allowed(at, original.channel.value), attempts=0, created_at=at,
    )
    db.session.add(copy)
    db.session.flush()
    return copy


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --- settings ----------------------------------------------------------------------------------------


def settings_for(site_id: int) -> MessageSettings:
    """The site's settings; without a row, the defaults (a row not added to the session)."""
    found = db.session.get(MessageSettings, site_id)
    if found is not None:
        return found
    defaults = {c.name: c.default.arg for c in MessageSettings.__table__.columns if c.default is not None}
    return MessageSettings(site_id=site_id, **defaults)


def parse_overdue_days(text: str) -> list[int]:
    """ "1, 7" → [1, 7]: whole numbers of days after the due date, 1 to 60, five at most."""
    parts = [p for p in re.split(r"[\s,;]+", (text or "").strip()) if p]
    if not parts:
        return []
    if not all(p.isascii() and p.isdigit() for p in parts):  # "²" or "١" are digits to Python, not to int()
        raise MessageError(_("Écrivez des nombres de jours séparés par des virgules, par exemple : 1, 7."), "overdue_days")
    days = sorted({int(p) for p in parts})
    if len(days) > OVERDUE_COUNT:
        raise MessageError(_("%(n)s rappels au plus.", n=OVERDUE_COUNT), "overdue_days")
    if days[0] < OVERDUE_MIN or days[-1] > OVERDUE_MAX:
        raise MessageError(_("Chaque nombre de jours va de %(a)s à %(b)s.", a=OVERDUE_MIN, b=OVERDUE_MAX), "overdue_days")
    return days


def parse_digest_to(text: str) -> list[str]:
    addresses = []
    for line in (text or "").splitlines():
        address = line.strip().lower()
        if not address:
            continue
        if len(address) > 254 or not EMAIL.match(address):
            raise MessageError(_("Adresse e-mail invalide : %(address)s", address=line.strip()[:80]), "digest_to")
        if address not in addresses:
            addresses.append(address)
    if len(addresses) > DIGEST_MAX:
        raise MessageError(_("%(n)s adresses au plus.", n=DIGEST_MAX), "digest_to")
    return addresses


def save_settings(actor: User, site_id: int, *, reminder_time: time, overdue_days: str, sender_name: str,
                  digest_to: str, **switches: bool) -> MessageSettings:
    if not can_manage_settings(actor, site_id):
        raise MessageError(_("Seuls les responsables de la structure peuvent changer ses messages."), status=403)
    if reminder_time is None:
        raise MessageError(_("Indiquez l'heure des rappels, par exemple 17:00."), "reminder_time")
    days = parse_overdue_days(overdue_days)
    sender = (sender_name or "").strip()
    if sender and not SENDER_NAME.match(sender):
        raise MessageError(_("De 3 à 11 lettres ou chiffres, sans espace ni accent (par exemple : ACSRV)."), "sender_name")
    addresses = parse_digest_to(digest_to)
    unknown = set(switches) - set(SWITCHES)
    if unknown:
        raise TypeError(f"unknown message switches: {sorted(unknown)}")
    settings = db.session.get(MessageSettings, site_id)
    if settings is None:
        settings = settings_for(site_id)
        db.session.add(settings)
    settings.reminder_time = reminder_time.replace(second=0, microsecond=0)
    settings.overdue_days = ",".join(str(d) for d in days)
    settings.sender_name = sender
    settings.digest_to = "\n".join(addresses)
    for name in SWITCHES:
        if name in switches:
            setattr(settings, name, bool(switches[name]))
    db.session.flush()
    return settings
