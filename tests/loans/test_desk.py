"""The desk page: scan box, overdue loans with the phone to call, today's returns, devices available by kind."""
from datetime import UTC, date, datetime, timedelta

import pytest

import core.clock
from core.models import Role
from core.residents import create_resident
from loans import lending
from tests.core.helpers import page_text

FROZEN = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
TODAY = date(2026, 11, 26)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(core.clock, "frozen_at", FROZEN)


def lend_started(db, device, resident, actor, *, started: date, due: date):
    """A loan made on `started` (frozen clock), due on `due`."""
    with core.clock.frozen(datetime.combine(started, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)):
        loan = lending.lend(actor, device.id, resident, due_on=due, accessories=[], charter_method="ticked")
    db.session.commit()
    return loan


def person(db, site, first, last, phone=""):
    resident = create_resident(None, site, first_name=first, last_name=last, phone=phone)
    db.session.commit()
    return resident


def test_desk_lists_overdue_with_phone_and_days_late_and_todays_returns(db, two_sites, make_device, client_for):
    a, b = two_sites["a"], two_sites["b"]
    agent = two_sites["reception_a"]
    late = make_device(a)
    today = make_device(a, kind="tablet")
    later = make_device(a, kind="dongle")
    lend_started(db, late, person(db, a, "Karim", "Benali", "06 11 22 33 44"), agent, started=date(2026, 11, 1), due=date(2026, 11, 21))
    lend_started(db, today, person(db, a, "Sylvie", "Lemaire", "0799887766"), agent, started=date(2026, 11, 12), due=TODAY)
    lend_started(db, later, person(db, a, "Inès", "Nowak"), agent, started=TODAY, due=TODAY + timedelta(days=5))
    # Site B's overdue loan is not site A's business.
    b_agent = two_sites["manager_b"]
    lend_started(db, make_device(b), person(db, b, "Zoé", "Marqueur", "0600000001"), b_agent,
                 started=date(2026, 11, 1), due=date(2026, 11, 2))

    response = client_for(agent).get("/guichet")

    assert response.status_code == 200
    body = page_text(response)
    assert "Karim Benali" in body and 'href="tel:+33611223344"' in body and "5 jours de retard" in body
    assert "Sylvie Lemaire" in body and 'href="tel:+33799887766"' in body
    assert "Inès Nowak" not in body  # due later: neither late nor expected today
    assert "Marqueur" not in body and b.name not in body
    assert 'action="/guichet/scanner"' in body and 'name="code"' in body and "autofocus" in body


def test_desk_counts_available_devices_by_kind_for_each_site(db, two_sites, make_device, client_for, make_user):
    a, b = two_sites["a"], two_sites["b"]
    for _ in range(3):
        make_device(a)
    make_device(a, kind="dongle")
    make_device(b, kind="tablet")
    repair = make_device(a)
    from loans import operations

    operations.apply("send_to_repair", two_sites["manager_a"], repair.id, site_id=a.id)
    db.session.commit()

    body = page_text(client_for(two_sites["reception_a"]).get("/guichet"))
    assert "Disponibles maintenant" in body
    # 3 laptops available (the one in repair is not), 1 dongle; site B's tablet is not listed.
    assert '<li><span>Ordinateur portable</span> <span class="n">3</span></li>' in body
    assert '<span class="n">1</span>' in body
    assert b.name not in body

    both = make_user(Role.reception, [a, b])
    body = page_text(client_for(both).get("/guichet"))
    assert a.name in body and b.name in body and "Tablette" in body


def test_desk_shows_no_rules_link_to_reception_and_one_to_managers(two_sites, client_for):
    a = two_sites["a"]
    assert f"/structures/{a.id}/regles-de-pret" not in page_text(client_for(two_sites["reception_a"]).get("/guichet"))
    assert f"/structures/{a.id}/regles-de-pret" in page_text(client_for(two_sites["manager_a"]).get("/guichet"))


def test_desk_is_in_the_menu_and_linked_from_the_staff_home(two_sites, client_for):
    client = client_for(two_sites["reception_a"])
    home = page_text(client.get("/espace"))
    assert 'href="/guichet"' in home and ">Guichet<" in home


def test_desk_runs_a_constant_number_of_queries(db, two_sites, make_device, client_for, count_queries):
    a = two_sites["a"]
    agent = two_sites["reception_a"]
    client = client_for(agent)

    def add_loans(n, offset):
        for i in range(n):
            device = make_device(a, kind=["laptop", "tablet", "dongle"][i % 3])
            who = person(db, a, f"P{offset + i}", "Retard", f"06000{offset + i:05d}")
            lend_started(db, device, who, agent, started=date(2026, 10, 1), due=date(2026, 11, 1) + timedelta(days=i % 30))
            make_device(a)  # and one more available

    add_loans(2, 0)
    client.get("/guichet")
    with count_queries() as small:
        assert client.get("/guichet").status_code == 200
    add_loans(25, 100)
    with count_queries() as large:
        body = page_text(client.get("/guichet"))
    assert "P124 Retard" in body
    assert small() == large()
