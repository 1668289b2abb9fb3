"""Demo data: the partner sites of the seed document and one staff account per role.

Idempotent: each record is looked up by a natural key first, so a second run changes nothing.
Each domain registers its own loader with register_demo_loader(app, loader) (from its blueprint's
record_once hook); a loader receives {site name: Site} and returns summary lines.
"""
from datetime import time

from flask import current_app
from sqlalchemy import select

from . import auth
from .extensions import db
from .models import DeskHours, Role, Site, User, find_user_by_email

SITES = [
    dict(
        name="ACSRV",
        address="34 avenue de Condé",
        postcode="59300",
        town="Valenciennes",
        phone="03 27 28 91 98",
        email="accueil@acsrv.example",
        opening_hours="Du lundi au vendredi, de 9 h à 12 h et de 13 h 30 à 18 h.",
    ),
    dict(
        name="Centre social de Mazingarbe",
        address="Chemin de La Bassée",
        postcode="62670",
        town="Mazingarbe",
        phone="03 21 37 28 00",
        email="accueil@csmazingarbe.example",
        opening_hours="Du lundi au vendredi, de 8 h 30 à 12 h et de 13 h 30 à 17 h 30.",
    ),
    dict(
        name="Maison de Quartier Centre-Ville",
        address="10 rue des Ursulines",
        postcode="59300",
        town="Valenciennes",
        phone="03 27 22 43 90",
        email="accueil@mqcv.example",
        opening_hours="Du mardi au samedi, de 9 h à 12 h et de 14 h à 18 h.",
    ),
    dict(
        name="Fédération des centres sociaux Nord-Pas-de-Calais",
        address="199-201 rue Colbert",
        postcode="59800",
        town="Lille",
        phone="03 20 79 98 70",
        email="contact@fcsnpdc.example",
        opening_hours="Du lundi au vendredi, de 9 h à 17 h.",
    ),
]

# The reception's hours, as the free text above says them: (weekdays, [(start, end)]), Monday = 0.
DESK_HOURS = {
    "ACSRV": (range(0, 5), [(time(9), time(12)), (time(13, 30), time(18))]),
    "Centre social de Mazingarbe": (range(0, 5), [(time(8, 30), time(12)), (time(13, 30), time(17, 30))]),
    "Maison de Quartier Centre-Ville": (range(1, 6), [(time(9), time(12)), (time(14), time(18))]),
    "Fédération des centres sociaux Nord-Pas-de-Calais": (range(0, 5), [(time(9), time(17))]),
}

# Documented in the README. Demo only: never load demo data on a real installation.
ACCOUNTS = [
    dict(email="admin@demo.test", name="Camille Coordination", role=Role.admin, sites=[], password="demo-admin-2026"),
    dict(email="responsable@demo.test", name="Karim Responsable", role=Role.manager,
         sites=["ACSRV", "Maison de Quartier Centre-Ville"], password="demo-responsable-2026"),
    dict(email="accueil@demo.test", name="Sophie Accueil", role=Role.reception, sites=["ACSRV"], password="demo-accueil-2026"),
    dict(email="accueil.mazingarbe@demo.test", name="Julien Accueil", role=Role.reception,
         sites=["Centre social de Mazingarbe"], password="demo-accueil-2026"),
]



def register_demo_loader(app, loader):
    app.extensions.setdefault("demo_loaders", []).append(loader)


def load_demo() -> list[str]:
    created_sites = 0
    sites = {s.name: s for s in db.session.scalars(select(Site))}
    for data in SITES:
        if data["name"] not in sites:
            site = Site(**data)
            db.session.add(site)
            sites[site.name] = site
            created_sites += 1
    db.session.flush()
    for name, (weekdays, ranges) in DESK_HOURS.items():
        if not sites[name].desk_hours:  # hours an admin has entered since stay as they are
            sites[name].desk_hours = [DeskHours(weekday=wd, starts=a, ends=b) for wd in weekdays for a, b in ranges]
    db.session.flush()

    created_users = 0
    for data in ACCOUNTS:
        if find_user_by_email(data["email"]):
            continue
        user = User(email=data["email"], name=data["name"], role=data["role"], active=True, session_version=1)
        user.sites = [sites[name] for name in data["sites"]]
        auth.set_password(user, data["password"])
        db.session.add(user)
        created_users += 1
    db.session.flush()

    summary = [f"Structures créées : {created_sites}", f"Comptes créés : {created_users}"]
    for loader in current_app.extensions.get("demo_loaders", []):
        summary.extend(loader(sites))
    return summary
