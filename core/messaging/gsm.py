"""How many SMS segments a text costs (3GPP TS 23.038).

A text made only of the GSM-7 alphabet (basic table; the extension table's characters count twice,
they are sent as escape + character) fits 160 characters in one SMS, 153 per part when split. One
character outside it ("ê", "ô", "ç", "â", "î", "œ", "’", "«", "…") switches the whole SMS to UCS-2:
70 characters in one SMS, 67 per part. `gsm_safe` writes a resident's text with the nearest GSM-7
letters, so that a workshop title with "ê" does not cost twice as much.
"""
import unicodedata

BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = "^{}\\[~]|€\f"
GSM7 = frozenset(BASIC) | frozenset(EXTENSION)

# The French (and typographic) characters outside GSM-7, with what an SMS writes instead.
REPLACEMENTS = {
    "â": "a", "ê": "e", "î": "i", "ô": "o", "û": "u", "ë": "e", "ï": "i", "ÿ": "y", "ç": "c",
    "á": "a", "í": "i", "ó": "o", "ú": "u", "À": "A", "Â": "A", "È": "E", "Ê": "E", "Ë": "E",
    "Î": "I", "Ï": "I", "Ô": "O", "Ù": "U", "Û": "U", "Ÿ": "Y", "œ": "oe", "Œ": "OE",
    "’": "'", "‘": "'", "«": '"', "»": '"', "“": '"', "”": '"', "–": "-", "—": "-", "…": "...",
    "\u00a0": " ", "\u202f": " ", "\t": " ",
}


def is_gsm7(text: str) -> bool:
    return all(c in GSM7 for c in text)


def gsm_length(text: str) -> int:
    """Septets: the extension table's characters take two."""
    return sum(2 if c in EXTENSION else 1 for c in text)


def segments(text: str) -> int:
    """SMS parts the text is sent in (1 for an empty text)."""
    if is_gsm7(text):
        length, single, part = gsm_length(text), 160, 153
    else:
        # UCS-2 counts UTF-16 code units: an emoji outside the BMP takes two.
        length, single, part = len(text.encode("utf-16-le")) // 2, 70, 67
    if length <= single:
        return 1
    return -(-length // part)


def gsm_safe(text: str) -> str:
    """The text in GSM-7 letters: ê → e, ç → c, « » → ", and any other letter without its accent."""
    out = []
    for c in text:
        if c in GSM7:
            out.append(c)
        elif c in REPLACEMENTS:
            out.append(REPLACEMENTS[c])
        else:
            bare = "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))
            out.append(bare if bare and all(x in GSM7 for x in bare) else "?")
    return "".join(out)
