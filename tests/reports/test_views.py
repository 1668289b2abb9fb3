"""Report pages over HTTP: who sees what, the figures shown, bad periods, CSV files, query counts."""
import csv
import io
import re
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import insert, select

from core import clock
from core.clock import PARIS
from loans.models import Device, Loan, LoanOutcome
from reservations.models import Booking, BookingState
from tests.core.helpers import field_error, page_text, visible_text

MARCH = "?periode=2026-03"


@pytest.fixture
def client_for(app, login):
    def make(user):
        client = app.test_client()
        assert login(user, target=client).status_code == 302
        return client

    return make


def read_csv(response):
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "no UTF-8 byte-order mark: Excel would misread the accents"
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    text = body.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


# --- who sees what ------------------------------------------------------------------------------


def test_a_manager_sees_the_dashboard_of_their_site_only(march, client_for):
    manager = client_for(march.manager_a)
    assert manager.get(f"/rapports/structures/{march.a.id}{MARCH}").status_code == 200
    for url in (f"/rapports/structures/{march.b.id}{MARCH}", f"/rapports/structures/{march.b.id}/prets.csv{MARCH}",
                "/rapports/reseau", "/rapports/reseau.csv"):
        response = manager.get(url)
        assert response.status_code == 403, url
        assert "Centre B" not in page_text(response)


def test_reception_has_no_reports_but_notes_arrivals(march, client_for):
    reception = client_for(march.reception_a)
    for url in ("/rapports", f"/rapports/structures/{march.a.id}", "/rapports/financeur", "/rapports/financeur.csv"):
        assert reception.get(url).status_code == 403, url
    home = page_text(reception.get("/espace"))
    assert "Rapports" not in home and "Arrivées en salle" in home
    assert "Rapports" in page_text(client_for(march.manager_a).get("/espace"))


def test_anonymous_people_are_sent_to_the_login_page(march, app):
    response = app.test_client().get(f"/rapports/structures/{march.a.id}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


def test_the_reports_home_lists_the_managers_sites(march, client_for):
    text = page_text(client_for(march.manager_a).get("/rapports"))
    assert "Centre A" in text and "Centre B" not in text and "Toutes les structures" not in text
    admin_text = page_text(client_for(march.admin).get("/rapports"))
    assert "Centre A" in admin_text and "Centre B" in admin_text and "Toutes les structures côte à côte" in admin_text


def test_the_funder_report_of_a_manager_covers_their_sites(march, client_for):
    text = page_text(client_for(march.manager_a).get("/rapports/financeur?annee=2026"))
    assert "Centre A" in text and "Centre B" not in text


# --- what the dashboard shows ---------------------------------------------------------------------


def test_the_dashboard_shows_the_figures_charts_and_definitions(march, client_for):
    response = client_for(march.manager_a).get(f"/rapports/structures/{march.a.id}{MARCH}")
    text = page_text(response)
    assert "mars 2026" in text and "du 1er février 2026 au 28 février 2026" in text
    three_cells = r"\s*<td class=\"num\">(.*?)</td>\s*<td class=\"num\">(.*?)</td>\s*<td class=\"num change\">(.*?)</td>"
    row = re.search(r"Jours de prêt<span.*?</th>" + three_cells, text, re.S)
    assert row.groups() == ("52", "9", "+477,8\u202f%")  # (52 − 9) / 9
    rate = re.search(r"Taux d'usage des équipements de la structure<span.*?" + three_cells.removeprefix(r"\s*"), text, re.S)
    assert rate.groups() == ("41,3\u202f%", "6,4\u202f%", "+34,9\u202fpoints")
    # Each chart is an image with a title and a description in words, and its data table.
    for chart_id in ("graphique-prets", "graphique-occupation", "graphique-usage"):
        svg = re.search(rf'<svg class="chart[^"]*"[^>]*role="img"[^>]*aria-labelledby="{chart_id}-titre {chart_id}-desc"', text)
        assert svg, chart_id
        assert re.search(rf'<desc id="{chart_id}-desc">[^<]{{20,}}</desc>', text), chart_id
    assert "4 prêts commencés du 1er mars 2026 au 31 mars 2026, au plus 2 la semaine du 2 mars." in text
    assert "Ordinateur portable : 66,7\u202f% (période de comparaison : 10,7\u202f%)" in text
    # One bar per week with loans: the weeks of 2 and 23 March.
    loans_svg = text[text.index('aria-labelledby="graphique-prets-titre'):]
    loans_svg = loans_svg[:loans_svg.index("</svg>")]
    assert loans_svg.count('<rect class="bar s0"') == 2
    assert march.D1.tag in text and march.L2.tag in text  # rarely lent, linked to their page
    assert "Comment les chiffres sont comptés" in text


def test_an_unreadable_period_is_answered_next_to_its_field(march, client_for):
    manager = client_for(march.manager_a)
    response = manager.get(f"/rapports/structures/{march.a.id}?du=31/02/2026&au=15/03/2026")
    assert response.status_code == 400
    assert field_error(response, "du") == "Cette date n'existe pas : « 31/02/2026 »."
    assert 'value="31/02/2026"' in response.get_data(as_text=True)  # what was typed stays in the field
    response = manager.get(f"/rapports/structures/{march.a.id}?periode=2026-13")
    assert response.status_code == 400
    assert "Période inconnue" in field_error(response, "periode")
    response = manager.get(f"/rapports/structures/{march.a.id}/prets.csv?periode=2099")
    assert response.status_code == 400 and "hier soir" in field_error(response, "periode")
    assert client_for(march.admin).get("/rapports/reseau?du=&au=01/03/2026").status_code == 400
    response = manager.get("/rapports/financeur?annee=1850")
    assert response.status_code == 400 and "Année inconnue" in field_error(response, "annee")


def test_chosen_dates_work_and_are_kept_in_the_links(march, client_for):
    response = client_for(march.manager_a).get(f"/rapports/structures/{march.a.id}?du=02/03/2026&au=05/03/2026")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'value="02/03/2026"' in body and "prets.csv?du=02/03/2026&amp;au=05/03/2026" in body.replace("%2F", "/")


def test_an_unknown_table_is_not_found(march, client_for):
    assert client_for(march.manager_a).get(f"/rapports/structures/{march.a.id}/inconnu.csv{MARCH}").status_code == 404


# --- CSV files ----------------------------------------------------------------------------------------


def test_the_loans_table_as_csv_for_french_excel(march, client_for):
    rows = read_csv(client_for(march.manager_a).get(f"/rapports/structures/{march.a.id}/prets.csv{MARCH}"))
    assert rows[0] == ["Indicateur", "Période (du 1er mars 2026 au 31 mars 2026)",
                       "Période de comparaison (du 1er février 2026 au 28 février 2026)", "Évolution (%)", "Évolution (points de %)"]
    by_label = {row[0]: row[1:] for row in rows[1:]}
    assert by_label["Prêts commencés"] == ["4", "1", "300,0", ""]
    assert by_label["Jours de prêt"] == ["52", "9", "477,8", ""]
    assert by_label["Durée moyenne d'un prêt rendu (jours)"] == ["2,5", "", "", ""]
    assert by_label["Taux d'usage des équipements de la structure (%)"] == ["41,3", "6,4", "", "34,9"]
    assert by_label["Équipements perdus pendant un prêt"] == ["1", "0", "", ""]  # from 0: no percentage


def test_every_table_of_the_dashboard_downloads(march, client_for):
    manager = client_for(march.manager_a)
    body = manager.get(f"/rapports/structures/{march.a.id}{MARCH}").get_data(as_text=True)
    links = sorted(set(re.findall(r'href="(/rapports/structures/\d+/[a-z-]+\.csv\?[^"]+)"', body)))
    assert len(links) == 9
    for link in links:
        rows = read_csv(manager.get(link.replace("&amp;", "&")))
        assert len(rows) >= 2, link
    kinds = read_csv(manager.get(f"/rapports/structures/{march.a.id}/usage-par-type.csv{MARCH}"))
    assert kinds[1] == ["Ordinateur portable", "3", "63", "42", "66,7", "10,7"]
    rarely = read_csv(manager.get(f"/rapports/structures/{march.a.id}/peu-pretes.csv{MARCH}"))
    assert rarely[1][:5] == [march.D1.tag, "Clé 4G", "Disponible", "0", "0"] and rarely[2][-1] == "28/03/2026"


def test_the_network_view_adds_up_the_sites(march, client_for):
    admin = client_for(march.admin)
    text = page_text(admin.get(f"/rapports/reseau{MARCH}"))
    assert "Centre A" in text and "Centre B" in text and "Total du réseau" in text
    rows = read_csv(admin.get(f"/rapports/reseau.csv{MARCH}"))
    header, by_site = rows[0], {row[0]: row for row in rows[1:]}
    column = {name: i for i, name in enumerate(header)}
    started = column["Prêts commencés – du 1er mars 2026 au 31 mars 2026"]
    reached = column["Personnes touchées – du 1er mars 2026 au 31 mars 2026"]
    assert [by_site[name][started] for name in ("Centre A", "Centre B", "Total du réseau")] == ["4", "1", "5"]
    assert [by_site[name][reached] for name in ("Centre A", "Centre B", "Total du réseau")] == ["6", "2", "8"]
    use = column["Taux d'usage des équipements (%) – du 1er mars 2026 au 31 mars 2026"]
    # A: 52 / 126; B: LB 4 days out of 31 (created 5 January) → total 56 / 157.
    assert [by_site[name][use] for name in ("Centre A", "Centre B", "Total du réseau")] == ["41,3", "12,9", "35,7"]


def test_the_funder_report_one_row_per_site_and_quarter(march, client_for):
    admin = client_for(march.admin)
    response = admin.get("/rapports/financeur?annee=2026")
    assert response.status_code == 200
    rows = read_csv(admin.get("/rapports/financeur.csv?annee=2026"))
    assert rows[0][:5] == ["Structure", "Trimestre", "Personnes touchées", "Prêts commencés", "Jours de prêt"]
    body = {(row[0], row[1]): row[2:] for row in rows[1:]}
    # The clock is on 10 April: Q1 whole, Q2 up to 9 April.
    assert set(body) == {("Centre A", "1er trimestre 2026"), ("Centre A", "2e trimestre 2026 (jusqu'au 9 avril)"),
                         ("Centre B", "1er trimestre 2026"), ("Centre B", "2e trimestre 2026 (jusqu'au 9 avril)"),
                         ("Total du réseau", "1er trimestre 2026"), ("Total du réseau", "2e trimestre 2026 (jusqu'au 9 avril)")}
    # Q1 at A: R1, R2, R3 + P, anna, Q; loans: L1 (Feb) + 4 in March; days: L1 from 20 Feb to 31 Mar = 40,
    # L2 2, L3 9, T1 3, D2 7 → 61; open-access hours: Jan 5 → Mar 31; one workshop, 1 present of 3 noted.
    assert body[("Centre A", "1er trimestre 2026")][:3] == ["6", "5", "61"]
    assert body[("Centre A", "1er trimestre 2026")][5:] == ["1", "1", "33,3"]
    assert body[("Total du réseau", "1er trimestre 2026")][:2] == ["8", "6"]


# --- constant number of statements ----------------------------------------------------------------------


def _more_activity(db, site, devices, residents, room, count):
    """`count` extra loans and seat bookings in March, inserted in bulk."""
    loans, bookings = [], []
    for n in range(count):
        started = datetime.combine(date(2026, 3, 1) + timedelta(days=n % 28), time(10), tzinfo=PARIS)
        loans.append(dict(device_id=devices[n % len(devices)].id, resident_id=residents[n % len(residents)].id, site_id=site.id,
                          started_at=started, started_on=started.date(), due_on=started.date(), closed_at=started + timedelta(hours=2),
                          closed_on=started.date(), outcome=LoanOutcome.returned, damaged=False, accessories_out="", condition_out="",
                          charter_method="ticked", override_reason="", accessories_missing="", condition_in=""))
        bookings.append(dict(reference=f"Z{n:05d}", token_hash=f"{n:064d}", site_id=site.id, room_id=room.id, starts_at=started,
                             ends_at=started + timedelta(hours=1), state=BookingState.confirmed, first_name="X", phone="",
                             email="", contact_key=f"x{n}@example.org", created_at=started))
    db.session.execute(insert(Loan), loans)
    db.session.execute(insert(Booking), bookings)
    db.session.commit()


def test_the_dashboard_runs_the_same_number_of_statements_whatever_the_activity(march, db, client_for, count_queries):
    manager = client_for(march.manager_a)
    url = f"/rapports/structures/{march.a.id}{MARCH}"
    manager.get(url)
    with count_queries() as small:
        assert manager.get(url).status_code == 200
    devices = db.session.scalars(select(Device).where(Device.home_site_id == march.a.id)).all()
    _more_activity(db, march.a, devices, [march.R1, march.R2, march.R3], march.room, 300)
    with count_queries() as large:
        assert manager.get(url).status_code == 200
    assert small() == large()
    assert large() <= 25


def test_the_network_view_runs_the_same_number_of_statements_whatever_the_sites(march, db, make_site, client_for, count_queries):
    admin = client_for(march.admin)
    admin.get(f"/rapports/reseau{MARCH}")
    with count_queries() as few:
        assert admin.get(f"/rapports/reseau{MARCH}").status_code == 200
    with count_queries() as funder_few:
        assert admin.get("/rapports/financeur?annee=2026").status_code == 200
    for n in range(6):
        make_site(f"Centre supplémentaire {n}")
    _more_activity(db, march.b, [march.LB], [march.R4], march.room_b, 100)
    with count_queries() as many:
        assert admin.get(f"/rapports/reseau{MARCH}").status_code == 200
    assert few() == many()
    with count_queries() as funder_many:
        assert admin.get("/rapports/financeur?annee=2026").status_code == 200
    assert funder_few() == funder_many()


def test_the_device_page_shows_its_figures(march, client_for):
    text = page_text(client_for(march.manager_a).get(f"/equipements/{march.L1.tag}"))
    figures = re.search(r'<section class="device-figures".*?</section>', text, re.S).group(0)
    assert re.search(r"<dt>Prêts</dt><dd>1</dd>\s*<dt>Jours de prêt</dt><dd>41</dd>\s*"
                     r"<dt>Dernier prêt</dt><dd>vendredi 20 février 2026</dd>", figures)
    never = page_text(client_for(march.manager_a).get(f"/equipements/{march.D1.tag}"))
    assert "Jamais prêté" in never


def test_an_older_period_stays_selected_in_the_list(march, client_for):
    body = client_for(march.manager_a).get(f"/rapports/structures/{march.a.id}?periode=2019-T2").get_data(as_text=True)
    assert re.search(r'<optgroup label="Période affichée">\s*<option value="2019-T2" selected>2e trimestre 2019</option>', body)


def test_early_in_a_month_the_dashboard_opens_on_the_last_complete_month_and_says_so(march, client_for):
    # Logged in on each frozen day: a staff session ends after 30 minutes without activity.
    with clock.frozen(datetime(2026, 5, 2, 9, 0, tzinfo=PARIS)):
        client = client_for(march.manager_a)
        text = visible_text(client.get(f"/rapports/structures/{march.a.id}"))
        home = visible_text(client.get("/rapports"))
        may = visible_text(client.get(f"/rapports/structures/{march.a.id}?periode=2026-05"))
    assert "Période : avril 2026" in text
    note = ("Le mois en cours n'a encore que 1 jour de chiffres : le rapport s'ouvre sur le dernier mois complet, avril 2026. "
            "Pour voir mai 2026, choisissez-le dans la liste.")
    assert note in text and note in home
    # Asked for, the month in progress shows its one day, "du 1er mai", and no note.
    assert "Période : mai 2026" in may and note not in may
    assert "chiffres du 1er mai 2026 (arrêtés à hier soir), comparés à ceux du 1er avril 2026." in may

    with clock.frozen(datetime(2026, 5, 8, 9, 0, tzinfo=PARIS)):
        text = visible_text(client_for(march.manager_a).get(f"/rapports/structures/{march.a.id}"))
    assert "Période : mai 2026" in text and "n'a encore que" not in text
