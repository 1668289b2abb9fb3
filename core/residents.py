"""Residents (habitants): people who borrow devices or book a seat. No account, only what is needed.

Shared by both domains: loans lend to residents; the desk books rooms for them. The use cases on a
person live here (create, edit, the duplicate check before creating); the lending desk calls them
(loans/lending.py lend_at_desk, loans/views/residents.py).
"""
import re
import unicodedata
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, delete, insert, or_, select, union
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import contacts
from .clock import now
from .db import UTCDateTime
from .errors import DomainError
from .events import announce, resident_created, resident_edited
from .extensions import db
from .models import Site, User

resident_sites = Table(
    "resident_sites",
    db.metadata,
    Column("resident_id", ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True, index=True),
)


# Search as you type (search below): one row per prefix of 2, 3 and 4 letters of each word of a
# person's name ("Marie-Claire Dupont": ma, mar, mari, cl, cla, clai, du, dup, dupo), with a copy of the
# name order and of all the words. The search asks for one prefix by equality and reads the rows in
# name order through ix_resident_name_keys_search, stopping after the page: a B-tree on both
# databases, whatever the number of people whose name begins so. The words end the index, so that the
# other words typed are checked in it too. An erased person has none.
resident_name_keys = Table(
    "resident_name_keys",
    db.metadata,
    Column("resident_id", ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(4), primary_key=True),
    Column("last_name_key", String(80), nullable=False),
    Column("first_name_key", String(80), nullable=False),
    # " marie claire dupont": the words, each after a space, for the words typed beyond the prefix.
    Column("words", String(255), nullable=False),
    Index("ix_resident_name_keys_search", "key", "last_name_key", "first_name_key", "resident_id", "words"),
)
KEY_LENGTHS = (2, 3, 4)


class ResidentError(DomainError):
    pass


class LikelyDuplicates(ResidentError):
    """A person with this name (and phone) exists: the agent chooses among `duplicates` or confirms
    it is someone else. The message sits next to the resident chooser, and the answer is 409."""

    status = 409

    def __init__(self, message, duplicates: list["Resident"]):
        super().__init__(message, field="resident")
        self.duplicates = duplicates


def fold(text: str) -> str:
    """Lower case without accents: 'Élodie' and 'elodie' match."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().strip()


def name_words(text: str) -> list[str]:
    """The words of a name or of what was typed, folded: 'Marie-Claire N'Diaye' → marie, claire,
    n, diaye, ndiaye (a word written with an apostrophe is also a word without it)."""
    words = []
    for token in re.split(r"[\s\-]+", fold(text)):
        parts = re.findall(r"[^\W_]+", token)
        words += parts + (["".join(parts)] if len(parts) > 1 else [])
    return list(dict.fromkeys(word for word in words if word))


def name_keys(first_name: str, last_name: str) -> tuple[str, set[str]]:
    """(" marie claire dupont", {the prefixes of 2, 3 and 4 letters of each word})."""
    words = name_words(f"{first_name} {last_name}")
    keys = {word[:n] for word in words for n in KEY_LENGTHS if len(word) >= n}
    return (" " + " ".join(words))[:255], keys


class Resident(db.Model):
    __tablename__ = "residents"
    __table_args__ = (
        # Names in the order lists show them (search, the list, the duplicate check).
        Index("ix_residents_name_order", "last_name_key", "first_name_key", "id"),
        Index("ix_residents_first_key", "first_name_key"),
        Index("ix_residents_phone", "phone"),
        Index("ix_residents_membership", "membership_number"),
        # Reports: a booking made with a resident's e-mail counts as that resident (reports/queries.py).
        Index("ix_residents_email", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    # Folded copies for search as you type (an index each; prefix search).
    first_name_key: Mapped[str] = mapped_column(String(80))
    last_name_key: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(20), default="")  # E.164 (+33612345678), see core/contacts.py
    email: Mapped[str] = mapped_column(String(254), default="")
    membership_number: Mapped[str] = mapped_column(String(40), default="")
    charter_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Erased on request or anonymised after the retention period (core/privacy): the row stays, without
    # anything that says who the person was, so that loans and reports keep counting them once.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sites: Mapped[list[Site]] = relationship(secondary=resident_sites, order_by=Site.name)
    created_by: Mapped[User | None] = relationship()

    @property
    def full_name(self):
        return display_name(self.first_name, self.last_name, self.anonymised_at)

    @property
    def phone_display(self):
        return contacts.format_phone(self.phone)

    @property
    def site_ids(self) -> set[int]:
        return {s.id for s in self.sites}

    def set_names(self, first_name: str, last_name: str):
        self.first_name = " ".join(first_name.split())
        self.last_name = " ".join(last_name.split())
        self.first_name_key = fold(self.first_name)
        self.last_name_key = fold(self.last_name)


def index_names(resident_ids) -> None:
    """Write the search keys of these people again from their names (none for an erased person):
    after creating one, changing a name, erasing, or inserting people in bulk (a data import)."""
    ids = list(resident_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        db.session.execute(delete(resident_name_keys).where(resident_name_keys.c.resident_id.in_(chunk)))
        rows = []
        for row in db.session.execute(
            select(Resident.id, Resident.first_name, Resident.last_name, Resident.first_name_key, Resident.last_name_key)
            .where(Resident.id.in_(chunk), Resident.anonymised_at.is_(None))
        ):
            words, keys = name_keys(row.first_name, row.last_name)
            rows += [dict(resident_id=row.id, key=key, last_name_key=row.last_name_key,
                          first_name_key=row.first_name_key, words=words) for key in sorted(keys)]
        if rows:
            db.session.execute(insert(resident_name_keys), rows)


def index_missing_names() -> int:
    """The search keys of the people who have none yet (inserted in bulk without them); their number."""
    ids = db.session.scalars(
        select(Resident.id).where(Resident.anonymised_at.is_(None),
                                  ~Resident.id.in_(select(resident_name_keys.c.resident_id)))
    ).all()
    index_names(ids)
    return len(ids)


def _site_residents(user):
    return select(resident_sites.c.resident_id).where(resident_sites.c.site_id.in_(user.site_ids))


def display_name(first_name: str, last_name: str, anonymised_at) -> str:
    """A resident's name as pages show it (Resident.full_name), also for lists read as rows."""
    if anonymised_at is not None:
        return _("Personne effacée")
    return f"{first_name} {last_name}"


def visible_to(user, query):
    """Restrict a Resident query to the residents of the user's sites (admins: everyone)."""
    if user.is_admin:
        return query
    return query.where(
        Resident.id.in_(select(resident_sites.c.resident_id).where(resident_sites.c.site_id.in_(user.site_ids)))
    )


def can_view(user, resident: Resident) -> bool:
    return user.is_admin or bool(resident.site_ids & user.site_ids)


def site_in_common(user, resident: Resident) -> int | None:
    """The site a change made by `user` to this person is recorded under: the first (by id) of the
    sites they share; None for an admin who works at none of them."""
    return next(iter(sorted(resident.site_ids & user.site_ids)), None)


def long_enough(text: str) -> bool:
    """Two letters of a name or four digits of a phone number: fewer would match half the list."""
    return len(fold(text)) >= 2 or sum(c.isdigit() for c in text or "") >= 4


NAME_ORDER = (Resident.last_name_key, Resident.first_name_key, Resident.id)


def phone_range(prefix: str) -> tuple[str, str | None]:
    """The E.164 numbers beginning with `prefix` ("+33612") lie in [low, high): "+33612" ≤ n < "+33613"
    (digits only, so any collation orders them so); high is None after "+999…"."""
    digits = prefix.rstrip("9")
    if digits in ("", "+"):
        return prefix, None
    return prefix, digits[:-1] + str(int(digits[-1]) + 1)


def search_query(user, text: str, limit: int, offset: int = 0):
    """The statement of `limit` residents from `offset` matching what was typed, in name order, among
    those `user` sees (everyone for no text, but those whose data was erased); None when the text is too
    short. It matches:
    - a name: every word typed begins a word of the first or last name, accents and case aside
      ("dup", "élo", "claire" for Marie-Claire, "dupont mar", "mar dupont");
    - a membership number, exactly;
    - the beginning of a phone number typed any way ("06 12", "+33 6 12", "0612").
    An erased person has no name, phone or number left to match.
    The name is found by one prefix (of the longest word typed) in ix_resident_name_keys_search, read in
    name order and stopped after `offset + limit` rows; phones by range in ix_residents_phone."""
    text = (text or "").strip()
    if not text:
        return (visible_to(user, select(Resident).where(Resident.anonymised_at.is_(None)))
                .order_by(*NAME_ORDER).limit(limit).offset(offset))
    branches = []
    words = name_words(text)
    if len(fold(text)) >= 2 and words and len(longest := max(words, key=len)) >= 2:
        keys = resident_name_keys.c
        names = select(keys.resident_id).where(keys.key == longest[:4])
        for word in words:
            if word != longest or len(word) > 4:
                names = names.where(keys.words.like(f"% {word}%"))  # letters and digits only: no wildcard
        if not user.is_admin:
            names = names.where(keys.resident_id.in_(_site_residents(user)))
        names = names.order_by(keys.last_name_key, keys.first_name_key, keys.resident_id).limit(offset + limit).subquery()
        branches.append(select(names.c.resident_id))
    if len(fold(text)) >= 2:
        branches.append(visible_to(user, select(Resident.id).where(Resident.membership_number == text)))
    prefix = contacts.phone_prefix(text)
    if prefix:
        low, high = phone_range(prefix)
        phones = select(Resident.id).where(Resident.phone >= low)
        if high:
            phones = phones.where(Resident.phone < high)
        # The first ones in name order only: the final sort then reads a few rows, not every number so begun.
        phones = visible_to(user, phones).order_by(*NAME_ORDER).limit(offset + limit).subquery()
        branches.append(select(phones.c.id))
    if not branches:
        return None
    return (select(Resident).where(Resident.id.in_(union(*branches)), Resident.anonymised_at.is_(None))
            .order_by(*NAME_ORDER).limit(limit).offset(offset))


def search(user, text: str, page: int = 1, per_page: int = 10, *, options=()) -> tuple[list[Resident], bool]:
    """Search as you type, a page at a time: (the page's residents, whether more follow). One
    statement: it reads one row more than the page instead of counting every match."""
    query = search_query(user, text, per_page + 1, (page - 1) * per_page) if long_enough(text) else None
    if query is None:
        return [], False
    found = list(db.session.scalars(query.options(*options)))
    return found[:per_page], len(found) > per_page


def likely_duplicates(user, first_name: str, last_name: str, phone: str) -> list[Resident]:
    """Same name and same phone (or same name with no phone): point it out before creating."""
    query = select(Resident).where(
        Resident.first_name_key == fold(first_name), Resident.last_name_key == fold(last_name)
    )
    number = contacts.normalise_phone(phone)
    if number:
        query = query.where(or_(Resident.phone == number, Resident.phone == ""))
    return list(db.session.scalars(visible_to(user, query).limit(5)))


def check_not_duplicate(user, first_name: str, last_name: str, phone: str, *, confirmed: bool) -> None:
    """Before creating a person: refuse with the likely duplicates, unless the agent confirmed."""
    if confirmed:
        return
    duplicates = likely_duplicates(user, first_name, last_name, phone)
    if duplicates:
        raise LikelyDuplicates(_("Une personne porte déjà ce nom avec ce numéro : la choisir ?") if phone
                               else _("Une personne porte déjà ce nom : la choisir ?"), duplicates)


def _require_names(first_name, last_name) -> None:
    if not fold(first_name) or not fold(last_name):
        raise ResidentError(_("Le prénom et le nom sont obligatoires."), field="last_name")


def create_resident(actor, site: Site, *, first_name, last_name, phone="", email="", membership_number="",
                    notes="") -> Resident:
    """Register a person at `site`; announces resident_created."""
    _require_names(first_name, last_name)
    resident = Resident(
        phone=contacts.normalise_phone(phone),
        email=contacts.normalise_email(email),
        membership_number=(membership_number or "").strip(),
        notes=(notes or "").strip(),
        created_by_id=getattr(actor, "id", None),
        created_at=now(),
    )
    resident.set_names(first_name, last_name)
    resident.sites = [site]
    db.session.add(resident)
    db.session.flush()
    index_names([resident.id])
    link_earlier_bookings(resident)
    announce(resident_created, resident_id=resident.id, site_id=site.id)
    return resident


def edit_resident(actor, resident_id: int, *, first_name, last_name, phone="", email="", membership_number="",
                  notes="") -> Resident:
    """Change a person's record (staff of one of their sites); announces resident_edited."""
    resident = db.session.get(Resident, resident_id)
    if resident is None or not can_view(actor, resident):
        raise ResidentError(_("Cette personne n'est pas inscrite dans vos structures."))
    _require_names(first_name, last_name)
    phone, email = contacts.normalise_phone(phone), contacts.normalise_email(email)
    contact_changed = (phone, email) != (resident.phone, resident.email)
    resident.set_names(first_name, last_name)
    resident.phone = phone
    resident.email = email
    resident.membership_number = membership_number or ""
    resident.notes = notes or ""
    db.session.flush()
    index_names([resident.id])
    if contact_changed:
        link_earlier_bookings(resident)
    announce(resident_edited, resident_id=resident.id)
    return resident


def link_earlier_bookings(resident: Resident) -> None:
    """The bookings this person made at their sites before the desk knew them (same phone or e-mail,
    no resident yet) become theirs: one UPDATE (reservations/identity.py link_bookings)."""
    from reservations.identity import link_bookings

    if resident.anonymised_at is not None:
        return
    keys = [key for key in (resident.phone, resident.email) if key]
    if keys:
        link_bookings(contact_keys=keys, site_ids=select(resident_sites.c.site_id).where(resident_sites.c.resident_id == resident.id))
