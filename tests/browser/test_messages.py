"""Messages to residents, end to end (issue 11): a resident books a workshop on a 360 px phone with an
e-mail; the worker sends the confirmation to a real SMTP server; the link in it opens the booking;
cancelling there promotes the first person on the waiting list, whose SMS reaches the SMS provider."""
import re

import icalendar
import pytest
from playwright.sync_api import expect

from core.messaging.models import Message, MessageKind, MessageStatus
from tests.browser.conftest import ARTIFACTS
from tests.conftest import live_server
from tests.messaging_peers import run_worker, sms_provider, smtp_server, wait_for  # noqa: F401  (fixtures)
from tests.reservations.conftest import frozen  # noqa: F401  (fixture)
from tests.reservations.factories import make_room, make_workshop

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def app_config(smtp_server, sms_provider):  # noqa: F811  (fixtures)
    return {"WTF_CSRF_ENABLED": True, **smtp_server.config, **sms_provider.config}


def test_a_booking_confirmed_by_e_mail_and_a_waiting_list_place_by_sms(
        app, db, frozen, make_site, browser, smtp_server, sms_provider, check_accessibility):  # noqa: F811
    from reservations import workshops
    from reservations.identity import Contact

    site = make_site("ACSRV", address="34 avenue de Condé", postcode="59300", town="Valenciennes", phone="03 27 28 91 98")
    workshop = make_workshop(make_room(site, name="Salle informatique"), places=1, title="Prendre en main sa tablette")
    site_id, workshop_id = site.id, workshop.id
    db.session.commit()
    context = browser.new_context(locale="fr-FR", viewport=PHONE, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    with live_server(app) as base, run_worker(app, workers=2):
        page.goto(f"{base}/ateliers/centre/{site_id}")
        page.get_by_role("link", name=re.compile(r"^Je m'inscris : Prendre en main sa tablette")).click()
        page.get_by_label("Votre prénom").fill("Nadia")
        page.get_by_label("Votre numéro de téléphone ou votre e-mail").fill("nadia@exemple.fr")
        check_accessibility(page, "inscription atelier")
        page.get_by_role("button", name="Je m'inscris").click()
        expect(page.get_by_text("Votre place est réservée").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        # The confirmation reaches the SMTP server, in French, with the private link and the .ics.
        wait_for(lambda: smtp_server.to("nadia@exemple.fr"), what="the confirmation e-mail")
        [mail] = smtp_server.to("nadia@exemple.fr")
        text = mail.get_body(preferencelist=("plain",)).get_content()
        assert "Prendre en main sa tablette" in text and "03 27 28 91 98" in text
        link = re.search(r"http://\S+/ma-reservation/\S+", text).group(0)
        [ics] = [part for part in mail.walk() if part.get_content_type() == "text/calendar"]
        calendar = icalendar.Calendar.from_ical(ics.get_payload(decode=True))
        assert str(calendar["METHOD"]) == "REQUEST"
        assert [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")] == ["Atelier : Prendre en main sa tablette"]

        # Someone joins the waiting list by phone; then Nadia opens her link and gives her place back.
        workshops.register(workshop_id, "Karim", Contact(phone="06 12 34 56 78", email=""))
        db.session.commit()
        page.goto(base + "/" + link.split("/", 3)[3])  # the e-mail's link, on this test server
        expect(page.get_by_text("Prendre en main sa tablette").first).to_be_visible()
        check_accessibility(page, "réservation ouverte depuis l'e-mail")
        page.get_by_role("link", name="Annuler ma réservation").click()
        page.get_by_role("button", name="Oui, j'annule").click()
        page.screenshot(path=str(ARTIFACTS / "messages-annulation-360.png"), full_page=True)

        # Karim is promoted: his SMS reaches the provider in the same moment.
        wait_for(lambda: sms_provider.to("33612345678"), what="the waiting-list SMS")
        [sms] = sms_provider.to("33612345678")
        assert "place" in sms["content"] and "ACSRV" in sms["content"]
    context.close()
    db.session.expire_all()
    place = db.session.scalars(db.select(Message).where(Message.kind == MessageKind.waiting_list_place)).one()
    assert place.status is MessageStatus.sent and place.provider_ref
