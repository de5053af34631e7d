"""Free text as the services store and compare it (issue 13, ADR 0027).

Stored: what the person typed, in NFC, without invisible characters (zero-width and bidirectional controls).
Compared, where two texts must not pass for different while looking the same (a product name in duplicate
detection): a skeleton that also folds compatibility forms (NFKC: fullwidth and mathematical letters), case, runs
of whitespace, and the Cyrillic and Greek letters that look like Latin ones (a subset of Unicode TR 39's
confusables: the letters that render identically in the fonts our pages and PDF use). The skeleton is a key, never
shown: Vietnamese letters and their diacritics are kept.
"""

from __future__ import annotations

import re
import unicodedata

# Zero-width characters and bidirectional controls: invisible, they make two equal-looking texts differ (and
# defeat duplicate detection) or reorder what a reader sees (Trojan Source). Vietnamese needs none of them.
INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                       "\u2066-\u2069\u3164\ufeff\uffa0]")

LOOK_ALIKES = str.maketrans({
    # Cyrillic
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "һ": "h",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ү": "y", "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H",
    "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ү": "Y", "Ԁ": "D",
    # Greek
    "ο": "o", "ν": "v", "ρ": "p", "ι": "i", "κ": "k", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H",
    "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
})


def normalise_text(value: str) -> str:
    """Free text as it is stored: NFC, without invisible characters."""
    return unicodedata.normalize("NFC", INVISIBLE.sub("", value))


def skeleton(value: str) -> str:
    """The comparison key of a text: equal for two texts a reader cannot tell apart (see the module's doc)."""
    folded = unicodedata.normalize("NFKD", INVISIBLE.sub("", value)).translate(LOOK_ALIKES)
    return " ".join(unicodedata.normalize("NFC", folded).casefold().split())
