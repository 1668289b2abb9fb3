"""Benchmark: server time and SQL query count of the busiest pages on a large dataset.

    python bench/benchmark.py                        # SQLite file in a temp folder
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench python bench/benchmark.py

It builds the schema with the migrations, fills it with `bench-data` (200 sites, 20,000 devices by
default) and `bench-activity` (1,000,000 loans, 500,000 bookings, 100,000 residents by default;
`--loans 0 --bookings 0` to skip), logs in and times each page in-process (the WSGI call, no
network), reporting the median of several runs and the number of SQL statements. Timings are
reported, never asserted. Both commands top up what is there: point DATABASE_URL at a kept
SQLite file (sqlite:////tmp/bench.sqlite3) to generate once and measure again (`--only Rapport`).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask_migrate import upgrade
from sqlalchemy import event, select

from core import create_app
from core.extensions import db
from core.models import Role, Site, User

PASSWORD = "banc-d-essai-2026"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=20000)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7)
    # Reports (reports/bench.py): activity on the same sites; 0 loans and 0 bookings skip it.
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--bookings", type=int, default=500_000)
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--only", default="", help="only the pages whose label contains this text (e.g. Rapport)")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after loading (planner statistics)")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL") or "sqlite:///" + os.path.join(tempfile.mkdtemp(), "bench.sqlite3")
    app = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "bench",
        "RATELIMIT_ENABLED": False, "PUBLIC_BASE_URL": "http://localhost",
    })
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        result = app.test_cli_runner().invoke(args=["bench-data", "--sites", str(args.sites), "--devices", str(args.devices)])
        print(result.output.strip(), f"({time.perf_counter() - started:.1f} s)")
        if args.loans or args.bookings:
            started = time.perf_counter()
            result = app.test_cli_runner().invoke(args=[
                "bench-activity", "--sites", str(args.sites), "--loans", str(args.loans), "--bookings", str(args.bookings),
                "--residents", str(args.residents)])
            print(result.output.strip(), f"({time.perf_counter() - started:.1f} s)")
            if result.exit_code:
                raise SystemExit(result.output)
        if args.analyze:
            db.session.commit()
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        site = db.session.scalar(select(Site).where(Site.name.like("Centre banc d'essai%")).order_by(Site.id))
        manager = ensure_user("bench-manager@example.org", Role.manager, site)
        ensure_user("bench-admin@example.org", Role.admin, None)
        db.session.commit()
        pages = build_pages(app, site)
        db.session.remove()

    print(f"\nDatabase: {db_label(url)}; runs per page: {args.runs}\n")
    print(f"{'page':58} {'median ms':>10} {'queries':>8}")
    for who, label, path in pages:
        if args.only and args.only.lower() not in label.lower():
            continue
        client = app.test_client()
        client.post("/connexion", data={"email": who, "password": PASSWORD}) if who else None
        times, queries = [], []
        for _ in range(args.runs):
            with app.app_context():
                count = [0]
                listener = lambda *a, count=count, **k: count.__setitem__(0, count[0] + 1)  # noqa: E731 (a one-line counter)
                event.listen(db.engine, "before_cursor_execute", listener)
                t0 = time.perf_counter()
                response = client.get(path)
                elapsed = time.perf_counter() - t0
                event.remove(db.engine, "before_cursor_execute", listener)
            if response.status_code >= 400:
                print(f"{label:58} HTTP {response.status_code}")
                break
            times.append(elapsed * 1000)
            queries.append(count[0])
        else:
            print(f"{label:58} {statistics.median(times):10.1f} {max(queries):8d}")
    _ = manager


def ensure_user(email, role, site):
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=email.split("@")[0], role=role, active=True, session_version=1)
        user.set_password(PASSWORD)
        user.sites = [site] if site else []
        db.session.add(user)
    return user


def build_pages(app, site):
    from loans.models import Device

    tag = db.session.scalar(select(Device.tag).where(Device.home_site_id == site.id).order_by(Device.id))
    from core.clock import local_now

    year = local_now().year - 1  # the last whole year, compared with the one before
    views = app.view_functions
    manager, admin = "bench-manager@example.org", "bench-admin@example.org"
    candidates = [
        ("loans.inventory", manager, "Inventaire d'une structure (1re page)", "/equipements"),
        ("loans.inventory", admin, "Inventaire du réseau, 20 000 équipements (1re page)", "/equipements"),
        ("loans.inventory", admin, "Inventaire du réseau, recherche « modèle 4 »", "/equipements?q=mod%C3%A8le+4"),
        ("loans.inventory", admin, "Inventaire du réseau, page 200", "/equipements?page=200"),
        ("loans.device", manager, "Fiche d'un équipement", f"/equipements/{tag}"),
        ("loans.scan", manager, "Scan au guichet (URL complète de l'étiquette)", f"/guichet/scanner?code=http://localhost/D/{tag}"),
        ("loans.public_device", None, "Page publique /d/<TAG>", f"/d/{tag}"),
        ("loans.label_sheet", admin, "Planche de 240 étiquettes (A4 3 × 8)", None),
        ("loans.desk", manager, "Guichet (retours du jour, retards, disponibles)", "/guichet"),
        ("reports.site", manager, f"Rapport d'une structure, année {year}", f"/rapports/structures/{site.id}?periode={year}"),
        ("reports.site", manager, f"Rapport d'une structure, mois de mars {year}", f"/rapports/structures/{site.id}?periode={year}-03"),
        ("reports.site_csv", manager, f"Rapport d'une structure, CSV des prêts {year}",
         f"/rapports/structures/{site.id}/prets.csv?periode={year}"),
        ("reports.network", admin, f"Rapport du réseau, toutes les structures, année {year}", f"/rapports/reseau?periode={year}"),
        ("reports.network", admin, f"Rapport du réseau, toutes les structures, mois de mars {year}", f"/rapports/reseau?periode={year}-03"),
        ("reports.funder", admin, f"Rapport financeur, 4 trimestres {year}, toutes les structures", f"/rapports/financeur?annee={year}"),
    ]
    pages = []
    for endpoint, who, label, path in candidates:
        if endpoint not in views:
            print(f"(absent: {endpoint})")
            continue
        if endpoint == "loans.label_sheet":
            tags = db.session.scalars(select(Device.tag).order_by(Device.id).limit(240)).all()
            path = "/etiquettes?format=a4-3x8&" + "&".join(f"tag={t}" for t in tags)
        pages.append((who, label, path))
    return pages


def db_label(url):
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite (fichier)"


if __name__ == "__main__":
    main()
