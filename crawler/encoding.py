"""Bytes to text for pages whose declared charset may be wrong in either direction.

A declaration (HTTP header or ``<meta>``) is weighed against the bytes: valid UTF-8 with
non-ASCII text is UTF-8 whatever the page claims (the chance that legacy Vietnamese text
happens to be valid UTF-8 is negligible); otherwise single-byte candidates are scored by
how Vietnamese the decoded text looks, after NFC (windows-1258 stores tone marks as
combining characters).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-:.]+)", re.IGNORECASE)
_BINARY_MAGIC = (
    b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x1f\x8b",
    b"Rar!", b"\xd0\xcf\x11\xe0", b"RIFF", b"\x00\x00\x01\x00",
)
# Letters that only Vietnamese text is full of; their share scores a decoding.
_VI_LETTERS = set(
    "ăâđêôơưĂÂĐÊÔƠƯ"
    "àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
    "ÀÁẢÃẠẰẮẲẴẶẦẤẨẪẬÈÉẺẼẸỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌỒỐỔỖỘỜỚỞỠỢÙÚỦŨỤỪỨỬỮỰỲÝỶỸỴ"
)


def _letters(test) -> str:
    """A regex class body of the BMP letters passing ``test`` (built once at import)."""
    return "".join(re.escape(chr(c)) for c in range(0x80, 0x10000)
                   if chr(c).isalpha() and test(chr(c)))


# A non-ASCII capital right after a lower-case letter, or a letter Vietnamese never uses:
# matched in one C-level pass instead of a Python test per accented letter.
_MOJIBAKE = re.compile(
    f"(?<=[a-z{_letters(str.islower)}])[{_letters(str.isupper)}]|[ðþÐÞ]")


@dataclass
class Decoded:
    text: str
    encoding: str
    declared: str | None
    mismatch: bool  # a declaration existed and the bytes contradicted it


def _norm(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


def declared_charset(data: bytes, content_type: str | None = None) -> str | None:
    """The charset the HTTP header, else the first ``<meta>``, declares (normalized)."""
    if content_type:
        m = _HEADER_CHARSET.search(content_type)
        if m and _norm(m.group(1)):
            return _norm(m.group(1))
    m = _META_CHARSET.search(data[:4096])
    if m:
        return _norm(m.group(1).decode("ascii", "ignore"))
    return None


def looks_binary(data: bytes) -> bool:
    head = data[:1024]
    if head.startswith(_BINARY_MAGIC):
        return True
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 BOM: text, not binary
        return False
    return b"\x00" in head


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _score(text: str) -> float:
    """Share of Vietnamese letters among non-ASCII letters, minus mojibake and controls."""
    # Counted per distinct character (a page has a few hundred, and many thousands of uses).
    counts = Counter(_NON_ASCII.findall(text))
    total = sum(counts.values())
    if not total:
        return 0.0
    vi = sum(n for c, n in counts.items() if c in _VI_LETTERS)
    bad = sum(
        n for c, n in counts.items()
        if unicodedata.category(c) in ("Cc", "Co", "Cn") or unicodedata.combining(c)
    )
    # Mojibake of legacy bytes read as Latin-1/1252: an accented capital inside a
    # lowercase word ("hoÌa"), or Icelandic letters that Vietnamese never uses.
    bad += len(_MOJIBAKE.findall(text))
    return (vi - 2 * bad) / total


def decode_html(data: bytes, content_type: str | None = None) -> Decoded:
    """Decode page bytes to NFC text, trusting the bytes over a contradicting declaration."""
    declared = declared_charset(data, content_type)
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
                     (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            text = data.decode(enc, "replace").lstrip("\ufeff")
            return Decoded(unicodedata.normalize("NFC", text), enc, declared, False)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        has_non_ascii = not data.isascii()
        mismatch = bool(declared and declared != "utf-8" and has_non_ascii)
        if not has_non_ascii and declared and declared != "utf-8":
            # Pure ASCII reads the same in any ASCII-compatible declaration.
            return Decoded(text, declared, declared, False)
        return Decoded(unicodedata.normalize("NFC", text), "utf-8", declared, mismatch)

    candidates = []
    if declared and declared != "utf-8":
        candidates.append(declared)
    candidates += [c for c in ("cp1258", "cp1252") if c not in candidates]
    best = None
    for enc in candidates:
        try:
            candidate = unicodedata.normalize("NFC", data.decode(enc))
        except (UnicodeDecodeError, LookupError):
            continue
        score = _score(candidate)
        # The declaration wins ties: only a clearly better reading overrides it.
        if best is None or score > best[0] + 0.05:
            best = (score, enc, candidate)
    if best is None:
        text = unicodedata.normalize("NFC", data.decode("utf-8", "replace"))
        return Decoded(text, "utf-8", declared, bool(declared))
    _, enc, text = best
    return Decoded(text, enc, declared, bool(declared) and declared != enc)
