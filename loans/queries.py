"""Read-side queries of the inventory: which devices a person sees, filtered, sorted, paged.

Every query here runs in a constant number of statements whatever the number of devices: sites
and kinds are joined or eager-loaded, never fetched row by row. The filters are backed by the
indexes of Device: (home_site_id, status), (current_site_id, status), (kind_id, status), tag, serial.
"""
import functools
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from flask_sqlalchemy.pagination import Pagination
from markupsafe import Markup, escape
from sqlalchemy import bindparam, case, func, or_, select, true
from sqlalchemy.orm import aliased, joinedload

from core.contacts import format_phone
from core.extensions import db
from core.input import parse_id
from core.models import Site, User
from core.residents import Resident, display_name
from core.templating import datetimes_fr

from .models import Device, DeviceEvent, DeviceKind, DeviceStatus, Loan

PER_PAGE = 50

HomeSite = aliased(Site, name="home_site")

# Sort keys offered in the URL (anything else is ignored) → the columns they order by.
SORTS = {
    "tag": (Device.tag,),
    "kind": (DeviceKind.position, DeviceKind.name),
    "model": (Device.brand, Device.model),
    "status": (Device.status,),
    "site": (HomeSite.name,),
}
DEFAULT_SORT = "tag"


def _int_or_none(value):
    return parse_id(value)  # a positive id within the database's range, else no filter


@dataclass
class InventoryFilters:
    """What the inventory list shows, read leniently from the query string: a bad value is ignored."""

    site: int | None = None
    kind: int | None = None
    status: DeviceStatus | None = None
    q: str = ""
    sort: str = DEFAULT_SORT
    descending: bool = False
    page: int = 1
    ignored: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args) -> "InventoryFilters":
        filters = cls()
        filters.site = _int_or_none(args.get("site"))
        filters.kind = _int_or_none(args.get("kind"))
        status = args.get("status") or ""
        if status in DeviceStatus.__members__:
            filters.status = DeviceStatus[status]
        filters.q = (args.get("q") or "").strip()[:100]
        sort = args.get("sort") or DEFAULT_SORT
        filters.descending = sort.startswith("-")
        sort = sort.lstrip("-")
        filters.sort = sort if sort in SORTS else DEFAULT_SORT
        filters.page = min(_int_or_none(args.get("page")) or 1, 1_000_000)
        return filters

    def params(self, **changes) -> dict:
        """The query-string parameters (for links that keep the filters), with some changed."""
        values = {
            "site": self.site,
            "kind": self.kind,
            "status": self.status.value if self.status else None,
            "q": self.q or None,
            "sort": self.sort_param if self.sort_param != DEFAULT_SORT else None,
            "page": self.page if self.page > 1 else None,
        }
        values.update(changes)
        return {key: value for key, value in values.items() if value not in (None, "")}

    def filter_params(self) -> dict:
        """Only what selects devices (for the CSV export and the label sheet): no sort, no page."""
        return {key: value for key, value in self.params(sort=None, page=None).items()}

    @property
    def sort_param(self) -> str:
        return ("-" if self.descending else "") + self.sort

    def sort_link(self, key: str) -> dict:
        """Parameters of a column header link: ascending first, descending on a second click."""
        descending = self.sort == key and not self.descending
        return self.params(sort=("-" if descending else "") + key, page=None)

    @property
    def is_filtered(self) -> bool:
        return bool(self.site or self.kind or self.status or self.q)


def visible_to(user: User):
    """Condition on Device: the devices a person may see (their sites: home or current; admins: all)."""
    if user.is_admin:
        return None
    site_ids = sorted(user.site_ids)
    if not site_ids:
        return Device.id.is_(None)  # nothing
    return or_(Device.home_site_id.in_(site_ids), Device.current_site_id.in_(site_ids))


def _conditions(user: User, filters: InventoryFilters) -> list:
    conditions = []
    visible = visible_to(user)
    if visible is not None:
        conditions.append(visible)
    if filters.site:
        conditions.append(or_(Device.home_site_id == filters.site, Device.current_site_id == filters.site))
    if filters.kind:
        conditions.append(Device.kind_id == filters.kind)
    if filters.status:
        conditions.append(Device.status == filters.status)
    if filters.q:
        text = filters.q
        compact = "".join(text.split()).upper()
        conditions.append(
            or_(
                Device.tag.startswith(compact, autoescape=True),
                Device.serial_number.icontains(text, autoescape=True),
                Device.model.icontains(text, autoescape=True),
                Device.brand.icontains(text, autoescape=True),
            )
        )
    return conditions


def _ordered(query, filters: InventoryFilters):
    columns = SORTS[filters.sort]
    order = [c.desc() if filters.descending else c.asc() for c in columns]
    if filters.sort != "tag":
        order.append(Device.tag.asc())
    return query.order_by(*order)


def _inventory_query(user: User, filters: InventoryFilters):
    """The filtered, sorted devices with their kind and sites (joined: no query per row)."""
    query = (
        select(Device)
        .join(Device.kind)
        .join(HomeSite, HomeSite.id == Device.home_site_id)
        .where(*_conditions(user, filters))
        .options(joinedload(Device.home_site), joinedload(Device.current_site))
    )
    return _ordered(query, filters)


def inventory_page(user: User, filters: InventoryFilters, per_page: int = PER_PAGE) -> Pagination:
    """One page of the filtered list (db.paginate: the rows, then their count). A page past the end
    shows the last one."""
    query = _inventory_query(user, filters)
    page = db.paginate(query, page=filters.page, per_page=per_page, max_per_page=per_page, error_out=False)
    if page.page > 1 and not page.items and page.pages:
        page = db.paginate(query, page=page.pages, per_page=per_page, max_per_page=per_page, error_out=False)
    return page


def inventory_rows(user: User, filters: InventoryFilters):
    """Every device of the filtered list (for the export), in one statement."""
    return db.session.scalars(_inventory_query(user, filters)).unique().all()


def visible_sites(user: User) -> list[Site]:
    return user.visible_sites()


def all_kinds() -> list[DeviceKind]:
    return db.session.scalars(select(DeviceKind).order_by(DeviceKind.position, DeviceKind.name)).all()


def find_device(tag: str) -> Device | None:
    """The device with its sites, for the device page (one statement)."""
    return db.session.scalar(
        select(Device)
        .where(Device.tag == tag)
        .options(joinedload(Device.home_site), joinedload(Device.current_site))
    )


def _history_statement():
    actor, site, to_site = aliased(User, name="actor"), aliased(Site, name="site"), aliased(Site, name="to_site")
    return (
        select(
            DeviceEvent.at, DeviceEvent.action, DeviceEvent.from_status, DeviceEvent.to_status, DeviceEvent.note,
            actor.name, site.name, to_site.name,
        )
        .select_from(DeviceEvent)
        .outerjoin(actor, actor.id == DeviceEvent.actor_id)
        .join(site, site.id == DeviceEvent.site_id)
        .outerjoin(to_site, to_site.id == DeviceEvent.to_site_id)
        .where(DeviceEvent.device_id == bindparam("device_id"))
        .order_by(DeviceEvent.at.desc(), DeviceEvent.id.desc())
    )


_HISTORY = _history_statement()  # built once: its three aliases cost more to build than to run


class HistoryLine(NamedTuple):
    """One row of a device's history as the page shows it: each text already escaped for HTML (Markup).
    A tuple: the page's loop unpacks it (cheaper than an attribute look-up per cell)."""
    at: Markup
    action: Markup
    to_site: Markup | None
    actor: Markup | None
    site: Markup
    state: Markup | None
    note: Markup


def device_history(device: Device) -> list[HistoryLine]:
    """The whole history, newest first, with who did it and where (one statement), written for the page.
    Rows, not ORM objects, and the words written and escaped here once (each day, status label, name
    once per page): a long history is only shown, and building an object per event, then formatting and
    escaping it cell by cell in the template, cost many times the statement itself."""
    rows = db.session.execute(_HISTORY, {"device_id": device.id}).all()
    cells, labels = {}, {}
    datetime_fr = datetimes_fr()

    def cell(text):
        if text is None:
            return None
        try:
            return cells[text]
        except KeyError:
            return cells.setdefault(text, escape(text))

    def label(member):
        try:
            return labels[member]
        except KeyError:
            return labels.setdefault(member, member.label)

    lines = []
    for at, action, from_status, to_status, note, actor_name, site_name, to_site_name in rows:
        if from_status and to_status and from_status != to_status:
            state = f"{label(from_status)} → {label(to_status)}"
        else:
            state = label(to_status) if to_status else None
        lines.append(HistoryLine(cell(datetime_fr(at)), cell(label(action)), cell(to_site_name), cell(actor_name),
                                 cell(site_name), cell(state), cell(note or "")))
    return lines


# --- the reception desk ------------------------------------------------------------------------

DESK_SHOWN = 100  # loans listed at most; the count says how many there are


@functools.cache
def _desk_statements(admin: bool):
    """The desk's four statements, built once (for admins: every site; else the sites in :sites),
    with the day in :day: building them cost more than running them."""
    day = bindparam("day")

    def of_my_sites(column):
        return true() if admin else column.in_(bindparam("sites", expanding=True))

    def open_loans(condition):
        # Rows with only what the desk shows (not Loan objects with their device, kind, resident and site):
        # up to DESK_SHOWN lines twice, read at every visit of the desk.
        return (
            select(Loan.due_on, Resident.id, Resident.first_name, Resident.last_name, Resident.anonymised_at,
                   Resident.phone, Device.tag, DeviceKind.name, Site.name)
            .select_from(Loan)
            # Inner joins (every loan has a device, a resident and a site): a LEFT JOIN of devices with
            # their kind made SQLite materialise every device and scan them for each loan.
            .join(Device, Device.id == Loan.device_id)
            .join(DeviceKind, DeviceKind.id == Device.kind_id)
            .join(Resident, Resident.id == Loan.resident_id)
            .join(Site, Site.id == Loan.site_id)
            .where(Loan.is_open, condition, of_my_sites(Loan.site_id))
            .order_by(Loan.due_on, Loan.id)
            .limit(DESK_SHOWN)
        )

    counts = select(
        func.coalesce(func.sum(case((Loan.due_on < day, 1), else_=0)), 0),
        func.coalesce(func.sum(case((Loan.due_on == day, 1), else_=0)), 0),
    ).where(Loan.is_open, Loan.due_on <= day, of_my_sites(Loan.site_id))
    available = (
        select(Site.id, Site.name, DeviceKind.name, func.count(Device.id))
        .join(Device, Device.current_site_id == Site.id)
        .join(DeviceKind, DeviceKind.id == Device.kind_id)
        .where(Device.is_available, of_my_sites(Device.current_site_id))
        .group_by(Site.id, Site.name, DeviceKind.id, DeviceKind.name, DeviceKind.position)
        .order_by(Site.name, DeviceKind.position, DeviceKind.name)
    )
    return open_loans(Loan.due_on < day), open_loans(Loan.due_on == day), counts, available


@dataclass(slots=True)
class DeskLoan:
    """One line of the desk's lists: an open loan, who has it, which device, where."""
    due_on: date
    resident_id: int
    first_name: str
    last_name: str
    anonymised_at: datetime | None
    phone: str
    tag: str
    kind_name: str
    site_name: str

    @property
    def resident_name(self) -> str:
        return display_name(self.first_name, self.last_name, self.anonymised_at)

    @property
    def phone_display(self) -> str:
        return format_phone(self.phone)


@dataclass
class DeskOverview:
    overdue: list  # open loans, soonest due first (DESK_SHOWN at most)
    due_today: list
    overdue_count: int
    today_count: int
    available: dict  # (site id, site name) → [(kind name, count)]


def desk_overview(user: User, day) -> DeskOverview:
    """The desk's home in four statements whatever the size of the history: the loans overdue and due
    `day` (open loans of the person's sites, index ix_loans_site_open_due), their counts, and the
    available devices counted by site and kind with GROUP BY (index ix_devices_current_site_status)."""
    overdue_query, today_query, counts_query, available_query = _desk_statements(user.is_admin)
    values = {"day": day} if user.is_admin else {"day": day, "sites": sorted(user.site_ids) or [-1]}
    overdue = [DeskLoan(*row) for row in db.session.execute(overdue_query, values)]
    due_today = [DeskLoan(*row) for row in db.session.execute(today_query, values)]
    overdue_count, today_count = db.session.execute(counts_query, values).one()
    available = {}
    for site_id, site_name, kind_name, count in db.session.execute(available_query, values):
        available.setdefault((site_id, site_name), []).append((kind_name, count))
    return DeskOverview(overdue, due_today, int(overdue_count), int(today_count), available)
