"""Due dates fall on days the lending desk is open: the proposed date moves to the next open day
(desk hours and site-wide closures), a chosen or extended date on a closed day gets a warning, and
the desk's hours are on the receipt and on the public device page."""
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select

import core.clock
from core.models import DeskHours
from core.residents import create_resident
from loans import lending
from loans.models import Loan
from reservations.models import Closure
from tests.core.helpers import location_path, page_text

FROZEN = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)  # Thursday 26 November 2026
TODAY = date(2026, 11, 26)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(core.clock, "frozen_at", FROZEN)


@pytest.fixture
def world(db, two_sites, make_device, client_for):
    """Site A's desk: Monday, Tuesday, Wednesday and Friday, 9 h – 12 h and 13 h 30 – 17 h (closed on Thursdays)."""
    a = two_sites["a"]
    a.desk_hours = [DeskHours(weekday=wd, starts=s, ends=e)
                    for wd in (0, 1, 2, 4) for s, e in ((time(9), time(12)), (time(13, 30), time(17)))]
    db.session.commit()
    laptop = make_device(a, accessories="Chargeur")
    resident = create_resident(None, a, first_name="Marie", last_name="Dupont", phone="06 12 34 56 78", membership_number="")
    db.session.commit()
    return dict(two_sites, laptop=laptop, resident=resident, client=client_for(two_sites["reception_a"]))


def proposed(response):
    return page_text(response).split('name="due_on"')[1].split('value="')[1].split('"')[0]


def test_the_proposed_due_date_is_the_next_day_the_desk_is_open(db, world):
    url = f"/equipements/{world['laptop'].tag}/preter"
    # 14 days (the laptop's default) is Thursday 10 December: the desk is closed on Thursdays.
    assert lending.default_due_date(world["a"].id, world["laptop"].kind) == date(2026, 12, 11)
    assert proposed(world["client"].get(url)) == "2026-12-11"
    # Friday 11 is a closure of the whole site: Monday 14.
    db.session.add(Closure(site_id=world["a"].id, room_id=None, first_day=date(2026, 12, 11), last_day=date(2026, 12, 11),
                           reason="Inventaire"))
    db.session.commit()
    response = world["client"].get(url)
    assert proposed(response) == "2026-12-14"
    assert "Proposée : lundi 14 décembre 2026" in page_text(response)



def test_the_hint_says_one_day_in_the_singular(db, world):
    # A one-day rule: Friday 27 November, the desk is open.
    lending.set_policy(world["a"].id, world["laptop"].kind_id, default_days=1, max_per_resident=1)
    db.session.commit()
    text = page_text(world["client"].get(f"/equipements/{world['laptop'].tag}/preter"))
    assert "Proposée : vendredi 27 novembre 2026 (1 jour, règle de la structure" in text
    assert "1 jours" not in text

def lend_form(world, due_on):
    return {"resident": str(world["resident"].id), "due_on": due_on, "accessories": ["Chargeur"], "charter": "ticked",
            "condition": "", "form_key": "key-" + due_on}


def test_a_due_date_on_a_closed_day_is_kept_with_a_warning(db, world):
    response = world["client"].post(f"/equipements/{world['laptop'].tag}/preter", data=lend_form(world, "2026-12-10"))
    assert response.status_code == 302
    loan = db.session.scalar(select(Loan))
    assert loan.due_on == date(2026, 12, 10)
    receipt = page_text(world["client"].get(location_path(response)))
    assert ("Attention : le jeudi 10 décembre, l'accueil est fermé le jeudi. La personne ne pourra pas rapporter "
            "l'équipement ce jour-là ; prochain jour d'ouverture : vendredi 11 décembre.") in receipt
    # The receipt says when the desk is open.
    assert "Horaires de l'accueil" in receipt
    assert "Du lundi au mercredi : de 9 h à 12 h et de 13 h 30 à 17 h" in receipt
    assert "Vendredi : de 9 h à 12 h et de 13 h 30 à 17 h" in receipt


def test_a_due_date_on_an_open_day_gets_no_warning(db, world):
    response = world["client"].post(f"/equipements/{world['laptop'].tag}/preter", data=lend_form(world, "2026-12-11"))
    assert response.status_code == 302
    assert "Attention" not in page_text(world["client"].get(location_path(response)))


def test_an_extension_to_a_closed_day_is_kept_with_a_warning(db, world):
    loan = lending.lend(world["reception_a"], world["laptop"].id, world["resident"], due_on=date(2026, 12, 11),
                        accessories=[], charter_method="ticked")
    db.session.add(Closure(site_id=world["a"].id, room_id=None, first_day=date(2026, 12, 21), last_day=date(2026, 12, 31),
                           reason="Vacances de Noël"))
    db.session.add(Closure(site_id=world["a"].id, room_id=None, first_day=date(2027, 1, 1), last_day=date(2027, 1, 1),
                           reason="Jour de l'an"))
    db.session.commit()
    response = world["client"].post(f"/equipements/{world['laptop'].tag}/prolonger",
                                    data={"new_due_on": "2026-12-22", "agreed_by": "Mme Caron"}, follow_redirects=True)
    db.session.refresh(loan)
    assert loan.due_on == date(2026, 12, 22)
    text = page_text(response)
    assert "Prêt prolongé jusqu'au 22/12/2026." in text
    assert ("Attention : le mardi 22 décembre, le centre est fermé (Vacances de Noël). La personne ne pourra pas rapporter "
            "l'équipement ce jour-là ; prochain jour d'ouverture : lundi 4 janvier.") in text


def test_the_public_device_page_shows_the_desk_hours(db, world, app):
    page = page_text(app.test_client().get(f"/d/{world['laptop'].tag}"))
    assert "Horaires de l'accueil" in page and "Du lundi au mercredi : de 9 h à 12 h et de 13 h 30 à 17 h" in page
