"""Enumerations with a French label: each member is written once, with its stored value and its label.

    class DeviceStatus(LabelledEnum):
        available = "available", _l("Disponible")

`DeviceStatus.available.value == "available"` (what the database keeps), `.label` is the French
word, translated when it is shown.
"""
import enum

import flask_babel

from .extensions import current_translations


class LabelledEnum(enum.Enum):
    def __new__(cls, value: str, label):
        member = object.__new__(cls)
        member._value_ = value
        member._label = label
        member._msgid = _plain_msgid(label)
        return member

    @property
    def label(self) -> str:
        # A long list shows a label per row: looked up in the request's catalogue directly, as
        # str(lazy_gettext(...)) would, without resolving the context and the domain each time.
        if self._msgid is not None:
            return current_translations().ugettext(self._msgid)
        return str(self._label)

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """(value, label) pairs for a select field, in declaration order."""
        return [(member.value, member.label) for member in cls]


def _plain_msgid(label) -> str | None:
    """The message of a lazy_gettext("…") without variables, else None (the label is then str()-ed)."""
    if getattr(label, "_func", None) is flask_babel.gettext and len(label._args) == 1 and not label._kwargs:
        return label._args[0]
    return None
