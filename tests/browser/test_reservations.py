"""Residents book and cancel on a 360 px phone (with and without JavaScript), join a waiting list;
a manager creates a workshop, adds a walk-in and marks attendance. axe-core on every page visited;
screenshots kept in test-artifacts/."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from core.clock import PARIS
from core.models import Role
from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD, live_server
from tests.reservations.conftest import frozen  # noqa: F401  (fixture)
from tests.reservations.factories import make_room, make_workshop, register

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def phone(browser):
    """A phone-sized browser context, with JavaScript or without; broken responses fail the test."""
    contexts = []

    def make(javascript=True):
        context = browser.new_context(locale="fr-FR", viewport=PHONE, java_script_enabled=javascript, is_mobile=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.errors = []
        page.on("response", lambda r: r.status >= 500 and page.errors.append(f"{r.status} {r.url}"))
        page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource") and page.errors.append(m.text))
        return page

    yield make
    for context in contexts:
        context.close()


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"reservations-{name}.png"), full_page=True)


def fits(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], f"sideways scrolling on {page.url}"


def book_and_cancel(page, base, check=None, label=""):
    def visited(name):
        if check is not None:
            check(page, f"{label} {name}")
            fits(page)
        shot(page, f"{label}-{name}")

    page.goto(base + "/")
    page.get_by_role("link", name="Réserver un poste ou un atelier – ACSRV").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ACSRV")
    visited("1-jours")
    page.get_by_role("link", name=re.compile(r"^Lundi 23 mars")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lundi 23 mars")
    visited("2-heures")
    page.get_by_role("link", name=re.compile(r"^De 14 h à 15 h")).click()
    visited("3-formulaire")
    # A mistake first: the message appears next to the field.
    page.get_by_label("Votre prénom").fill("Fatima")
    page.get_by_label("Votre numéro de téléphone ou votre e-mail").fill("06 12")
    page.get_by_role("button", name="Je réserve").click()
    expect(page.locator("#contact-error")).to_contain_text("10 chiffres")
    visited("4-erreur")
    page.get_by_label("Votre numéro de téléphone ou votre e-mail").fill("06 12 34 56 78")
    page.get_by_role("button", name="Je réserve").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre place est réservée")
    reference = page.locator(".reference").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{6}", reference)
    assert "Fatima" not in page.url and "0612" not in page.url
    visited("5-confirmation")
    page.get_by_role("link", name="Annuler ma réservation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Annuler ma réservation ?")
    visited("6-annuler")
    page.get_by_role("button", name="Oui, j'annule").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Réservation annulée")
    visited("7-annulee")
    return reference


def world(db, make_site):
    site = make_site("ACSRV", address="34 avenue de Condé", postcode="59300", town="Valenciennes", phone="03 27 28 91 98")
    room = make_room(site, name="Salle informatique", workstations=8)
    return site, room


def test_resident_books_and_cancels_on_a_phone(app, db, frozen, make_site, phone, check_accessibility):
    site, room = world(db, make_site)
    db.session.commit()
    page = phone(javascript=True)
    with live_server(app) as base:
        book_and_cancel(page, base, check=check_accessibility, label="js")
    assert not page.errors


def test_resident_books_and_cancels_without_javascript(app, db, frozen, make_site, phone):
    from reservations.models import Booking

    world(db, make_site)
    db.session.commit()
    page = phone(javascript=False)
    with live_server(app) as base:
        reference = book_and_cancel(page, base, label="sans-js")
    assert not page.errors
    booking = db.session.scalar(db.select(Booking).where(Booking.reference == reference))
    assert booking.is_cancelled and booking.phone == "+33612345678"


def test_resident_joins_the_waiting_list_of_a_full_workshop(app, db, frozen, make_site, phone, check_accessibility):
    site, room = world(db, make_site)
    workshop = make_workshop(room, places=1, title="Prendre en main sa tablette")
    register(workshop, n=1)
    site_id = site.id
    db.session.commit()
    page = phone()
    with live_server(app) as base:
        page.goto(f"{base}/ateliers/centre/{site_id}")
        expect(page.get_by_text("Complet.")).to_be_visible()
        check_accessibility(page, "ateliers")
        fits(page)
        shot(page, "atelier-1-liste")
        page.get_by_role("link", name=re.compile(r"^Liste d'attente : Prendre en main sa tablette")).click()
        check_accessibility(page, "inscription atelier complet")
        shot(page, "atelier-2-formulaire")
        page.get_by_label("Votre prénom").fill("Nadia")
        page.get_by_label("Votre numéro de téléphone ou votre e-mail").fill("nadia@exemple.fr")
        page.get_by_role("button", name="Je m'inscris sur la liste d'attente").click()
        expect(page.get_by_text("Vous êtes numéro 1 sur la liste d'attente.")).to_be_visible()
        check_accessibility(page, "liste d'attente")
        fits(page)
        shot(page, "atelier-3-attente")
    assert not page.errors


def test_manager_creates_a_workshop_and_marks_attendance(app, db, frozen, make_site, make_user, page, check_accessibility):
    from reservations.models import Attendance, Booking, Workshop

    site, room = world(db, make_site)
    manager = make_user(Role.manager, sites=[site], name="Karim Responsable")
    email, room_id = manager.email, room.id
    db.session.commit()
    with live_server(app) as base:
        page.goto(base + "/connexion")
        page.get_by_label("Adresse e-mail").fill(email)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.get_by_role("link", name="Salles et ateliers").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Salles et ateliers")
        check_accessibility(page, "salles")
        shot(page, "staff-1-salles")
        page.get_by_role("link", name="Nouvel atelier").first.click()
        page.get_by_label("Titre").fill("Créer son adresse e-mail")
        page.get_by_label("Description en mots simples").fill("On crée une adresse. Vous repartez avec.")
        page.get_by_label("Niveau").select_option("beginner")
        page.get_by_label("Animateur ou animatrice").fill("Léa")
        page.get_by_label("Jour").fill("2026-03-24")
        page.get_by_label("Début").fill("10:00")
        page.get_by_label("Fin", exact=True).fill("12:00")
        page.get_by_label("Nombre de places").fill("6")
        check_accessibility(page, "nouvel atelier")
        shot(page, "staff-2-nouvel-atelier")
        page.get_by_role("button", name="Enregistrer l'atelier").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Créer son adresse e-mail")

        page.get_by_label("Prénom de la personne").fill("Monique")
        page.get_by_label("Son téléphone ou son e-mail").fill("07 11 22 33 44")
        page.get_by_role("button", name="Inscrire").click()
        expect(page.get_by_text("Place réservée pour Monique")).to_be_visible()
        check_accessibility(page, "atelier inscrits")
        shot(page, "staff-3-inscrits")

        workshop = db.session.scalar(db.select(Workshop))
        frozen.set(workshop.starts_at + timedelta(minutes=10))
        db.session.rollback()
        page.reload()
        page.get_by_role("button", name=re.compile(r"^Présent – Monique")).click()
        expect(page.get_by_text("Monique : Présent.")).to_be_visible()
        expect(page.get_by_role("button", name=re.compile(r"^Présent – Monique"))).to_have_attribute("aria-pressed", "true")
        check_accessibility(page, "présences")
        shot(page, "staff-4-presences")
        page.goto(f"{base}/salles/{room_id}/semaine?date=2026-03-24")
        check_accessibility(page, "semaine")
        shot(page, "staff-5-semaine")
    booking = db.session.scalar(db.select(Booking))
    assert booking.attendance is Attendance.present


def log_in(page, base, email):
    page.goto(base + "/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def test_manager_closes_the_centre_over_bookings_and_calls_from_the_list(app, db, frozen, make_site, make_user, page, check_accessibility):
    from reservations.models import Booking, Closure
    from tests.reservations.factories import at_local, book

    site, room = world(db, make_site)
    workshop = make_workshop(room, places=1, title="Prendre en main sa tablette")
    register(workshop, n=1)
    register(workshop, n=2, first_name="Kévin")
    day = workshop.starts_at.astimezone(PARIS).date()
    book(room, at_local(day, 14), n=3, first_name="Fatima")
    manager = make_user(Role.manager, sites=[site], name="Karim Responsable")
    email, site_id = manager.email, site.id
    db.session.commit()
    with live_server(app) as base:
        log_in(page, base, email)
        page.goto(f"{base}/structures/{site_id}/fermetures")
        page.get_by_label("Premier jour").fill(day.isoformat())
        page.get_by_label("Motif (montré aux habitants)").fill("Vacances de Noël")
        page.get_by_role("button", name="Ajouter la fermeture").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Confirmer la fermeture")
        expect(page.get_by_text("Prendre en main sa tablette (Salle informatique)")).to_be_visible()
        check_accessibility(page, "confirmer la fermeture")
        shot(page, "fermeture-1-confirmer")
        assert db.session.scalar(db.select(db.func.count()).select_from(Closure)) == 0
        db.session.rollback()  # release SQLite's lock for the server
        page.get_by_role("button", name="Confirmer la fermeture et annuler ces réservations").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Personnes à prévenir")
        expect(page.get_by_text("3 réservations annulées : prévenez les personnes.")).to_be_visible()
        check_accessibility(page, "personnes à prévenir")
        shot(page, "fermeture-2-a-prevenir")
        page.set_viewport_size(PHONE)
        fits(page)
    db.session.rollback()
    cancelled = db.session.scalars(db.select(Booking).where(Booking.state == "cancelled"))
    assert {b.first_name for b in cancelled} == {"Nadia", "Kévin", "Fatima"}


def test_admin_enters_the_desk_hours_of_a_site(app, db, make_site, make_user, page, check_accessibility):
    from core.models import DeskHours

    site = make_site("ACSRV")
    admin = make_user(Role.admin, sites=[], name="Camille Coordination")
    email, site_id = admin.email, site.id
    db.session.commit()
    with live_server(app) as base:
        log_in(page, base, email)
        page.goto(f"{base}/admin/structures/{site_id}/modifier")
        page.get_by_label("Lundi").fill("9h-12h, 13h30-18h")
        page.get_by_label("Mardi").fill("de 9 h le matin")
        page.get_by_role("button", name="Enregistrer").click()
        expect(page.locator("#desk_1-error")).to_have_text("Écrivez les horaires ainsi : 9:00-12:00, 14:00-17:30.")
        check_accessibility(page, "structure, horaires refusés")
        shot(page, "structure-horaires-erreur")
        page.get_by_label("Mardi").fill("9:00-12:00")
        page.get_by_role("button", name="Enregistrer").click()
        expect(page.get_by_text("Structure enregistrée : ACSRV.")).to_be_visible()
    db.session.rollback()
    assert [(h.weekday, h.starts.hour) for h in db.session.scalars(db.select(DeskHours).order_by(DeskHours.weekday, DeskHours.starts))] == [
        (0, 9), (0, 13), (1, 9)]


def test_a_closed_day_and_a_day_not_open_yet_say_so_on_a_phone(app, db, frozen, make_site, phone, check_accessibility):
    from reservations.models import Closure
    from tests.reservations.factories import tomorrow

    site, room = world(db, make_site)
    db.session.add(Closure(site_id=site.id, first_day=tomorrow(), last_day=tomorrow(), reason="Vacances de Noël"))
    site_id, closed, later = site.id, tomorrow(), tomorrow() + timedelta(days=30)
    db.session.commit()
    page = phone()
    with live_server(app) as base:
        page.goto(f"{base}/reserver/{site_id}")
        expect(page.get_by_text("8 postes, des places de 14 h à 17 h").first).to_be_visible()
        check_accessibility(page, "jours")
        fits(page)
        shot(page, "jour-0-liste")
        page.goto(f"{base}/reserver/{site_id}/{closed.isoformat()}")
        expect(page.get_by_text("Le centre est fermé ce jour-là.")).to_be_visible()
        check_accessibility(page, "jour fermé")
        fits(page)
        shot(page, "jour-1-ferme")
        page.goto(f"{base}/reserver/{site_id}/{later.isoformat()}")
        expect(page.get_by_text("On ne peut pas encore réserver ce jour-là.")).to_be_visible()
        check_accessibility(page, "jour pas encore ouvert")
        fits(page)
        shot(page, "jour-2-pas-encore")
    assert not page.errors
