"""CSV import and export of the inventory, as French offices make and open such files.

Import: the file comes from Excel or LibreOffice — separator `;` (French Excel) or `,`, UTF-8 with or
without a BOM, or Windows-1252 (older Excel) — with French headers matched without regard to case,
accents or punctuation ("N° de série" = "Numéro de série"). `read()` turns the bytes into rows with
their French errors; nothing is written until every row is valid, then `operations.create_devices_in_bulk`
inserts all rows in one transaction (or none): `upload` and `confirm` are
the two use cases.

Between the preview and the confirmation the uploaded bytes wait in the `device_import_drafts`
table under a random token bound to the uploader, expiring after DRAFT_LIFETIME: the session cookie
holds 4 KB at most, and the app runs as several processes sharing only the database. The confirmation
re-reads and re-checks the stored bytes, so a serial added meanwhile is still caught.

Export: UTF-8 with BOM, `;`, CRLF, dates jj/mm/aaaa, decimal comma — Excel opens it as is — with the
same headers, so an export re-imports (labels keep their codes through the "Code" column).
"""
import csv
import io
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, select

from core import csv_export
from core.clock import now
from core.csv_export import FORMULA_START
from core.errors import DomainError
from core.extensions import db
from core.forms import PHONE
from core.models import Site, User

from . import operations, tags
from .forms import check_imei, parse_french_price, parse_purchase_date
from .models import Device, DeviceImportDraft, DeviceKind, DeviceStatus

MAX_ROWS = 20_000
DRAFT_LIFETIME = timedelta(hours=2)


def simplify(text: str) -> str:
    """'N° de Série ' → 'nodeserie': lower case, no accents, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum()).lower()


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # as written by the export
    aliases: tuple[str, ...] = ()
    required: bool = False
    max_length: int | None = None


COLUMNS = [
    Column("tag", "Code", ("code", "etiquette", "codeetiquette", "codeinventaire")),
    Column("kind", "Type", ("type", "typedequipement", "typedemateriel", "categorie"), required=True),
    Column("brand", "Marque", ("marque", "fabricant"), max_length=80),
    Column("model", "Modèle", ("modele",), max_length=120),
    Column("serial_number", "Numéro de série",
           ("numerodeserie", "nserie", "nodeserie", "ndeserie", "numeroserie", "serie", "sn"), max_length=120),
    Column("imei", "IMEI", ("imei",)),
    Column("phone_number", "Numéro de téléphone",
           ("numerodetelephone", "ndetelephone", "nodetelephone", "telephone", "numerosim", "numerodeligne")),
    Column("operator", "Opérateur", ("operateur",), max_length=60),
    Column("data_plan", "Forfait", ("forfait",), max_length=120),
    Column("accessories", "Accessoires", ("accessoires",), max_length=2000),
    Column("home_site", "Structure", ("structure", "site", "centre", "structuredattache"), required=True),
    Column("current_site", "Structure actuelle", ("structureactuelle", "lieuactuel")),
    Column("status", "État", ("etat", "statut")),
    Column("condition_notes", "État du matériel", ("etatdumateriel", "etatphysique"), max_length=2000),
    Column("funding", "Financement", ("financement",), max_length=120),
    Column("purchase_date", "Date d'achat", ("datedachat", "dateachat")),
    Column("purchase_price", "Prix d'achat", ("prixdachat", "prixachat", "prix")),
    Column("notes", "Notes", ("notes", "note", "remarques", "commentaire", "commentaires"), max_length=4000),
]
BY_ALIAS = {alias: column for column in COLUMNS for alias in (simplify(column.header), *column.aliases)}
TEXT_FIELDS = ("brand", "model", "operator", "data_plan", "condition_notes", "funding", "notes")

STATUS_WORDS = {
    "disponible": DeviceStatus.available,
    "enreparation": DeviceStatus.in_repair,
    "reparation": DeviceStatus.in_repair,
    "perdu": DeviceStatus.lost,
    "perdue": DeviceStatus.lost,
    "reforme": DeviceStatus.retired,
    "reformee": DeviceStatus.retired,
    "enpret": DeviceStatus.on_loan,
    "prete": DeviceStatus.on_loan,
    **{simplify(s.value): s for s in DeviceStatus},
}


class FileProblem(DomainError):
    """The file as a whole cannot be read (encoding, not a CSV, no header…)."""


class ImportRefused(DomainError):
    """The file cannot be imported as it is: `preview` (when there is one) shows why, row by row."""

    def __init__(self, preview: "ImportPreview | None", message="", *, status=None):
        super().__init__(message, status=status)
        self.preview = preview


@dataclass
class ImportRow:
    line: int
    cells: dict[str, str]
    values: dict = field(default_factory=dict)  # Device columns, once valid
    kind: DeviceKind | None = None
    home_site: Site | None = None
    status: DeviceStatus = DeviceStatus.available
    errors: list[str] = field(default_factory=list)

    def cell(self, key: str) -> str:
        return self.cells.get(key, "")


@dataclass
class ImportPreview:
    filename: str = ""
    rows: list[ImportRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    delimiter: str = ";"
    encoding: str = "utf-8"

    @property
    def rows_with_errors(self) -> list[ImportRow]:
        return [row for row in self.rows if row.errors]

    @property
    def error_count(self) -> int:
        return len(self.file_errors) + sum(len(row.errors) for row in self.rows)

    @property
    def ok(self) -> bool:
        return not self.file_errors and bool(self.rows) and not self.rows_with_errors


# --- reading ------------------------------------------------------------------------------------


def decode(content: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) first, else Windows-1252 (Excel's "CSV" on older Windows)."""
    if b"\x00" in content:  # anywhere: a NUL after the first kilobytes would reach a text column
        raise FileProblem(_("Ce fichier n'est pas un fichier CSV (c'est peut-être un classeur Excel). "
                            "Dans Excel : Fichier › Enregistrer sous › « CSV (séparateur : point-virgule) »."))
    try:
        return content.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        raise FileProblem(_("Le fichier n'est ni en UTF-8 ni en Windows-1252 : enregistrez-le en « CSV UTF-8 ».")) from None


def sniff_delimiter(text: str) -> str:
    """The separator used on the header line, quoted parts left aside: ';', ',' or a tab."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {sep: unquoted.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda sep: (counts[sep], sep == ";"))
    return best if counts[best] else ";"


def _clean(cell: str) -> str:
    text = (cell or "").strip()
    # The export protects cells that Excel would run as a formula with a leading apostrophe.
    if text.startswith("'") and text[1:2] in FORMULA_START:
        text = text[1:]
    return text


def parse(content: bytes, filename: str = "") -> ImportPreview:
    """Bytes → header mapping and raw rows (no database access)."""
    preview = ImportPreview(filename=filename)
    try:
        text, preview.encoding = decode(content)
    except FileProblem as exc:
        preview.file_errors.append(str(exc))
        return preview
    if not text.strip():
        preview.file_errors.append(_("Le fichier est vide."))
        return preview
    preview.delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=preview.delimiter)
    try:
        header = next(reader)
        while not any(cell.strip() for cell in header):
            header = next(reader)
    except StopIteration:
        preview.file_errors.append(_("Le fichier est vide."))
        return preview
    except csv.Error:
        preview.file_errors.append(_("Ce fichier n'est pas un CSV lisible."))
        return preview

    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        if not title.strip():
            continue
        column = BY_ALIAS.get(simplify(title))
        if column is None:
            preview.ignored_columns.append(title.strip())
        elif column.key in positions:
            preview.file_errors.append(_("La colonne « %(name)s » apparaît deux fois.", name=title.strip()))
        else:
            positions[column.key] = index
    preview.columns = [c for c in COLUMNS if c.key in positions]
    for column in COLUMNS:
        if column.required and column.key not in positions:
            preview.file_errors.append(_("Colonne obligatoire absente : « %(name)s ».", name=column.header))
    if preview.file_errors:
        return preview

    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(preview.rows) >= MAX_ROWS:
                preview.file_errors.append(_("Le fichier a plus de %(n)s lignes : découpez-le en plusieurs fichiers.",
                                             n=f"{MAX_ROWS:,}".replace(",", " ")))
                return preview
            cells = {key: _clean(record[i]) if i < len(record) else "" for key, i in positions.items()}
            preview.rows.append(ImportRow(line=reader.line_num, cells=cells))
    except csv.Error:
        preview.file_errors.append(_("Ce fichier n'est pas un CSV lisible (ligne %(line)s).", line=reader.line_num))
        return preview
    if not preview.rows:
        preview.file_errors.append(_("Le fichier ne contient aucune ligne d'équipement sous les titres de colonnes."))
    return preview


def read(content: bytes, user: User, filename: str = "") -> ImportPreview:
    """Parse and check every row against the database and the person's rights (a few queries)."""
    preview = parse(content, filename)
    if preview.file_errors:
        return preview

    kinds = db.session.scalars(select(DeviceKind).order_by(DeviceKind.position)).all()
    kind_by_word = {}
    for kind in kinds:
        kind_by_word[simplify(kind.name)] = kind
        kind_by_word.setdefault(simplify(kind.code), kind)
    sites = db.session.scalars(select(Site)).all()
    site_by_word = {simplify(site.name): site for site in sites}
    kind_names = ", ".join(kind.name for kind in kinds)

    for row in preview.rows:
        _check_row(row, user, kind_by_word, kind_names, site_by_word)

    _check_duplicates(preview.rows, "serial_number", _("Numéro de série « %(value)s » en double dans le fichier (lignes %(lines)s)."))
    _check_duplicates(preview.rows, "tag", _("Code « %(value)s » en double dans le fichier (lignes %(lines)s)."))
    _check_taken(preview.rows, "serial_number", Device.serial_number, _("Le numéro de série « %(value)s » est déjà dans l'inventaire."))
    _check_taken(preview.rows, "tag", Device.tag, _("Le code « %(value)s » est déjà celui d'un équipement de l'inventaire."))
    return preview


def _check_row(row: ImportRow, user: User, kind_by_word, kind_names, site_by_word) -> None:
    errors, values = row.errors, row.values
    by_key = {c.key: c for c in COLUMNS}

    raw_kind = row.cell("kind")
    if not raw_kind:
        errors.append(_("Type manquant."))
    else:
        row.kind = kind_by_word.get(simplify(raw_kind))
        if row.kind is None:
            errors.append(_("Type inconnu : « %(value)s ». Types connus : %(names)s.", value=raw_kind, names=kind_names))
        else:
            values["kind_id"] = row.kind.id

    raw_site = row.cell("home_site")
    if not raw_site:
        errors.append(_("Structure manquante."))
    else:
        row.home_site = site_by_word.get(simplify(raw_site))
        if row.home_site is None:
            errors.append(_("Structure inconnue : « %(value)s ».", value=raw_site))
        elif not (user.is_manager and user.can_access_site(row.home_site.id)):
            errors.append(_("Vous ne gérez pas la structure « %(value)s ».", value=row.home_site.name))
        else:
            values["home_site_id"] = values["current_site_id"] = row.home_site.id

    raw_current = row.cell("current_site")
    if raw_current:
        current = site_by_word.get(simplify(raw_current))
        if current is None:
            errors.append(_("Structure actuelle inconnue : « %(value)s ».", value=raw_current))
        elif not (user.is_manager and user.can_access_site(current.id)):
            # Otherwise a manager of A could place devices in B's inventory and desk.
            errors.append(_("Vous ne gérez pas la structure actuelle « %(value)s ».", value=current.name))
        else:
            values["current_site_id"] = current.id

    raw_status = row.cell("status")
    if raw_status:
        status = STATUS_WORDS.get(simplify(raw_status))
        if status is None:
            errors.append(_("État inconnu : « %(value)s » (disponible, en réparation, perdu ou réformé).", value=raw_status))
        elif status is DeviceStatus.on_loan:
            errors.append(_("Un équipement ne s'importe pas « en prêt » : importez-le disponible, puis enregistrez le prêt à l'accueil."))
        else:
            row.status = status
    values["status"] = row.status

    raw_tag = row.cell("tag")
    if raw_tag:
        try:
            values["tag"] = tags.normalise(raw_tag)
        except tags.TagError as exc:
            if exc.reason == "checksum":
                errors.append(_("Le code « %(value)s » contient une erreur de frappe.", value=raw_tag))
            else:
                errors.append(_("Code invalide : « %(value)s » (6 caractères, comme sur les étiquettes).", value=raw_tag))

    for key in TEXT_FIELDS:
        values[key] = row.cell(key)
    values["serial_number"] = row.cell("serial_number") or None
    accessories = re.split(r"\s*[|\n]\s*" if "|" in row.cell("accessories") or "\n" in row.cell("accessories") else r"\s*,\s*",
                           row.cell("accessories"))
    values["accessories"] = "\n".join(a.strip() for a in accessories if a.strip())

    for key in ("brand", "model", "serial_number", "operator", "data_plan", "accessories", "condition_notes", "funding", "notes"):
        column = by_key[key]
        if len(row.cell(key)) > column.max_length:
            errors.append(_("%(column)s : %(n)s caractères au plus.", column=column.header, n=column.max_length))

    try:
        values["imei"] = check_imei(row.cell("imei"))
    except ValueError as exc:
        errors.append(_("IMEI « %(value)s » : %(message)s", value=row.cell("imei"), message=str(exc)))
    phone = row.cell("phone_number")
    if phone and not PHONE.regex.match(phone):
        errors.append(_("Numéro de téléphone invalide : « %(value)s ».", value=phone))
    values["phone_number"] = phone
    try:
        values["purchase_date"] = parse_purchase_date(row.cell("purchase_date"))
    except ValueError as exc:
        errors.append(_("Date d'achat : %(message)s", message=str(exc)))
    try:
        values["purchase_price"] = parse_french_price(row.cell("purchase_price"))
    except ValueError as exc:
        errors.append(_("Prix d'achat : %(message)s", message=str(exc)))


def _check_duplicates(rows, key, message):
    lines: dict[str, list[int]] = {}
    for row in rows:
        value = row.values.get(key)
        if value:
            lines.setdefault(value, []).append(row.line)
    for row in rows:
        value = row.values.get(key)
        if value and len(lines[value]) > 1:
            row.errors.append(message % {"value": value, "lines": ", ".join(map(str, lines[value]))})


def _check_taken(rows, key, column, message):
    wanted = sorted({row.values[key] for row in rows if row.values.get(key)})
    taken = set()
    for start in range(0, len(wanted), 500):
        taken |= set(db.session.scalars(select(column).where(column.in_(wanted[start:start + 500]))))
    for row in rows:
        if row.values.get(key) in taken:
            row.errors.append(message % {"value": row.values[key]})


def device_rows(preview: ImportPreview) -> list[dict]:
    """The checked rows as Device columns for operations.create_devices_in_bulk."""
    assert preview.ok
    note = _("Fichier %(name)s, ligne %(line)s")
    return [
        {**row.values, "note": note % {"name": preview.filename or "CSV", "line": row.line}}
        for row in preview.rows
    ]


# --- the two steps: preview (the file waits as a draft), then confirmation ------------------------


def upload(actor: User, content: bytes, filename: str) -> tuple[ImportPreview, str]:
    """Check the file and keep it as a draft: (its preview, the draft's token). Nothing imported yet."""
    preview = read(content, actor, filename)
    if not preview.ok:
        raise ImportRefused(preview, status=400)
    return preview, save_draft(actor, content, filename)


def confirm(actor: User, token: str | None) -> tuple[int, str]:
    """Import the draft checked again (the inventory may have changed since its preview): all rows or
    none. Returns (how many devices, the file's name)."""
    draft = load_draft(actor, token) if token else None
    if draft is None:
        raise ImportRefused(None, _("Cet aperçu a expiré ou n'existe pas : envoyez de nouveau le fichier."), status=400)
    preview = read(draft.content, actor, draft.filename)
    if not preview.ok:  # a serial added meanwhile…: the preview says why
        raise ImportRefused(preview, status=409)
    try:
        count = operations.create_devices_in_bulk(actor, device_rows(preview))
    except operations.DeviceError as exc:
        raise ImportRefused(preview, exc.message, status=409) from exc
    db.session.delete(draft)
    return count, preview.filename


# --- drafts between preview and confirmation ------------------------------------------------------


def save_draft(user: User, content: bytes, filename: str) -> str:
    db.session.execute(delete(DeviceImportDraft).where(DeviceImportDraft.created_at < now() - DRAFT_LIFETIME))
    db.session.execute(delete(DeviceImportDraft).where(DeviceImportDraft.user_id == user.id))
    token = secrets.token_urlsafe(32)
    db.session.add(DeviceImportDraft(token=token, user_id=user.id, filename=filename[:200], content=content, created_at=now()))
    db.session.flush()
    return token


def load_draft(user: User, token: str) -> DeviceImportDraft | None:
    return db.session.scalar(
        select(DeviceImportDraft).where(
            DeviceImportDraft.token == (token or ""),
            DeviceImportDraft.user_id == user.id,
            DeviceImportDraft.created_at >= now() - DRAFT_LIFETIME,
        )
    )


# --- export -------------------------------------------------------------------------------------


def export(devices) -> bytes:
    """UTF-8 with BOM, `;`, CRLF: what French Excel opens directly (core/csv_export.py). Re-importable as is."""
    return csv_export.write([c.header for c in COLUMNS], (
        (
            d.tag,
            d.kind.name,
            d.brand,
            d.model,
            d.serial_number or "",
            d.imei,
            d.phone_number,
            d.operator,
            d.data_plan,
            " | ".join(d.accessory_list),
            d.home_site.name,
            d.current_site.name,
            d.status.label,
            d.condition_notes,
            d.funding,
            d.purchase_date,
            d.purchase_price,
            d.notes,
        )
        for d in devices
    ))
