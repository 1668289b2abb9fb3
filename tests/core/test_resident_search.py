"""Resident search as you type (core/residents.py): what it matches, who sees whom, the pages in name
order, the search keys kept with the name (create, edit, erasure, a bulk insert), and the query plan:
the name is found through ix_resident_name_keys_search on both databases, never by reading every
resident."""
import re

import pytest
from sqlalchemy import func, insert, select

from core import residents
from core.extensions import db as _db
from core.models import Role
from core.privacy import erasure
from core.privacy.models import ErasureCause
from core.residents import Resident, create_resident, edit_resident, resident_name_keys, resident_sites


@pytest.fixture
def person(db):
    def make(site, first, last, phone="", membership_number=""):
        resident = create_resident(None, site, first_name=first, last_name=last, phone=phone,
                                   membership_number=membership_number)
        db.session.commit()
        return resident

    return make


def names(user, text, page=1, per_page=10):
    found, _more = residents.search(user, text, page, per_page)
    return [r.full_name for r in found]


def test_any_word_of_the_name_accents_and_case_aside(two_sites, person):
    a, admin = two_sites["a"], two_sites["admin"]
    person(a, "Marie-Claire", "de la Fontaine")
    person(a, "Aïssata", "N'Diaye")
    person(a, "Élodie", "Dupont", phone="06 12 34 56 78", membership_number="ADH-7")
    person(a, "Jean Pierre", "Martin")

    for typed in ("marie", "claire", "CLAI", "fontaine", "de la font", "la fontaine marie"):
        assert names(admin, typed) == ["Marie-Claire de la Fontaine"], typed
    for typed in ("ndiaye", "diaye", "n'diaye", "N'DI", "aissata", "AÏSS"):
        assert names(admin, typed) == ["Aïssata N'Diaye"], typed
    for typed in ("élo", "ELODIE", "dupont", "dupont élo", "élodie dup", "06 12 34", "+33 6 12", "0612",
                  "0033 6 12 34", "ADH-7"):
        assert names(admin, typed) == ["Élodie Dupont"], typed
    assert names(admin, "jean pierre") == ["Jean Pierre Martin"]
    assert names(admin, "pierre mart") == ["Jean Pierre Martin"]
    # Every word typed must begin a word of the name; a word longer than 4 letters is checked whole.
    for typed in ("dupontel", "élodie martin", "claire dup", "ADH", "0613", "ontaine", "lodie"):
        assert names(admin, typed) == [], typed


def test_reception_sees_the_people_of_its_sites_only(two_sites, person, make_site, make_user, db):
    a, b = two_sites["a"], two_sites["b"]
    at_a = person(a, "Karim", "Benali", phone="0712000001")
    at_b = person(b, "Karine", "Benoît", phone="0712000002")
    both = person(b, "Kevin", "Bensaïd", phone="0712000003")
    both.sites = [a, b]
    db.session.commit()
    c = make_site("Centre C")
    at_a_and_c = make_user(Role.reception, [a, c])

    for typed in ("ben", "kar", "ke", "0712", "07 12 00 00"):
        seen_at_a = set(names(two_sites["reception_a"], typed))
        seen_at_b = set(names(two_sites["manager_b"], typed))
        every = set(names(two_sites["admin"], typed))
        assert at_b.full_name not in seen_at_a and at_a.full_name not in seen_at_b, typed
        assert seen_at_a <= {at_a.full_name, both.full_name} and seen_at_b <= {at_b.full_name, both.full_name}, typed
        assert every == seen_at_a | seen_at_b, typed
        assert set(names(at_a_and_c, typed)) == seen_at_a, typed
    assert names(two_sites["reception_a"], "ben") == ["Karim Benali", "Kevin Bensaïd"]
    assert names(two_sites["manager_b"], "ben") == ["Karine Benoît", "Kevin Bensaïd"]


def test_pages_in_name_order_without_duplicates(two_sites, person):
    a = two_sites["a"]
    # Matched by the first name, the last name or both: each person once, in (last, first) order.
    for n in range(7):
        person(a, f"Martine{n}", f"Zèbre{n}")
        person(a, f"Ali{n}", f"Martin{n}")
        person(a, f"Marc{n}", f"Marchal{n}", phone=f"06 12 00 00 {n:02d}")
    person(a, "Paul", "Dubois")
    user = two_sites["reception_a"]
    every = []
    page, more = 1, True
    while more:
        found, more = residents.search(user, "mar", page, 4)
        every += [(r.last_name_key, r.first_name_key) for r in found]
        page += 1
    assert len(every) == 21 == len(set(every))
    assert every == sorted(every)
    by_phone = [r.full_name for r in residents.search(user, "06 12 00", 1, 10)[0]]
    assert by_phone == [f"Marc{n} Marchal{n}" for n in range(7)]


def test_the_keys_follow_the_name_and_an_erased_person_has_none(two_sites, person, db):
    a, admin = two_sites["a"], two_sites["admin"]
    resident = person(a, "Sandrine", "Wattez", phone="0655443322")
    edit_resident(admin, resident.id, first_name="Sandra", last_name="Lemaire", phone="0655443322")
    db.session.commit()
    assert names(admin, "sandra lem") == ["Sandra Lemaire"]
    assert names(admin, "wattez") == [] and names(admin, "sandrine") == []

    erasure.anonymise_residents([resident.id], cause=ErasureCause.request, reason="demande")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(resident_name_keys)) == 0
    for typed in ("sandra", "lemaire", "0655", "sa"):
        assert names(admin, typed) == [], typed


def test_people_inserted_in_bulk_get_their_keys(two_sites, db):
    ids = db.session.scalars(insert(Resident).returning(Resident.id), [
        dict(first_name="Inès", last_name="Haddad", first_name_key="ines", last_name_key="haddad"),
        dict(first_name="Léa", last_name="Leroy", first_name_key="lea", last_name_key="leroy"),
    ]).all()
    db.session.execute(insert(resident_sites), [dict(resident_id=i, site_id=two_sites["a"].id) for i in ids])
    db.session.commit()
    assert names(two_sites["admin"], "hadd") == []
    assert residents.index_missing_names() == 2
    db.session.commit()
    assert names(two_sites["reception_a"], "hadd") == ["Inès Haddad"]
    assert names(two_sites["reception_a"], "le") == ["Léa Leroy"]
    assert residents.index_missing_names() == 0


# --- the query plan -------------------------------------------------------------------------------


def plan_of(query) -> tuple[str, list[str]]:
    """(the plan, the full scans of the residents' tables in it). PostgreSQL chooses by statistics (on a
    tiny table a sequential scan is cheapest): there sequential scans are disabled, and one that remains
    had no index to use (as tests/reports/test_query_plans.py does)."""
    conn = _db.session.connection()  # the session's (SQLite: its transaction holds the database)
    compiled = query.compile(conn, compile_kwargs={"render_postcompile": True})
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        shown = "\n".join(line for (line,) in conn.exec_driver_sql("EXPLAIN " + compiled.string, compiled.params))
        scans = re.findall(r"Seq Scan on (residents|resident_name_keys|resident_sites)\b", shown)
    else:
        parameters = tuple(compiled.params[name] for name in compiled.positiontup)
        shown = "\n".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.string, parameters))
        scans = re.findall(r"^SCAN (residents|resident_name_keys|resident_sites)\b(?! USING)", shown, re.M)
    _db.session.rollback()
    return shown, scans


@pytest.mark.parametrize("who", ["admin", "reception_a"])
def test_the_search_reads_the_name_keys_index_in_name_order(two_sites, person, who):
    for n in range(30):
        person(two_sites["a" if n % 2 else "b"], f"Marie{n}", f"Dupont{n}", phone=f"07 12 00 00 {n:02d}")
    user = two_sites[who]
    # A phone: by its index (reception may start from its site's people instead).
    phone_index = "ix_residents_phone" if who == "admin" else ("Index" if _db.engine.dialect.name == "postgresql" else "SEARCH")
    for typed, index in (("dup", "ix_resident_name_keys_search"), ("dupont mar", "ix_resident_name_keys_search"),
                         ("07 12 00", phone_index)):
        shown, full_scans = plan_of(residents.search_query(user, typed, 11))
        assert index in shown, (typed, shown)
        assert full_scans == [], (typed, shown)
    # And the statement finds them, in name order.
    expected = sorted((f"dupont{n}", f"marie{n}") for n in range(30) if who == "admin" or n % 2)[:10]
    found = residents.search(user, "dup", 1, 10)[0]
    assert [(r.last_name_key, r.first_name_key) for r in found] == expected
