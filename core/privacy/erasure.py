"""Erasure: what names a person is removed everywhere; the rows that count stay, anonymous.

Two kinds of people:
- a resident (a record at the desk): `anonymise_residents` empties the record, the free text of their
  loans and of the device history of those loans, the contacts of their bookings (linked, or made with
  their phone or e-mail anywhere), the notes of those bookings' history, the messages to them and the
  consent events of their contacts;
- someone who only booked online (bookings without a resident): `anonymise_contacts` does the same
  for the bookings made with one contact.

Reports count people by resident id, and by contact for bookings without a resident: each contact is
replaced by its own pseudonym `anonyme-<random>` (the same for every booking that had it), so every
figure stays what it was. Both functions work on a batch in a constant number of statements, flush and
never commit (the caller's transaction: one request, or one batch of the nightly run).

Each erasure is recorded by pseudonymous keys only (the resident's id, or a keyed hash of the contact)
in `erasure_records` and in the erasure ledger file (ERASURE_LEDGER, outside the database): a backup
restored from before the erasure brings the person back, and `replay_erasures` (run by `restore` and
by every nightly retention run) erases them again.
"""
import hashlib
import hmac
import json
import logging
import os
import secrets
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import case, delete, func, insert, literal, or_, select, union, update

from core.clock import now
from core.errors import DomainError
from core.events import announce, resident_erased
from core.extensions import db
from core.residents import Resident, can_view, resident_name_keys

from .models import AccessAction, AccessRecord, ErasureCause, ErasureRecord

log = logging.getLogger(__name__)

PSEUDONYM_PREFIX = "anonyme-"
REASON_MAX = 200


class ErasureError(DomainError):
    pass


def contact_hash(contact_key: str) -> str:
    """A keyed hash of a contact (E.164 phone or e-mail): says nothing without the key."""
    key = (current_app.config.get("ERASURE_HASH_KEY") or current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, contact_key.encode(), hashlib.sha256).hexdigest()


def _pseudonyms(contact_keys) -> dict[str, str]:
    return {key: PSEUDONYM_PREFIX + secrets.token_hex(8) for key in sorted(set(contact_keys)) if key}


def _anonymise_bookings(where, pseudonyms: dict[str, str]) -> int:
    """Empty the contact of the bookings matching `where` (and the notes of their history, the
    messages about them); contacts become their pseudonyms. Returns the number of bookings."""
    from core.messaging.models import Message
    from reservations.models import Booking, BookingEvent

    booking_ids = select(Booking.id).where(where).scalar_subquery()
    db.session.execute(update(BookingEvent).where(BookingEvent.booking_id.in_(booking_ids), BookingEvent.note != "")
                       .values(note="").execution_options(synchronize_session=False))
    _empty_messages(Message.booking_id.in_(booking_ids))
    new_key = case(pseudonyms, value=Booking.contact_key, else_=Booking.contact_key) if pseudonyms else Booking.contact_key
    result = db.session.execute(
        update(Booking).where(where)
        .values(first_name="", phone="", email="", contact_key=new_key)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _empty_messages(where) -> None:
    from core.messaging.models import Message, MessageStatus

    unsent = (MessageStatus.held, MessageStatus.pending)
    db.session.execute(
        update(Message).where(where)
        .values(recipient="", subject="", body="", calendar=None,
                status=case((Message.status.in_(unsent), literal(MessageStatus.cancelled, Message.status.type)),
                            else_=Message.status))
        .execution_options(synchronize_session=False)
    )


def _pseudonymise_consents(pseudonyms: dict[str, str]) -> None:
    """Consent events of contacts nobody else still uses (a shared family phone keeps its STOP)."""
    from core.messaging.models import ConsentEvent
    from reservations.models import Booking

    if not pseudonyms:
        return
    keys = list(pseudonyms)
    still_used = set(db.session.scalars(union(
        select(Resident.phone).where(Resident.phone.in_(keys), Resident.anonymised_at.is_(None)),
        select(Resident.email).where(Resident.email.in_(keys), Resident.anonymised_at.is_(None)),
        select(Booking.contact_key).where(Booking.contact_key.in_(keys)),
    )))
    free = {key: value for key, value in pseudonyms.items() if key not in still_used}
    if free:
        db.session.execute(
            update(ConsentEvent).where(ConsentEvent.contact.in_(list(free)))
            .values(contact=case(free, value=ConsentEvent.contact))
            .execution_options(synchronize_session=False)
        )


def anonymise_residents(resident_ids, *, cause: ErasureCause, actor_id=None, reason="", record=True) -> int:
    """Anonymise these residents everywhere (those already anonymised are skipped); returns how many.
    `record=False`: an erasure replayed after a restore, already in the ledger."""
    from core.messaging.models import Message
    from loans.models import DeviceEvent, Loan
    from reservations.models import Booking

    rows = db.session.execute(
        select(Resident.id, Resident.phone, Resident.email)
        .where(Resident.id.in_(list(resident_ids)), Resident.anonymised_at.is_(None))
    ).all()
    if not rows:
        return 0
    ids = [row.id for row in rows]
    contacts = {value for row in rows for value in (row.phone, row.email) if value}
    pseudonyms = _pseudonyms(contacts)

    loan_ids = select(Loan.id).where(Loan.resident_id.in_(ids)).scalar_subquery()
    db.session.execute(update(DeviceEvent).where(DeviceEvent.loan_id.in_(loan_ids), DeviceEvent.note != "")
                       .values(note="").execution_options(synchronize_session=False))
    db.session.execute(update(Loan).where(Loan.resident_id.in_(ids))
                       .values(override_reason="", condition_out="", condition_in="")
                       .execution_options(synchronize_session=False))
    _empty_messages(or_(Message.resident_id.in_(ids), Message.loan_id.in_(loan_ids)))
    mine = Booking.resident_id.in_(ids)
    if contacts:
        mine = or_(mine, Booking.contact_key.in_(list(contacts)))
    _anonymise_bookings(mine, pseudonyms)
    at = now()
    db.session.execute(
        update(Resident).where(Resident.id.in_(ids))
        .values(first_name="", last_name="", first_name_key="", last_name_key="", phone="", email="",
                membership_number="", notes="", anonymised_at=at)
        .execution_options(synchronize_session=False)
    )
    # The search keys are made of the name: none is left (core/residents.py resident_name_keys).
    db.session.execute(delete(resident_name_keys).where(resident_name_keys.c.resident_id.in_(ids)))
    _pseudonymise_consents(pseudonyms)
    if record:
        _record(at, cause, actor_id, reason, [{"resident_id": resident_id} for resident_id in ids])
        for resident_id in ids:
            announce(resident_erased, resident_id=resident_id, contact_hash=None, cause=cause.value)
    db.session.expire_all()  # objects read before the bulk updates show the new values
    return len(ids)


def anonymise_contacts(contact_keys, *, cause: ErasureCause, actor_id=None, reason="", record=True) -> int:
    """Anonymise the bookings made with these contacts by people without a resident record; returns
    how many contacts had bookings to anonymise."""
    from reservations.models import Booking

    keys = [key for key in set(contact_keys) if key and not key.startswith(PSEUDONYM_PREFIX)]
    if not keys:
        return 0
    found = set(db.session.scalars(
        select(Booking.contact_key).where(Booking.contact_key.in_(keys), func.coalesce(Booking.resident_id, 0) == 0).distinct()
    ))
    if not found:
        return 0
    pseudonyms = _pseudonyms(found)
    # "No resident" through coalesce() here and above: on SQLite, `resident_id IS NULL` picks the index
    # of resident_id (NULL for every such booking) and reads them all, seconds per batch; this way the
    # contact's index is used (bench/retention.py).
    _anonymise_bookings(Booking.contact_key.in_(list(found)) & (func.coalesce(Booking.resident_id, 0) == 0), pseudonyms)
    _pseudonymise_consents(pseudonyms)
    if record:
        at = now()
        hashes = [contact_hash(key) for key in sorted(found)]
        _record(at, cause, actor_id, reason, [{"contact_hash": digest} for digest in hashes])
        for digest in hashes:
            announce(resident_erased, resident_id=None, contact_hash=digest, cause=cause.value)
    db.session.expire_all()
    return len(found)


def _record(at, cause: ErasureCause, actor_id, reason, keys: list[dict]) -> None:
    """The erasure records of a batch, in one INSERT (not one a row, as the ORM would on SQLite)."""
    rows = [{"at": at, "cause": cause, "resident_id": None, "contact_hash": None, "actor_id": actor_id, "reason": reason,
             **key} for key in keys]
    db.session.execute(insert(ErasureRecord.__table__), rows)


# Use cases -----------------------------------------------------------------------------------------


def clean_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise ErasureError(_("Indiquez la raison de l'effacement (par exemple : demande de la personne le 2 décembre)."),
                           field="reason")
    if len(reason) > REASON_MAX:
        raise ErasureError(_("La raison est trop longue (%(n)s caractères au plus).", n=REASON_MAX), field="reason")
    return reason


def erase_resident(actor, resident_id: int, *, reason: str) -> Resident:
    """"Effacer les données de cette personne": a manager of one of their sites, or an admin."""
    from loans.models import Loan

    resident = db.session.get(Resident, resident_id)
    if resident is None or not can_view(actor, resident):
        raise ErasureError(_("Cette personne n'est pas inscrite dans vos structures."), status=404)
    if not actor.is_manager:
        raise ErasureError(_("Seuls les responsables de site et la coordination peuvent effacer les données d'une personne."),
                           status=403)
    if resident.anonymised_at is not None:
        raise ErasureError(_("Les données de cette personne sont déjà effacées."), status=409)
    reason = clean_reason(reason)
    if db.session.scalar(select(Loan.id).where(Loan.resident_id == resident.id, Loan.is_open).limit(1)):
        raise ErasureError(_("Cette personne a encore un équipement en prêt : reprenez-le avant d'effacer ses données."),
                           field="reason", status=409)
    anonymise_residents([resident.id], cause=ErasureCause.request, actor_id=actor.id, reason=reason)
    db.session.add(AccessRecord(at=now(), user_id=actor.id, action=AccessAction.resident_erased, resident_id=resident.id))
    db.session.flush()
    return resident


def erase_own_bookings(booking) -> int:
    """A person who only booked online erases what is held with their contact, from their private link.
    Refused while they have a booking to come (they cancel it first) or a record at the desk."""
    from reservations.models import Booking

    if booking.resident_id is not None:
        raise ErasureError(_("Vous êtes inscrit à l'accueil du centre : demandez-leur d'effacer vos données."), status=409)
    if booking.contact_key.startswith(PSEUDONYM_PREFIX):
        raise ErasureError(_("Les données de cette réservation sont déjà effacées."), status=409)
    upcoming = db.session.scalar(
        select(Booking.id).where(Booking.contact_key == booking.contact_key, Booking.resident_id.is_(None),
                                 Booking.is_active, Booking.ends_at > now()).limit(1)
    )
    if upcoming:
        raise ErasureError(_("Vous avez encore une réservation à venir : annulez-la d'abord, puis effacez vos données."),
                           status=409)
    return anonymise_contacts([booking.contact_key], cause=ErasureCause.request, reason=_("Demande en ligne"))


# The ledger outside the database --------------------------------------------------------------------


def ledger_path() -> str:
    return current_app.config.get("ERASURE_LEDGER") or os.path.join(current_app.instance_path, "erasures.jsonl")


def _append_to_ledger(_sender=None, *, resident_id=None, contact_hash=None, cause="", **_payload) -> None:
    """After the commit: one line per erasure, pseudonymous keys only."""
    line = json.dumps({"at": now().isoformat(timespec="seconds"), "resident_id": resident_id,
                       "contact_hash": contact_hash, "cause": cause})
    path = ledger_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as ledger:
        ledger.write(line + "\n")


resident_erased.connect(_append_to_ledger)


def _ledger_entries() -> list[dict]:
    path = ledger_path()
    if not os.path.exists(path):
        return []
    entries = []
    with open(path, encoding="utf-8") as ledger:
        for line in ledger:
            try:
                entries.append(json.loads(line))
            except ValueError:
                log.warning("Erasure ledger: a line that is not JSON was skipped")
    return entries


def recorded_erasures() -> list[dict]:
    """The erasure records of the database, as ledger entries: `restore` reads them from the live
    database before replacing it, and hands them to replay_erasures afterwards."""
    return [{"at": row.at.isoformat(timespec="seconds"), "resident_id": row.resident_id, "contact_hash": row.contact_hash,
             "cause": row.cause.value} for row in db.session.scalars(select(ErasureRecord))]


def replay_erasures(carried=()) -> dict:
    """Erase again whoever an erasure names (in the ledger file, in erasure_records, or `carried` over
    from the database a restore replaced) and who is back. Returns {"residents": n, "contacts": n,
    "records": erasure records brought back}; flushes, the caller commits."""
    from reservations.models import Booking

    entries = _ledger_entries() + list(carried)
    in_table = db.session.execute(select(ErasureRecord.resident_id, ErasureRecord.contact_hash)).all()
    known = {(row.resident_id, row.contact_hash) for row in in_table}
    missing = {(e.get("resident_id"), e.get("contact_hash")): e for e in entries
               if (e.get("resident_id"), e.get("contact_hash")) not in known}
    # The database came back from before these erasures: their records come back from the ledger.
    db.session.add_all(
        ErasureRecord(at=datetime.fromisoformat(e["at"]), cause=ErasureCause(e.get("cause") or "request"),
                      resident_id=resident_id, contact_hash=digest)
        for (resident_id, digest), e in missing.items()
    )
    db.session.flush()
    hashes = {row[1] for row in known | set(missing) if row[1]}
    counts = {"residents": 0, "contacts": 0, "records": len(missing)}
    erased_ids = select(ErasureRecord.resident_id).where(ErasureRecord.resident_id.is_not(None))
    back = list(db.session.scalars(select(Resident.id).where(Resident.anonymised_at.is_(None), Resident.id.in_(erased_ids))))
    for start in range(0, len(back), 500):
        counts["residents"] += anonymise_residents(back[start:start + 500], cause=ErasureCause.request, record=False)
    if hashes:
        keys = db.session.scalars(select(Booking.contact_key).where(
            Booking.resident_id.is_(None), ~Booking.contact_key.startswith(PSEUDONYM_PREFIX)).distinct())
        again = [key for key in keys if contact_hash(key) in hashes]
        for start in range(0, len(again), 500):
            counts["contacts"] += anonymise_contacts(again[start:start + 500], cause=ErasureCause.request, record=False)
    return counts

