"""Inventory rules and use cases: add and edit a device, the named status actions (send to repair,
back from repair, declare lost, retire, transfer), device kinds, the bulk insert of a CSV import.

Each action is one verb with a can_<verb> predicate that views and templates share. Use cases raise
DeviceError (a DomainError) and flush; the view's core.answers.attempt commits. Every change writes
a DeviceEvent (who, when, what, which site).
"""
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.clock import now
from core.db import is_unique_violation
from core.errors import DomainError
from core.extensions import db
from core.models import Site, User

from . import tags
from .models import Device, DeviceAction, DeviceEvent, DeviceKind, DeviceStatus


class DeviceError(DomainError):
    pass


SERIAL_TAKEN = _l("Ce numéro de série est déjà dans l'inventaire.")


# --- who may do what -------------------------------------------------------------------------


def can_view(user: User, device: Device) -> bool:
    return user.is_authenticated and (user.is_admin or bool(device.site_ids & user.site_ids))


def can_manage(user: User, device: Device) -> bool:
    """Inventory changes: managers of the device's home site, and admins."""
    return user.is_authenticated and user.is_manager and user.can_access_site(device.home_site_id)


def can_manage_site(user: User, site_id: int) -> bool:
    return user.is_authenticated and user.is_manager and user.can_access_site(site_id)


@dataclass(frozen=True)
class Transition:
    action: DeviceAction
    allowed_from: tuple[DeviceStatus, ...]
    to: DeviceStatus | None  # None: status unchanged
    button: object  # lazy French strings
    done: object


S = DeviceStatus
TRANSITIONS = {
    "send_to_repair": Transition(DeviceAction.send_to_repair, (S.available,), S.in_repair,
                                 _l("Envoyer en réparation"), _l("Équipement %(tag)s envoyé en réparation.")),
    "back_from_repair": Transition(DeviceAction.back_from_repair, (S.in_repair,), S.available, _l("Retour de réparation"),
                                   _l("Équipement %(tag)s revenu de réparation : il est disponible.")),
    "declare_lost": Transition(DeviceAction.declare_lost, (S.available, S.in_repair), S.lost,
                               _l("Déclarer perdu"), _l("Équipement %(tag)s déclaré perdu.")),
    "retire": Transition(DeviceAction.retire, (S.available, S.in_repair, S.lost), S.retired,
                         _l("Réformer"), _l("Équipement %(tag)s réformé.")),
    "transfer": Transition(DeviceAction.transfer, (S.available,), None, _l("Transférer vers une autre structure"),
                           _l("Équipement %(tag)s transféré vers %(site)s.")),
}

REFUSALS = {
    S.on_loan: _l("Cet équipement est en prêt : il faut d'abord le reprendre."),
    S.in_repair: _l("Cet équipement est en réparation."),
    S.lost: _l("Cet équipement est déclaré perdu."),
    S.retired: _l("Cet équipement est réformé : plus aucune action n'est possible."),
    S.available: _l("Cet équipement est disponible."),
}


def can(verb: str, user: User, device: Device) -> bool:
    transition = TRANSITIONS[verb]
    return can_manage(user, device) and device.status in transition.allowed_from


def available_actions(user: User, device: Device) -> list[tuple[str, Transition]]:
    return [(verb, t) for verb, t in TRANSITIONS.items() if can(verb, user, device)]


# --- loading ---------------------------------------------------------------------------------


def lock_device(device_id: int) -> Device:
    """Re-read the device under a row lock (PostgreSQL); SQLite already holds the write lock."""
    device = db.session.scalar(
        select(Device).where(Device.id == device_id).with_for_update(of=Device).execution_options(populate_existing=True)
    )
    if device is None:
        raise DeviceError(_("Cet équipement n'existe pas."))
    return device


# --- operations ------------------------------------------------------------------------------


def record(device: Device, actor: User | None, site_id: int, action: DeviceAction, *, from_status=None,
           to_status=None, note: str = "", to_site_id: int | None = None) -> DeviceEvent:
    event = DeviceEvent(
        device=device,
        actor_id=actor.id if actor is not None and getattr(actor, "id", None) else None,
        site_id=site_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        to_site_id=to_site_id,
        note=note,
        at=now(),
    )
    db.session.add(event)
    return event


def create_device(actor: User | None, site: Site, kind: DeviceKind, *, action=DeviceAction.created, **fields) -> Device:
    """Add a device with a fresh asset tag. A tag collision (two creations at once) retries."""
    serial = (fields.pop("serial_number", None) or "").strip() or None
    for _attempt in range(10):
        device = Device(
            tag=tags.generate(),
            kind=kind,
            home_site_id=site.id,
            current_site_id=site.id,
            status=DeviceStatus.available,
            serial_number=serial,
            **fields,
        )
        try:
            with db.session.begin_nested():
                db.session.add(device)
                db.session.flush()
        except IntegrityError as exc:
            if serial and _serial_taken(serial):
                raise DeviceError(SERIAL_TAKEN, field="serial_number") from exc
            if not is_unique_violation(exc):
                raise
            continue
        record(device, actor, site.id, action, to_status=DeviceStatus.available)
        return device
    raise DeviceError(_("Impossible de créer un code unique ; réessayez."), field="serial_number")


def add_device(actor: User, site_id: int, kind_id: int, **fields) -> Device:
    """The new-device form: a manager adds a device to one of their sites."""
    site, kind = db.session.get(Site, site_id), db.session.get(DeviceKind, kind_id)
    if site is None or kind is None or not can_manage_site(actor, site.id):
        raise DeviceError(_("Choisissez une de vos structures."), field="home_site")
    return create_device(actor, site, kind, **fields)


def _serial_taken(serial: str, except_id: int | None = None) -> bool:
    query = select(Device.id).where(Device.serial_number == serial)
    if except_id is not None:
        query = query.where(Device.id != except_id)
    return db.session.scalar(query) is not None


EDITABLE = (
    "kind", "brand", "model", "serial_number", "imei", "phone_number", "operator", "data_plan", "accessories",
    "condition_notes", "funding", "purchase_date", "purchase_price", "notes",
)


FIELD_LABELS = {
    "kind": _l("type"), "brand": _l("marque"), "model": _l("modèle"), "serial_number": _l("numéro de série"),
    "imei": _l("IMEI"), "phone_number": _l("numéro de la SIM"), "operator": _l("opérateur"), "data_plan": _l("forfait"),
    "accessories": _l("accessoires"), "condition_notes": _l("état du matériel"), "funding": _l("financement"),
    "purchase_date": _l("date d'achat"), "purchase_price": _l("prix d'achat"), "notes": _l("notes"),
}


def update_device(actor: User, device: Device, site_id: int, **fields) -> Device:
    """Edit the descriptive fields. Tag, sites and status never change here."""
    if not can_manage(actor, device):
        raise DeviceError(_("Seuls les responsables de la structure peuvent modifier cet équipement."))
    serial = (fields.get("serial_number") or "").strip() or None
    if serial and _serial_taken(serial, except_id=device.id):
        raise DeviceError(SERIAL_TAKEN, field="serial_number")
    fields["serial_number"] = serial
    changed = []
    for name in EDITABLE:
        if name in fields and getattr(device, name) != fields[name]:
            setattr(device, name, fields[name])
            changed.append(name)
    if "accessories" in changed:
        # An accessory taken off the list is no longer "missing": it no longer belongs with the device.
        listed = set(device.accessory_list)
        for missing in [m for m in device.missing_accessories if m.name not in listed]:
            device.missing_accessories.remove(missing)
    if changed:
        labels = ", ".join(str(FIELD_LABELS.get(name, name)) for name in changed)
        record(device, actor, site_id, DeviceAction.edited, note=_("Modifié : %(fields)s", fields=labels))
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # the same serial saved elsewhere at the same instant
        if not is_unique_violation(exc):
            raise
        raise DeviceError(SERIAL_TAKEN, field="serial_number") from exc
    return device


def edit_device(actor: User, device_id: int, kind_id: int, **fields) -> Device:
    """The device form: its manager changes what it is (the kind among them), where it acts from."""
    device = db.session.get(Device, device_id)
    if device is None:
        raise DeviceError(_("Cet équipement n'existe pas."))
    fields["kind"] = db.session.get(DeviceKind, kind_id)
    if fields["kind"] is None:
        raise DeviceError(_("Choisissez un type d'équipement dans la liste."), field="kind")
    return update_device(actor, device, acting_site_id(actor, device), **fields)


def apply(verb: str, actor: User, device_id: int, *, site_id: int, note: str = "", to_site: Site | None = None) -> Device:
    """Run a named status action under the device's lock."""
    transition = TRANSITIONS[verb]
    device = lock_device(device_id)
    if not can_manage(actor, device):
        raise DeviceError(_("Seuls les responsables de la structure de cet équipement peuvent faire cette action."))
    if device.status not in transition.allowed_from:
        raise DeviceError(f"{REFUSALS[device.status]} " + _("L'action « %(action)s » n'est pas possible.", action=transition.button))
    from_status = device.status
    to_site_id = None
    if verb == "transfer":
        if to_site is None or to_site.id == device.home_site_id:
            raise DeviceError(_("Choisissez une autre structure que celle de l'équipement."))
        device.home_site_id = device.current_site_id = to_site_id = to_site.id
    if transition.to is not None:
        device.status = transition.to
    record(device, actor, site_id, transition.action, from_status=from_status, to_status=device.status,
           note=note.strip(), to_site_id=to_site_id)
    db.session.flush()
    return device


def done_message(verb: str, device: Device) -> str:
    return str(TRANSITIONS[verb].done) % {"tag": device.tag, "site": device.home_site.name}


DEFAULT_KINDS = [
    dict(code="laptop", name="Ordinateur portable", holds_personal_data=True, has_sim=False, position=10),
    dict(code="tablet", name="Tablette", holds_personal_data=True, has_sim=False, position=20),
    dict(code="dongle", name="Clé 4G", holds_personal_data=False, has_sim=True, position=30),
]


def ensure_default_kinds() -> dict[str, DeviceKind]:
    """The three kinds every installation starts with (the first migration inserts them too)."""
    kinds = {k.code: k for k in db.session.scalars(select(DeviceKind))}
    for data in DEFAULT_KINDS:
        if data["code"] not in kinds:
            kinds[data["code"]] = DeviceKind(**data)
            db.session.add(kinds[data["code"]])
    db.session.flush()
    return kinds


# --- inventory pages: kinds, the acting site, bulk creation ----------------------------------

# The one sensible next inventory action, shown first (lending adds its own for available / on loan).
# A lost device found again is the lending desk's "Retrouvé" (loans.lending.found_again): any desk, any site.
NEXT_ACTION = {S.in_repair: "back_from_repair"}


def acting_site_id(user: User, device: Device) -> int:
    """Where a person acts on a device: its current site if it is theirs, else its home site."""
    for site_id in (device.current_site_id, device.home_site_id):
        if user.can_access_site(site_id):
            return site_id
    return device.current_site_id


def create_kind(name: str, code: str, *, holds_personal_data: bool, has_sim: bool) -> DeviceKind:
    from sqlalchemy import func, or_

    name, code = name.strip(), code.strip().lower()
    clash = db.session.scalar(
        select(DeviceKind).where(or_(func.lower(DeviceKind.name) == name.lower(), DeviceKind.code == code))
    )
    if clash is not None and clash.code == code:
        raise DeviceError(_("Ce code est déjà pris par le type « %(name)s ».", name=clash.name), field="code")
    if clash is not None:
        raise DeviceError(_("Un type porte déjà ce nom."), field="name")
    position = (db.session.scalar(select(func.max(DeviceKind.position))) or 0) + 10
    kind = DeviceKind(name=name, code=code, holds_personal_data=holds_personal_data, has_sim=has_sim, position=position)
    try:
        with db.session.begin_nested():
            db.session.add(kind)
            db.session.flush()
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise DeviceError(_("Un type porte déjà ce nom ou ce code."), field="name") from exc
        raise
    return kind


def _fresh_tags(count: int, reserved: set[str]) -> list[str]:
    """`count` new tags, unique among themselves, outside `reserved`, and unused in the database."""
    chosen: set[str] = set()
    while len(chosen) < count:
        batch = set()
        while len(batch) < count - len(chosen):
            tag = tags.generate()
            if tag not in reserved and tag not in chosen:
                batch.add(tag)
        taken = set()
        candidates = sorted(batch)
        for start in range(0, len(candidates), 500):
            taken |= set(db.session.scalars(select(Device.tag).where(Device.tag.in_(candidates[start:start + 500]))))
        chosen |= batch - taken
    return list(chosen)


def create_devices_in_bulk(actor: User | None, rows: list[dict], *, action=DeviceAction.imported) -> int:
    """Insert many devices and their history rows at once (the CSV import): all of them or none.

    Each row holds Device columns (kind_id, home_site_id, current_site_id, status, brand…), an
    optional `tag` to keep (a re-imported inventory keeps its printed labels) and an optional
    `note` for its history row. Rows must have been validated (serials, sites, kinds). Missing
    tags are generated in one go and checked against the database in a few queries.
    """
    from sqlalchemy import insert

    if not rows:
        return 0
    kept = {row["tag"] for row in rows if row.get("tag")}
    stamp = now()
    actor_id = actor.id if actor is not None and getattr(actor, "id", None) else None
    for _attempt in range(5):
        fresh = iter(_fresh_tags(sum(1 for row in rows if not row.get("tag")), kept))
        devices, notes = [], {}
        for row in rows:
            values = {k: v for k, v in row.items() if k != "note"}
            values["tag"] = row.get("tag") or next(fresh)
            values.setdefault("current_site_id", values["home_site_id"])
            values.setdefault("status", DeviceStatus.available)
            values["created_at"] = values["updated_at"] = stamp
            devices.append(values)
            notes[values["tag"]] = row.get("note", "")
        try:
            with db.session.begin_nested():
                inserted = db.session.execute(insert(Device).returning(Device.id, Device.tag), devices).all()
                by_tag = {values["tag"]: values for values in devices}
                db.session.execute(
                    insert(DeviceEvent),
                    [
                        dict(device_id=device_id, actor_id=actor_id, site_id=by_tag[tag]["home_site_id"], action=action,
                             from_status=None, to_status=by_tag[tag]["status"], note=notes[tag], at=stamp)
                        for device_id, tag in inserted
                    ],
                )
        except IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            serials = [row["serial_number"] for row in rows if row.get("serial_number")]
            clash = kept and db.session.scalar(select(Device.tag).where(Device.tag.in_(sorted(kept))).limit(1))
            clash = clash or (serials and db.session.scalar(
                select(Device.serial_number).where(Device.serial_number.in_(serials)).limit(1)))
            if clash:
                raise DeviceError(_("« %(value)s » vient d'être ajouté à l'inventaire par quelqu'un d'autre : "
                                    "rien n'a été importé.", value=clash)) from exc
            continue  # two creations drew the same new tag at the same instant: draw again
        return len(inserted)
    raise DeviceError(_("Impossible de créer des codes uniques : rien n'a été importé ; réessayez."))
