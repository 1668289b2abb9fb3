"""Residents at the desk: search as you type (JSON, a page at a time), the list, a resident's page, edit.

Staff see the residents of their own sites only (admins: everyone): every query goes through
core.residents.visible_to. What the agent types is personal data: it is never logged, and the
answers are never cached (Cache-Control: no-store).
"""
from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from core import residents
from core.answers import attempt, error_of, status_of
from core.authz import refuse, staff_required
from core.extensions import db
from core.input import page_number
from core.messaging import consent
from core.messaging.staff import messages_about
from core.models import Role
from core.privacy import erasure, export
from core.privacy.forms import EraseResidentForm
from core.privacy.models import AccessAction
from core.privacy.trail import record_access
from core.residents import Resident
from core.templating import add_nav
from reservations.models import Booking

from .. import lending
from ..lending_forms import ResidentForm
from ..models import Device, DeviceEvent, Loan
from . import bp
from .lending import results_loan_lines

SEARCH_PAGE = 10
LIST_PAGE = 25
LOANS_PAGE = 20
BOOKINGS_SHOWN = 20


@bp.record_once
def _register_nav(state):
    add_nav(state.app, "loans.residents_list", _l("Habitants"), order=25)


def get_resident_or_404(resident_id: int) -> Resident:
    resident = db.session.scalar(
        select(Resident).where(Resident.id == resident_id).options(selectinload(Resident.sites))
    )
    if resident is None:
        abort(404)
    if not residents.can_view(current_user, resident):
        refuse("site")
    return resident


def count_message(n: int, has_more: bool, page: int) -> str:
    if n == 0:
        return _("Aucune personne trouvée : vérifiez l'orthographe, ou inscrivez une nouvelle personne ci-dessous.")
    if has_more or page > 1:
        return ngettext("%(num)s personne trouvée (page %(page)s).", "%(num)s personnes trouvées (page %(page)s).", n, page=page)
    return ngettext("%(num)s personne trouvée.", "%(num)s personnes trouvées.", n)


# --- search as you type -------------------------------------------------------------------------


def _device_being_lent(tag: str | None) -> Device | None:
    """The device of the lend form that searches (its kind's limit is shown), if the agent may lend it."""
    canonical = "".join((tag or "").split()).upper()[:20]
    if not (canonical.isascii() and canonical.isalnum()):  # asset tags are letters and digits
        return None
    device = db.session.scalar(select(Device).where(Device.tag == canonical))
    if device is None or not current_user.can_access_site(device.current_site_id):
        return None
    return device


def _as_json(resident, loan_lines) -> dict:
    """One person in the search-as-you-type results: what the chooser shows under the name."""
    phone = resident.phone_display
    meta = phone or _("pas de téléphone")
    if resident.membership_number:
        meta += " · " + _("adhérent n° %(n)s", n=resident.membership_number)
    return {"id": resident.id, "name": resident.full_name, "phone": phone,
            "membership_number": resident.membership_number, "meta": meta, "loans": loan_lines}


@bp.get("/habitants/recherche")
@staff_required()
def resident_search():
    text = (request.args.get("q") or "").strip()[:100]
    page = page_number(request.args.get("page"))
    if not residents.long_enough(text):
        body = {"results": [], "page": page, "has_more": False, "message": _("Tapez au moins 2 lettres ou 4 chiffres.")}
    else:
        found, has_more = residents.search(current_user, text, page, SEARCH_PAGE)
        lines = results_loan_lines(found, _device_being_lent(request.args.get("equipement")))
        body = {"results": [_as_json(r, lines[r.id]) for r in found], "page": page, "has_more": has_more,
                "message": count_message(len(found), has_more, page)}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the list -----------------------------------------------------------------------------------


@bp.get("/habitants")
@staff_required()
def residents_list():
    text = (request.args.get("q") or "").strip()[:100]
    page = page_number(request.args.get("page"))
    # One row more than the page says whether more follow (no count of every match). None: too short.
    query = residents.search_query(current_user, text, LIST_PAGE + 1, (page - 1) * LIST_PAGE)
    found = [] if query is None else list(db.session.scalars(query.options(selectinload(Resident.sites))))
    return render_template(
        "loans/residents/list.html",
        residents=found[:LIST_PAGE],
        q=text,
        too_short=query is None,
        page=page,
        has_more=len(found) > LIST_PAGE,
    ), 400 if query is None else 200


# --- one resident -------------------------------------------------------------------------------


@bp.get("/habitants/<int:resident_id>")
@staff_required()
def resident_detail(resident_id):
    resident = get_resident_or_404(resident_id)
    loans = db.paginate(
        select(Loan)
        .where(Loan.resident_id == resident.id)
        .order_by(Loan.started_at.desc(), Loan.id.desc())
        .options(joinedload(Loan.device), joinedload(Loan.site), joinedload(Loan.closed_site)),
        page=page_number(request.args.get("page")), per_page=LOANS_PAGE, max_per_page=LOANS_PAGE, error_out=False,
    )
    bookings = _bookings(resident)
    page = render_template(
        "loans/residents/detail.html",
        resident=resident,
        loans=loans.items,
        events=_loan_events(loans.items),
        total=loans.total,
        page=loans.page,
        has_more=loans.has_next,
        open_loans=[loan for loan in loans.items if loan.is_open],
        days_late=lending.days_late,
        sent_messages=messages_about(current_user, resident_id=resident.id),
        bookings=bookings[:BOOKINGS_SHOWN],
        more_bookings=len(bookings) > BOOKINGS_SHOWN,
    )
    _opened(resident, AccessAction.resident_page)
    return page


def _opened(resident: Resident, action: AccessAction) -> None:
    """The access trail: this staff member opened this person's record or export. Written once the
    page is, so that the page's reads do not hold the write lock (SQLite)."""
    record_access(current_user, action, resident.id)
    db.session.commit()


# --- the person's data: a printable page and a JSON file (right of access and portability) --------


@bp.get("/habitants/<int:resident_id>/donnees")
@staff_required()
def resident_export(resident_id):
    resident = get_resident_or_404(resident_id)
    response = Response(render_template("loans/residents/export.html", data=export.resident_export(resident)))
    _opened(resident, AccessAction.resident_export)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/habitants/<int:resident_id>/donnees.json")
@staff_required()
def resident_export_json(resident_id):
    resident = get_resident_or_404(resident_id)
    response = Response(export.as_json(export.resident_export(resident)), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename(resident.id)}"'
    _opened(resident, AccessAction.resident_export)
    response.headers["Cache-Control"] = "no-store"
    return response


def _bookings(resident) -> list[Booking]:
    """The person's newest bookings (seats and workshops, linked to them: reservations/identity.py),
    with their site and workshop, and one more to tell that older ones exist (one statement;
    ix_bookings_resident_starts_at)."""
    return db.session.scalars(
        select(Booking)
        .where(Booking.resident_id == resident.id)
        .order_by(Booking.starts_at.desc(), Booking.id.desc())
        .limit(BOOKINGS_SHOWN + 1)
        .options(joinedload(Booking.site), joinedload(Booking.room), joinedload(Booking.workshop))
    ).all()


def _loan_events(loans) -> dict[int, list[DeviceEvent]]:
    """The history rows of a page of loans, by loan (one statement)."""
    events = {}
    if loans:
        rows = db.session.scalars(
            select(DeviceEvent)
            .where(DeviceEvent.loan_id.in_([loan.id for loan in loans]))
            .order_by(DeviceEvent.at, DeviceEvent.id)
            .options(joinedload(DeviceEvent.actor), joinedload(DeviceEvent.site))
        ).all()
        for event in rows:
            events.setdefault(event.loan_id, []).append(event)
    return events


def _render_edit(resident, form, status=200):
    return render_template("loans/residents/edit.html", resident=resident, form=form), status


@bp.route("/habitants/<int:resident_id>/modifier", methods=["GET", "POST"])
@staff_required()
def resident_edit(resident_id):
    resident = get_resident_or_404(resident_id)
    if request.method == "GET":
        form = ResidentForm(obj=resident)
        form.phone.data = resident.phone_display
        form.reminders.data = consent.wants_reminders_of(resident.phone, resident.email)
        return _render_edit(resident, form)
    form = ResidentForm()
    if not form.validate():
        return _render_edit(resident, form, 400)
    edit = consent.choosing(residents.edit_resident, consent.FormContact(form.phone.data, form.email.data),
                            form.reminders.data, "desk", residents.site_in_common(current_user, resident))
    outcome = attempt(edit, current_user, resident.id, first_name=form.first_name.data,
                      last_name=form.last_name.data, phone=form.phone.data or "", email=form.email.data or "",
                      membership_number=form.membership_number.data or "", notes=form.notes.data or "", form=form)
    if not outcome:
        return _render_edit(resident, form, outcome.status)
    flash(_("Fiche de %(name)s enregistrée.", name=outcome.value.full_name), "success")
    return redirect(url_for("loans.resident_detail", resident_id=resident.id))


# --- erasure (RGPD) -----------------------------------------------------------------------------


@bp.route("/habitants/<int:resident_id>/effacer", methods=["GET", "POST"])
@staff_required(Role.manager)
def resident_erase(resident_id):
    """"Effacer les données de cette personne": a confirmation, a reason, then core/privacy/erasure.py."""
    resident = get_resident_or_404(resident_id)
    form = EraseResidentForm()
    outcome = None
    if form.validate_on_submit():
        outcome = attempt(erasure.erase_resident, current_user, resident.id, reason=form.reason.data, form=form)
        if outcome:
            flash(_("Les données de cette personne sont effacées. Ses prêts et réservations restent, sans nom, "
                    "pour les chiffres."), "success")
            return redirect(url_for("loans.resident_detail", resident_id=resident.id))
    open_loans = db.session.scalar(select(func.count()).select_from(Loan).where(Loan.resident_id == resident.id, Loan.is_open))
    return render_template("loans/residents/erase.html", resident=resident, form=form, open_loans=open_loans,
                           error=error_of(outcome)), status_of(form, outcome)
