"""Hostile input on every route: no answer is a 500, and a refused request writes nothing.

Like the authorisation matrix (tests/core/test_authorisation.py), this walks `app.url_map`, so a route
added later is covered as soon as it exists, with the same ARGUMENTS registry to build valid URLs.
For each route and method it finds by itself what the request can carry:

- the URL arguments of the rule;
- the query-string and form keys the view reads: every request runs with a request class whose
  `args`, `form` and `files` record the keys looked up (WTForms fields, `request.args.get(...)`);
- the fields of the HTML <form>s of the route's GET page (their names and default values, used as
  the baseline of a well-formed request).

Then it sends, one target at a time, hostile values (huge and negative numbers, unicode digits,
dates at the edges of the calendar, NUL and control characters, 10,000 characters, RTL and emoji,
over-long decimals, NaN…), the field left out, the field given twice, and a wrong method.
Every answer must be < 500; every answer >= 400 must leave the database as it was.

Budget: HOSTILE_BUDGET requests at most per route and method (default below), a seeded sample of the
(target, value) pairs with every target tried at least once. HOSTILE_BUDGET=0 sends them all
(the full corpus). HOSTILE_SEED changes the sample. On failure the test lists every request that
answered >= 500 (or wrote while refusing), with its class; HOSTILE_REPORT=file appends one line per
500 and the number of requests sent per route, for counting. About 2,400 requests for the ~105 routes
and methods of today.
"""
import os
import random
import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.utils import cached_property

from core.models import Role
from tests.core.helpers import snapshot
from tests.core.test_authorisation import (  # noqa: F401  (world is a fixture)
    ARGUMENTS,
    ROUTES,
    client_for,
    find_rule,
    is_public,
    world,
)

BUDGET = int(os.environ.get("HOSTILE_BUDGET", "24"))
SEED = os.environ.get("HOSTILE_SEED", "issue-9")
REPORT = os.environ.get("HOSTILE_REPORT")

# Values for URL arguments and fields alike, by class (the class names the failure in the report).
COMMON = {
    "huge integer": ["99999999999999999999999", "9223372036854775808", "2147483648"],
    "negative or zero": ["-1", "0", "-99999999999999999999"],
    "unicode digits": ["²", "١٢٣", "߁"],
    "calendar edge": ["0001-01-01", "9999-12-31", "2026-02-30", "10000-01-01"],
    "control characters": ["\x00", "ab\x00cd", "\x07\x1b[31m"],
    "very long": ["x" * 10_000],
    "rtl and emoji": ["\u202eالموعد 😀🏳️‍🌈"],
}
FIELD_ONLY = {
    "calendar edge": ["31/12/9999", "01/01/0001", "30/02/2026", "00:00", "99:99", "9999-12-31T23:00:00-12:00"],
    "over-long number": ["1e999", "NaN", "-Infinity", "123456789012345678901234567890.99", "0" * 25],
    "very long": ["0" * 30, "1" * 21],
}
URL_ONLY = {"path text": ["..", "%2e%2e", "a/b"]}
METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}



# --- what the view reads ---------------------------------------------------------------------


class _Seen:
    args: set = set()
    form: set = set()


def _recording(base, seen: set):
    class Recording(base):
        def __getitem__(self, key):
            seen.add(key)
            return super().__getitem__(key)

        def get(self, key, *args, **kwargs):
            seen.add(key)
            return super().get(key, *args, **kwargs)

        def getlist(self, key, *args, **kwargs):
            seen.add(key)
            return super().getlist(key, *args, **kwargs)

        def __contains__(self, key):
            seen.add(key)
            return super().__contains__(key)

    return Recording


def recording_request_class(app_request_class):
    """The app's request class (with whatever it cleans), recording the keys a view looks up."""

    class RecordingRequest(app_request_class):
        @cached_property
        def args(self):
            return _recording(type(super().args), _Seen.args)(super().args)

        def _load_form_data(self):
            super()._load_form_data()
            d = self.__dict__
            d["form"] = _recording(type(d["form"]), _Seen.form)(d["form"])
            d["files"] = _recording(type(d["files"]), _Seen.form)(d["files"])

    return RecordingRequest


# --- the forms of a page ---------------------------------------------------------------------


class _Forms(HTMLParser):
    """Each <form>: method, action, and its fields as (name, default value, type)."""

    def __init__(self):
        super().__init__()
        self.forms = []
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"method": (a.get("method") or "get").lower(), "action": a.get("action") or "", "fields": []})
        elif not self.forms:
            return
        elif tag in ("input", "textarea", "select", "button") and a.get("name"):
            kind = a.get("type", tag).lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                value = None  # not sent unless ticked; still a field to attack
            elif tag == "select":
                value = None
                self._select = [a["name"], None]
            else:
                value = a.get("value", "")
            self.forms[-1]["fields"].append((a["name"], value, kind))
        elif tag == "option" and self._select is not None:
            if self._select[1] is None or "selected" in a:
                self._select[1] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "select" and self._select and self.forms:
            name, value = self._select
            fields = self.forms[-1]["fields"]
            fields[:] = [(n, value if n == name and v is None else v, k) for n, v, k in fields]
            self._select = None


def page_forms(response):
    parser = _Forms()
    parser.feed(response.get_data(as_text=True))
    return parser.forms


# --- requests ------------------------------------------------------------------------------------


def fill_path(rule, values):
    """The rule's path with each argument replaced by its (already encoded) text."""
    path = rule.rule
    for name, text in values.items():
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", lambda _m, text=text: text, path)
    return path


def _encode(value):
    return quote(str(value), safe="")


class Walker:
    def __init__(self, app, db, client, rule, method, url_values):
        self.app, self.db, self.client, self.rule, self.method = app, db, client, rule, method
        self.url_values = {name: _encode(value) for name, value in url_values.items()}
        self.failures = []
        self.sent = 0
        # Only a request that ran a write statement can have changed the database: the others are not
        # snapshotted again (a snapshot per request would double the time of the walk).
        self.writes = 0
        self.state = snapshot(db)
        sa.event.listen(db.engine, "before_cursor_execute", self._count_writes)

    def _count_writes(self, _conn, _cursor, statement, *_args):
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            self.writes += 1

    def close(self):
        sa.event.remove(self.db.engine, "before_cursor_execute", self._count_writes)

    def send(self, label, method=None, path=None, query=(), form=None, files=None):
        method = method or self.method
        path = path or fill_path(self.rule, self.url_values)
        url = path + ("?" + urlencode(list(query)) if query else "")
        writes = self.writes
        _Seen.args.clear()
        _Seen.form.clear()
        data = None
        if method != "GET":
            data = [(k, v) for k, v in (form or [])]
            if files:
                data += files
        try:
            response = self.client.open(url, method=method, data=_multi(data) if data is not None else None)
        except Exception as exc:  # the error page itself failed: the visitor gets a bare 500
            self.db.session.rollback()
            self.sent += 1
            self._fail(f"500 (error page failed: {type(exc).__name__})", label, method, url)
            return None
        self.db.session.rollback()
        self.sent += 1
        if response.status_code >= 500:
            self._fail(response.status_code, label, method, url)
        if self.writes != writes:
            before, self.state = self.state, snapshot(self.db)
            if 400 <= response.status_code < 500 and self.state != before:
                self.failures.append(f"wrote while refusing ({response.status_code}) [{label}] {method} {url[:120]}")
        return response

    def _fail(self, status, label, method, url):
        self.failures.append(f"{status} [{label}] {method} {url[:120]}")
        if REPORT:  # HOSTILE_REPORT=file: one line per 500, to count them by class
            with open(REPORT, "a", encoding="utf-8") as out:
                out.write(f"{self.db.engine.dialect.name}\t{label.split(' in ')[0]}\t{status}\t{method} {self.rule.rule}\t{label}\n")


def _multi(pairs):
    from werkzeug.datastructures import MultiDict

    return MultiDict(pairs)


def _sample(cases, budget, rng):
    """All the (target, class, value) cases, or a seeded sample: every target and every class at least once."""
    if not budget or len(cases) <= budget:
        return cases
    cases = list(cases)
    rng.shuffle(cases)
    chosen, targets, classes = [], set(), set()
    for case in cases:
        if case[0] not in targets:
            chosen.append(case)
            targets.add(case[0])
            classes.add(case[1])
    for case in cases:
        if case[1] not in classes:
            chosen.append(case)
            classes.add(case[1])
    for case in cases:
        if len(chosen) >= budget:
            break
        if case not in chosen:
            chosen.append(case)
    return chosen


def _merge(*tables):
    merged = {}
    for table in tables:
        for name, values in table.items():
            merged.setdefault(name, []).extend(values)
    return merged


def start_walk(app, db, world, login, endpoint, rule_text, method):
    """A Walker on the route with valid URL values, and what the route takes: (walker, inputs)."""
    rule = find_rule(app, endpoint, rule_text)
    missing = rule.arguments - ARGUMENTS.keys()
    assert not missing, f"{rule.rule}: add {sorted(missing)} to ARGUMENTS in tests/core/test_authorisation.py"
    app.request_class = recording_request_class(app.request_class)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: an exception becomes the 500 page
    person = None if is_public(app, endpoint) else world.people[Role.admin]
    client = client_for(app, login, person)
    if not rule.arguments:  # a page of lists and forms (new workshop, inventory…): give it one object of each kind
        for make in ARGUMENTS.values():
            make(world, world.site_a)
    url_values = {name: ARGUMENTS[name](world, world.site_a) for name in sorted(rule.arguments)}
    walker = Walker(app, db, client, rule, method, url_values)
    path = fill_path(rule, walker.url_values)

    # The baseline: the fields of the GET page's forms that go back to this route, and what the view reads.
    query_base, form_base, file_fields = [], [], set()
    if "GET" in rule.methods:
        page = walker.send("baseline", method="GET", path=path)
        for form in page_forms(page) if page is not None and page.status_code == 200 else []:
            action = urlsplit(form["action"]).path or path
            if action != path or form["method"].upper() != method:
                continue
            if form["method"] == "get":
                query_base += [(n, v) for n, v, _k in form["fields"] if v is not None]
            else:
                form_base += [(n, v) for n, v, k in form["fields"] if v is not None and k != "file"]
                file_fields |= {n for n, _v, k in form["fields"] if k == "file"}
            query_base += [(k, v) for k, v in parse_qsl(urlsplit(form["action"]).query)]
    walker.send("probe", path=path, query=query_base, form=form_base)
    query_keys = set(_Seen.args) | {k for k, _v in query_base}
    form_keys = (set(_Seen.form) | {k for k, _v in form_base} | file_fields) if method != "GET" else set()
    # A second probe with the keys found: some are read only once others are present.
    walker.send("probe", path=path, query=query_base + [(k, "1") for k in query_keys - {k for k, _ in query_base}],
                form=form_base + [(k, "1") for k in form_keys - {k for k, _ in form_base} - file_fields])
    query_keys |= set(_Seen.args)
    if method != "GET":
        form_keys |= set(_Seen.form)
    form_keys.discard("csrf_token")
    inputs = {"path": path, "query_base": query_base, "form_base": form_base, "file_fields": file_fields,
              "query_keys": query_keys, "form_keys": form_keys}
    return walker, inputs


@pytest.mark.parametrize("endpoint, rule_text, method", ROUTES)
def test_hostile_input_never_answers_500(app, db, world, login, endpoint, rule_text, method):
    walker, inputs = start_walk(app, db, world, login, endpoint, rule_text, method)
    rule, path, query_base, form_base = walker.rule, inputs["path"], inputs["query_base"], inputs["form_base"]
    query_keys, form_keys, file_fields = inputs["query_keys"], inputs["form_keys"], inputs["file_fields"]

    rng = random.Random(f"{SEED} {method} {rule.rule}")
    targets = [("url", name) for name in sorted(rule.arguments)]
    targets += [("query", key) for key in sorted(query_keys)]
    targets += [("form", key) for key in sorted(form_keys)]
    url_values = _merge(COMMON, URL_ONLY)
    field_values = _merge(COMMON, FIELD_ONLY, {"missing": [None], "duplicated": ["dup"]})
    cases = [
        (target, cls, value)
        for target in targets
        for cls, values in (url_values if target[0] == "url" else field_values).items()
        for value in values
    ]

    for (kind, name), cls, value in _sample(cases, BUDGET, rng):
        if kind == "url":
            values = dict(walker.url_values, **{name: _encode(value)})
            walker.send(f"{cls} in <{name}>", path=fill_path(rule, values), query=query_base, form=form_base)
            continue
        query, form = list(query_base), list(form_base)
        pairs = query if kind == "query" else form
        baseline = [v for k, v in pairs if k == name]
        pairs[:] = [(k, v) for k, v in pairs if k != name]
        if cls == "duplicated":
            pairs += [(name, baseline[0] if baseline else "1"), (name, "2")]
        elif cls != "missing":
            pairs.append((name, value))
        files = None
        if kind == "form" and name in file_fields and cls not in ("missing", "duplicated"):
            from io import BytesIO

            pairs[:] = [(k, v) for k, v in pairs if k != name]
            files = [(name, (BytesIO(("x" * 4200 + str(value)).encode("utf-8", "surrogatepass")), "hostile.csv"))]
        walker.send(f"{cls} in {kind} {name}", query=query, form=form, files=files)
    wrong = sorted(METHODS - rule.methods)
    walker.send("wrong method", method=wrong[0], path=path)
    walker.close()

    if REPORT:
        with open(REPORT, "a", encoding="utf-8") as out:
            out.write(f"#sent\t{db.engine.dialect.name}\t{walker.sent}\t{method} {rule.rule}\n")
    assert not walker.failures, f"{len(walker.failures)} of {walker.sent} requests failed:\n" + "\n".join(walker.failures)


@pytest.mark.parametrize("endpoint, rule_text, method, query_keys, form_keys", [
    ("loans.lend", "/equipements/<tag>/preter", "POST", set(), {"resident", "first_name", "phone", "due_on", "form_key"}),
    ("loans.inventory", "/equipements", "GET", {"site", "kind", "q", "page"}, set()),
    ("reservations.room_week", "/salles/<int:room_id>/semaine", "GET", {"date"}, set()),
    ("reports.site", "/rapports/structures/<int:site_id>", "GET", {"du", "au", "periode"}, set()),
    ("reservations.workshop_new", "/ateliers/nouveau", "POST", set(), {"title", "day", "repeat_weeks"}),
    ("loans.inventory_import", "/equipements/import", "POST", set(), {"file"}),
])
def test_the_walk_finds_what_routes_read(app, db, world, login, endpoint, rule_text, method, query_keys, form_keys):
    """A guard on the guard: if discovery broke, the walk would pass by sending nothing hostile."""
    walker, inputs = start_walk(app, db, world, login, endpoint, rule_text, method)
    walker.close()
    assert query_keys <= inputs["query_keys"], inputs["query_keys"]
    assert form_keys <= inputs["form_keys"], inputs["form_keys"]
