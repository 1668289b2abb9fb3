"""Information at collection (issue 12, item 2): each centre's public page "Vos données" says who is
responsible, why, what is kept, for how long (the retention settings in force), the rights and how to
use them (the centre, the federation's DPO when configured, the CNIL); its A4 poster for the desk; the
"Pourquoi on vous demande votre numéro ?" notice next to the contact fields of the two booking forms
and of the desk's lend form, linking to the page."""
import re
from datetime import date, time

import pytest

from core.config import ENV_KEYS, load_config
from core.models import Role
from core.privacy.models import PrivacySettings
from core.privacy.notice import say_months
from tests.core.helpers import page_text, visible_text
from tests.reservations.conftest import frozen  # noqa: F401  (fixture)
from tests.reservations.factories import at_local, book, make_room, make_workshop

DPO = {"DPO_NAME": "Service DPO de la Fédération", "DPO_EMAIL": "dpo@federation.example.org",
       "DPO_ADDRESS": "199-201 rue Colbert, 59800 Lille", "DPO_PHONE": "0320799870"}


@pytest.fixture
def centre(make_site):
    return make_site("Centre social de Mazingarbe", address="Chemin de La Bassée", postcode="62670", town="Mazingarbe",
                     phone="0321372800", email="accueil@mazingarbe.example.org")


def test_the_page_names_the_centre_responsible_and_how_to_reach_it(db, client, centre, make_site):
    make_site("Un autre centre", phone="03 99 99 99 99")
    response = client.get(f"/vos-donnees/{centre.id}")
    assert response.status_code == 200
    text = visible_text(response)
    assert "Le centre Centre social de Mazingarbe s'occupe de vos données." in text
    assert "Chemin de La Bassée 62670 Mazingarbe" in text
    assert "Téléphone : 03 21 37 28 00" in text and 'href="tel:0321372800"' in page_text(response)
    assert "accueil@mazingarbe.example.org" in text
    # How to use one's rights: the centre's own phone and address.
    assert "Ou appelez le centre : 03 21 37 28 00" in text
    assert "Ou écrivez au centre : Chemin de La Bassée, 62670 Mazingarbe" in text
    for right in ("voir vos données", "corriger vos données", "effacer vos données", "dire non"):
        assert right in text
    assert "Vous pouvez vous plaindre à la CNIL." in text and "www.cnil.fr/fr/plaintes" in text
    assert "03 99 99 99 99" not in text  # only this centre


def test_the_durations_are_the_settings_in_force(db, client, centre):
    text = visible_text(client.get(f"/vos-donnees/{centre.id}"))
    # The CNIL-based defaults, before an admin saved any setting.
    assert "Votre fiche d'emprunteur : 2 ans après votre dernière venue au centre." in text
    assert "Votre numéro ou votre e-mail donné pour réserver : 1 an après votre dernière réservation." in text
    assert "Le texte des messages envoyés : 6 mois." in text
    assert "qui ont ouvert votre fiche : 1 an." in text

    db.session.add(PrivacySettings(id=1, resident_months=36, booking_contact_months=18, message_body_months=1, log_months=7))
    db.session.commit()
    text = visible_text(client.get(f"/vos-donnees/{centre.id}"))
    assert "Votre fiche d'emprunteur : 3 ans après votre dernière venue au centre." in text
    assert "Votre numéro ou votre e-mail donné pour réserver : 18 mois après votre dernière réservation." in text
    assert "Le texte des messages envoyés : 1 mois." in text
    assert "qui ont ouvert votre fiche : 7 mois." in text
    assert "2 ans" not in text

    settings = db.session.get(PrivacySettings, 1)
    settings.resident_months = 13
    db.session.commit()
    poster = visible_text(client.get(f"/vos-donnees/{centre.id}/affiche"))
    assert "Fiche d'emprunteur : 13 mois après votre dernière venue." in poster
    assert "Numéro donné pour réserver : 18 mois." in poster


@pytest.mark.parametrize(("months", "said"), [(1, "1 mois"), (6, "6 mois"), (12, "1 an"), (18, "18 mois"), (24, "2 ans"), (120, "10 ans")])
def test_durations_are_said_in_years_when_they_are_whole(app, months, said):
    with app.test_request_context():
        assert say_months(months) == said


def test_the_dpo_is_shown_when_configured(db, app, client, centre):
    app.config.update(DPO)
    text = visible_text(client.get(f"/vos-donnees/{centre.id}"))
    assert "délégué à la protection des données (DPO)" in text
    assert "Service DPO de la Fédération" in text and "dpo@federation.example.org" in text
    assert "03 20 79 98 70" in text and "199-201 rue Colbert, 59800 Lille" in text
    assert "Le centre transmet votre demande." not in text
    poster = visible_text(client.get(f"/vos-donnees/{centre.id}/affiche"))
    assert "dpo@federation.example.org" in poster and "03 20 79 98 70" in poster


def test_without_a_dpo_the_page_says_to_ask_the_centre(db, app, client, centre):
    app.config.update({key: "" for key in DPO} | {"DPO_NAME": "Nom sans moyen de contact"})
    text = visible_text(client.get(f"/vos-donnees/{centre.id}"))
    assert "Demandez à l'accueil du centre. Le centre transmet votre demande." in text
    assert "Nom sans moyen de contact" not in text and "(DPO)" not in text


def test_the_dpo_comes_from_the_environment(app, monkeypatch):
    assert all(key in ENV_KEYS for key in DPO)
    for key, value in DPO.items():
        monkeypatch.setenv(key, value)
    fresh = type(app)(app.import_name, instance_path=app.instance_path)
    load_config(fresh)
    assert {key: fresh.config[key] for key in DPO} == DPO


def test_an_unknown_centre_gets_a_french_404(db, client, centre):
    for url in ("/vos-donnees/999999", "/vos-donnees/999999/affiche"):
        response = client.get(url)
        assert response.status_code == 404
        text = visible_text(response)
        assert "Ce centre n'existe pas." in text and 'href="/vos-donnees"' in page_text(response)


def test_the_list_of_centres_leads_to_each_page(db, client, centre, make_site):
    other = make_site("Maison de Quartier Centre-Ville")
    body = page_text(client.get("/vos-donnees"))
    assert f'href="/vos-donnees/{centre.id}"' in body and f'href="/vos-donnees/{other.id}"' in body


def test_the_poster_is_one_printable_page_with_a_qr_code_to_the_full_page(db, app, client, centre):
    response = client.get(f"/vos-donnees/{centre.id}/affiche")
    assert response.status_code == 200
    body, text = page_text(response), visible_text(response)
    assert "Centre social de Mazingarbe" in text and "03 21 37 28 00" in text and "Chemin de La Bassée" in text
    assert '<svg class="qr"' in body and "Code QR de la page Vos données" in body
    assert f"{app.config['PUBLIC_BASE_URL']}/vos-donnees/{centre.id}" in text
    assert "css/privacy.css" in body and 'id="print-button"' in body


def test_the_pages_run_a_fixed_number_of_queries(db, client, centre, count_queries):
    db.session.commit()
    with count_queries() as n:
        client.get(f"/vos-donnees/{centre.id}")
    # The site and the settings row; nothing grows with the data.
    assert n() <= 3


# --- the notice next to the contact fields ---------------------------------------------------


NOTICE = "Pourquoi on vous demande votre numéro ?"


def notice_link(response) -> str:
    body = page_text(response)
    assert f"<summary>{NOTICE}</summary>" in body
    details = body.split('<details class="why-number">')[1].split("</details>")[0]
    return re.search(r'href="([^"]+)"', details).group(1)


def test_the_booking_forms_say_why_the_number_is_asked(db, frozen, client, centre):  # noqa: F811
    room = make_room(centre, hours={1: [(time(14), time(16))]})
    seat = client.get(f"/reserver/salle/{room.id}/2026-03-24/1400")
    assert seat.status_code == 200
    assert notice_link(seat) == f"/vos-donnees/{centre.id}"
    assert "Un rappel la veille, si vous le voulez." in visible_text(seat)

    workshop = make_workshop(room, day=date(2026, 3, 25))
    join = client.get(f"/ateliers/{workshop.id}/inscription")
    assert join.status_code == 200 and notice_link(join) == f"/vos-donnees/{centre.id}"
    # The footer of the residents' pages leads there too.
    assert f'<p><a href="/vos-donnees/{centre.id}">Vos données personnelles</a></p>' in page_text(join)
    assert 'href="/vos-donnees"' in page_text(client.get("/reserver"))
    assert 'href="/vos-donnees"' in page_text(client.get("/"))
    # The private link's pages know the centre through the booking; a wrong link lists the centres.
    _booking, token = book(room, at_local(date(2026, 3, 24), 14))
    for url in (f"/ma-reservation/{token}", f"/ma-reservation/{token}/annuler"):
        assert f'<p><a href="/vos-donnees/{centre.id}">Vos données personnelles</a></p>' in page_text(client.get(url))
    assert '<p><a href="/vos-donnees">Vos données personnelles</a></p>' in page_text(client.get("/ma-reservation/" + "x" * 32))


def test_the_lend_form_says_why_the_number_is_asked(db, centre, make_user, client_for):
    from loans import operations

    agent = make_user(Role.reception, sites=[centre])
    device = operations.create_device(None, centre, operations.ensure_default_kinds()["laptop"])
    db.session.commit()
    response = client_for(agent).get(f"/equipements/{device.tag}/preter")
    assert response.status_code == 200
    assert notice_link(response) == f"/vos-donnees/{centre.id}"
    text = visible_text(response)
    assert "À lire à la personne, si elle le demande." in text and "Un message si le prêt est en retard." in text
    # Inside the new person's part, after the phone field.
    body = page_text(response)
    new_person = body.split('id="new-person"')[1].split("</fieldset>")[0]
    assert new_person.index('name="phone"') < new_person.index(NOTICE)


def test_the_staff_site_page_links_to_the_poster(db, centre, make_user, client_for):
    manager = make_user(Role.manager, sites=[centre])
    body = page_text(client_for(manager).get(f"/structures/{centre.id}"))
    assert f'href="/vos-donnees/{centre.id}/affiche">Imprimer l\'affiche Vos données</a>' in body
    assert f'href="/vos-donnees/{centre.id}"' in body
