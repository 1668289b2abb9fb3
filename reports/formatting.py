"""French figures for the report pages and the charts' descriptions, through Babel (French locale).

Registered as the Jinja filters `report_number` and `report_change` (reports/views.py).
"""
from flask_babel import format_decimal
from flask_babel import gettext as _

from core.templating import french_date


def report_number(value, kind="int"):
    """French figures for a page: 1 234 ; 12,5 ; 12,5 % ; dates as 9 févr. 2026."""
    if value is None or value == "":
        return "—"
    if kind == "pct":
        return format_decimal(value, "#,##0.0") + "\u202f%"
    if kind == "dec":
        return format_decimal(value, "#,##0.0")
    if kind == "int":
        return format_decimal(value, "#,##0")
    if kind == "date":
        return french_date(value, "d MMM y")
    return value


def report_change(line):
    change = line.change
    if change is None:
        return "—"
    if change == 0:
        return _("stable")
    sign = "+" if change > 0 else "−"
    text = format_decimal(abs(change), "#,##0.0")
    return f"{sign}{text}\u202f" + (_("points") if line.change_kind == "points" else "%")
