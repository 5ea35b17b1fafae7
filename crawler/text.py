"""Text normalization shared by extraction, the store and search."""

from __future__ import annotations

import re
import unicodedata

_WS = re.compile(r"\s+")
# Zero-width and BOM characters that Word and CMS editors leave in text.
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def clean(text: str | None) -> str:
    """NFC, invisible characters removed, every whitespace run (``&nbsp;`` too) one space."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text.translate(INVISIBLE))
    return _WS.sub(" ", text).strip()


def fold(text: str) -> str:
    """Diacritic-free lowercase form: ``Đào tạo`` -> ``dao tao`` (``đ`` has no decomposition)."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))
