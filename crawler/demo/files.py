"""Small but real binary files the demo portal serves: JPEG images, PDF and DOCX attachments."""

from __future__ import annotations

import io
import struct
import zipfile
from html import escape


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg(width: int = 64, height: int = 48) -> bytes:
    """A valid baseline greyscale JPEG of flat mid-grey (every block: DC diff 0, then EOB)."""
    width, height = width - width % 8 or 8, height - height % 8 or 8
    blocks = (width // 8) * (height // 8)
    out = b"\xff\xd8"
    out += _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += _segment(0xDB, b"\x00" + b"\x01" * 64)
    out += _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    one_code = bytes([1] + [0] * 15) + b"\x00"  # a single 1-bit code for symbol 0
    out += _segment(0xC4, b"\x00" + one_code)  # DC table 0
    out += _segment(0xC4, b"\x10" + one_code)  # AC table 0
    out += _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    bits = 2 * blocks  # "0" (DC category 0) + "0" (EOB) per block
    nbytes = (bits + 7) // 8
    data = bytearray(nbytes)
    pad = nbytes * 8 - bits
    if pad:
        data[-1] = (1 << pad) - 1  # pad with 1-bits
    return out + bytes(data) + b"\xff\xd9"


def _pdf_text(s: str) -> str:
    # The base-14 fonts have no Vietnamese glyphs: keep the text ASCII, escaped.
    import unicodedata

    ascii_text = unicodedata.normalize("NFD", s.replace("Đ", "D").replace("đ", "d"))
    ascii_text = "".join(c for c in ascii_text if ord(c) < 128)
    return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF 1.4 with correct xref offsets."""
    text_ops = ["BT", "/F1 14 Tf", "72 770 Td", f"({_pdf_text(title)}) Tj", "/F1 11 Tf"]
    for line in lines:
        text_ops += ["0 -20 Td", f"({_pdf_text(line)[:95]}) Tj"]
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
              .encode())
    return out.getvalue()


_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
</Types>"""
_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
</Relationships>"""


def docx(title: str, lines: list[str]) -> bytes:
    """A minimal but valid Word document (Vietnamese text kept as is, UTF-8)."""
    paras = "".join(
        f'<w:p><w:r><w:t xml:space="preserve">{escape(t)}</w:t></w:r></w:p>'
        for t in [title, *lines]
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{paras}</w:body></w:document>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS),
                           ("word/document.xml", document)):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()
