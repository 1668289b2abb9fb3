"""CSV files as French offices open them: Excel in French reads them as they are.

UTF-8 with a byte-order mark (otherwise Excel guesses Windows-1252 and breaks accents), `;` as the
separator (the comma is the decimal mark), CRLF line ends, dates jj/mm/aaaa, numbers with a decimal
comma and no thousands separator (a space would turn them into text). A text cell that starts like
a formula (=, +, -, @, tab, CR) gets a leading apostrophe so a spreadsheet never runs it; numbers are
written as numbers, negative ones included.

Used by the inventory export (loans/csv_io.py) and the reports (reports/views.py, each table's csv() in reports/tables.py).
"""
import csv
import io
from datetime import date, datetime
from decimal import Decimal

from flask import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text) -> str:
    text = "" if text is None else str(text)
    return "'" + text if text.startswith(FORMULA_START) else text


def french_number(value) -> str:
    """12 → '12'; Decimal('1234.50') → '1234,50'; -3.5 → '-3,5'."""
    if isinstance(value, float):
        value = Decimal(repr(value))
    return str(value).replace(".", ",")


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return safe_text("oui" if value else "non")
    if isinstance(value, (int, float, Decimal)):
        return french_number(value)
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return safe_text(value)


def write(header, rows) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([safe_text(h) for h in header])
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue().encode("utf-8")


def response(body: bytes, filename: str) -> Response:
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Content-Type": "text/csv; charset=utf-8"},
    )
