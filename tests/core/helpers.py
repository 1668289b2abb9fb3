"""Small helpers for HTTP tests: read what a person sees, find the CSRF token, snapshot the database.

Shared by every test package: `from tests.core.helpers import page_text, field_error, ...`.
"""
import html
import re
from urllib.parse import urlsplit

import sqlalchemy as sa


def page_text(response) -> str:
    """The body as a person reads it: HTML entities decoded (so apostrophes match)."""
    return html.unescape(response.get_data(as_text=True))


def visible_text(response) -> str:
    """What a person reads, as one line: tags removed, spaces collapsed ("Période : avril 2026")."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).replace(" ,", ",").replace(" .", ".")


def _attribute(tag: str, name: str) -> str | None:
    found = re.search(rf'\b{name}="([^"]*)"', tag)
    return html.unescape(found.group(1)) if found else None


def field_error(response, field_id: str) -> str | None:
    """The error message shown next to a field; fails if the field does not point to it."""
    body = response.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>', body, re.S)
    if not error:
        return None
    # The control itself, or the fieldset grouping a list of checkboxes, must reference the message.
    tags = re.findall(rf'<(?:input|select|textarea)\b[^>]*\bid="{re.escape(field_id)}"[^>]*>', body)
    tags += re.findall(r"<fieldset\b[^>]*>", body)
    described = any(f"{field_id}-error" in (_attribute(tag, "aria-describedby") or "").split() for tag in tags)
    assert described, f"the error of {field_id!r} is not tied to its field by aria-describedby"
    return html.unescape(error.group(1)).strip()


def hidden_inputs(response) -> list[tuple[str, str]]:
    body = response.get_data(as_text=True)
    tags = re.findall(r'<input\b[^>]*type="hidden"[^>]*>', body)
    return [(_attribute(tag, "name"), _attribute(tag, "value") or "") for tag in tags]


def csrf_token(response) -> str:
    tokens = [value for name, value in hidden_inputs(response) if name == "csrf_token"]
    assert tokens, "no CSRF token on the page"
    return tokens[0]


def form_action(response) -> str:
    forms = re.findall(r'<form\b[^>]*method="post"[^>]*>', response.get_data(as_text=True))
    return _attribute(forms[-1], "action")


def location_path(response) -> str:
    """Where a redirect points; fails when the redirect leaves the site."""
    parts = urlsplit(response.headers["Location"])
    assert not parts.scheme and not parts.netloc, f"redirect leaves the site: {response.headers['Location']}"
    return parts.path


def snapshot(db) -> dict:
    """Every row of every table, to prove that a refused request changed nothing.

    Reads through db.session: on SQLite a second connection would wait for the session's write lock.
    """
    rows = {}
    for table in db.metadata.sorted_tables:
        query = sa.select(table).order_by(*table.primary_key.columns)
        rows[table.name] = [tuple(row) for row in db.session.execute(query)]
    return rows
