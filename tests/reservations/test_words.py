"""What residents and staff read: true waiting-list promises, no gendered "inscrit", real plurals,
French phone numbers (issue 9, words)."""
import io
import re
import tokenize
from datetime import date, time
from pathlib import Path

from icalendar import Calendar

from reservations import bookings
from tests.core.helpers import visible_text
from tests.reservations.factories import at_local, book, make_room, make_workshop, register

TUESDAY = date(2026, 3, 24)
ROOT = Path(__file__).resolve().parents[2]


def ics_event(response):
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    return next(iter(Calendar.from_ical(response.data).walk("VEVENT")))


def test_the_waiting_list_says_what_is_true_for_each_position(db, frozen, sites, client):
    room = make_room(sites["a"])
    workshop = make_workshop(room, places=1)
    _confirmed, confirmed_token = register(workshop, n=1)
    _first, first_token = register(workshop, n=2)
    register(workshop, n=3)
    third, third_token = register(workshop, n=4)
    assert third.is_waiting

    first = visible_text(client.get(f"/ma-reservation/{first_token}"))
    assert "Vous êtes numéro 1 sur la liste d'attente." in first
    assert "Personne n'attend avant vous. Si une place se libère, elle est pour vous." in first

    page = visible_text(client.get(f"/ma-reservation/{third_token}"))
    assert "Vous êtes numéro 3 sur la liste d'attente." in page
    assert "2 personnes attendent avant vous. Si 3 places se libèrent, vous aurez une place." in page
    assert "elle est pour vous" not in page
    # No calendar button for a place not obtained; a saved link gives a tentative event, said so.
    assert "Ajouter à mon agenda" not in page and "Ajouter à mon agenda" in visible_text(client.get(f"/ma-reservation/{confirmed_token}"))
    event = ics_event(client.get(f"/ma-reservation/{third_token}/agenda.ics"))
    assert event["status"] == "TENTATIVE" and str(event["summary"]).startswith("Liste d'attente – Atelier : ")
    assert ics_event(client.get(f"/ma-reservation/{confirmed_token}/agenda.ics"))["status"] == "CONFIRMED"

    # Before joining: the full workshop says how many people already wait.
    join = visible_text(client.get(f"/ateliers/{workshop.id}/inscription"))
    assert "3 personnes attendent avant vous. Si 4 places se libèrent, vous aurez une place." in join


def test_the_first_person_to_join_a_full_workshop_gets_the_first_place_freed(db, frozen, sites, client):
    workshop = make_workshop(make_room(sites["a"]), places=1)
    register(workshop, n=1)
    join = visible_text(client.get(f"/ateliers/{workshop.id}/inscription"))
    assert "Personne n'attend avant vous. Si une place se libère, elle est pour vous." in join


def test_joining_a_workshop_is_said_without_gender(db, frozen, sites, client):
    workshop = make_workshop(make_room(sites["a"]), places=2)
    response = client.post(f"/ateliers/{workshop.id}/inscription", data={"first_name": "Zoé", "contact": "06 12 34 56 78"},
                           follow_redirects=True)
    text = visible_text(response)
    assert "C'est fait ! Votre place à l'atelier est réservée." in text and "inscrit " not in text

    again = client.post(f"/ateliers/{workshop.id}/inscription", data={"first_name": "Zoé", "contact": "06 12 34 56 78"})
    assert again.status_code == 400
    assert "Vous avez déjà une place à cet atelier, ou vous êtes sur sa liste d'attente." in visible_text(again)


def test_a_cancelled_booking_no_longer_asks_to_give_its_number(db, frozen, sites, client):
    room = make_room(sites["a"], hours={1: [(time(14), time(16))]})
    booking, token = book(room, at_local(TUESDAY, 14))
    assert "Donnez ce numéro à l'accueil." in visible_text(client.get(f"/ma-reservation/{token}"))

    bookings.cancel(booking.id)
    db.session.commit()

    page = visible_text(client.get(f"/ma-reservation/{token}"))
    assert "Cette réservation est annulée." in page and booking.reference in page
    assert "Donnez ce numéro" not in page and "Ajouter à mon agenda" not in page


def test_staff_pages_count_with_real_plurals(db, frozen, sites, client_for):
    room = make_room(sites["a"], hours={1: [(time(14), time(16))]}, workstations=2)
    book(room, at_local(TUESDAY, 14), n=1)
    client = client_for(sites["reception_a"])

    week = visible_text(client.get(f"/salles/{room.id}/semaine?date=2026-03-24"))
    # French plurals: 0 and 1 take the singular.
    assert "14 h : 1 réservé, 1 libre" in week and "15 h : 0 réservé, 2 libres" in week
    day = client.get(f"/salles/{room.id}/jour?date=2026-03-24").get_data(as_text=True)
    assert re.search(r">14 h – 1 place</option>", day) and re.search(r">15 h – 2 places</option>", day)

    workshop = make_workshop(room, places=3)
    register(workshop, n=5)
    cancelled = client_for(sites["manager_a"]).post(f"/ateliers/{workshop.id}/annuler", follow_redirects=True)
    assert "Atelier annulé. 1 inscription annulée : prévenez la personne." in visible_text(cancelled)


def test_site_phone_numbers_are_shown_the_french_way_however_typed(db, frozen, sites, client, client_for):
    site = sites["a"]
    site.phone = "0321000000"
    room = make_room(site, hours={1: [(time(14), time(16))]})
    _booking, token = book(room, at_local(TUESDAY, 14))

    pages = {
        "private link": client.get(f"/ma-reservation/{token}"),
        "public home": client.get("/"),
        "admin list": client_for(sites["admin"]).get("/admin/structures"),
    }
    for name, response in pages.items():
        response.get_data(as_text=True)
        assert "03 21 00 00 00" in visible_text(response) and "0321000000" not in visible_text(response), name
    assert 'href="tel:0321000000"' in pages["private link"].get_data(as_text=True)


def _texts_people_read(path):
    """(line number, text) of what may reach a person: a template's text and the strings of its Jinja
    expressions, a Python module's string literals — never code such as `say_clock(s)` or `str(e)`."""
    source = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.STRING or token.type == getattr(tokenize, "FSTRING_MIDDLE", None):
                yield token.start[0], token.string
        return
    expression = re.compile(r"{{.*?}}|{%.*?%}", re.S)
    literal = re.compile(r"\"[^\"]*\"|'[^']*'")
    for number, line in enumerate(source.splitlines(), start=1):
        yield number, expression.sub(lambda m: " ".join(literal.findall(m.group(0))), line)


def test_no_hand_made_plural_or_gender_left_in_what_people_read():
    """"place(s)", "inscrit(e)": Flask-Babel's ngettext gives real plurals; words say it without gender."""
    word = re.compile(r"[a-zéèàù]\((?:s|e|es)\)")
    offenders = []
    for folder in ("templates", "core", "loans", "reservations", "reports"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".html", ".py"):
                offenders += [f"{path.relative_to(ROOT)}:{number}: {text.strip()}"
                              for number, text in _texts_people_read(path) if word.search(text)]
    assert offenders == []
    # The check itself sees a hand-made plural in a string, and not in code.
    assert word.search("".join(text for _n, text in _texts_people_read(Path(__file__))))


def test_the_first_of_the_month_is_said_1er(db, frozen, sites, client):
    workshop = make_workshop(make_room(sites["a"]), day=date(2026, 4, 1))
    assert "Mercredi 1er avril" in visible_text(client.get(f"/ateliers/{workshop.id}/inscription"))
