"""The builders of the report pages: each fills its tables (reports/tables.py) from the database.

- gather(): the aggregates every page shares, per site and window (a fixed number of statements);
- site_dashboard(), network(), funder(): one page each, returning SiteDashboard, Network, FunderReport;
- buckets_of(): the weeks or months of a period, for the charts of the site page.

The numbers come from reports/queries.py (aggregates computed by the database) and
reports/capacity.py (open-access capacity from the rooms' hours). Here they are only divided
(rates, averages), labelled in French and put side by side with the comparison period.
Each page runs a fixed number of statements, whatever the number of sites or rows.
"""
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.clock import PARIS
from core.extensions import db
from core.templating import french_date
from loans.models import DeviceKind, DeviceStatus

from . import capacity as capacitylib
from . import queries, summary
from .periods import Period, Window, quarters_of, window_label
from .tables import (
    FUNDER_COLUMNS,
    LOAN_LINES,
    PEOPLE_LINES,
    ROOM_LINES,
    WORKSHOP_LINES,
    Column,
    ComparisonTable,
    FunderReport,
    GridTable,
    Line,
    Network,
    NetworkRow,
    SiteDashboard,
    hours,
    ratio,
)

# --- the values of each comparison table ----------------------------------------------------------


def _loan_values(loans: dict, usage: dict) -> dict:
    return {
        **loans,
        "average_days": ratio(loans["returned_days"], loans["returned"], scale=1),
        "late_share": ratio(loans["late"], loans["returned"]),
        "use_rate": ratio(usage["loan_days"], usage["available"]),
    }


def _room_values(bookings: dict, offered: capacitylib.Capacity) -> dict:
    return {
        "offered": hours(offered.seat_minutes),
        "booked": hours(bookings["booked_minutes"]),
        "used": hours(bookings["used_minutes"]),
        "occupancy": ratio(bookings["booked_minutes"], offered.seat_minutes),
        "use": ratio(bookings["used_minutes"], offered.seat_minutes),
        "seat_bookings": bookings["seat_bookings"],
        "arrivals_share": ratio(bookings["arrivals_noted"], bookings["seat_bookings"]),
        "open_hours": hours(offered.open_minutes),
    }


def _workshop_values(bookings: dict, workshops: dict) -> dict:
    noted = bookings["present"] + bookings["absent"] + bookings["excused"]
    return {
        **workshops,
        **bookings,
        "fill_rate": ratio(bookings["registrations"], workshops["places"]),
        "attendance_rate": ratio(bookings["present"], noted),
    }


def _lines(measures, values: list[dict]) -> list[Line]:
    return [Line(m, values[0].get(m.key), values[1].get(m.key)) for m in measures]


def _zeros(names, count):
    return [{name: 0 for name in names} for _ in range(count)]


# --- what every page gathers ---------------------------------------------------------------------


@dataclass
class Gathered:
    """Per site and window: the raw aggregates of every query (see queries.py)."""

    windows: list
    loans: dict
    usage: dict  # site -> [{"available", "loan_days"}] over all kinds
    kinds: dict  # site -> kind -> [{available, loan_days, devices}]
    bookings: dict
    workshops: dict
    offered: dict  # (site, window index) -> Capacity
    people: dict
    new: dict
    plans: list
    closures: list
    workshop_times: list

    def offered_per_bucket(self, buckets) -> dict:
        """Capacity per (site, bucket key) for buckets inside the windows, from the rows already loaded."""
        return capacitylib.offered(self.plans, self.closures, self.workshop_times, [(b.key, b.first, b.end) for b in buckets])

    def loans_of(self, site_id):
        return self.loans.get(site_id) or _zeros(queries.LOAN_MEASURES, len(self.windows))

    def bookings_of(self, site_id):
        return self.bookings.get(site_id) or _zeros(queries.BOOKING_MEASURES, len(self.windows))

    def workshops_of(self, site_id):
        return self.workshops.get(site_id) or _zeros(queries.WORKSHOP_MEASURES, len(self.windows))

    def people_of(self, site_id):
        people = self.people.get(site_id) or _zeros(queries.PEOPLE_MEASURES, len(self.windows))
        new = self.new.get(site_id) or _zeros(("new",), len(self.windows))
        return [{**p, **n} for p, n in zip(people, new, strict=True)]

    def usage_of(self, site_id):
        return self.usage.get(site_id) or _zeros(("available", "loan_days"), len(self.windows))

    def offered_of(self, site_id, index):
        return self.offered.get((site_id, index)) or capacitylib.Capacity()


# What the network view and the funder report show of each site: their statements compute only these.
SUMMARY_BOOKINGS = ("booked_minutes", "present", "absent", "excused")
SUMMARY_PEOPLE = ("reached", "borrowers")


def gather(site_ids, windows: list[Window], *, kinds=True) -> Gathered:
    """The aggregates of the site dashboard (9 to 10 statements)."""
    loans = queries.loan_activity(site_ids, windows)
    kind_rows = queries.kind_usage(site_ids, windows) if kinds else {}
    usage = {}
    for site_id, per_kind in kind_rows.items():
        usage[site_id] = [
            {"available": sum(k[i]["available"] for k in per_kind.values()), "loan_days": sum(k[i]["loan_days"] for k in per_kind.values())}
            for i in range(len(windows))
        ]
    plans, closures, workshop_times, offered = _capacity(site_ids, windows)
    return Gathered(
        windows=windows,
        loans=loans,
        usage=usage,
        kinds=kind_rows,
        bookings=queries.booking_activity(site_ids, windows),
        workshops=queries.workshop_activity(site_ids, windows),
        offered=offered,
        people=queries.people_reached(site_ids, windows),
        new=queries.new_residents(site_ids, windows),
        plans=plans,
        closures=closures,
        workshop_times=workshop_times,
    )


def _capacity(site_ids, windows):
    plans = [capacitylib.RoomPlan.of(room) for room in queries.rooms_of(site_ids)]
    closures, workshop_times = queries.closures_of(site_ids, windows), queries.workshop_times(site_ids, windows)
    offered = capacitylib.offered(plans, closures, workshop_times, [(i, w.first, w.end) for i, w in enumerate(windows)])
    return plans, closures, workshop_times, offered


def gather_summary(site_ids, windows: list[Window], *, use=True) -> Gathered:
    """Only what the network view and the funder report show, in fewer and lighter statements than
    gather(): the sums kept per site and day (reports/summary.py: loans started, days on loan by
    lending site and by home site, seat-minutes booked, workshop attendance) and the loans still open
    (queries.loans_and_use), the days the devices could be lent without a row per device
    (queries.available_days), the borrowers counted with the people reached (one statement, which
    also counts each person once for the whole network). The same numbers as gather()'s
    (tests/reports/test_summary.py compares them).

    use=False: no device use rate (the funder report)."""
    kept = summary.summed(site_ids, windows)
    lent, owned = queries.loans_and_use(site_ids, windows, kept, use=use)
    people = queries.people_reached(site_ids, windows, SUMMARY_PEOPLE)
    for site_id in set(people) - {None} | set(lent):
        counted = people.get(site_id) or _zeros(SUMMARY_PEOPLE, len(windows))
        for values, n in zip(lent.setdefault(site_id, _zeros(("started", "days"), len(windows))), counted, strict=True):
            values["borrowers"] = n["borrowers"]
    usage = {}
    if use:
        available = queries.available_days(site_ids, windows)
        for site_id in set(available) | set(owned):
            days = owned.get(site_id) or _zeros(("loan_days",), len(windows))
            usage[site_id] = [
                {"available": (available.get(site_id) or [0] * len(windows))[i], "loan_days": days[i]["loan_days"]}
                for i in range(len(windows))
            ]
    plans, closures, workshop_times, offered = _capacity(site_ids, windows)
    return Gathered(
        windows=windows,
        loans=lent,
        usage=usage,
        kinds={},
        bookings={
            site_id: [{"booked_minutes": w["seat_minutes"], "present": w["present"], "absent": w["absent"], "excused": w["excused"]}
                      for w in per_window]
            for site_id, per_window in kept.items()
        },
        workshops=queries.workshop_activity(site_ids, windows),
        offered=offered,
        people=people,
        new={},
        plans=plans,
        closures=closures,
        workshop_times=workshop_times,
    )


def kinds_by_id():
    return {kind.id: kind for kind in db.session.scalars(select(DeviceKind).order_by(DeviceKind.position, DeviceKind.name))}


# --- buckets for the charts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    key: int
    first: date
    end: date

    @property
    def label(self) -> str:
        return french_date(self.first, "d MMM")


def buckets_of(window: Window):
    """Weeks (Monday to Sunday, the first and last ones cut by the window) up to ~a year; months beyond."""
    if window.days <= 400:
        monday = window.first - timedelta(days=window.first.weekday())
        buckets = []
        key = 0
        while monday + timedelta(days=7 * key) < window.end:
            start = monday + timedelta(days=7 * key)
            buckets.append(Bucket(key, max(start, window.first), min(start + timedelta(days=7), window.end)))
            key += 1
        return "week", buckets, queries.week_bucket(monday)
    buckets = []
    day = window.first.replace(day=1)
    while day < window.end:
        following = (day + timedelta(days=32)).replace(day=1)
        buckets.append(Bucket(day.year * 12 + day.month, max(day, window.first), min(following, window.end)))
        day = following
    return "month", buckets, queries.month_bucket


# --- the site dashboard ---------------------------------------------------------------------------------


def site_dashboard(site, period: Period, today: date, device_url) -> SiteDashboard:
    """Everything the site page shows, in a constant number of statements (see tests)."""
    comparison = period.previous(today)
    current, previous = period.window(today), comparison.window(today)
    windows = [current, previous]
    labels = (window_label(current), window_label(previous))
    data = gather([site.id], windows)
    kinds = kinds_by_id()

    usage = data.usage_of(site.id)
    loan_values = [_loan_values(data.loans_of(site.id)[i], usage[i]) for i in range(2)]
    room_values = [_room_values(data.bookings_of(site.id)[i], data.offered_of(site.id, i)) for i in range(2)]
    workshop_values = [_workshop_values(data.bookings_of(site.id)[i], data.workshops_of(site.id)[i]) for i in range(2)]

    kind_table = GridTable(
        "usage-par-type", _l("Usage par type d'équipement"),
        [Column(_l("Type")), Column(_l("Équipements"), "int"), Column(_l("Jours où ils pouvaient être prêtés"), "int"),
         Column(_l("Jours de prêt"), "int"), Column(_l("Taux d'usage"), "pct"), Column(_l("Taux d'usage, période de comparaison"), "pct")],
    )
    kind_rates = []
    for kind_id, per_window in sorted(data.kinds.get(site.id, {}).items(), key=lambda item: (kinds[item[0]].position, kinds[item[0]].name)):
        now_, before = per_window
        rate, previous_rate = ratio(now_["loan_days"], now_["available"]), ratio(before["loan_days"], before["available"])
        kind_table.rows.append([kinds[kind_id].name, now_["devices"], now_["available"], now_["loan_days"], rate, previous_rate])
        kind_rates.append((kinds[kind_id].name, rate, previous_rate))

    statuses = queries.devices_by_status([site.id]).get(site.id, {})
    overdue = queries.overdue_now([site.id], today).get(site.id, 0)
    status_table = GridTable(
        "equipements-aujourd-hui", _l("Équipements de la structure aujourd'hui"),
        [Column(_l("État")), Column(_l("Nombre"), "int")],
        [[status.label, statuses.get(status, 0)] for status in DeviceStatus],
        footer=[_l("Total"), sum(statuses.values())],
    )

    rare_rows, rare_total = queries.rarely_lent(site.id, current)
    rarely = GridTable(
        "peu-pretes", _l("Équipements peu ou pas prêtés"),
        [Column(_l("Code"), "link"), Column(_l("Type")), Column(_l("État")), Column(_l("Prêts commencés"), "int"),
         Column(_l("Jours de prêt"), "int"), Column(_l("Jours où il pouvait être prêté"), "int"), Column(_l("Taux d'usage"), "pct"),
         Column(_l("Dernier prêt"), "date")],
        [[(row.tag, device_url(row.tag)), kinds[row.kind_id].name, row.status.label, row.loans, row.loan_days, row.available,
          ratio(row.loan_days, row.available), local_day(row.last_lent)] for row in rare_rows],
        note=_l("Prêtés moins de 10 % des jours où ils pouvaient l'être : à proposer à une structure qui en manque."),
    )

    bucket_kind, buckets, bucket_sql = buckets_of(current)
    per_bucket_loans = queries.loans_per_bucket(site.id, current, bucket_sql)
    per_bucket_bookings = queries.bookings_per_bucket(site.id, current, bucket_sql)
    per_bucket_offered = data.offered_per_bucket(buckets)
    period_word = _l("Semaine du") if bucket_kind == "week" else _l("Mois")
    loans_series = GridTable(
        "prets-par-semaine" if bucket_kind == "week" else "prets-par-mois",
        _l("Prêts commencés par semaine") if bucket_kind == "week" else _l("Prêts commencés par mois"),
        [Column(period_word, "date" if bucket_kind == "week" else "text"), Column(_l("Prêts commencés"), "int")],
        [[b.first if bucket_kind == "week" else format_date(b.first, "MMMM y"), per_bucket_loans.get(b.key, 0)] for b in buckets],
    )
    occupancy_rows = []
    for b in buckets:
        offered = per_bucket_offered.get((site.id, b.key), capacitylib.Capacity()).seat_minutes
        booked, used = per_bucket_bookings.get(b.key, (0, 0))
        occupancy_rows.append([b.first if bucket_kind == "week" else format_date(b.first, "MMMM y"),
                               hours(offered), hours(booked), hours(used), ratio(booked, offered), ratio(used, offered)])
    occupancy_series = GridTable(
        "occupation-par-semaine" if bucket_kind == "week" else "occupation-par-mois",
        _l("Occupation des salles par semaine") if bucket_kind == "week" else _l("Occupation des salles par mois"),
        [Column(period_word, "date" if bucket_kind == "week" else "text"), Column(_l("Heures-postes offertes"), "dec"),
         Column(_l("Heures-postes réservées"), "dec"), Column(_l("Heures-postes utilisées"), "dec"),
         Column(_l("Taux d'occupation"), "pct"), Column(_l("Taux d'utilisation"), "pct")],
        occupancy_rows,
    )

    return SiteDashboard(
        site=site, period=period, comparison=comparison, windows=windows, labels=labels,
        loans=ComparisonTable("prets", _l("Prêts"), _lines(LOAN_LINES, loan_values), labels),
        kinds=kind_table, statuses=status_table, rarely=rarely, rarely_total=rare_total,
        rooms=ComparisonTable("salles", _l("Accès libre aux salles informatiques"), _lines(ROOM_LINES, room_values), labels),
        workshops=ComparisonTable("ateliers", _l("Ateliers"), _lines(WORKSHOP_LINES, workshop_values), labels),
        people=ComparisonTable("personnes", _l("Personnes"), _lines(PEOPLE_LINES, data.people_of(site.id)), labels),
        loans_series=loans_series, occupancy_series=occupancy_series, bucket_kind=bucket_kind, kind_rates=kind_rates,
        overdue=overdue, has_rooms=bool(data.plans),
    )


def local_day(at):
    return at.astimezone(PARIS).date() if at else None


# --- the network view ------------------------------------------------------------------------------------

def _network_values(loans, usage, bookings, offered, workshops, people):
    return {
        "started": loans["started"], "borrowers": loans["borrowers"], "days": loans["days"],
        "use_rate": ratio(usage["loan_days"], usage["available"]),
        "offered": hours(offered.seat_minutes), "occupancy": ratio(bookings["booked_minutes"], offered.seat_minutes),
        "held": workshops["held"], "present": bookings["present"], "reached": people["reached"],
    }


def network(sites, period: Period, today: date, all_sites: bool) -> Network:
    """All the sites side by side, with totals where a person met at two sites counts once."""
    comparison = period.previous(today)
    windows = [period.window(today), comparison.window(today)]
    site_ids = None if all_sites else [s.id for s in sites]
    data = gather_summary(site_ids, windows)
    totals_people = data.people.get(None) or _zeros(queries.PEOPLE_MEASURES, 2)

    rows = []
    sums = [defaultdict(int) for _ in windows]
    offered_total = [capacitylib.Capacity() for _ in windows]
    for site in sites:
        values = []
        for i in range(2):
            offered, loans = data.offered_of(site.id, i), data.loans_of(site.id)[i]
            usage, bookings, workshops = data.usage_of(site.id)[i], data.bookings_of(site.id)[i], data.workshops_of(site.id)[i]
            values.append(_network_values(loans, usage, bookings, offered, workshops, data.people_of(site.id)[i]))
            for source in (usage, bookings, workshops, loans):
                for key, value in source.items():
                    sums[i][key] += value
            offered_total[i].add(offered.seat_minutes, offered.open_minutes)
        rows.append(NetworkRow(site, values[0], values[1]))
    for i in range(2):  # sums of the sites, except people: each counts once in the network
        sums[i]["borrowers"] = totals_people[i]["borrowers"]
    total_values = [
        _network_values(sums[i], sums[i], sums[i], offered_total[i], sums[i], totals_people[i]) for i in range(2)
    ]
    total = NetworkRow(_l("Total du réseau") if all_sites else _l("Total"), total_values[0], total_values[1])
    return Network(period, comparison, (window_label(windows[0]), window_label(windows[1])), rows, total)


# --- the funder report ----------------------------------------------------------------------------------

def funder(sites, year: int, today: date, all_sites: bool) -> FunderReport:
    """One row per site and quarter (quarters begun; the current one up to yesterday), then totals per quarter."""
    quarters = [(q, q.window(today)) for q in quarters_of(year) if not q.window(today).empty]
    windows = [w for _q, w in quarters]
    table = GridTable("financeur", _l("Une ligne par structure et par trimestre, %(year)s", year=year), FUNDER_COLUMNS)
    totals = []
    if not windows:
        return FunderReport(year, quarters, table, totals, False)
    site_ids = None if all_sites else [s.id for s in sites]
    data = gather_summary(site_ids, windows, use=False)
    totals_people = data.people.get(None) or _zeros(queries.PEOPLE_MEASURES, len(windows))
    quarter_names = [_quarter_name(q, w) for q, w in quarters]
    sums = [defaultdict(int) for _ in windows]
    for site in sites:
        for i in range(len(windows)):
            loans, bookings = data.loans_of(site.id)[i], data.bookings_of(site.id)[i]
            workshops, offered = data.workshops_of(site.id)[i], data.offered_of(site.id, i)
            noted = bookings["present"] + bookings["absent"] + bookings["excused"]
            table.rows.append([
                site.name, quarter_names[i], data.people_of(site.id)[i]["reached"], loans["started"], loans["days"],
                hours(offered.open_minutes), hours(bookings["booked_minutes"]), workshops["held"], bookings["present"],
                ratio(bookings["present"], noted),
            ])
            for key, value in (("started", loans["started"]), ("days", loans["days"]), ("open", offered.open_minutes),
                               ("booked", bookings["booked_minutes"]), ("held", workshops["held"]), ("present", bookings["present"]),
                               ("noted", noted)):
                sums[i][key] += value
    for i in range(len(windows)):
        s = sums[i]
        totals.append([
            _l("Total du réseau") if all_sites else _l("Total"), quarter_names[i], totals_people[i]["reached"], s["started"], s["days"],
            hours(s["open"]), hours(s["booked"]), s["held"], s["present"], ratio(s["present"], s["noted"]),
        ])
    complete = all(q.is_complete(today) for q, _w in quarters) and len(quarters) == 4
    return FunderReport(year, quarters, table, totals, complete)


def _quarter_name(quarter: Period, window: Window) -> str:
    name = str(quarter.label)
    if window.last < quarter.last:
        name += " " + str(_l("(jusqu'au %(day)s)", day=french_date(window.last, "d MMMM")))
    return name
