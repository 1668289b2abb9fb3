"""The desk's busiest requests run the same number of SQL statements whatever the history: resident
search as you type (JSON), the lend and take-back POSTs, the admin's desk (every site). The device
page, the reception desk and the lend page have their own tests (test_inventory_queries.py,
test_desk.py, test_lending_views.py)."""
from datetime import UTC, date, datetime, timedelta

import pytest

import core.clock
from core.residents import create_resident
from loans import lending
from loans.models import Device, DeviceStatus, Loan

FROZEN = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
TODAY = date(2026, 11, 26)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(core.clock, "frozen_at", FROZEN)


def person(db, site, first, last, phone=""):
    resident = create_resident(None, site, first_name=first, last_name=last, phone=phone)
    db.session.commit()
    return resident


def past_loans(db, device, residents, actor, site, *, start: date):
    """One loan after another on the device, each taken back: history that no page should read."""
    for n, resident in enumerate(residents):
        day = start + timedelta(days=3 * n)
        with core.clock.frozen(datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)):
            lending.lend(actor, device.id, resident, due_on=day + timedelta(days=2), accessories=[], charter_method="ticked")
        with core.clock.frozen(datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=15)):
            lending.take_back(actor, device.id, site_id=site.id, accessories_returned=[], data_wiped=True)
        db.session.commit()


def statements(count_queries, client, method, url, **kwargs):
    with count_queries() as n:
        response = getattr(client, method)(url, **kwargs)
    assert response.status_code in (200, 302), response.status_code
    return n(), response


@pytest.mark.parametrize("who", ["reception_a", "admin"])
@pytest.mark.parametrize("typed", ["dup", "06 12"])
def test_resident_search_statements_do_not_grow_with_residents_or_loans(db, two_sites, make_device, client_for, count_queries, who, typed):
    a, b = two_sites["a"], two_sites["b"]
    client = client_for(two_sites[who])
    person(db, a, "Marie", "Dupont", "06 12 00 00 01")
    url = f"/habitants/recherche?q={typed}"
    client.get(url)  # warm up
    few, response = statements(count_queries, client, "get", url)
    assert [r["name"] for r in response.get_json()["results"]] == ["Marie Dupont"]

    many = [person(db, site, f"P{n}", "Dupuis", f"06 12 00 {n:02d} 99") for n in range(30) for site in (a, b)]
    past_loans(db, make_device(a), many[:20:2], two_sites["manager_a"], a, start=date(2026, 1, 5))
    more, response = statements(count_queries, client, "get", url)
    body = response.get_json()
    assert len(body["results"]) == 10 and body["has_more"] is True
    assert more == few


def lend_form(resident, device, key):
    return {"resident": str(resident.id), "due_on": (TODAY + timedelta(days=14)).isoformat(),
            "accessories": device.accessory_list, "charter": "ticked", "condition": "", "form_key": key}


def test_lend_and_take_back_posts_do_not_grow_with_history(db, two_sites, make_device, client_for, count_queries):
    a = two_sites["a"]
    agent = two_sites["reception_a"]
    client = client_for(agent)
    device = make_device(a, accessories="Chargeur\nHousse")
    marie = person(db, a, "Marie", "Dupont", "06 12 34 56 78")
    take_back = {"site": str(a.id), "accessories": ["Chargeur", "Housse"], "condition": "", "data_wiped": "y"}

    def lend_then_take_back(key):
        # Each loan records when the charter was accepted: an UPDATE, unless the clock has not moved.
        marie.charter_accepted_at = None
        db.session.commit()
        lent, response = statements(count_queries, client, "post", f"/equipements/{device.tag}/preter",
                                    data=lend_form(marie, device, key))
        assert "/recu" in response.headers["Location"]
        back, _ = statements(count_queries, client, "post", f"/equipements/{device.tag}/reprendre", data=take_back)
        assert db.session.get(Device, device.id).status is DeviceStatus.available
        db.session.rollback()
        return lent, back

    lend_then_take_back("warm-up")
    small = lend_then_take_back("first")
    others = [person(db, a, f"P{n}", "Martin") for n in range(15)]
    past_loans(db, device, others + [marie] * 5, agent, a, start=date(2025, 6, 2))
    assert db.session.query(Loan).filter(Loan.device_id == device.id).count() == 22
    assert lend_then_take_back("second") == small


def test_admin_desk_statements_do_not_grow_with_open_or_past_loans(db, two_sites, make_device, client_for, count_queries):
    a, b = two_sites["a"], two_sites["b"]
    admin = two_sites["admin"]
    client = client_for(admin)

    def open_loans(site, n, offset):
        for i in range(n):
            device = make_device(site, kind=["laptop", "tablet", "dongle"][i % 3])
            who = person(db, site, f"P{offset + i}", "Retard", f"06000{offset + i:05d}")
            with core.clock.frozen(datetime(2026, 10, 1, 9, tzinfo=UTC)):
                lending.lend(two_sites["manager_a" if site is a else "manager_b"], device.id, who,
                             due_on=date(2026, 11, 1) + timedelta(days=i % 30), accessories=[], charter_method="ticked")
            db.session.commit()

    open_loans(a, 1, 0)
    client.get("/guichet")
    few, _ = statements(count_queries, client, "get", "/guichet")
    open_loans(a, 10, 100)
    open_loans(b, 10, 200)
    past_loans(db, make_device(b), [person(db, b, "Léa", "Caron")] * 10, two_sites["manager_b"], b, start=date(2026, 2, 2))
    more, response = statements(count_queries, client, "get", "/guichet")
    body = response.get_data(as_text=True)
    assert "P109 Retard" in body and "P209 Retard" in body
    assert more == few


def open_loans_for(db, people, make_device, site, actor, *, due: date):
    """A tablet and a dongle on loan to each person, lent three weeks ago (due `due`)."""
    with core.clock.frozen(FROZEN - timedelta(days=21)):
        for who in people:
            for kind in ("tablet", "dongle"):
                lending.lend(actor, make_device(site, kind=kind).id, who, due_on=due, accessories=[], charter_method="ticked")
    db.session.commit()


@pytest.mark.parametrize("who", ["reception_a", "admin"])
def test_lend_search_with_loans_and_limit_statements_do_not_grow(db, two_sites, make_device, client_for, count_queries, who):
    """The search as you type of the lend form tells each person's loans and the kind's limit: in a
    constant number of statements, however many people match and however many loans they hold."""
    a, b = two_sites["a"], two_sites["b"]
    client = client_for(two_sites[who])
    tablet = make_device(a, kind="tablet")
    marie = person(db, a, "Marie", "Dupont", "06 12 00 00 01")
    open_loans_for(db, [marie], make_device, a, two_sites["manager_a"], due=TODAY + timedelta(days=3))
    url = f"/habitants/recherche?q=dup&equipement={tablet.tag}"
    client.get(url)  # warm up
    few, response = statements(count_queries, client, "get", url)
    assert [line["state"] for line in response.get_json()["results"][0]["loans"]] == ["on-loan", "on-loan", "limit"]

    many = [person(db, site, f"P{n}", "Dupuis", f"06 13 00 {n:02d} 99") for n in range(15) for site in (a, b)]
    open_loans_for(db, many[:10:2], make_device, a, two_sites["manager_a"], due=TODAY - timedelta(days=2))
    open_loans_for(db, many[1:10:2], make_device, b, two_sites["manager_b"], due=TODAY + timedelta(days=9))
    past_loans(db, make_device(a), many[:6:2], two_sites["manager_a"], a, start=date(2026, 1, 5))
    more, response = statements(count_queries, client, "get", url)
    results = response.get_json()["results"]
    assert len(results) == 10
    states = [line["state"] for r in results for line in r["loans"]]
    assert states.count("late") >= 3 and states.count("limit") >= 3  # read for the people of the page
    assert more == few


def test_lend_page_with_search_results_and_their_loans_statements_do_not_grow(db, two_sites, make_device, client_for,
                                                                             count_queries):
    a = two_sites["a"]
    client = client_for(two_sites["reception_a"])
    tablet = make_device(a, kind="tablet")
    marie = person(db, a, "Marie", "Dupont", "06 12 00 00 01")
    open_loans_for(db, [marie], make_device, a, two_sites["manager_a"], due=TODAY + timedelta(days=3))
    url = f"/equipements/{tablet.tag}/preter?q=dup"
    client.get(url)  # warm up
    few, response = statements(count_queries, client, "get", url)
    assert "Limite atteinte" in response.get_data(as_text=True)

    many = [person(db, a, f"P{n}", "Dupuis", f"06 13 00 {n:02d} 99") for n in range(12)]
    open_loans_for(db, many[:8], make_device, a, two_sites["manager_a"], due=TODAY - timedelta(days=2))
    more, response = statements(count_queries, client, "get", url)
    assert response.get_data(as_text=True).count("En retard : ") >= 8
    assert more == few
