"""One identity: a phone number or an e-mail is written one way wherever it is stored.

Residents (core/residents.py), bookings (reservations/identity.py), messages and consent
(core/messaging) and the pages (the `phone` filter, core/templating.py) all go through here, so that
"06 12 34 56 78", "+33 6 12 34 56 78", "+33 (0)6 12 34 56 78" and "0033 6 12 34 56 78" are one person.

- Phones are stored in E.164 (+33612345678), read with the `phonenumbers` library, France by default,
  and shown the French way: "06 12 34 56 78" for a French number, "+32 2 123 45 67" for another.
- E-mails are stored stripped and lower-cased.
- Contacts beginning with `anonyme-` are the pseudonyms of erased people: never matched to anyone.
"""
import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from .errors import DomainError

REGION = "FR"
ANONYMOUS_PREFIX = "anonyme-"
# What may separate the digits of a phone number as people write it: "06.12.34.56.78", "+33 (0)6 12…".
_SEPARATORS = re.compile(r"[\s.\-/()]")


class ContactError(DomainError):
    """A phone number or an e-mail that cannot be used: the message sits next to the field."""


def _parse(raw: str) -> phonenumbers.PhoneNumber | None:
    """The number as phonenumbers reads it (France by default), or None when it does not read at all."""
    try:
        return phonenumbers.parse(raw, REGION)
    except phonenumbers.NumberParseException:
        return None


def _usable(number: phonenumbers.PhoneNumber | None) -> bool:
    """A number of a possible length; a French one has 9 digits after the 0 (which is not doubled).
    A French number of a range no operator has given out yet is kept (the demo uses them)."""
    if number is None or number.extension or not phonenumbers.is_possible_number(number):
        return False
    if number.country_code == 33:
        significant = phonenumbers.national_significant_number(number)
        return len(significant) == 9 and significant[0] != "0"
    return True


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phone(raw: str | None, field: str = "phone") -> str:
    """A phone number as typed → its E.164 form ('' for nothing typed); raises ContactError (with
    `field`, for the form) when it is not a number, with a French message saying what to write."""
    typed = (raw or "").strip()
    if not typed:
        return ""
    compact = _SEPARATORS.sub("", typed)
    if not re.fullmatch(r"\+?\d+", compact):
        raise ContactError(
            _("Ce numéro de téléphone n'est pas valable. Écrivez seulement des chiffres, par exemple 06 12 34 56 78."), field=field
        )
    number = _parse(typed)
    if not _usable(number):
        if compact.startswith(("+", "00")) and not compact.startswith(("+33", "0033")):
            raise ContactError(_("Ce numéro de téléphone n'est pas valable. Vérifiez le nombre de chiffres."), field=field)
        raise ContactError(
            _("Un numéro de téléphone a 10 chiffres et commence par 0, par exemple 06 12 34 56 78."), field=field
        )
    return _e164(number)


def phone_or_none(raw: str | None) -> str | None:
    """The E.164 form of a number stored or typed in any older form, or None when it does not read as
    one (kept as it was by the data migration; shown as typed). The residents' old digits form of
    "+33 (0)6…" ("330612345678") reads too."""
    typed = (raw or "").strip()
    if not typed or typed.startswith(ANONYMOUS_PREFIX) or "@" in typed:
        return None
    compact = _SEPARATORS.sub("", typed)
    if re.fullmatch(r"33\d{9,10}", compact):
        compact = "+" + compact
    if not re.fullmatch(r"\+?\d+", compact):
        return None
    number = _parse(compact)
    return _e164(number) if _usable(number) else None


# A French number in E.164 outside the 08 ranges (written "0 800 12 34 56"): how phonenumbers writes
# it nationally, without parsing it (a desk page shows a number per row; tests/core/test_contacts_format.py).
_FRENCH_E164 = re.compile(r"\+33([1-79])([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})")


def format_phone(value: str | None) -> str:
    """A phone number as French people write it: "06 12 34 56 78"; another country's in its
    international form, "+32 2 123 45 67". What is not a number is shown as it was typed."""
    french = _FRENCH_E164.fullmatch(value) if value else None
    if french is not None:
        return "0{} {} {} {} {}".format(*french.groups())
    number = _parse(value or "")
    if number is None or not phonenumbers.is_possible_number(number):
        return value or ""
    style = phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == 33 else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


def phone_href(value: str | None) -> str:
    """The tel: link of a phone number: its digits as displayed."""
    return "tel:" + "".join(ch for ch in format_phone(value) if ch.isdigit() or ch == "+")


def sms_number(raw: str | None) -> str | None:
    """A mobile number that may receive an SMS, in E.164; None when it cannot be one: unreadable, the
    wrong length, or a landline. A number of the right shape that no operator has given out is kept:
    the provider refuses it, and the staff see "non distribué" and can correct it with the person
    (rather than a reminder that silently never leaves)."""
    if not raw:
        return None
    number = _parse(raw)
    if number is None:
        return None
    kinds = phonenumbers.PhoneNumberType
    if phonenumbers.is_valid_number(number):
        mobile = phonenumbers.number_type(number) in (kinds.MOBILE, kinds.FIXED_LINE_OR_MOBILE)
    else:  # a French mobile number (06, 07) of a range not given out yet
        mobile = (number.country_code == 33 and str(number.national_number)[:1] in ("6", "7")
                  and phonenumbers.is_possible_number(number))
    return _e164(number) if mobile else None


def phone_prefix(text: str) -> str | None:
    """The beginning of an E.164 number that what was typed in a search box starts: "06 12", "0612",
    "+33 6 12", "+33 (0)6 12" and "0033 6 12" → "+33612" (a prefix, so an index serves it); None
    when the text is not (nearly only) digits or has fewer than 4 of them."""
    compact = _SEPARATORS.sub("", (text or "").strip())
    if not re.fullmatch(r"\+?[0-9]{4,}", compact):
        return None
    if compact.startswith("+"):
        digits = compact[1:]
    elif compact.startswith("00"):
        digits = compact[2:]
    elif compact.startswith("0"):
        digits = "33" + compact[1:]
    else:
        digits = compact
    if digits.startswith("330"):  # "+33 (0)6…", "+330 6…": the national 0 is not part of the number
        digits = "33" + digits[3:]
    return "+" + digits


def normalise_email(raw: str | None) -> str:
    """An e-mail as stored: stripped and lower-cased ('' for none)."""
    return (raw or "").strip().lower()


def validated_email(raw: str | None, field: str = "email") -> str:
    """An e-mail checked for its shape (no DNS look-up) and normalised; raises ContactError."""
    try:
        checked = validate_email((raw or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ContactError(_("Cette adresse e-mail n'est pas valable. Exemple : prenom.nom@exemple.fr"), field=field) from exc
    return normalise_email(checked.normalized)


def is_pseudonym(key: str | None) -> bool:
    """An erased person's contact key: never linked to anyone."""
    return (key or "").startswith(ANONYMOUS_PREFIX)
