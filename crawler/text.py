"""Text normalization shared by extraction, the store and search."""

from __future__ import annotations

import re
import unicodedata

# Zero-width and BOM characters that Word and CMS editors leave in text.
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


_INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def clean(text: str | None) -> str:
    """NFC, invisible characters removed, every whitespace run (``&nbsp;`` too) one space."""
    if not text:
        return ""
    if _INVISIBLE_RE.search(text):
        text = _INVISIBLE_RE.sub("", text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    # str.split() splits on exactly the characters \s matches (Unicode whitespace).
    return " ".join(text.split())


def fold(text: str) -> str:
    """Diacritic-free lowercase form: ``Đào tạo`` -> ``dao tao`` (``đ`` has no decomposition)."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))
