"""The shapes of the report pages: labelled lines and tables, ready for a page, a chart or a CSV.

- Measure, Line, ComparisonTable: "indicator | this period | comparison period | change";
  the measure lists (LOAN_LINES, ROOM_LINES…) say which lines each table shows, with their French
  labels and footnotes.
- Column, GridTable: any other table (rows of cells, an optional totals row).
- SiteDashboard, Network (NetworkRow), FunderReport: what each page shows, made of the above.

Each table knows its CSV header and rows (written by core/csv_export.py). The builders that fill
them from the database are in reports/figures.py.
"""
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l

from .periods import Period

ONE = Decimal("0.1")


# --- numbers ------------------------------------------------------------------------------------


def ratio(numerator, denominator, scale=100) -> Decimal | None:
    """numerator ÷ denominator (× 100 for a percentage), one decimal; None when nothing to divide by."""
    if not denominator:
        return None
    return (Decimal(numerator) * scale / Decimal(denominator)).quantize(ONE, ROUND_HALF_UP)


def hours(minutes) -> Decimal:
    return (Decimal(minutes or 0) / 60).quantize(ONE, ROUND_HALF_UP)


@dataclass(frozen=True)
class Measure:
    key: str
    label: object  # lazy French string
    kind: str = "int"  # int, dec (one decimal) or pct (a percentage, compared in points)
    note: object = ""


@dataclass
class Line:
    measure: Measure
    current: object
    previous: object

    @property
    def change(self) -> Decimal | None:
        """Percentage points for a rate; relative change in % for a count (None from 0)."""
        if self.current is None or self.previous is None:
            return None
        if self.measure.kind == "pct":
            return Decimal(self.current) - Decimal(self.previous)
        return ratio(Decimal(self.current) - Decimal(self.previous), self.previous)

    @property
    def change_kind(self) -> str:
        return "points" if self.measure.kind == "pct" else "relative"


@dataclass
class ComparisonTable:
    """Indicator | this period | comparison period | change."""

    key: str
    title: object
    lines: list
    labels: tuple = ()  # (current window label, previous window label)

    def csv(self):
        """Numbers stay numbers for Excel: the change of a count in %, that of a rate in points."""
        header = [str(_l("Indicateur")), f"{_l('Période')} ({self.labels[0]})", f"{_l('Période de comparaison')} ({self.labels[1]})",
                  str(_l("Évolution (%)")), str(_l("Évolution (points de %)"))]
        rows = []
        for line in self.lines:
            unit = " (%)" if line.measure.kind == "pct" else ""
            points = line.change_kind == "points"
            rows.append([f"{line.measure.label}{unit}", line.current, line.previous,
                         None if points else line.change, line.change if points else None])
        return header, rows


@dataclass(frozen=True)
class Column:
    label: object
    kind: str = "text"  # text, int, dec, pct, date, link


@dataclass
class GridTable:
    key: str
    title: object
    columns: list
    rows: list = field(default_factory=list)
    footer: list | None = None  # a totals row
    note: object = ""

    def csv(self):
        header = [f"{c.label} (%)" if c.kind == "pct" else str(c.label) for c in self.columns]
        rows = [[plain(value) for value in row] for row in self.rows]
        if self.footer:
            rows.append([plain(value) for value in self.footer])
        return header, rows


def plain(value):
    """A link cell (label, url) becomes its label in a CSV."""
    return value[0] if isinstance(value, tuple) else value


# --- measures -----------------------------------------------------------------------------------

M = Measure
LOAN_LINES = [
    M("started", _l("Prêts commencés")),
    M("borrowers", _l("Emprunteurs différents"), note=_l("Personnes ayant commencé au moins un prêt.")),
    M("days", _l("Jours de prêt"), note=_l("Jours calendaires passés en prêt pendant la période, prêts en cours compris.")),
    M("average_days", _l("Durée moyenne d'un prêt rendu (jours)"), "dec",
      _l("Du jour du prêt au jour du retour, pour les prêts rendus pendant la période.")),
    M("returned", _l("Prêts rendus")),
    M("late_share", _l("Part des prêts rendus en retard"), "pct", _l("Rendus après la date de retour prévue.")),
    M("lost", _l("Équipements perdus pendant un prêt")),
    M("damaged", _l("Équipements rendus abîmés")),
    M("use_rate", _l("Taux d'usage des équipements de la structure"), "pct",
      _l("Jours de prêt ÷ jours où l'équipement pouvait être prêté (ni en réparation, ni perdu, ni réformé).")),
]
ROOM_LINES = [
    M("offered", _l("Heures-postes offertes en accès libre"), "dec",
      _l("Postes ouverts × heures d'accès libre, moins fermetures et ateliers.")),
    M("booked", _l("Heures-postes réservées"), "dec"),
    M("used", _l("Heures-postes utilisées"), "dec", _l("Réservations dont l'arrivée a été notée à l'accueil.")),
    M("occupancy", _l("Taux d'occupation"), "pct", _l("Heures-postes réservées ÷ offertes.")),
    M("use", _l("Taux d'utilisation"), "pct", _l("Heures-postes utilisées ÷ offertes.")),
    M("seat_bookings", _l("Réservations de poste")),
    M("arrivals_share", _l("Part des réservations dont l'arrivée est notée"), "pct"),
    M("open_hours", _l("Heures d'ouverture en accès libre"), "dec", _l("Heures où au moins un poste était ouvert, toutes salles.")),
]
WORKSHOP_LINES = [
    M("held", _l("Ateliers tenus")),
    M("places", _l("Places proposées")),
    M("registrations", _l("Inscriptions")),
    M("fill_rate", _l("Taux de remplissage"), "pct", _l("Inscriptions ÷ places proposées.")),
    M("present", _l("Participants présents")),
    M("attendance_rate", _l("Taux de présence"), "pct", _l("Présents ÷ présences notées.")),
    M("absent", _l("Absents sans excuse")),
    M("excused", _l("Absents excusés")),
    M("unmarked", _l("Présence non notée")),
    M("waiting", _l("Demandes restées en liste d'attente"), note=_l("Inscrits sur liste d'attente qui n'ont jamais eu de place.")),
]
PEOPLE_LINES = [
    M("reached", _l("Personnes touchées"),
      note=_l("Un prêt commencé ou une réservation confirmée (hors absences), chaque personne une fois.")),
    M("borrowers", _l("dont emprunteurs")),
    M("bookers", _l("dont personnes ayant réservé (salle ou atelier)")),
    M("new", _l("Nouveaux habitants enregistrés à l'accueil")),
]


# --- the pages -------------------------------------------------------------------------------------


@dataclass
class SiteDashboard:
    """Everything a site's page shows (reports.figures.site_dashboard); each table is a CSV too."""

    site: object
    period: Period
    comparison: Period
    windows: list
    labels: tuple
    loans: ComparisonTable
    kinds: GridTable
    statuses: GridTable
    rarely: GridTable
    rarely_total: int
    rooms: ComparisonTable
    workshops: ComparisonTable
    people: ComparisonTable
    loans_series: GridTable
    occupancy_series: GridTable
    bucket_kind: str
    kind_rates: list  # (kind name, current rate, previous rate)
    overdue: int
    has_rooms: bool

    def tables(self) -> dict:
        return {t.key: t for t in (self.loans, self.kinds, self.statuses, self.rarely, self.rooms, self.workshops,
                                   self.people, self.loans_series, self.occupancy_series)}


NETWORK_COLUMNS = [
    ("started", _l("Prêts commencés"), "int"),
    ("borrowers", _l("Emprunteurs"), "int"),
    ("days", _l("Jours de prêt"), "int"),
    ("use_rate", _l("Taux d'usage des équipements"), "pct"),
    ("offered", _l("Heures-postes offertes"), "dec"),
    ("occupancy", _l("Taux d'occupation des salles"), "pct"),
    ("held", _l("Ateliers tenus"), "int"),
    ("present", _l("Participants présents aux ateliers"), "int"),
    ("reached", _l("Personnes touchées"), "int"),
]


@dataclass
class NetworkRow:
    site: object
    current: dict
    previous: dict

    def lines(self):
        return [Line(Measure(key, label, kind), self.current.get(key), self.previous.get(key)) for key, label, kind in NETWORK_COLUMNS]


@dataclass
class Network:
    """All the sites side by side, and their total (reports.figures.network)."""

    period: Period
    comparison: Period
    labels: tuple
    rows: list
    total: NetworkRow

    def csv(self):
        header = [str(_l("Structure"))]
        for _key, label, kind in NETWORK_COLUMNS:
            unit = " (%)" if kind == "pct" else ""
            header += [f"{label}{unit} – {self.labels[0]}", f"{label}{unit} – {self.labels[1]}"]
        rows = []
        for row in [*self.rows, self.total]:
            cells = [row.site.name if hasattr(row.site, "name") else str(row.site)]
            for key, _label, _kind in NETWORK_COLUMNS:
                cells += [row.current.get(key), row.previous.get(key)]
            rows.append(cells)
        return header, rows


FUNDER_COLUMNS = [
    Column(_l("Structure")), Column(_l("Trimestre")), Column(_l("Personnes touchées"), "int"), Column(_l("Prêts commencés"), "int"),
    Column(_l("Jours de prêt"), "int"), Column(_l("Heures d'ouverture en accès libre"), "dec"),
    Column(_l("Heures-postes réservées en accès libre"), "dec"), Column(_l("Séances d'atelier"), "int"),
    Column(_l("Participants présents"), "int"), Column(_l("Taux de présence"), "pct"),
]


@dataclass
class FunderReport:
    """One row per site and quarter, then the totals per quarter (reports.figures.funder)."""

    year: int
    quarters: list  # [(Period, Window)]
    table: GridTable
    totals: list  # rows of network totals per quarter
    complete: bool

    def csv(self):
        header, rows = self.table.csv()
        return header, rows + [[plain(value) for value in row] for row in self.totals]


