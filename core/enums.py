"""Enumerations with a French label: each member is written once, with its stored value and its label.

    class DeviceStatus(LabelledEnum):
        available = "available", _l("Disponible")

`DeviceStatus.available.value == "available"` (what the database keeps), `.label` is the French
word, translated when it is shown.
"""
import enum


class LabelledEnum(enum.Enum):
    def __new__(cls, value: str, label):
        member = object.__new__(cls)
        member._value_ = value
        member._label = label
        return member

    @property
    def label(self) -> str:
        return str(self._label)

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """(value, label) pairs for a select field, in declaration order."""
        return [(member.value, member.label) for member in cls]
