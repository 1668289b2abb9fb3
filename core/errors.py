"""The one error type of the domain: a rule was broken, and the French sentence says which.

Every use case raises a `DomainError` (or a subclass that names the domain: `LoanError`,
`ReservationError`…) and nothing else for a broken rule. `field` names the form field the message
belongs next to; without one, the message goes at the top of the page. The view turns it into the
answer with `core.answers.attempt`: 400 for a wrong value in a field, 409 for a state that forbids
the action (already lent, no place left…), unless the error says otherwise.
"""


class DomainError(Exception):
    """A rule was broken; the message is the French sentence shown to the person."""

    status: int | None = None  # a subclass may fix its own (FullError: 409 even with a field)

    def __init__(self, message, field: str | None = None, *, status: int | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field
        if status is not None:
            self.status = status
        elif self.status is None:
            self.status = 400 if field else 409
