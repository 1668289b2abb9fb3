"""The route × role × site matrix: every registered route, every method, every role, two sites.

This module walks `app.url_map`, so a route added later (loans, reservations…) is covered as soon
as it exists. What it checks:

- anonymous: public routes answer (no 5xx); every other route sends to the login page (or 401);
- staff (reception and manager) of site A get 403 or 404 on every route that designates an object
  of site B, whatever the method, and nothing changes in the database;
- the same staff reach the objects of their own site (so the refusal is not a blanket one);
- admins are refused nothing on GET;
- pages without URL arguments answer 200 to the staff allowed there, and show nothing of site B.

To add a route whose URL has a new argument name, add an entry to ARGUMENTS below: a function
receiving (world, site) that creates an object belonging to `site` and returns the value to put in
the URL. `world.fixture("make_device")` gives you any pytest fixture (e.g. from tests/loans/conftest.py).
A rule whose argument is missing from ARGUMENTS fails test_every_url_argument_is_registered.
When a route takes several arguments, each one is also tried alone from site B with the others
from site A (an object of B reached through a URL of A).
"""
from dataclasses import dataclass, field

import pytest

from core import create_app
from core.authz import ACCESS_ATTR, check_access_policies
from core.models import Role
from tests.conftest import base_config
from tests.core.helpers import location_path, page_text, snapshot
from tests.reservations.matrix import ARGUMENTS as RESERVATION_ARGUMENTS


def _device_tag(world, site):
    """A laptop whose home and current site is `site`; its asset tag designates it in URLs."""
    from loans import operations

    device = operations.create_device(None, site, operations.ensure_default_kinds()["laptop"])
    world.fixture("db").session.commit()
    return device.tag


def _resident_id(world, site):
    """A resident registered at `site`."""
    from core.residents import create_resident

    resident = create_resident(None, site, first_name="Habitante", last_name="Matrice", phone="0600000000")
    world.fixture("db").session.commit()
    return resident.id


def _loan_id(world, site):
    """An open loan made at `site`, of a device of `site`, to a resident of `site`."""
    from datetime import timedelta

    from core.clock import today
    from core.residents import create_resident
    from loans import lending, operations

    agent = world.fixture("make_user")(Role.reception, sites=[site])
    device = operations.create_device(None, site, operations.ensure_default_kinds()["laptop"])
    resident = create_resident(None, site, first_name="Emprunteuse", last_name="Matrice")
    loan = lending.lend(agent, device.id, resident, due_on=today() + timedelta(days=7), accessories=[],
                        charter_method="ticked")
    world.fixture("db").session.commit()
    return loan.id


def _message_id(world, site):
    """A message sent to a resident of `site` (one that may be resent)."""
    from core.messaging.models import Channel, Message, MessageKind, MessageStatus

    message = Message(key=f"matrice:{site.id}:{site.name}", kind=MessageKind.booking_confirmed, channel=Channel.sms,
                      status=MessageStatus.sent, site_id=site.id, recipient="+33600000000", body="Texte de la matrice")
    world.fixture("db").session.add(message)
    world.fixture("db").session.commit()
    return message.id


def _stop_token(world, site):
    """The link to stop e-mail reminders, from the confirmation e-mail of a booking at `site`."""
    from datetime import timedelta

    from sqlalchemy import select

    from core.clock import now
    from core.messaging.consent import unsubscribe_token
    from core.messaging.models import Message
    from reservations import workshops
    from reservations.identity import Contact
    from tests.reservations.factories import make_room, make_workshop

    workshop = make_workshop(make_room(site), day=(now() + timedelta(days=3)).date())
    booking, _token = workshops.register(workshop.id, "Matrice", Contact(phone="", email=f"matrice{site.id}@exemple.fr"))
    world.fixture("db").session.commit()
    key = world.fixture("db").session.scalars(select(Message.key).where(Message.booking_id == booking.id)).first()
    return unsubscribe_token(key)


# URL argument name → (world, site) → value designating a new object that belongs to `site`.
ARGUMENTS = {
    "site_id": lambda world, site: site.id,
    "user_id": lambda world, site: world.fixture("make_user")(Role.reception, sites=[site]).id,
    "tag": _device_tag,
    "verb": lambda world, site: "send_to_repair",  # an inventory action (loans.device_action); see SITE_NEUTRAL
    "resident_id": _resident_id,
    "loan_id": _loan_id,
    "message_id": _message_id,
    **RESERVATION_ARGUMENTS,  # room_id, workshop_id, booking_id, token, … (tests/reservations/matrix.py)
    "table": lambda world, site: "prets",  # a report table's CSV (reports.site_csv); see SITE_NEUTRAL
    "stop_token": _stop_token,  # the e-mail's link that stops reminders (core/messaging/views.py)
}

# URL arguments that name no object of a site (a verb…): the same value whatever the site, so they are
# never tried "alone from site B" (that would be an object of site A, rightly allowed).
SITE_NEUTRAL = {"verb", "table", "day", "hhmm"}

# Endpoints deliberately open to staff of every site, each with the reason.
CROSS_SITE: dict[str, str] = {
    "loans.device": "staff of another site get a limited page (identity, status, home site and its phone: "
                    "no history, notes, price or actions) so a device brought back anywhere can be identified; "
                    "tested in tests/loans/test_inventory.py",
    # Their limits (no borrower shown to another site, only one's own sites as the place of return)
    # are tested in tests/loans/test_lending_views.py.
    "loans.take_back": "a device is taken back at any site of the network (PRODUCT.md §4.2)",
    "loans.found_again": "a lost device may be brought back to any desk of the network, like a return",
}

STAFF_ROLES = [Role.reception, Role.manager]
SITE_B_NAME = "Centre Zéphyr-B (marqueur)"
SITE_B_PERSON = "Personne Marqueur-B"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _routes():
    """(endpoint, rule, method, public?) of every route, read from an app built at collection time."""
    app = create_app(base_config("sqlite://"))
    cases = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        public = getattr(app.view_functions[rule.endpoint], ACCESS_ATTR, ("?",))[0] == "public"
        for method in sorted(rule.methods - IGNORED_METHODS):
            cases.append((rule.endpoint, rule.rule, method, public))
    return cases


def params(predicate):
    return [
        pytest.param(endpoint, rule, method, id=f"{method} {rule}")
        for endpoint, rule, method, public in _ROUTES
        if predicate(endpoint=endpoint, rule=rule, method=method, public=public)
    ]


_ROUTES = _routes()
ROUTES = params(lambda **r: True)
# Routes that designate an object of a site and are not open to everyone.
SITE_ROUTES = params(lambda endpoint, rule, public, **r: "<" in rule and not public and endpoint not in CROSS_SITE)
GET_ROUTES_WITH_ARGUMENTS = params(lambda rule, method, **r: "<" in rule and method == "GET")
STAFF_PAGES = params(lambda rule, method, public, **r: "<" not in rule and method == "GET" and not public)


@dataclass
class World:
    """Two sites, A and B, with their staff; objects are created on demand by ARGUMENTS."""

    request: pytest.FixtureRequest
    site_a: object = None
    site_b: object = None
    people: dict = field(default_factory=dict)

    def fixture(self, name):
        return self.request.getfixturevalue(name)


@pytest.fixture
def world(request, make_site, make_user):
    w = World(request=request)
    w.site_a = make_site("Centre Alpha-A")
    w.site_b = make_site(SITE_B_NAME, phone="03 99 99 99 99")
    w.people = {
        Role.reception: make_user(Role.reception, sites=[w.site_a], name="Agent Alpha"),
        Role.manager: make_user(Role.manager, sites=[w.site_a], name="Responsable Alpha"),
        Role.admin: make_user(Role.admin, name="Coordination Réseau"),
    }
    make_user(Role.manager, sites=[w.site_b], name=SITE_B_PERSON)
    return w


def find_rule(app, endpoint, rule_text):
    return next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and r.rule == rule_text)


def policy(app, endpoint):
    return getattr(app.view_functions[endpoint], ACCESS_ATTR)


def is_public(app, endpoint):
    return policy(app, endpoint)[0] == "public"


def role_allowed(app, endpoint, role):
    kind, *rest = policy(app, endpoint)
    if kind == "public" or role is Role.admin:
        return True
    roles = rest[0]
    return not roles or role in roles


def build_url(app, world, rule, sites_by_argument):
    values = {name: ARGUMENTS[name](world, sites_by_argument[name]) for name in sorted(rule.arguments)}
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def client_for(app, login, person):
    client = app.test_client()
    if person is not None:
        assert login(person, target=client).status_code == 302
    return client


# --- the registry and the policies ------------------------------------------------------------


def test_every_view_has_an_access_policy(app):
    check_access_policies(app)
    for endpoint, view in app.view_functions.items():
        if endpoint != "static":
            assert getattr(view, ACCESS_ATTR, None), f"{endpoint} has no @public or @staff_required"


def test_every_url_argument_is_registered(app):
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for name in sorted(rule.arguments - ARGUMENTS.keys()):
            missing.append(f"{rule.rule} ({rule.endpoint}): <{name}>")
    assert not missing, (
        "URL arguments unknown to the authorisation matrix: "
        + "; ".join(missing)
        + ". Add each name to ARGUMENTS in tests/core/test_authorisation.py: a function (world, site) that "
        "creates an object belonging to `site` and returns the URL value, so that staff of another site are "
        "proven to be refused."
    )


def test_cross_site_entries_are_real_endpoints(app):
    assert set(CROSS_SITE) <= set(app.view_functions), "CROSS_SITE names an endpoint that does not exist"


def _require_registered(rule):
    missing = rule.arguments - ARGUMENTS.keys()
    if missing:
        pytest.fail(f"{rule.rule}: add {sorted(missing)} to ARGUMENTS (see test_every_url_argument_is_registered)")


# --- anonymous ------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint, rule_text, method", ROUTES)
def test_anonymous(app, db, world, endpoint, rule_text, method):
    rule = find_rule(app, endpoint, rule_text)
    _require_registered(rule)
    url = build_url(app, world, rule, {name: world.site_b for name in rule.arguments})
    before = snapshot(db)

    response = app.test_client().open(url, method=method, data={} if method != "GET" else None)

    if is_public(app, endpoint):
        assert response.status_code < 500, f"{method} {url} answered {response.status_code}"
    else:
        assert response.status_code in (302, 401), f"{method} {url} answered {response.status_code} to anonymous"
        if response.status_code == 302:
            assert location_path(response) == "/connexion"
        assert snapshot(db) == before


# --- staff of another site ------------------------------------------------------------------


def _site_variants(world, rule):
    """All arguments from site B; with several arguments, also each one alone from B."""
    names = sorted(rule.arguments)
    variants = [{name: world.site_b for name in names}]
    site_bound = [name for name in names if name not in SITE_NEUTRAL]
    if len(site_bound) > 1:
        for b_name in site_bound:
            variants.append({name: world.site_b if name == b_name else world.site_a for name in names})
    return variants


@pytest.mark.parametrize("role", STAFF_ROLES, ids=lambda r: r.value)
@pytest.mark.parametrize("endpoint, rule_text, method", SITE_ROUTES)
def test_staff_of_site_a_are_refused_objects_of_site_b(app, db, world, login, endpoint, rule_text, method, role):
    rule = find_rule(app, endpoint, rule_text)
    _require_registered(rule)
    client = client_for(app, login, world.people[role])

    for sites in _site_variants(world, rule):
        url = build_url(app, world, rule, sites)
        before = snapshot(db)
        response = client.open(url, method=method, data={} if method != "GET" else None)
        assert response.status_code in (403, 404), (
            f"{role.value} of site A: {method} {url} (objects of site B) answered {response.status_code}; "
            "load site objects with core.authz.get_site_or_404 / get_in_site_or_404"
        )
        assert snapshot(db) == before, f"{method} {url} was refused but changed the database"
        assert SITE_B_PERSON not in page_text(response)


@pytest.mark.parametrize("role", STAFF_ROLES, ids=lambda r: r.value)
@pytest.mark.parametrize("endpoint, rule_text, method", GET_ROUTES_WITH_ARGUMENTS)
def test_staff_reach_objects_of_their_own_site(app, world, login, endpoint, rule_text, method, role):
    rule = find_rule(app, endpoint, rule_text)
    _require_registered(rule)
    client = client_for(app, login, world.people[role])
    url = build_url(app, world, rule, {name: world.site_a for name in rule.arguments})

    response = client.get(url)

    if role_allowed(app, endpoint, role):
        assert response.status_code < 400, f"{role.value} of site A: GET {url} answered {response.status_code}"
    else:
        assert response.status_code == 403, f"{role.value}: GET {url} is not for this role, got {response.status_code}"


@pytest.mark.parametrize("endpoint, rule_text, method", GET_ROUTES_WITH_ARGUMENTS)
def test_admin_is_refused_nothing(app, world, login, endpoint, rule_text, method):
    rule = find_rule(app, endpoint, rule_text)
    _require_registered(rule)
    client = client_for(app, login, world.people[Role.admin])
    url = build_url(app, world, rule, {name: world.site_b for name in rule.arguments})

    response = client.get(url)

    assert response.status_code not in (403, 404) and response.status_code < 500, f"admin: GET {url} answered {response.status_code}"


# --- pages without arguments ----------------------------------------------------------------


@pytest.mark.parametrize("role", [*STAFF_ROLES, Role.admin], ids=lambda r: r.value)
@pytest.mark.parametrize("endpoint, rule_text, method", STAFF_PAGES)
def test_pages_without_arguments_show_nothing_of_another_site(app, world, login, endpoint, rule_text, method, role):
    # Give site B one object of every kind the matrix knows, and remember what names them.
    markers = [SITE_B_NAME, SITE_B_PERSON]
    for name, make in ARGUMENTS.items():
        if name in SITE_NEUTRAL:  # a date or a verb says nothing of site B (tomorrow's date is in many links)
            continue
        value = make(world, world.site_b)
        if isinstance(value, str) and len(value) >= 4:
            markers.append(value)
    client = client_for(app, login, world.people[role])

    response = client.get(rule_text)

    if not role_allowed(app, endpoint, role):
        assert response.status_code == 403, f"{role.value}: GET {rule_text} answered {response.status_code}"
        return
    assert response.status_code == 200, f"{role.value}: GET {rule_text} answered {response.status_code}"
    if role is not Role.admin and endpoint not in CROSS_SITE:
        text = page_text(response)
        leaked = [m for m in markers if m in text]
        assert not leaked, f"{role.value} of site A sees {leaked} of site B on {rule_text}"


def test_matrix_covers_the_kernel_routes():
    """A guard on the guard: if route discovery broke, the matrix would pass by testing nothing."""
    covered = {case.values[0] for case in SITE_ROUTES}
    assert {"main.site_detail", "admin.site_edit", "admin.staff_edit", "admin.staff_deactivate"} <= covered
    assert {case.values[0] for case in STAFF_PAGES} >= {"main.staff_home", "admin.staff", "auth.change_password"}


# --- requests whose body names a site -------------------------------------------------------


def _inventory_csv(home: str, current: str) -> bytes:
    header = "Type;Marque;Modèle;Numéro de série;Structure;Structure actuelle\r\n"
    return (header + f"Ordinateur portable;Lenovo;E14;SN-MATRICE;{home};{current}\r\n").encode("utf-8-sig")


@pytest.mark.parametrize("home, current, refused", [
    (SITE_B_NAME, "", SITE_B_NAME),
    ("Centre Alpha-A", SITE_B_NAME, SITE_B_NAME),
    (SITE_B_NAME, "Centre Alpha-A", SITE_B_NAME),
])
def test_csv_import_naming_another_site_is_refused(app, db, world, login, home, current, refused):
    """The CSV import names sites in its cells, not in its URL: every site named must be one of the importer's."""
    import io

    from loans import operations

    operations.ensure_default_kinds()
    db.session.commit()
    client = client_for(app, login, world.people[Role.manager])
    before = snapshot(db)

    response = client.post("/equipements/import", data={"file": (io.BytesIO(_inventory_csv(home, current)), "inventaire.csv")})

    assert response.status_code == 400
    text = page_text(response)
    assert (f"Vous ne gérez pas la structure « {refused} »." in text
            or f"Vous ne gérez pas la structure actuelle « {refused} »." in text)
    assert "/equipements/import/confirmer" not in text
    assert snapshot(db) == before

    # The coordination imports into any site: the refusal is about sites, not the file.
    admin = client_for(app, login, world.people[Role.admin])
    preview = admin.post("/equipements/import", data={"file": (io.BytesIO(_inventory_csv(home, current)), "inventaire.csv")})
    assert preview.status_code == 200, page_text(preview)
