"""From a use case to the answer: commit and go on, or roll back and say why next to the field.

    outcome = attempt(lending.take_back, current_user, device.id, form=form, …)
    if not outcome:
        return render(form, status=outcome.status, error=outcome.error)
    flash(…); return redirect(…)

`attempt` commits when the use case returns (domain events are then delivered, core/events.py) and
rolls back when it raises a DomainError: the message goes next to its form field when the form has
that field, else to `outcome.error` for the top of the page; `outcome.status` is 400 for a field,
409 for a state that forbids the action.
"""
from dataclasses import dataclass
from typing import Any

from .errors import DomainError
from .extensions import db


@dataclass
class Outcome:
    ok: bool
    value: Any = None
    error: str | None = None  # the message for the top of the page (None when it sits next to a field)
    status: int = 200
    exception: DomainError | None = None

    def __bool__(self) -> bool:
        return self.ok


def place_error(form, exc: DomainError) -> str | None:
    """Put the message next to its field when the form has that field; else return it for the top."""
    field = getattr(form, exc.field, None) if (form is not None and exc.field) else None
    if field is None or not hasattr(field, "errors"):
        return exc.message
    field.errors = [*field.errors, exc.message]
    return None


def attempt(use_case, /, *args, form=None, **kwargs) -> Outcome:
    """Run one use case in the request's transaction: commit on success, roll back on a DomainError."""
    try:
        value = use_case(*args, **kwargs)
    except DomainError as exc:
        db.session.rollback()
        return Outcome(False, error=place_error(form, exc), status=exc.status, exception=exc)
    db.session.commit()
    return Outcome(True, value=value)


def error_of(outcome: Outcome | None) -> str | None:
    """The message for the top of a page shown again (None before any attempt, or when it sits by a field).

    Not `outcome and outcome.error`: a refused outcome is falsy, so that would give the outcome itself."""
    return outcome.error if outcome is not None else None


def status_of(form, outcome: Outcome | None = None) -> int:
    """The status of a page shown again: the refused use case's, 400 for a form with errors, else 200."""
    if outcome is not None and not outcome:
        return outcome.status
    return 400 if form is not None and form.errors else 200
