"""Administration of sites and staff accounts: admins only, French messages next to the fields."""
import pytest
from sqlalchemy import func, select

from core.models import Role, Site, User
from tests.conftest import PASSWORD
from tests.core.helpers import field_error, location_path, page_text, snapshot

SITE_FORM = {
    "name": "Centre social Agora",
    "address": "  2 rue de la Paix ",
    "postcode": "59300",
    "town": "Valenciennes",
    "phone": "03 27 00 11 22",
    "email": "accueil@agora.example",
    "opening_hours": "Du lundi au vendredi, de 9 h à 17 h.",
}


@pytest.fixture
def admin_client(app, make_user, login):
    client = app.test_client()
    login(make_user(Role.admin, name="Camille Coordination"), target=client)
    return client


def count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


# --- sites ----------------------------------------------------------------------------------


def test_admin_creates_a_site(db, admin_client):
    response = admin_client.post("/admin/structures/nouvelle", data=SITE_FORM)
    assert response.status_code == 302 and location_path(response) == "/admin/structures"

    site = db.session.scalar(select(Site).where(Site.name == "Centre social Agora"))
    assert site is not None
    assert (site.address, site.postcode, site.phone) == ("2 rue de la Paix", "59300", "03 27 00 11 22")
    assert site.opening_hours == "Du lundi au vendredi, de 9 h à 17 h."
    listing = admin_client.get("/admin/structures")
    assert "Structure enregistrée : Centre social Agora." in page_text(listing)
    # The public home lists it for residents.
    assert "Centre social Agora" in page_text(admin_client.get("/"))


def test_admin_edits_a_site(db, admin_client, make_site):
    site = make_site("Centre social de Mazingarbe")
    form = admin_client.get(f"/admin/structures/{site.id}/modifier")
    assert form.status_code == 200 and 'value="Centre social de Mazingarbe"' in form.get_data(as_text=True)

    data = dict(SITE_FORM, name="Centre social de Mazingarbe", phone="03 21 37 28 00")
    response = admin_client.post(f"/admin/structures/{site.id}/modifier", data=data)
    assert response.status_code == 302

    db.session.expire_all()
    site = db.session.get(Site, site.id)
    assert site.phone == "03 21 37 28 00" and site.town == "Valenciennes"
    assert count(db, Site) == 1


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"name": "   "}, "name", "Indiquez le nom."),
        ({"postcode": "5930"}, "postcode", "Le code postal a 5 chiffres."),
        ({"postcode": "59 300"}, "postcode", "Le code postal a 5 chiffres."),
        ({"phone": "appelez-nous"}, "phone", "Numéro de téléphone invalide (chiffres, espaces, + et - seulement)."),
        ({"email": "pas-une-adresse"}, "email", "Adresse e-mail invalide."),
        ({"name": "Centre existant"}, "name", "Une structure porte déjà ce nom."),
        ({"name": " Centre existant "}, "name", "Une structure porte déjà ce nom."),
    ],
)
@pytest.mark.parametrize("action", ["create", "edit"])
def test_bad_site_input_is_refused_next_to_the_field(db, admin_client, make_site, action, changes, field, message):
    make_site("Centre existant")
    edited = make_site("Centre à modifier")
    url = "/admin/structures/nouvelle" if action == "create" else f"/admin/structures/{edited.id}/modifier"
    before = snapshot(db)

    response = admin_client.post(url, data=dict(SITE_FORM, **changes))

    assert response.status_code == 400
    assert field_error(response, field) == message
    assert snapshot(db) == before
    # What was typed is still there to be corrected.
    if field != "name":
        assert 'value="Centre social Agora"' in response.get_data(as_text=True)


# --- staff accounts -------------------------------------------------------------------------


def staff_form(**changes):
    data = {"name": "Nora Accueil", "email": "nora@example.org", "role": "reception", "password": "provisoire-2026"}
    data.update(changes)
    return data


def test_admin_creates_a_staff_account(db, app, admin_client, make_site):
    site_a, site_b = make_site("Centre A"), make_site("Centre B")
    response = admin_client.post("/admin/personnel/nouveau", data=staff_form(email=" Nora@Example.org", sites=[site_a.id, site_b.id]))
    assert response.status_code == 302 and location_path(response) == "/admin/personnel"

    user = db.session.scalar(select(User).where(User.email == "nora@example.org"))
    assert user.role is Role.reception and user.active
    assert {s.name for s in user.sites} == {"Centre A", "Centre B"}
    assert user.password_hash != "provisoire-2026" and user.check_password("provisoire-2026")
    assert "Compte créé pour Nora Accueil." in page_text(admin_client.get("/admin/personnel"))
    # The new account works.
    login = app.test_client().post("/connexion", data={"email": "nora@example.org", "password": "provisoire-2026"})
    assert login.status_code == 302


def test_an_admin_needs_no_site(db, admin_client):
    response = admin_client.post("/admin/personnel/nouveau", data=staff_form(role="admin", email="chef@example.org"))
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "chef@example.org"))
    assert user.is_admin and user.sites == []


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"email": "DEJA@example.org"}, "email", "Un compte existe déjà avec cette adresse."),
        ({"sites": []}, "sites", "Choisissez au moins une structure."),
        ({"role": "manager", "sites": []}, "sites", "Choisissez au moins une structure."),
        ({"password": "court"}, "password", "Le mot de passe doit faire au moins 10 caractères."),
        ({"email": "pas-une-adresse"}, "email", "Adresse e-mail invalide."),
        ({"name": ""}, "name", "Indiquez le nom."),
        ({"name": "   "}, "name", "Indiquez le nom."),
        ({"email": ""}, "email", "Indiquez l'adresse e-mail."),
    ],
)
def test_bad_staff_input_is_refused_next_to_the_field(db, admin_client, make_site, make_user, changes, field, message):
    site = make_site()
    make_user(Role.manager, sites=[site], email="deja@example.org")
    before = snapshot(db)

    response = admin_client.post("/admin/personnel/nouveau", data=staff_form(**{"sites": [site.id], **changes}))

    assert response.status_code == 400
    assert field_error(response, field) == message
    assert snapshot(db) == before


def test_admin_edits_a_staff_account(db, admin_client, make_site, make_user):
    site_a, site_b = make_site("Centre A"), make_site("Centre B")
    agent = make_user(Role.reception, sites=[site_a], name="Agent Un")
    old_hash = agent.password_hash

    form = admin_client.get(f"/admin/personnel/{agent.id}/modifier")
    assert form.status_code == 200 and 'value="Agent Un"' in form.get_data(as_text=True)
    response = admin_client.post(
        f"/admin/personnel/{agent.id}/modifier",
        data={"name": "Agent Promu", "email": agent.email, "role": "manager", "sites": [site_b.id]},
    )
    assert response.status_code == 302

    db.session.expire_all()
    agent = db.session.get(User, agent.id)
    assert (agent.name, agent.role) == ("Agent Promu", Role.manager)
    assert [s.name for s in agent.sites] == ["Centre B"]
    assert agent.password_hash == old_hash


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"email": "Deja@example.org"}, "email", "Un compte existe déjà avec cette adresse."),
        ({"sites": []}, "sites", "Choisissez au moins une structure."),
    ],
)
def test_bad_staff_edit_changes_nothing(db, admin_client, make_site, make_user, changes, field, message):
    site = make_site()
    make_user(Role.reception, sites=[site], email="deja@example.org")
    agent = make_user(Role.reception, sites=[site])
    before = snapshot(db)

    data = {"name": "Autre nom", "email": agent.email, "role": "reception", "sites": [site.id]}
    response = admin_client.post(f"/admin/personnel/{agent.id}/modifier", data=dict(data, **changes))

    assert response.status_code == 400
    assert field_error(response, field) == message
    assert snapshot(db) == before


def test_admin_cannot_remove_their_own_admin_role(db, app, make_site, make_user, login):
    site = make_site()
    admin = make_user(Role.admin)
    client = app.test_client()
    login(admin, target=client)
    response = client.post(
        f"/admin/personnel/{admin.id}/modifier", data={"name": admin.name, "email": admin.email, "role": "reception", "sites": [site.id]}
    )
    assert response.status_code == 400
    assert field_error(response, "role") == "Vous ne pouvez pas retirer votre propre rôle d'administrateur."
    db.session.expire_all()
    assert db.session.get(User, admin.id).role is Role.admin


def test_deactivate_and_reactivate(db, app, admin_client, make_site, make_user):
    agent = make_user(Role.reception, sites=[make_site()], name="Agent Un")
    version = agent.session_version

    response = admin_client.post(f"/admin/personnel/{agent.id}/desactiver", follow_redirects=True)
    assert "Compte de Agent Un désactivé : ses sessions sont fermées." in page_text(response)
    db.session.expire_all()
    agent = db.session.get(User, agent.id)
    assert agent.active is False and agent.session_version == version + 1
    assert "Désactivé" in page_text(admin_client.get("/admin/personnel"))

    response = admin_client.post(f"/admin/personnel/{agent.id}/reactiver", follow_redirects=True)
    assert "Compte de Agent Un réactivé." in page_text(response)
    db.session.expire_all()
    assert db.session.get(User, agent.id).active is True
    login = app.test_client().post("/connexion", data={"email": agent.email, "password": PASSWORD})
    assert login.status_code == 302


def test_admin_cannot_deactivate_themself(db, app, make_user, login):
    admin = make_user(Role.admin)
    client = app.test_client()
    login(admin, target=client)
    response = client.post(f"/admin/personnel/{admin.id}/desactiver", follow_redirects=True)
    assert "Vous ne pouvez pas désactiver votre propre compte." in page_text(response)
    db.session.expire_all()
    assert db.session.get(User, admin.id).active is True


def test_unknown_account_is_a_404(admin_client):
    assert admin_client.get("/admin/personnel/9999/modifier").status_code == 404
    assert admin_client.post("/admin/personnel/9999/desactiver").status_code == 404
    assert admin_client.get("/admin/structures/9999/modifier").status_code == 404


# --- only admins ----------------------------------------------------------------------------


def admin_requests(site_id, user_id):
    return [
        ("GET", "/admin/structures", None),
        ("GET", "/admin/structures/nouvelle", None),
        ("POST", "/admin/structures/nouvelle", SITE_FORM),
        ("GET", f"/admin/structures/{site_id}/modifier", None),
        ("POST", f"/admin/structures/{site_id}/modifier", SITE_FORM),
        ("GET", "/admin/personnel", None),
        ("GET", "/admin/personnel/nouveau", None),
        ("POST", "/admin/personnel/nouveau", staff_form(sites=[site_id])),
        ("GET", f"/admin/personnel/{user_id}/modifier", None),
        ("POST", f"/admin/personnel/{user_id}/modifier", staff_form(role="admin")),
        ("POST", f"/admin/personnel/{user_id}/desactiver", {}),
        ("POST", f"/admin/personnel/{user_id}/reactiver", {}),
        ("POST", f"/admin/personnel/{user_id}/mot-de-passe", {}),
    ]


@pytest.mark.parametrize("role", [Role.manager, Role.reception])
def test_managers_and_reception_are_refused_admin_pages(db, app, make_site, make_user, login, role):
    site = make_site()
    person = make_user(role, sites=[site])
    colleague = make_user(Role.reception, sites=[site])
    client = app.test_client()
    login(person, target=client)
    before = snapshot(db)

    for method, url, data in admin_requests(site.id, colleague.id):
        response = client.open(url, method=method, data=data)
        assert response.status_code == 403, f"{method} {url} answered {response.status_code}"
        assert "Accès refusé" in page_text(response)
    assert snapshot(db) == before
    # No link to the admin pages in their menu.
    home = page_text(client.get("/espace"))
    assert "/admin/" not in home


def test_admin_sees_the_admin_pages(make_site, make_user, admin_client):
    site = make_site()
    colleague = make_user(Role.reception, sites=[site])
    for method, url, _data in admin_requests(site.id, colleague.id):
        if method == "GET":
            assert admin_client.get(url).status_code == 200, url
    home = admin_client.get("/espace").get_data(as_text=True)
    assert 'href="/admin/structures"' in home and 'href="/admin/personnel"' in home


# --- the use cases (core/admin.py) and their events -------------------------------------------


def test_a_new_site_is_announced_once_after_the_commit(db, make_user, events):
    from core import admin

    actor = make_user(Role.admin)
    site = admin.create_site(actor, admin.SiteDetails(name=" Centre Nelson Mandela ", town="Lens"))
    assert events == []  # flushed, not kept yet
    db.session.commit()
    assert events == [("site_created", {"site_id": site.id})]
    assert site.name == "Centre Nelson Mandela"


def test_a_site_through_the_form_is_announced_and_an_edit_is_not(db, admin_client, make_site, events):
    admin_client.post("/admin/structures/nouvelle", data=SITE_FORM)
    site = db.session.scalar(select(Site).where(Site.name == "Centre social Agora"))
    assert events == [("site_created", {"site_id": site.id})]
    events.clear()
    assert admin_client.post(f"/admin/structures/{site.id}/modifier", data=dict(SITE_FORM, town="Anzin")).status_code == 302
    assert events == []  # no event in the catalogue for an edited site


def test_a_refused_site_announces_nothing(db, admin_client, make_site, events):
    make_site("Centre existant")
    response = admin_client.post("/admin/structures/nouvelle", data=dict(SITE_FORM, name="Centre existant"))
    assert response.status_code == 400
    assert events == []


def test_a_new_staff_account_is_announced_once_after_the_commit(db, admin_client, make_site, events):
    site = make_site()
    admin_client.post("/admin/personnel/nouveau", data=staff_form(sites=[site.id]))
    user = db.session.scalar(select(User).where(User.email == "nora@example.org"))
    assert user.must_change_password
    assert events == [("staff_account_created", {"user_id": user.id})]


def test_the_use_case_announces_the_account_only_when_kept(db, make_site, make_user, events):
    from core import admin

    actor, site = make_user(Role.admin), make_site()
    user = admin.create_staff_account(actor, name="Nora", email="nora@example.org", role="manager", site_ids=[site.id],
                                      password="provisoire-2026")
    assert events == []
    db.session.rollback()
    db.session.commit()
    assert events == [] and db.session.get(User, user.id) is None


def test_a_refused_staff_account_announces_nothing(db, admin_client, make_site, make_user, events):
    site = make_site()
    make_user(Role.manager, sites=[site], email="deja@example.org")
    for changes in ({"email": "deja@example.org"}, {"sites": []}):
        response = admin_client.post("/admin/personnel/nouveau", data=staff_form(**{"sites": [site.id], **changes}))
        assert response.status_code == 400
    assert events == []


def test_each_change_of_an_account_is_announced_once(db, admin_client, make_site, make_user, events):
    site = make_site()
    agent = make_user(Role.reception, sites=[site])
    changed = [("staff_account_changed", {"user_id": agent.id})]

    data = {"name": "Agent Promu", "email": agent.email, "role": "manager", "sites": [site.id]}
    assert admin_client.post(f"/admin/personnel/{agent.id}/modifier", data=data).status_code == 302
    assert events == changed
    for action in ("desactiver", "reactiver", "mot-de-passe"):
        events.clear()
        assert admin_client.post(f"/admin/personnel/{agent.id}/{action}").status_code in (200, 302)
        assert events == changed, action
    events.clear()
    admin_client.post(f"/admin/personnel/{agent.id}/deconnecter")
    assert events == []  # ending sessions changes nothing of the account itself


def test_refused_changes_of_an_account_announce_nothing(db, app, make_site, make_user, login, events):
    site = make_site()
    admin = make_user(Role.admin)
    make_user(Role.reception, sites=[site], email="deja@example.org")
    client = app.test_client()
    login(admin, target=client)
    own = {"name": admin.name, "email": admin.email, "role": "reception", "sites": [site.id]}
    assert client.post(f"/admin/personnel/{admin.id}/modifier", data=own).status_code == 400
    assert client.post(f"/admin/personnel/{admin.id}/modifier", data=dict(own, role="admin", email="deja@example.org")).status_code == 400
    client.post(f"/admin/personnel/{admin.id}/desactiver")
    assert events == []


@pytest.mark.parametrize("role", [Role.manager, Role.reception])
def test_only_the_coordination_may_administer(db, make_site, make_user, events, role):
    from core import admin
    from core.errors import DomainError

    site = make_site()
    person, colleague = make_user(role, sites=[site]), make_user(Role.reception, sites=[site])
    assert not admin.can_administer(person) and admin.can_administer(make_user(Role.admin))
    attempts = [
        lambda: admin.create_site(person, admin.SiteDetails(name="Centre pirate")),
        lambda: admin.edit_site(person, site.id, admin.SiteDetails(name="Centre pirate")),
        lambda: admin.create_staff_account(person, name="X", email="x@example.org", role="admin", site_ids=[], password="x" * 12),
        lambda: admin.edit_staff_account(person, colleague.id, name="X", email=colleague.email, role="admin", site_ids=[]),
        lambda: admin.set_staff_active(person, colleague.id, False),
        lambda: admin.reset_password(person, colleague.id),
        lambda: admin.end_staff_sessions(person, colleague.id),
    ]
    for use_case in attempts:
        with pytest.raises(DomainError) as refused:
            use_case()
        assert refused.value.status == 403
    db.session.commit()
    assert events == []
