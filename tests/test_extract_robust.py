"""Bad input never crashes the extractor: it returns a record whose warnings say why."""

import random
from pathlib import Path

import pytest

from crawler.extract import FIELDS, extract_article

PAGES = sorted((Path(__file__).parent / "fixtures" / "pages").glob("*.html"))
URL = "https://example.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=1"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_truncated_and_mangled_pages_give_records(page):
    data = page.read_bytes()
    rng = random.Random(page.name)
    variants = [data[: rng.randrange(len(data) + 1)] for _ in range(4)]
    variants.append(data.replace(b"<", b"", 50))  # broken tags
    variants.append(bytes(b ^ 0x20 if i % 97 == 0 else b for i, b in enumerate(data[:5000])))
    for variant in variants:
        rec = extract_article(variant, URL)
        assert set(rec) == set(FIELDS)
        assert rec["body"] or rec["warnings"], "an empty record must say why"


def test_str_input_and_garbage():
    assert extract_article("", URL)["warnings"][0].startswith("empty_input")
    assert extract_article("just some words, no markup", URL)["warnings"][0].startswith("not_html")
    rec = extract_article(b"\x00\x01\x02binary\xff" * 50, URL)
    assert rec["warnings"][0].startswith("not_html") and rec["language"] is None
