"""The light identity of a resident without an account: a first name and a phone number or an e-mail."""
import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from core.errors import DomainError


class IdentityError(DomainError):
    """A first name or a contact that cannot be used; the forms show the message next to the field."""


@dataclass(frozen=True)
class Contact:
    phone: str  # normalised: 0612345678 (French numbers) or +4470… (others); "" when an e-mail was given
    email: str  # lower-cased; "" when a phone was given

    @property
    def key(self) -> str:
        return self.phone or self.email


def normalise_phone(raw: str) -> str:
    """06 12 34 56 78, 06.12.34.56.78, +33 6 12 34 56 78 and 0033612345678 are the same number."""
    digits = re.sub(r"[\s.\-()/]", "", raw or "")
    if not re.fullmatch(r"\+?\d+", digits):
        raise IdentityError(_("Ce numéro de téléphone n'est pas valable. Écrivez seulement des chiffres, par exemple 06 12 34 56 78."))
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("+33"):
        rest = digits[3:]
        if rest.startswith("0"):  # "+33 (0)6 …"
            rest = rest[1:]
        digits = "0" + rest
    if digits.startswith("+"):
        if digits.startswith("+0") or not 8 <= len(digits) - 1 <= 15:
            raise IdentityError(_("Ce numéro de téléphone n'est pas valable. Vérifiez le nombre de chiffres."))
        return digits
    if len(digits) != 10 or not digits.startswith("0") or digits[1] == "0":
        raise IdentityError(_("Un numéro de téléphone a 10 chiffres et commence par 0, par exemple 06 12 34 56 78."))
    return digits


def format_phone(phone: str) -> str:
    if len(phone) == 10 and phone.startswith("0"):
        return " ".join(phone[i : i + 2] for i in range(0, 10, 2))
    return phone


def parse_contact(raw: str) -> Contact:
    value = (raw or "").strip()
    if not value:
        raise IdentityError(_("Écrivez votre numéro de téléphone ou votre adresse e-mail."))
    if "@" in value:
        try:
            checked = validate_email(value, check_deliverability=False)
        except EmailNotValidError as exc:
            raise IdentityError(_("Cette adresse e-mail n'est pas valable. Exemple : prenom.nom@exemple.fr")) from exc
        return Contact(phone="", email=checked.normalized.lower())
    return Contact(phone=normalise_phone(value), email="")


def clean_first_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise IdentityError(_("Écrivez votre prénom."))
    if len(name) > 60:
        raise IdentityError(_("Le prénom est trop long (60 caractères au plus)."))
    return name
