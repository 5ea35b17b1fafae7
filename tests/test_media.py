"""Content-addressed files (crawler/media.py): one copy per content, named by SHA-256."""

from __future__ import annotations

import hashlib

from crawler.media import allowed_host, extension, media_type, store_file


def test_one_file_per_content_named_by_its_hash(tmp_path):
    body = b"%PDF-1.4 demo"
    digest = hashlib.sha256(body).hexdigest()
    first = store_file(tmp_path, body, "application/pdf", "https://x.gov.vn/a/987-SGDDT.pdf")
    again = store_file(tmp_path, body, "application/pdf", "https://x.gov.vn/b/copy.pdf")
    assert first == again == (digest, len(body), f"files/{digest[:2]}/{digest[2:4]}/{digest}.pdf")
    assert (tmp_path / first[2]).read_bytes() == body
    assert len(list(tmp_path.glob("files/*/*/*"))) == 1
    assert not list(tmp_path.glob("files/**/.*.tmp"))


def test_types_and_extensions():
    assert media_type("image/JPEG; charset=binary", "https://x/a") == "image/jpeg"
    assert media_type("application/octet-stream", "https://x/Phu-luc.docx") == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    assert media_type(None, "https://x/DownloadFile.aspx?id=3") is None
    assert extension("image/jpeg", "https://x/anh.JPEG") == ".jpg"
    assert extension("application/pdf", "https://x/DownloadFile.aspx?id=3") == ".pdf"
    assert extension(None, "https://x/file") == ""


def test_only_the_sites_own_hosts():
    hosts = ["sgddt.laocai.gov.vn", "127.0.0.1:8931"]
    assert allowed_host("sgddt.laocai.gov.vn", hosts)
    assert allowed_host("img.sgddt.laocai.gov.vn", hosts)  # a subdomain of the site
    assert allowed_host("127.0.0.1:8931", hosts)
    assert not allowed_host("127.0.0.1:9000", hosts)
    assert not allowed_host("laocai.gov.vn", hosts)
    assert not allowed_host("cdn.example.com", hosts)
    assert not allowed_host("evilsgddt.laocai.gov.vn", hosts)
