"""No form accepts a text its column cannot store (SQLite ignores VARCHAR lengths, PostgreSQL refuses them).

Every form class of the application (every subclass of core.forms.BaseForm) is listed in FORM_MODELS with
the models its fields are stored in; a form added later and not listed fails
test_every_form_is_listed. For each text field named like a String(n) column of those models (or
mapped explicitly in RENAMED), the form itself, given one character more than the column holds,
must refuse the field — whatever it looks like: letters, digits (a phone number is stored as its
digits), or an e-mail address.
"""
import pytest
from werkzeug.datastructures import MultiDict
from wtforms import StringField

from core.forms import BaseForm
from core.messaging.models import MessageSettings
from core.models import Site, User
from core.privacy.models import ErasureRecord
from core.residents import Resident
from loans.models import Device, DeviceEvent, DeviceImportDraft, DeviceKind, Loan
from reservations.models import Booking, Closure, Room, Workshop


def _all_forms():
    import core.messaging.staff_views  # noqa: F401  (imported for the forms it defines)
    import core.privacy.retention_views  # noqa: F401  (imported for the forms it defines)
    import core.views  # noqa: F401  (every module defining forms is imported by the app's views)
    import loans.views  # noqa: F401  (imported for the forms it defines)
    import reports.views  # noqa: F401  (imported for the forms it defines)
    import reservations.views  # noqa: F401  (imported for the forms it defines)

    found, todo = set(), [BaseForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


# Form class name → models where its fields are stored ([]: stored nowhere, e.g. a search or a login).
FORM_MODELS = {
    "EmptyForm": [], "LoginForm": [], "ChangePasswordForm": [],
    "SiteForm": [Site], "StaffForm": [User], "NewStaffForm": [User],
    "ActionForm": [DeviceEvent], "DeviceForm": [Device], "DeviceKindForm": [DeviceKind],
    "ImportForm": [], "ImportConfirmForm": [DeviceImportDraft],
    "DeclareLostForm": [DeviceEvent], "ExtendForm": [], "FoundAgainForm": [DeviceEvent],
    "LendForm": [Resident, Loan], "ResidentForm": [Resident], "TakeBackForm": [Loan], "PolicyForm": [],
    "LabelSheetForm": [], "ScanForm": [], "ArrivalForm": [],
    "BookingForm": [Booking], "DeskSeatForm": [Booking], "DeskWorkshopForm": [Booking],
    "RoomForm": [Room], "ClosureForm": [Closure], "WorkshopTextForm": [Workshop], "WorkshopForm": [Workshop],
    "AttendanceForm": [], "ReplaceAccessoryForm": [],
    "MessageFilterForm": [], "MessageSettingsForm": [MessageSettings],
    "EraseResidentForm": [ErasureRecord],
    "AccessFilterForm": [],
    "PrivacySettingsForm": [],
}
# (form, field) → column, where the names differ.
RENAMED = {
    ("BookingForm", "contact"): Booking.__table__.c.email,
    ("DeskSeatForm", "contact"): Booking.__table__.c.email,
    ("DeskWorkshopForm", "contact"): Booking.__table__.c.email,
}


def _string_columns(models, form_name, field_name):
    columns = [m.__table__.c[field_name] for m in models if field_name in m.__table__.c]
    if (form_name, field_name) in RENAMED:
        columns.append(RENAMED[(form_name, field_name)])
    return [c for c in columns if getattr(c.type, "length", None)]


def _too_long(length):
    """One character more than the column holds, in every shape a field may accept."""
    return ["a" * (length + 1), "1" * (length + 1), "a" * (length - 10) + "@exemple.fr", "0" + "6" * length]


def test_every_form_is_listed():
    missing = [f"{c.__module__}.{c.__name__}" for c in _all_forms() if c.__name__ not in FORM_MODELS]
    assert not missing, f"forms unknown to FORM_MODELS in {__file__}: {missing}"


def test_every_form_derives_from_the_base_form():
    """Its bounds (dates in range, integers that fit) apply only to subclasses of core.forms.BaseForm."""
    from flask_wtf import FlaskForm

    _all_forms()  # imports every module that defines forms
    found, todo = [], [FlaskForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            found.append(sub)
    strays = [f"{c.__module__}.{c.__name__}" for c in found if not issubclass(c, BaseForm) and c.__module__.split(".")[0] != "tests"]
    assert not strays, f"forms that do not derive from core.forms.BaseForm: {strays}"


@pytest.mark.parametrize("form_class", _all_forms(), ids=lambda c: c.__name__)
def test_no_field_accepts_more_than_its_column(app, form_class):
    models = FORM_MODELS.get(form_class.__name__)
    assert models is not None, f"{form_class.__name__} is not in FORM_MODELS"
    accepted = []
    with app.test_request_context(method="POST"):
        for field_name, field in form_class(meta={"csrf": False}, formdata=None)._fields.items():
            if not isinstance(field, StringField):
                continue
            for column in _string_columns(models, form_class.__name__, field_name):
                for value in _too_long(column.type.length):
                    form = form_class(formdata=MultiDict({field_name: value}), meta={"csrf": False})
                    for other in form:  # choices are set by the view; none here
                        if getattr(other, "choices", ()) is None:
                            other.choices = []
                    form.validate()
                    if not form.errors.get(field_name):
                        accepted.append(f"{field_name}={value[:12]}… ({len(value)} characters) for {column.table.name}.{column.name} "
                                        f"String({column.type.length})")
    assert not accepted, f"{form_class.__name__} accepts what its columns cannot store: " + "; ".join(accepted)


def test_the_table_is_checked_on_something():
    """A guard on the guard: the name matching finds the columns it should."""
    assert _string_columns([Resident], "ResidentForm", "phone")[0].type.length == 20
    assert _string_columns([Booking], "BookingForm", "contact")
