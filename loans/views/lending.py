"""The desk's loan pages: lend (with the resident chooser), receipt, take back, extend, lost, found again.

Who: lending is for staff of the site where the device is now; taking back and "found again" are
open to staff of every site (a device may be returned at any desk of the network) but only the
lending site and the home site see who borrowed it; extending and declaring lost are for them too.
Each page calls one use case of loans.lending through core.answers.attempt: a refusal (a DomainError)
becomes a French message next to its field (400) or at the top of the page (409), and nothing is saved.
"""
import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from core import residents
from core.answers import attempt, error_of, status_of
from core.authz import check_site, refuse, staff_required
from core.clock import today
from core.extensions import db
from core.input import page_number, parse_id
from core.messaging import consent
from core.messaging.staff import messages_about
from core.models import Site
from core.residents import Resident

from .. import lending
from ..lending_forms import DeclareLostForm, ExtendForm, FoundAgainForm, LendForm, ReplaceAccessoryForm, TakeBackForm
from ..models import Device, Loan, LoanOutcome
from . import bp

PER_PAGE = 10


# --- loading ------------------------------------------------------------------------------------


def get_device_or_404(tag: str) -> Device:
    canonical = "".join((tag or "").split()).upper()
    device = db.session.scalar(
        select(Device).where(Device.tag == canonical).options(joinedload(Device.current_site), joinedload(Device.home_site))
    )
    if device is None:
        abort(404)
    return device


def get_open_loan(device: Device) -> Loan | None:
    return db.session.scalar(
        select(Loan)
        .where(Loan.device_id == device.id, Loan.is_open)
        .options(joinedload(Loan.resident), joinedload(Loan.site))
    )


def device_url(device: Device) -> str:
    return url_for("loans.device", tag=device.tag)


def my_sites() -> list[Site]:
    """The sites where the current person works (admins: every site), in name order."""
    return current_user.visible_sites()


# --- the loan panel of the device page ----------------------------------------------------------


@bp.record_once
def _register_template_helpers(state):
    state.app.jinja_env.globals.update(device_url=device_url, loan_panel=loan_panel,
                                      can_replace_accessory=lending.can_replace_accessory)


def loan_panel(device: Device) -> dict:
    """What the device page shows about lending: the next action first, and the open loan to those
    allowed to see who borrowed. One query at most (the open loan, with its resident and site)."""
    user = current_user
    loan = get_open_loan(device) if device.is_on_loan else None
    see = loan is not None and lending.can_see_borrower(user, loan)
    late = lending.days_late(loan) if loan is not None else 0
    panel = {
        "lend": lending.can_lend(user, device),
        "take_back": lending.can_take_back(user, device),
        "found": lending.can_find_again(user, device),
        "loan": loan if see else None,
        "other_site_loan": loan if loan is not None and not see else None,
        "extend": see and lending.can_extend(user, loan),
        "declare_lost": see and lending.can_declare_lost(user, loan),
        "days_late": late,
    }
    if device.is_on_loan:
        panel["title"] = _("En prêt, en retard") if late else _("En prêt")
    elif device.is_lost:
        panel["title"] = _("Déclaré perdu")
    else:
        panel["title"] = _("Disponible au prêt")
    panel["shown"] = bool(panel["lend"] or panel["take_back"] or panel["found"] or loan is not None)
    return panel


# --- lend ---------------------------------------------------------------------------------------


def _search_page(text: str, page: int):
    if not residents.long_enough(text):
        return [], False
    return residents.search(current_user, text, page, PER_PAGE)


def loan_lines(summary: lending.LoansAtDesk, kind_name: str | None = None) -> list[dict]:
    """The lines under a person in the lend search results: each open loan (late ones say so in words,
    not only in red), then the limit when it is reached. The page and the JSON search share them."""
    lines = []
    for loan in summary.loans:
        due = format_date(loan["due_on"], "d MMMM y")
        if loan["late"]:
            text = _("En retard : %(kind)s %(tag)s, à rendre depuis le %(date)s", kind=loan["kind"], tag=loan["tag"], date=due)
        else:
            text = _("En prêt : %(kind)s %(tag)s, retour le %(date)s", kind=loan["kind"], tag=loan["tag"], date=due)
        lines.append({"text": text, "state": "late" if loan["late"] else "on-loan"})
    if not summary.loans:
        lines.append({"text": _("Aucun prêt en cours."), "state": "none"})
    if summary.limit_reached and kind_name:
        text = _("Limite atteinte pour « %(kind)s » ici : %(n)s en prêt, limite %(limit)s.", kind=kind_name,
                 n=summary.of_kind_here, limit=summary.limit)
        text += " " + (_("Vous pouvez la dépasser en donnant une raison.") if lending.can_override_limit(current_user)
                       else _("Seul un responsable peut la dépasser."))
        lines.append({"text": text, "state": "limit"})
    return lines


def results_loan_lines(results, device: Device | None) -> dict[int, list[dict]]:
    summaries = lending.loans_at_desk(current_user, [r.id for r in results], device)
    kind_name = device.kind.name if device is not None else None
    return {resident_id: loan_lines(summary, kind_name) for resident_id, summary in summaries.items()}


def _chosen_resident(form) -> Resident | None:
    resident_id = parse_id(form.resident.data)  # None for '²' or 10^30, not an overflow
    if resident_id is None:
        return None
    query = select(Resident).where(Resident.id == resident_id)
    return db.session.scalar(residents.visible_to(current_user, query))


def _render_lend(device, form, *, status=200, error=None, page=1, duplicates=(), searched=False):
    text = form.q.data or ""
    if duplicates:  # only the people it may be: the choice is between them and a new record
        results, has_more = list(duplicates), False
    else:
        results, has_more = _search_page(text, page) if text else ([], False)
        chosen = _chosen_resident(form)
        if chosen is not None:
            results = [chosen] + [r for r in results if r.id != chosen.id]
    days, limit = lending.policy_for(device.current_site_id, device.kind)
    lines = results_loan_lines(results, device)
    form.due_on.render_kw = {"min": today().isoformat()}  # the date picker offers no past day
    show_override = lending.can_override_limit(current_user) and (
        bool(form.override_reason.data) or bool(form.override_reason.errors)
    )
    return render_template(
        "loans/lending/lend.html",
        device=device,
        form=form,
        error=error,
        results=results,
        loan_lines=lines,
        has_more=has_more,
        page=page,
        searched=searched or bool(text),
        duplicates=duplicates,
        default_days=days,
        default_due=lending.default_due_date(device.current_site_id, device.kind),
        limit=limit,
        show_override=show_override,
        lendable=device.is_available,
        not_lendable=None if device.is_available else str(lending.NOT_LENDABLE[device.status]),
    ), status


@bp.route("/equipements/<tag>/preter", methods=["GET", "POST"])
@staff_required()
def lend(tag):
    device = get_device_or_404(tag)
    check_site(device.current_site_id)
    # Only what the device has today: an accessory missing since an earlier loan is not offered.
    form = LendForm(accessories=device.present_accessories)

    if request.method == "GET":
        form.due_on.data = lending.default_due_date(device.current_site_id, device.kind)
        form.accessories.data = device.present_accessories
        form.form_key.data = uuid.uuid4().hex
        form.q.data = (request.args.get("q") or "").strip()[:100]
        status = 200 if device.is_available else 409
        return _render_lend(device, form, status=status, page=page_number(request.args.get("page")))
    if "find" in request.form or "find_page" in request.form:
        # Search without JavaScript: the same page again with the matching residents, nothing else touched.
        return _render_lend(device, form, status=200 if device.is_available else 409,
                            page=page_number(request.form.get("find_page")), searched=True)
    if not form.validate():
        return _render_lend(device, form, status=400 if device.is_available else 409)

    lend_at_desk = lending.lend_at_desk
    if form.wants_new_resident:  # the new person's choice of reminders (core/messaging/consent.py)
        lend_at_desk = consent.choosing(lending.lend_at_desk, consent.FormContact(form.phone.data, form.email.data),
                                        form.reminders.data, "desk", device.current_site_id)
    outcome = attempt(_then_messages(lend_at_desk, lambda done: _lent_messages(device, done)), current_user,
                      device.id, **form.loan_terms(), form=form)
    if not outcome:
        duplicates = getattr(outcome.exception, "duplicates", ())  # residents.LikelyDuplicates: choose among them
        return _render_lend(device, form, status=outcome.status, error=outcome.error, duplicates=duplicates)
    loan_id, messages = outcome.value
    _flash_all(messages)
    return redirect(url_for("loans.receipt", loan_id=loan_id))


def _then_messages(use_case, messages_of):
    """The use case, then what the page will say about it: (the id of the loan, [(message, category)]).
    Written before the commit, from the objects the use case has loaded: after it, each would be read again."""
    def run(*args, **kwargs):
        value = use_case(*args, **kwargs)
        loan = value.loan if isinstance(value, lending.DeskLoan) else value
        return loan.id, messages_of(value)
    return run


def _flash_all(messages):
    for message, category in messages:
        flash(message, category)


def _lent_messages(device, done: lending.DeskLoan) -> list[tuple[str, str]]:
    if done.replayed:
        return []
    loan = done.loan
    messages = [(_("Équipement %(tag)s prêté à %(name)s jusqu'au %(date)s.", tag=device.tag, name=loan.resident.full_name,
                   date=loan.due_on.strftime("%d/%m/%Y")), "success")]
    if warning := lending.due_date_warning(loan.site_id, loan.due_on):
        messages.append((warning, "warning"))
    return messages


# --- receipt ------------------------------------------------------------------------------------


@bp.get("/prets/<int:loan_id>/recu")
@staff_required()
def receipt(loan_id):
    loan = _loan_for_receipt(loan_id)
    if not lending.can_see_borrower(current_user, loan):
        refuse("site")
    return render_template("loans/lending/receipt.html", loan=loan, device=loan.device,
                           sent_messages=messages_about(current_user, loan_ids=[loan.id]))


def _loan_for_receipt(loan_id: int) -> Loan:
    loan = db.session.scalar(
        select(Loan)
        .where(Loan.id == loan_id)
        .options(joinedload(Loan.device), joinedload(Loan.resident), joinedload(Loan.site), joinedload(Loan.lent_by),
                 joinedload(Loan.closed_site), joinedload(Loan.closed_by))
    )
    if loan is None:
        abort(404)
    return loan


@bp.get("/prets/<int:loan_id>/retour")
@staff_required()
def return_receipt(loan_id):
    """The proof of return handed to the resident: what came back, what is missing, the state, the wipe.

    For the lending and home sites, and for the site where it was returned (which never sees who
    borrowed: the name is left out for them)."""
    loan = _loan_for_receipt(loan_id)
    see = lending.can_see_borrower(current_user, loan)
    returned_here = loan.closed_site_id is not None and current_user.can_access_site(loan.closed_site_id)
    if not (see or returned_here):
        refuse("site")
    if loan.outcome is not LoanOutcome.returned:
        # Still on loan, or declared lost: there is no return to prove; the loan's receipt says where it stands.
        return redirect(url_for("loans.receipt", loan_id=loan.id)) if see else abort(404)
    missing = loan.accessories_missing_list
    returned = [a for a in loan.accessories_out_list if a not in set(missing)]
    return render_template("loans/lending/return_receipt.html", loan=loan, device=loan.device, see_borrower=see,
                           returned=returned, missing=missing)


# --- take back (any site of the network) --------------------------------------------------------


def _not_on_loan(device):
    flash(_("Cet équipement n'est pas en prêt : il n'y a rien à reprendre."), "info")
    return redirect(device_url(device))


def _render_take_back(device, loan, form, *, status=200, error=None):
    return render_template(
        "loans/lending/take_back.html",
        device=device,
        loan=loan,
        form=form,
        error=error,
        see_borrower=loan is not None and lending.can_see_borrower(current_user, loan),
        days_late=lending.days_late(loan) if loan is not None else 0,
    ), status


@bp.route("/equipements/<tag>/reprendre", methods=["GET", "POST"])
@staff_required()
def take_back(tag):
    device = get_device_or_404(tag)
    sites = my_sites()
    if not sites:
        refuse("site")
    loan = get_open_loan(device) if device.is_on_loan else None
    if loan is None:
        if request.method == "GET":
            return _not_on_loan(device)
        return _render_take_back(device, None, TakeBackForm(sites=sites), status=409,
                                 error=_("Cet équipement n'est pas en prêt : il n'y a rien à reprendre."))
    form = TakeBackForm(sites=sites, accessories=loan.accessories_out_list)
    if request.method == "GET":
        form.site.data = sites[0].id
        form.accessories.data = loan.accessories_out_list
        return _render_take_back(device, loan, form)
    if not form.validate():
        return _render_take_back(device, loan, form, status=400)
    outcome = attempt(_then_messages(lending.take_back, lambda closed: _taken_back_messages(device, closed)),
                      current_user, device.id, site_id=form.site.data,
                      accessories_returned=form.accessories.data or [], condition=form.condition.data or "",
                      damaged=form.damaged.data, data_wiped=form.data_wiped.data, form=form)
    if not outcome:
        loan = get_open_loan(device) if device.is_on_loan else None
        if loan is None:
            return _render_take_back(device, None, TakeBackForm(sites=sites), status=409, error=outcome.exception.message)
        return _render_take_back(device, loan, form, status=outcome.status, error=outcome.error)
    loan_id, messages = outcome.value
    _flash_all(messages)
    # The proof of return, ready to print or to show the person.
    return redirect(url_for("loans.return_receipt", loan_id=loan_id))


def _taken_back_messages(device, closed: Loan) -> list[tuple[str, str]]:
    messages = [(_("Équipement %(tag)s repris à %(site)s.", tag=device.tag, site=closed.closed_site.name), "success")]
    if closed.accessories_missing_list:
        messages.append((_("Accessoires manquants, notés dans l'historique : %(list)s.",
                           list=", ".join(closed.accessories_missing_list)), "warning"))
    if closed.damaged:
        messages.append((_("L'équipement est envoyé en réparation : il ne sera pas prêté d'ici là."), "warning"))
    return messages


# --- a missing accessory replaced --------------------------------------------------------------


@bp.post("/equipements/<tag>/accessoires/remplace")
@staff_required()
def replace_accessory(tag):
    device = get_device_or_404(tag)
    if not lending.can_replace_accessory(current_user, device):
        refuse("site")
    from .inventory import _render_device  # the device page, with the refusal at its top

    form = ReplaceAccessoryForm()
    if not form.validate():
        return _render_device(device, status=400, error=_("Choisissez l'accessoire remplacé dans la liste."))
    outcome = attempt(lending.replace_accessory, current_user, device.id, form.accessory.data)
    if not outcome:
        return _render_device(device, status=outcome.status, error=outcome.error)
    flash(_("C'est noté : %(name)s est de nouveau avec l'équipement %(tag)s. Il sera proposé au prochain prêt.",
            name=form.accessory.data, tag=device.tag), "success")
    return redirect(device_url(device))


# --- extend, declare lost, found again ----------------------------------------------------------


def _loan_for_staff(device, predicate):
    """The open loan, for staff of the lending site or the home site; others are refused.

    A device that is not on loan: staff who see the device get a message on its page, others 403.
    """
    loan = get_open_loan(device) if device.is_on_loan else None
    if loan is None:
        if not (current_user.is_admin or device.site_ids & current_user.site_ids):
            refuse("site")
        return None
    if not predicate(current_user, loan):
        refuse("site")
    return loan


@bp.route("/equipements/<tag>/prolonger", methods=["GET", "POST"])
@staff_required()
def extend(tag):
    device = get_device_or_404(tag)
    loan = _loan_for_staff(device, lending.can_extend)
    if loan is None:
        flash(_("Cet équipement n'est pas en prêt : il n'y a rien à prolonger."), "info")
        return redirect(device_url(device))
    form = ExtendForm()
    outcome = None
    if request.method == "POST" and form.validate():
        outcome = attempt(lending.extend, current_user, device.id, new_due_on=form.new_due_on.data,
                          agreed_by=form.agreed_by.data, form=form)
        if outcome:
            flash(_("Prêt prolongé jusqu'au %(date)s.", date=outcome.value.due_on.strftime("%d/%m/%Y")), "success")
            if warning := lending.due_date_warning(outcome.value.site_id, outcome.value.due_on):
                flash(warning, "warning")
            return redirect(device_url(device))
        loan = get_open_loan(device)
    return render_template("loans/lending/extend.html", device=device, loan=loan, form=form,
                           error=error_of(outcome), days_late=lending.days_late(loan) if loan else 0), \
        status_of(form, outcome)


@bp.route("/equipements/<tag>/perdu", methods=["GET", "POST"])
@staff_required()
def declare_lost(tag):
    device = get_device_or_404(tag)
    loan = _loan_for_staff(device, lending.can_declare_lost)
    if loan is None:
        flash(_("Cet équipement n'est pas en prêt. Pour un équipement perdu à la structure, utilisez l'inventaire."), "info")
        return redirect(device_url(device))
    form = DeclareLostForm()
    outcome = None
    if request.method == "POST" and form.validate():
        outcome = attempt(lending.declare_lost, current_user, device.id, note=form.note.data or "")
        if outcome:
            flash(_("Équipement %(tag)s déclaré perdu : le prêt est clos.", tag=device.tag), "success")
            return redirect(device_url(device))
        loan = get_open_loan(device)
        if loan is None:
            flash(outcome.error, "error")
            return redirect(device_url(device))
    return render_template("loans/lending/declare_lost.html", device=device, loan=loan, form=form,
                           error=error_of(outcome)), status_of(form, outcome)


@bp.route("/equipements/<tag>/retrouve", methods=["GET", "POST"])
@staff_required()
def found_again(tag):
    device = get_device_or_404(tag)
    sites = my_sites()
    if not sites:
        refuse("site")
    if not device.is_lost:
        if request.method == "GET":
            flash(_("Cet équipement n'est pas déclaré perdu."), "info")
            return redirect(device_url(device))
        return render_template("loans/lending/found_again.html", device=device, form=None,
                               error=_("Cet équipement n'est pas déclaré perdu.")), 409
    form = FoundAgainForm(sites=sites)
    outcome = None
    if request.method == "GET":
        form.site.data = sites[0].id
    elif form.validate():
        outcome = attempt(lending.found_again, current_user, device.id, site_id=form.site.data,
                          note=form.note.data or "", form=form)
        if outcome:
            flash(_("Équipement %(tag)s retrouvé : il est disponible à %(site)s.", tag=device.tag,
                    site=outcome.value.current_site.name), "success")
            return redirect(device_url(device))
    return render_template("loans/lending/found_again.html", device=device, form=form,
                           error=error_of(outcome)), status_of(form, outcome)
