"""Asset tags: short, unambiguous, with a check character.

Alphabet: 31 symbols (digits 2-9 and letters without I, L, O), so 0/O and 1/I/L can't be mixed up.
31 is prime, and the check character makes sum(weight_i × value_i) ≡ 0 (mod 31) with weights
1, 2, …, 6. Every single-character substitution changes the sum by w·d ≠ 0 (mod 31), and every
swap of two neighbours by (w_i − w_{i+1})·d = ±d ≠ 0 (mod 31): both are always detected.
"""
import re
import secrets

from flask_babel import lazy_gettext as _l

from core.errors import DomainError

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)  # 31, a prime
VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
DATA_LENGTH = 5
LENGTH = DATA_LENGTH + 1
# Path of the label URL; the scan box also accepts the whole URL typed by a scanner.
URL_TAG = re.compile(r"/d/([^/?#\s]+)/?(?:[?#].*)?$", re.IGNORECASE)


PROBLEMS = {
    "format": _l("Ce n'est pas un code d'équipement."),
    "checksum": _l("Ce code contient une erreur de frappe : vérifiez les caractères."),
}


class TagError(DomainError):
    """Raised with the reason: 'format' (not a tag at all) or 'checksum' (a typing mistake)."""

    def __init__(self, reason):
        super().__init__(PROBLEMS[reason], status=400)
        self.reason = reason


def _weighted_sum(chars: str) -> int:
    return sum((i + 1) * VALUE[ch] for i, ch in enumerate(chars))


def check_character(data: str) -> str:
    # Solve  sum(data) + LENGTH·c ≡ 0 (mod 31)  for c.
    inverse = pow(LENGTH, -1, BASE)
    return ALPHABET[(-_weighted_sum(data) * inverse) % BASE]


def generate() -> str:
    data = "".join(secrets.choice(ALPHABET) for _ in range(DATA_LENGTH))
    return data + check_character(data)


def is_valid(tag: str) -> bool:
    return len(tag) == LENGTH and all(ch in VALUE for ch in tag) and _weighted_sum(tag) % BASE == 0


def normalise(raw: str) -> str:
    """Turn what a person or a scanner typed (tag or full label URL, any case, stray spaces) into a tag.

    Raises TagError('format') when it cannot be a tag, TagError('checksum') on a typing mistake.
    """
    text = (raw or "").strip()
    match = URL_TAG.search(text)
    if match:
        text = match.group(1)
    tag = re.sub(r"[\s-]+", "", text).upper()
    if len(tag) != LENGTH or any(ch not in VALUE for ch in tag):
        raise TagError("format")
    if not is_valid(tag):
        raise TagError("checksum")
    return tag
