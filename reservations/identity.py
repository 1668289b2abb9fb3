"""The light identity of a resident without an account: a first name and a phone number or an e-mail,
and the link from a booking to the resident of its site who has that phone or e-mail.

Phones and e-mails are written one way everywhere (core/contacts.py): a booking's `contact_key` is the
E.164 phone (+33612345678) or the lower-cased e-mail, as a resident's `phone` or `email` is.
"""
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from core import contacts
from core.contacts import ContactError as IdentityError  # the forms catch it under this name
from core.extensions import db
from core.residents import Resident, resident_sites


@dataclass(frozen=True)
class Contact:
    phone: str  # E.164: +33612345678, +447700900123; "" when an e-mail was given
    email: str  # lower-cased; "" when a phone was given

    @property
    def key(self) -> str:
        return self.phone or self.email


def parse_contact(raw: str, field: str = "contact") -> Contact:
    value = (raw or "").strip()
    if not value:
        raise IdentityError(_("Écrivez votre numéro de téléphone ou votre adresse e-mail."), field=field)
    if "@" in value:
        return Contact(phone="", email=contacts.validated_email(value, field=field))
    return Contact(phone=contacts.normalise_phone(value, field=field), email="")


def clean_first_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise IdentityError(_("Écrivez votre prénom."), field="first_name")
    if len(name) > 60:
        raise IdentityError(_("Le prénom est trop long (60 caractères au plus)."), field="first_name")
    return name


# --- the link to a resident ----------------------------------------------------------------------


def _matching_resident(site_id, contact_key):
    """The lowest id among the residents of the site (not anonymised) whose phone or e-mail is the key."""
    return (
        select(func.min(Resident.id))
        .join(resident_sites, resident_sites.c.resident_id == Resident.id)
        .where(resident_sites.c.site_id == site_id, Resident.anonymised_at.is_(None),
               or_(Resident.phone == contact_key, Resident.email == contact_key))
    )


def resident_for(site_id: int, contact_key: str) -> int | None:
    """The resident a new booking at this site with this contact belongs to (one statement), or None."""
    if not contact_key or contacts.is_pseudonym(contact_key):
        return None
    return db.session.scalar(_matching_resident(site_id, contact_key))


def link_bookings(*, contact_keys=None, site_ids=None, booking_ids=None) -> int:
    """Link the bookings without a resident (of these contacts, sites or ids) to the resident of their
    site who has their contact: one UPDATE, however many rows. Returns the number of rows linked."""
    from .models import Booking

    candidate = _matching_resident(Booking.site_id, Booking.contact_key).correlate(Booking).scalar_subquery()
    conditions = [Booking.resident_id.is_(None), ~Booking.contact_key.startswith(contacts.ANONYMOUS_PREFIX), candidate.is_not(None)]
    if contact_keys is not None:
        conditions.append(Booking.contact_key.in_(list(contact_keys)))
    if site_ids is not None:
        conditions.append(Booking.site_id.in_(site_ids))
    if booking_ids is not None:
        conditions.append(Booking.id.in_(list(booking_ids)))
    return db.session.execute(
        update(Booking).where(*conditions).values(resident_id=candidate).execution_options(synchronize_session=False)
    ).rowcount
