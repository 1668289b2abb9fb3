"""QR labels: the URL a label encodes, its QR code as vector SVG, and the sheet layouts.

The label URL is written entirely in upper case (`HTTPS://HOST/D/ABC23X`): upper-case letters,
digits and `:/.-` all belong to the QR alphanumeric mode, which packs 5.5 bits per character instead
of 8, so the same URL fits a smaller QR version (bigger modules on the same label). The `/D/` route
and the host name are case-insensitive, so the upper-case URL opens the same page.
"""
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import qrcode
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from qrcode.constants import ERROR_CORRECT_M
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from core.extensions import db
from core.models import Site, User
from core.templating import phone_display

from . import queries, tags
from .models import Device

# Light modules kept around the code inside the SVG. The standard asks for 4; the label's own
# padding adds 2-3 mm of white on every side, so 2 modules inside the drawing are enough.
QUIET_ZONE = 2
# A print run beyond this is certainly a mistake (a whole network's inventory) and would
# make a very heavy page; the person is asked to narrow the selection.
MAX_LABELS = 2000


def label_url(tag: str) -> str:
    """What the QR code of a device encodes: PUBLIC_BASE_URL + "/D/" + tag, in upper case."""
    return _label_base(current_app.config["PUBLIC_BASE_URL"]) + "/D/" + tag.upper()


@lru_cache(maxsize=8)
def _label_base(public_base_url: str) -> str:
    # Scheme and host are case-insensitive by definition. A path prefix (the app mounted under
    # /prets, say) may not be: keep it as configured, at the cost of a larger QR code.
    parts = urlsplit(public_base_url.rstrip("/"))
    return urlunsplit((parts.scheme.upper(), parts.netloc.upper(), parts.path, "", ""))


def qr_for(text: str) -> qrcode.QRCode:
    """The QR symbol of `text`: error correction M (15 % of the code may be scratched), best mask."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(text)
    code.make(fit=True)
    return code


def qr_matrix(text: str) -> list[list[bool]]:
    """The modules of the QR code of `text`, True for dark, without quiet zone."""
    return qr_for(text).get_matrix()


def matrix_path(matrix: list[list[bool]], offset: int = QUIET_ZONE) -> str:
    """An SVG path drawing the dark modules, one rectangle per horizontal run (compact and exact)."""
    parts = []
    for y, row in enumerate(matrix):
        x, width = 0, len(row)
        while x < width:
            if row[x]:
                start = x
                while x < width and row[x]:
                    x += 1
                parts.append(f"M{start + offset} {y + offset}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return "".join(parts)


@dataclass(frozen=True)
class QrDrawing:
    size: int  # modules across, quiet zone included (the SVG viewBox is size × size)
    path: str
    version: int


@lru_cache(maxsize=4096)
def qr_drawing(text: str) -> QrDrawing:
    """Cached per URL: a label is the same forever, and sheets are often reprinted."""
    code = qr_for(text)
    matrix = code.get_matrix()
    return QrDrawing(size=len(matrix) + 2 * QUIET_ZONE, path=matrix_path(matrix), version=code.version)


def qr_svg(text: str, label: str = "") -> str:
    """Inline SVG markup of the QR code (no script, no style attribute: CSP-safe)."""
    from markupsafe import escape

    drawing = qr_drawing(text)
    aria = f'role="img" aria-label="{escape(label)}"' if label else 'aria-hidden="true"'
    return (
        f'<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {drawing.size} {drawing.size}" '
        f'shape-rendering="crispEdges" {aria}>'
        f'<rect width="{drawing.size}" height="{drawing.size}" fill="#fff"/>'
        f'<path fill="#000" d="{drawing.path}"/></svg>'
    )


def grouped(tag: str) -> str:
    """ABC23X → "ABC 23X": two groups of three are easier to read out and to type."""
    return f"{tag[:3]} {tag[3:]}"


# --- sheet layouts --------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetFormat:
    """A sheet of labels; sizes in millimetres. The numbers are repeated in static/css/labels.css
    (CSP forbids inline styles); tests/browser/test_labels_print.py checks that both agree."""

    code: str
    name: object  # lazy French string
    product: str
    columns: int
    rows: int
    label_width: float
    label_height: float
    margin_top: float
    margin_left: float
    gap_x: float = 0.0
    gap_y: float = 0.0

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows

    def position(self, index: int) -> tuple[float, float]:
        """Top-left corner (x, y) in mm of the label at `index` (0-based, row by row) on its sheet."""
        row, column = divmod(index % self.per_sheet, self.columns)
        return (
            self.margin_left + column * (self.label_width + self.gap_x),
            self.margin_top + row * (self.label_height + self.gap_y),
        )


FORMATS = {
    f.code: f
    for f in (
        # 3 × 70 mm = 210 mm: no side margin; 8 × 37 mm = 296 mm, 0.5 mm top and bottom.
        SheetFormat(
            "a4-3x8", _l("A4, 24 étiquettes de 70 × 37 mm (3 × 8)"), "Avery Zweckform 3474",
            columns=3, rows=8, label_width=70, label_height=37, margin_top=0.5, margin_left=0,
        ),
        # 4.75 + 5 × 38.1 + 4 × 2.5 + 4.75 = 210 mm; 10.7 + 13 × 21.2 + 10.7 = 297 mm.
        SheetFormat(
            "dongle", _l("Petit format pour clés 4G : 65 étiquettes de 38,1 × 21,2 mm (5 × 13)"), "Avery L7651",
            columns=5, rows=13, label_width=38.1, label_height=21.2, margin_top=10.7, margin_left=4.75, gap_x=2.5,
        ),
    )
}
DEFAULT_FORMAT = "a4-3x8"


@dataclass
class Label:
    tag: str
    grouped_tag: str
    svg: str
    site_name: str
    site_phone: str


@dataclass
class Sheet:
    number: int
    cells: list  # Label or None (a position left empty: already used on the sheet)


def paginate(labels: list[Label], fmt: SheetFormat, start: int = 0) -> list[Sheet]:
    """Lay labels out on sheets, leaving the first `start` positions of the first sheet empty."""
    cells: list[Label | None] = [None] * start + list(labels)
    sheets = []
    for number, first in enumerate(range(0, len(cells), fmt.per_sheet), start=1):
        sheets.append(Sheet(number=number, cells=cells[first:first + fmt.per_sheet]))
    return sheets


def build_labels(devices: list[Device]) -> list[Label]:
    return [
        Label(
            tag=d.tag,
            grouped_tag=grouped(d.tag),
            svg=qr_svg(label_url(d.tag), label=_("Code QR de l'équipement %(tag)s", tag=d.tag)),
            site_name=d.home_site.name,
            site_phone=phone_display(d.home_site.phone),
        )
        for d in devices
    ]


# --- which devices ---------------------------------------------------------------------------


def sheet_devices(user: User, *, tags: list[str] | None = None, filters=None, limit: int = MAX_LABELS + 1):
    """The devices to print, in one SELECT with their home site: the given tags among those the
    user may see, or the inventory list's filters (loans/queries.py, so that what is printed is
    what the list shows). Grouped by site, then kind: each pile of labels goes to its own desk."""
    query = select(Device).join(Device.home_site).options(contains_eager(Device.home_site))
    if tags is not None:
        query = query.where(Device.tag.in_(sorted(set(tags))))
        visible = queries.visible_to(user)
        if visible is not None:
            query = query.where(visible)
    else:
        query = query.where(*queries._conditions(user, filters or queries.InventoryFilters()))
    query = query.order_by(Site.name, Device.kind_id, Device.tag).limit(limit)
    return db.session.scalars(query).all()


@dataclass
class Selection:
    """What a label sheet prints: the devices, the codes that named none the person may see, and
    whether the selection went past MAX_LABELS (then nothing is printed)."""

    devices: list[Device]
    ignored: int = 0
    too_many: bool = False


def select_for_sheet(user: User, *, raw_tags=(), filters=None) -> Selection:
    """The devices of a sheet: the scanned or typed codes when there are any (unknown, mistyped and
    other sites' codes are counted together: nothing tells them apart), else the inventory filters."""
    if not raw_tags:
        devices = sheet_devices(user, filters=filters)
        return Selection(devices, too_many=len(devices) > MAX_LABELS)
    if len(raw_tags) > MAX_LABELS:
        return Selection([], too_many=True)
    wanted, unreadable = set(), 0
    for raw in raw_tags:
        try:
            wanted.add(tags.normalise(raw))
        except tags.TagError:
            unreadable += 1
    devices = sheet_devices(user, tags=sorted(wanted))
    if len(devices) > MAX_LABELS:
        return Selection([], unreadable, too_many=True)
    return Selection(devices, unreadable + len(wanted) - len(devices))
