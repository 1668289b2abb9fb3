"""The French numbers written without phonenumbers (core/contacts.py, a fast path for the desk's lists)
read exactly as phonenumbers writes them."""
import random

import phonenumbers
import pytest

from core.contacts import format_phone


def by_phonenumbers(value):
    number = phonenumbers.parse(value, "FR")
    style = phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == 33 else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


@pytest.mark.parametrize("first", "123456789")
def test_french_numbers_read_as_phonenumbers_writes_them(first):
    rnd = random.Random(first)
    for _ in range(2000):
        value = f"+33{first}" + "".join(str(rnd.randrange(10)) for _ in range(8))
        assert format_phone(value) == by_phonenumbers(value), value


def test_examples():
    assert format_phone("+33612345678") == "06 12 34 56 78"
    assert format_phone("+33800123456") == "0 800 12 34 56"
    assert format_phone("+3221234567") == "+32 2 123 45 67"
    assert format_phone("+336123456789") == "+336123456789"  # one digit too many: shown as typed
    assert format_phone("pas un numéro") == "pas un numéro"
    assert format_phone(None) == ""
