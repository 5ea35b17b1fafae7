"""Charset decisions: the bytes outweigh a wrong declaration, in either direction."""

import unicodedata

import pytest

from crawler.encoding import decode_html, looks_binary

TEXT = "Ủy ban nhân dân tỉnh tổ chức hội nghị đào tạo, hòa giải và khuyến học"
TONES = "\u0300\u0301\u0303\u0309\u0323"


def cp1258(text: str) -> bytes:
    """Windows-1258 as old Vietnamese pages have it: base letter + combining tone mark."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            out.append(ch.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
        tone = "".join(c for c in parts if c in TONES)
        out.append(base.encode("cp1258") + tone.encode("cp1258"))
    return b"".join(out)


def page(body: bytes, meta: bytes = b"") -> bytes:
    return b"<html><head>" + meta + b"<title>t</title></head><body><p>" + body + b"</p></body></html>"


def test_cp1258_bytes_really_hold_combining_marks():
    raw = cp1258(TEXT)
    assert b"\xd2" in raw or b"\xde" in raw  # hook above / dot below as separate bytes
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


@pytest.mark.parametrize(
    "meta, header, mismatch",
    [
        (b'<meta charset="windows-1258">', None, False),
        (b'<meta charset="utf-8">', None, True),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">', None, True),
        (b"", "text/html; charset=windows-1252", True),
        (b"", None, False),
    ],
)
def test_cp1258_pages_decode_to_nfc(meta, header, mismatch):
    decoded = decode_html(page(cp1258(TEXT), meta), header)
    assert TEXT in decoded.text
    assert decoded.encoding == "cp1258"
    assert decoded.mismatch is mismatch


@pytest.mark.parametrize(
    "meta, header",
    [
        (b'<meta charset="iso-8859-1">', None),
        (b"", "text/html; charset=iso-8859-1"),
        (b'<meta charset="windows-1258">', None),
    ],
)
def test_utf8_bytes_win_over_a_legacy_declaration(meta, header):
    decoded = decode_html(page(TEXT.encode("utf-8"), meta), header)
    assert TEXT in decoded.text
    assert (decoded.encoding, decoded.mismatch) == ("utf-8", True)


def test_nfd_utf8_is_composed():
    decoded = decode_html(page(unicodedata.normalize("NFD", TEXT).encode("utf-8")))
    assert TEXT in decoded.text and not decoded.mismatch


def test_binary_is_recognized():
    assert looks_binary(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert looks_binary(b"%PDF-1.7\n")
    assert not looks_binary(page(TEXT.encode()))
