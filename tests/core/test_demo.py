"""`flask demo` (idempotent) and `flask create-admin`."""
import itertools

import pytest
from sqlalchemy import func, select

from core.demo import ACCOUNTS
from core.models import Role, Site, User
from tests.core.helpers import page_text, snapshot

# PRODUCT.md §1: the partner sites, their town and public phone number.
PARTNER_SITES = {
    ("ACSRV", "34 avenue de Condé", "59300", "Valenciennes", "03 27 28 91 98"),
    ("Centre social de Mazingarbe", "Chemin de La Bassée", "62670", "Mazingarbe", "03 21 37 28 00"),
    ("Maison de Quartier Centre-Ville", "10 rue des Ursulines", "59300", "Valenciennes", "03 27 22 43 90"),
    ("Fédération des centres sociaux Nord-Pas-de-Calais", "199-201 rue Colbert", "59800", "Lille", "03 20 79 98 70"),
}


def run(runner, *args, **kwargs):
    result = runner.invoke(args=list(args), **kwargs)
    return result


def test_demo_loads_the_four_partner_sites_and_one_account_per_role(db, runner):
    result = run(runner, "demo")
    assert result.exit_code == 0, result.output
    assert "Structures créées : 4" in result.output and "Comptes créés : 4" in result.output

    sites = db.session.scalars(select(Site)).all()
    assert {(s.name, s.address, s.postcode, s.town, s.phone) for s in sites} == PARTNER_SITES
    users = db.session.scalars(select(User)).all()
    assert {u.email for u in users} == {a["email"] for a in ACCOUNTS}
    assert {u.role for u in users} == {Role.admin, Role.manager, Role.reception}
    for account in ACCOUNTS:
        user = next(u for u in users if u.email == account["email"])
        assert user.active and user.check_password(account["password"])
        assert {s.name for s in user.sites} == set(account["sites"])
        if user.role is not Role.admin:
            assert user.sites, f"{user.email} belongs to no site"


def test_demo_accounts_log_in_and_see_their_site(app, runner):
    assert run(runner, "demo").exit_code == 0
    reception = next(a for a in ACCOUNTS if a["role"] is Role.reception)
    client = app.test_client()
    response = client.post("/connexion", data={"email": reception["email"], "password": reception["password"]})
    assert response.status_code == 302
    home = page_text(client.get("/espace"))
    for site_name, *_rest in PARTNER_SITES:
        assert (site_name in home) == (site_name in reception["sites"])


def test_demo_twice_changes_nothing(db, runner):
    assert run(runner, "demo").exit_code == 0
    before = snapshot(db)
    hashes = dict(db.session.execute(select(User.email, User.password_hash)).all())

    second = run(runner, "demo")

    assert second.exit_code == 0, second.output
    assert "Structures créées : 0" in second.output and "Comptes créés : 0" in second.output
    after = snapshot(db)
    assert {t: len(rows) for t, rows in after.items()} == {t: len(rows) for t, rows in before.items()}
    assert dict(db.session.execute(select(User.email, User.password_hash)).all()) == hashes
    assert after == before


def test_demo_keeps_what_people_changed(db, runner):
    assert run(runner, "demo").exit_code == 0
    acsrv = db.session.scalar(select(Site).where(Site.name == "ACSRV"))
    acsrv.phone = "03 27 00 00 00"
    admin = db.session.scalar(select(User).where(User.role == Role.admin))
    admin.set_password("un-autre-mot-de-passe")
    db.session.commit()

    assert run(runner, "demo").exit_code == 0

    db.session.expire_all()
    assert db.session.scalar(select(Site.phone).where(Site.name == "ACSRV")) == "03 27 00 00 00"
    assert db.session.get(User, admin.id).check_password("un-autre-mot-de-passe")


# --- create-admin ---------------------------------------------------------------------------


def count_users(db):
    return db.session.scalar(select(func.count()).select_from(User))


def test_create_admin(db, runner):
    result = run(runner, "create-admin", "--email", " Claire.Chef@Example.org ", "--name", "Claire Chef",
                 "--password", "un-mot-de-passe-long")

    assert result.exit_code == 0, result.output
    assert "Administrateur créé : claire.chef@example.org" in result.output
    user = db.session.scalar(select(User).where(User.email == "claire.chef@example.org"))
    assert user.role is Role.admin and user.active and user.name == "Claire Chef"
    assert user.password_hash != "un-mot-de-passe-long" and user.check_password("un-mot-de-passe-long")


def test_create_admin_asks_when_options_are_missing(db, runner):
    typed = "claire@example.org\nClaire Chef\nun-mot-de-passe-long\nun-mot-de-passe-long\n"
    result = run(runner, "create-admin", input=typed)
    assert result.exit_code == 0, result.output
    assert "Mot de passe (10 caractères au moins)" in result.output
    assert "un-mot-de-passe-long" not in result.output  # the password is not echoed
    user = db.session.scalar(select(User).where(User.email == "claire@example.org"))
    assert user.is_admin and user.check_password("un-mot-de-passe-long")


@pytest.mark.parametrize(
    "email, password, message",
    [
        ("claire@example.org", "court", "Le mot de passe doit faire au moins 10 caractères."),
        ("DEJA@example.org", "un-mot-de-passe-long", "Un compte existe déjà avec cette adresse."),
        ("pas-une-adresse", "un-mot-de-passe-long", "Adresse e-mail invalide."),
    ],
)
def test_create_admin_refuses_bad_input(db, runner, make_user, email, password, message):
    existing = make_user(Role.reception, email="deja@example.org")
    before = snapshot(db)

    result = run(runner, "create-admin", "--email", email, "--name", "Claire Chef", "--password", password)

    assert result.exit_code != 0
    assert message in result.output
    assert snapshot(db) == before
    db.session.expire_all()
    assert db.session.get(User, existing.id).role is Role.reception


def test_demo_survives_reference_draws_that_repeat(db, runner, monkeypatch):
    """Every booking reference the demo draws is first drawn again right after: each draw but the first
    collides with the one before, so a demo that inserts a reference without checking it crashes on
    the unique index (it did on PostgreSQL, by chance, once in four CI runs)."""
    from reservations import ledger
    from reservations.models import Booking

    counter = itertools.count()
    monkeypatch.setattr(ledger, "new_reference", lambda: f"R{next(counter) // 2:05d}")

    result = run(runner, "demo")

    assert result.exit_code == 0, result.output
    references = db.session.scalars(select(Booking.reference)).all()
    assert len(references) > 100 and len(set(references)) == len(references)
    assert next(counter) > 2 * len(references) - 2  # the repeats were really drawn
