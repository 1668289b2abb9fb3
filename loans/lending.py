"""Lending rules and the desk's use cases: lend (at the desk, with a new person in the same form),
take back, extend, declare lost during a loan, found again, replace a missing accessory.

Each use case takes plain values and the actor, raises LoanError (a DomainError) for a broken rule,
flushes without committing (the view's core.answers.attempt commits) and announces its event
(core/events.py), delivered once the transaction is kept.

Each verb locks the device row first (SELECT … FOR UPDATE on PostgreSQL; on SQLite the
transaction already holds the write lock, see core/db.py), re-checks the state, then writes
the loan and the device status in the same transaction. The partial unique index
uq_loans_open_device is the last guard: a second open loan for a device cannot exist.

Lending also locks the resident's row before counting their open loans: two desks lending two
different devices to the same person at once each hold their own device's lock, so only the
resident's lock makes the second desk wait and count the first desk's loan.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core import hours, residents
from core.clock import PARIS, now, today
from core.db import is_unique_violation
from core.errors import DomainError
from core.events import announce, device_found_again, loan_declared_lost, loan_extended, loan_lent, loan_returned
from core.extensions import db
from core.models import Site, User
from core.residents import Resident

from .models import Device, DeviceAction, DeviceKind, DeviceStatus, Loan, LoanOutcome, LoanPolicy, MissingAccessory
from .operations import lock_device, record

DEFAULT_DAYS = {"laptop": 14, "tablet": 14, "dongle": 30}
FALLBACK_DAYS = 14
MAX_LOAN_DAYS = 366

NOT_LENDABLE = {
    DeviceStatus.on_loan: _l("Cet équipement est déjà en prêt. Reprenez-le d'abord s'il vient d'être rendu."),
    DeviceStatus.in_repair: _l("Cet équipement est en réparation : il ne peut pas être prêté. Choisissez-en un autre."),
    DeviceStatus.lost: _l("Cet équipement est déclaré perdu : il ne peut pas être prêté. "
                          "S'il est retrouvé, enregistrez-le d'abord comme retrouvé."),
    DeviceStatus.retired: _l("Cet équipement est réformé : il ne peut plus être prêté."),
}


class LoanError(DomainError):
    pass


class OverLimit(LoanError):
    """The resident already holds the site's limit of this kind: a refusal (409) next to the
    override reason, which only a manager may give (can_override_limit)."""

    status = 409


# --- who may do what -------------------------------------------------------------------------


def can_lend(user: User, device: Device) -> bool:
    """Staff of the site where the device is now, when it is available."""
    return user.is_authenticated and device.is_available and user.can_access_site(device.current_site_id)


def can_take_back(user: User, device: Device) -> bool:
    """Returns are accepted at any site of the network."""
    return user.is_authenticated and device.is_on_loan and (user.is_admin or bool(user.site_ids))


def can_replace_accessory(user: User, device: Device) -> bool:
    """Staff of the device's sites (home or where it is now) put a new charger or mouse with it."""
    return user.is_authenticated and (user.is_admin or bool(device.site_ids & user.site_ids))


def can_see_borrower(user: User, loan: Loan) -> bool:
    return user.is_admin or loan.site_id in user.site_ids or loan.device.home_site_id in user.site_ids


def can_override_limit(user: User) -> bool:
    return user.is_manager


def can_extend(user: User, loan: Loan) -> bool:
    """The lending site or the home site (they know the resident); extend() checks the same."""
    return user.is_authenticated and loan.is_open and can_see_borrower(user, loan)


def can_declare_lost(user: User, loan: Loan) -> bool:
    return user.is_authenticated and loan.is_open and can_see_borrower(user, loan)


def can_find_again(user: User, device: Device) -> bool:
    """A lost device may be brought to any desk of the network, like a return."""
    return user.is_authenticated and device.is_lost and (user.is_admin or bool(user.site_ids))


def days_late(loan: Loan) -> int:
    """Whole days past the due date of an open loan (0 when not late)."""
    if not loan.is_open:
        return 0
    return max(0, (today() - loan.due_on).days)


# --- policies --------------------------------------------------------------------------------


def policy_for(site_id: int, kind: DeviceKind) -> tuple[int, int]:
    """(default loan days, max devices of this kind per resident at once) for a site."""
    policy = db.session.scalar(select(LoanPolicy).where(LoanPolicy.site_id == site_id, LoanPolicy.kind_id == kind.id))
    if policy is not None:
        return policy.default_days, policy.max_per_resident
    return DEFAULT_DAYS.get(kind.code, FALLBACK_DAYS), 1


def default_due_date(site_id: int, kind: DeviceKind) -> date:
    """The policy's number of days, moved to the next day the site's desk is open (desk hours and
    site-wide closures, core/hours.py). A loan for use on the spot (0 days) stays today."""
    days, _max = policy_for(site_id, kind)
    if days == 0:
        return today()
    return hours.next_open_day(db.session.get(Site, site_id), today() + timedelta(days=days))


def due_date_warning(site_id: int, due_on: date) -> str | None:
    """The warning for a chosen or extended due date on which the lending site's desk is closed."""
    return hours.closed_day_warning(db.session.get(Site, site_id), due_on)


def site_policies(site_id: int, kinds: list[DeviceKind]) -> dict[int, tuple[int, int]]:
    """kind id → (default loan days, max per resident) at a site, defaults included (one query)."""
    saved = {p.kind_id: p for p in db.session.scalars(select(LoanPolicy).where(LoanPolicy.site_id == site_id))}
    return {
        kind.id: (saved[kind.id].default_days, saved[kind.id].max_per_resident) if kind.id in saved
        else (DEFAULT_DAYS.get(kind.code, FALLBACK_DAYS), 1)
        for kind in kinds
    }


def set_policies(actor: User, site_id: int, rules: dict[int, tuple[int, int]]) -> None:
    """The site's loan rules form: kind id → (default loan days, max per resident), set by its managers."""
    if not (actor.is_manager and actor.can_access_site(site_id)):
        raise LoanError(_("Seuls les responsables de la structure peuvent changer ses règles de prêt."))
    for kind_id, (default_days, max_per_resident) in rules.items():
        set_policy(site_id, kind_id, default_days, max_per_resident)


def set_policy(site_id: int, kind_id: int, default_days: int, max_per_resident: int) -> LoanPolicy:
    policy = db.session.scalar(select(LoanPolicy).where(LoanPolicy.site_id == site_id, LoanPolicy.kind_id == kind_id))
    if policy is None:
        policy = LoanPolicy(site_id=site_id, kind_id=kind_id)
        db.session.add(policy)
    policy.default_days = default_days
    policy.max_per_resident = max_per_resident
    db.session.flush()
    return policy


# --- queries ---------------------------------------------------------------------------------


def open_loan(device_id: int) -> Loan | None:
    return db.session.scalar(select(Loan).where(Loan.device_id == device_id, Loan.is_open))


def find_by_form_key(form_key: str) -> Loan | None:
    return db.session.scalar(select(Loan).where(Loan.form_key == form_key)) if form_key else None


def open_loans_of_kind(resident_id: int, kind_id: int, site_id: int) -> int:
    return db.session.scalar(
        select(func.count(Loan.id))
        .join(Device, Device.id == Loan.device_id)
        .where(
            Loan.resident_id == resident_id,
            Loan.is_open,
            Loan.site_id == site_id,
            Device.kind_id == kind_id,
        )
    )


@dataclass
class LoansAtDesk:
    """What the lend form's search results tell about a person before the agent lends."""

    loans: list[dict] = field(default_factory=list)  # {"kind", "tag", "due_on", "late"}, soonest due first
    of_kind_here: int = 0  # open loans of the lent device's kind at its site: what the limit counts
    limit: int | None = None

    @property
    def limit_reached(self) -> bool:
        return self.limit is not None and self.of_kind_here >= self.limit

    @property
    def late_count(self) -> int:
        return sum(1 for loan in self.loans if loan["late"])


def loans_at_desk(user: User, resident_ids: list[int], device: Device | None = None) -> dict[int, LoansAtDesk]:
    """The open loans of a page of residents that `user` may see (lent by, or devices of, their sites),
    and, for `device`, whether its kind's limit is reached at its site. Two queries, whatever the page."""
    summaries = {resident_id: LoansAtDesk() for resident_id in resident_ids}
    if not resident_ids:
        return summaries
    query = (
        select(Loan.resident_id, Loan.site_id, Loan.due_on, Device.tag, Device.kind_id, DeviceKind.name)
        .join(Device, Device.id == Loan.device_id)
        .join(DeviceKind, DeviceKind.id == Device.kind_id)
        .where(Loan.is_open, Loan.resident_id.in_(resident_ids))
        .order_by(Loan.due_on, Loan.id)
    )
    if not user.is_admin:
        sites = sorted(user.site_ids)
        query = query.where(Loan.site_id.in_(sites) | Device.home_site_id.in_(sites))
    limit = policy_for(device.current_site_id, device.kind)[1] if device is not None else None
    day = today()
    for resident_id, site_id, due_on, tag, kind_id, kind_name in db.session.execute(query):
        summary = summaries[resident_id]
        summary.loans.append({"kind": kind_name, "tag": tag, "due_on": due_on, "late": due_on < day})
        if device is not None and kind_id == device.kind_id and site_id == device.current_site_id:
            summary.of_kind_here += 1
    for summary in summaries.values():
        summary.limit = limit
    return summaries


def lock_resident(resident_id: int) -> None:
    """Hold the resident's row until the end of the transaction (PostgreSQL; SQLite already holds
    the write lock), so that their open loans are counted by one desk at a time."""
    db.session.execute(select(Resident.id).where(Resident.id == resident_id).with_for_update())


# --- operations ------------------------------------------------------------------------------


def _lend(
    actor: User,
    device_id: int,
    resident: Resident,
    *,
    due_on: date,
    accessories: list[str],
    charter_method: str | None,
    condition: str = "",
    form_key: str | None = None,
    override_reason: str = "",
) -> tuple[Loan, bool]:
    """Lend a device: (the loan, True), or (the loan it made, False) for a form already handled."""
    device = lock_device(device_id)
    # Asked under the device's lock: a copy of this form sent at the same instant (a double click) may
    # have lent the device while we waited; it is this agent's own loan, not a refusal. (lend_at_desk
    # asks before too, so that a form sent again changes nothing.)
    existing = find_by_form_key(form_key)
    if existing is not None:
        return existing, False
    site_id = device.current_site_id
    if not actor.can_access_site(site_id):
        raise LoanError(_("Cet équipement est dans une autre structure : il ne peut être prêté que là-bas."))
    if not device.is_available:
        raise LoanError(str(NOT_LENDABLE[device.status]))
    if not residents.can_view(actor, resident):
        raise LoanError(_("Cette personne n'est pas inscrite dans vos structures."), field="resident")
    if due_on is None:
        raise LoanError(_("Indiquez la date de retour."), field="due_on")
    if due_on < today():
        raise LoanError(_("La date de retour ne peut pas être avant le début du prêt."), field="due_on")
    if due_on > today() + timedelta(days=MAX_LOAN_DAYS):
        raise LoanError(_("La date de retour est à plus d'un an : vérifiez-la."), field="due_on")
    if charter_method not in ("ticked", "signed"):
        raise LoanError(_("La personne doit accepter la charte de prêt avant de partir avec l'équipement."), field="charter")
    unknown = set(accessories) - set(device.accessory_list)
    if unknown:
        raise LoanError(_("Accessoire inconnu pour cet équipement."), field="accessories")
    gone = [a for a in accessories if a not in set(device.present_accessories)]
    if gone:
        raise LoanError(_("Cet accessoire manque depuis un prêt précédent : il ne peut pas être remis (%(list)s).",
                          list=", ".join(gone)), field="accessories")
    _days, limit = policy_for(site_id, device.kind)
    override_reason = (override_reason or "").strip()
    lock_resident(resident.id)
    if open_loans_of_kind(resident.id, device.kind_id, site_id) >= limit:
        manager = can_override_limit(actor)
        if not override_reason:
            raise OverLimit(
                _("Cette personne a déjà %(n)s %(kind)s en prêt ici (limite : %(n)s).", n=limit, kind=device.kind.name.lower())
                + " "
                + (_("Pour dépasser la limite, indiquez une raison.") if manager
                   else _("Seul un responsable peut dépasser cette limite.")),
                field="override_reason" if manager else None,  # only a manager is shown the reason field
            )
        if not manager:
            raise OverLimit(_("Seul un responsable peut dépasser cette limite."))

    started = now()
    loan = Loan(
        device_id=device.id,
        resident_id=resident.id,
        site_id=site_id,
        lent_by_id=actor.id,
        started_at=started,
        due_on=due_on,
        accessories_out="\n".join(a for a in device.present_accessories if a in set(accessories)),
        condition_out=(condition or "").strip(),
        charter_method=charter_method,
        override_reason=override_reason,
        form_key=form_key or None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(loan)
            db.session.flush()
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        existing = find_by_form_key(form_key)
        if existing is not None:
            return existing, False
        raise LoanError(str(NOT_LENDABLE[DeviceStatus.on_loan])) from exc
    device.status = DeviceStatus.on_loan
    resident.charter_accepted_at = started
    if site_id not in resident.site_ids:
        resident.sites.append(db.session.get(Site, site_id))
    note = _("Retour prévu le %(date)s", date=due_on.strftime("%d/%m/%Y"))
    if override_reason:
        note += " — " + _("limite dépassée : %(reason)s", reason=override_reason)
    event = record(device, actor, site_id, DeviceAction.lend, from_status=DeviceStatus.available,
                   to_status=DeviceStatus.on_loan, note=note)
    event.loan = loan
    db.session.flush()
    announce(loan_lent, loan_id=loan.id, device_id=device.id, resident_id=resident.id, site_id=site_id, due_on=due_on)
    return loan, True


def lend(actor: User, device_id: int, resident: Resident, **terms) -> Loan:
    """Lend a device (the rules of _lend). A repeated submission of the same form returns the loan it created."""
    return _lend(actor, device_id, resident, **terms)[0]


@dataclass(frozen=True)
class DeskLoan:
    loan: Loan
    replayed: bool  # the form had already been handled: nothing new was lent


@dataclass(frozen=True)
class NewPerson:
    """The person typed into the lend form, registered with the loan."""

    first_name: str
    last_name: str
    phone: str = ""
    email: str = ""
    membership_number: str = ""
    confirmed: bool = False  # the agent said it is not one of the likely duplicates


def lend_at_desk(
    actor: User,
    device_id: int,
    *,
    resident_id: int | None = None,
    new_person: NewPerson | None = None,
    due_on: date,
    accessories: list[str],
    charter_method: str | None,
    condition: str = "",
    form_key: str | None = None,
    override_reason: str = "",
) -> DeskLoan:
    """The lend form: to a chosen resident (`resident_id`) or to a person registered in the same form
    (`new_person`: refused with residents.LikelyDuplicates when they may already exist).

    A form already handled (same form_key) returns its loan and changes nothing: a person typed in
    it again is not registered a second time.
    """
    done = find_by_form_key(form_key)
    if done is not None:
        return DeskLoan(done, replayed=True)
    if not can_override_limit(actor):
        override_reason = ""  # only a manager's reason lifts the limit
    terms = dict(due_on=due_on, accessories=accessories, charter_method=charter_method, condition=condition,
                 form_key=form_key, override_reason=override_reason)
    if new_person is None:
        resident = db.session.scalar(residents.visible_to(actor, select(Resident).where(Resident.id == resident_id)))
        if resident is None:
            raise LoanError(_("Cette personne n'est pas inscrite dans vos structures : cherchez-la à nouveau."),
                            field="resident")
        loan, made = _lend(actor, device_id, resident, **terms)
        return DeskLoan(loan, replayed=not made)
    residents.check_not_duplicate(actor, new_person.first_name, new_person.last_name, new_person.phone,
                                  confirmed=new_person.confirmed)
    device = db.session.get(Device, device_id)
    if device is None:
        raise LoanError(_("Cet équipement n'existe pas."))
    # In a savepoint: when a copy of this form sent at the same instant made the loan first, lend()
    # returns that loan and the person registered here is dropped with the savepoint.
    savepoint = db.session.begin_nested()
    created = residents.create_resident(
        actor, device.current_site, first_name=new_person.first_name, last_name=new_person.last_name,
        phone=new_person.phone, email=new_person.email, membership_number=new_person.membership_number,
    )
    loan, made = _lend(actor, device_id, created, **terms)
    if made:
        savepoint.commit()
    else:
        savepoint.rollback()
    return DeskLoan(loan, replayed=not made)


def take_back(
    actor: User,
    device_id: int,
    *,
    site_id: int,
    accessories_returned: list[str],
    condition: str = "",
    damaged: bool = False,
    data_wiped: bool = False,
) -> Loan:
    """Take a device back at any site of the network; it stays at that site."""
    if not actor.can_access_site(site_id):
        raise LoanError(_("Choisissez une de vos structures."), field="site")
    device = lock_device(device_id)
    if not device.is_on_loan:
        raise LoanError(_("Cet équipement n'est pas en prêt : il n'y a rien à reprendre."))
    loan = open_loan(device.id)
    if loan is None:  # status and loans disagree: never expected, refuse rather than guess
        raise LoanError(_("Aucun prêt en cours n'est enregistré pour cet équipement. Prévenez un responsable."))
    if device.kind.holds_personal_data and not damaged and not data_wiped:
        raise LoanError(
            _("Confirmez que les données personnelles de la personne ont été effacées avant de remettre l'appareil en prêt."),
            field="data_wiped",
        )
    missing = [a for a in loan.accessories_out_list if a not in set(accessories_returned)]
    loan.closed_at = now()
    loan.outcome = LoanOutcome.returned
    loan.closed_site_id = site_id
    loan.closed_by_id = actor.id
    loan.accessories_missing = "\n".join(missing)
    loan.condition_in = (condition or "").strip()
    loan.damaged = bool(damaged)
    loan.data_wiped = bool(data_wiped) if device.kind.holds_personal_data else None
    device.current_site_id = site_id
    device.status = DeviceStatus.in_repair if damaged else DeviceStatus.available
    if loan.condition_in:
        device.condition_notes = loan.condition_in
    # What did not come back is no longer part of the device: the next loan will not offer it.
    already = {m.name for m in device.missing_accessories}
    for name in missing:
        if name not in already:
            device.missing_accessories.append(MissingAccessory(name=name, since=loan.closed_at, loan_id=loan.id))
    parts = []
    if missing:
        parts.append(_("accessoires manquants : %(list)s", list=", ".join(missing)))
    if damaged:
        parts.append(_("abîmé, envoyé en réparation"))
    event = record(device, actor, site_id, DeviceAction.take_back, from_status=DeviceStatus.on_loan,
                   to_status=device.status, note=" ; ".join(parts))
    event.loan = loan
    db.session.flush()
    announce(loan_returned, loan_id=loan.id, device_id=device.id, resident_id=loan.resident_id, site_id=site_id)
    return loan


def extend(actor: User, device_id: int, *, new_due_on: date, agreed_by: str) -> Loan:
    device = lock_device(device_id)
    loan = open_loan(device.id)
    if loan is None:
        raise LoanError(_("Cet équipement n'est pas en prêt : il n'y a rien à prolonger."))
    if not actor.can_access_site(loan.site_id) and not actor.can_access_site(device.home_site_id):
        raise LoanError(_("Seule la structure qui a prêté l'équipement peut prolonger le prêt."))
    agreed_by = (agreed_by or "").strip()
    if not agreed_by:
        raise LoanError(_("Indiquez qui a accepté la prolongation."), field="agreed_by")
    if new_due_on is None or new_due_on <= loan.due_on or new_due_on < today():
        raise LoanError(_("La nouvelle date doit être après la date de retour prévue (%(date)s).",
                          date=loan.due_on.strftime("%d/%m/%Y")), field="new_due_on")
    if new_due_on > today() + timedelta(days=MAX_LOAN_DAYS):
        raise LoanError(_("La nouvelle date est à plus d'un an : vérifiez-la."), field="new_due_on")
    old = loan.due_on
    loan.due_on = new_due_on
    event = record(device, actor, loan.site_id, DeviceAction.extend, from_status=device.status, to_status=device.status,
                   note=_("du %(old)s au %(new)s, accord de %(who)s", old=old.strftime("%d/%m/%Y"),
                          new=new_due_on.strftime("%d/%m/%Y"), who=agreed_by))
    event.loan = loan
    db.session.flush()
    announce(loan_extended, loan_id=loan.id, device_id=device.id, resident_id=loan.resident_id, due_on=new_due_on)
    return loan


def declare_lost(actor: User, device_id: int, *, note: str = "") -> Loan:
    """The resident reports the device lost: the loan closes, the device is lost."""
    device = lock_device(device_id)
    loan = open_loan(device.id)
    if not device.is_on_loan or loan is None:
        raise LoanError(_("Cet équipement n'est pas en prêt. Pour un équipement perdu à la structure, utilisez l'inventaire."))
    if not actor.can_access_site(loan.site_id) and not actor.can_access_site(device.home_site_id):
        raise LoanError(_("Seule la structure qui a prêté l'équipement peut le déclarer perdu."))
    loan.closed_at = now()
    loan.outcome = LoanOutcome.lost
    loan.closed_site_id = loan.site_id
    loan.closed_by_id = actor.id
    device.status = DeviceStatus.lost
    event = record(device, actor, loan.site_id, DeviceAction.loan_lost, from_status=DeviceStatus.on_loan,
                   to_status=DeviceStatus.lost, note=(note or "").strip())
    event.loan = loan
    db.session.flush()
    announce(loan_declared_lost, loan_id=loan.id, device_id=device.id, resident_id=loan.resident_id)
    return loan


def found_again(actor: User, device_id: int, *, site_id: int, note: str = "") -> Device:
    """A lost device is brought back to a desk: available again, at that site."""
    if not actor.can_access_site(site_id):
        raise LoanError(_("Choisissez une de vos structures."), field="site")
    device = lock_device(device_id)
    if not device.is_lost:
        raise LoanError(_("Cet équipement n'est pas déclaré perdu."))
    device.status = DeviceStatus.available
    device.current_site_id = site_id
    record(device, actor, site_id, DeviceAction.found, from_status=DeviceStatus.lost,
           to_status=DeviceStatus.available, note=(note or "").strip())
    db.session.flush()
    announce(device_found_again, device_id=device.id, site_id=site_id)
    return device


def replace_accessory(actor: User, device_id: int, name: str) -> Device:
    """A missing accessory was replaced: the device has it again, and the next loans offer it."""
    device = lock_device(device_id)
    if not can_replace_accessory(actor, device):
        raise LoanError(_("Seul le personnel des structures de cet équipement peut noter un accessoire remplacé."))
    missing = next((m for m in device.missing_accessories if m.name == name), None)
    if missing is None:
        raise LoanError(_("Cet accessoire n'est pas noté manquant : rien à remplacer."))
    device.missing_accessories.remove(missing)
    site_id = device.current_site_id if actor.can_access_site(device.current_site_id) else device.home_site_id
    record(device, actor, site_id, DeviceAction.accessory_replaced, from_status=device.status, to_status=device.status,
           note=_("%(name)s (manquait depuis le %(date)s)", name=name,
                  date=missing.since.astimezone(PARIS).strftime("%d/%m/%Y")))
    db.session.flush()
    return device
