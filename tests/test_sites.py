"""sites.toml is validated on load (file, site, key named); new_site adds a site as data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crawler.sites import REGISTRY_PATH, RegistryError, load_sites, new_site

PAGES = Path(__file__).parent / "fixtures" / "pages"
TEXT = REGISTRY_PATH.read_text(encoding="utf-8")


def registry(tmp_path: Path, text: str = TEXT) -> Path:
    path = tmp_path / "sites.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_registry_loads():
    sites = load_sites()
    assert sites["backan-sgddt"].family == "publishingportal"
    assert sites["quangtri"].hosts == ["quangtri.gov.vn"]


@pytest.mark.parametrize("change, message", [
    (('family = "liferay"', 'family = "liferey"'),
     "sites.toml: [sites.quangtri] key 'family': unknown family 'liferey' (known: auto, "),
    (('family = "liferay"', 'familly = "liferay"'),
     "sites.toml: [sites.quangtri] key 'familly': unknown key"),
    (('start_urls = ["https://quangtri.gov.vn/tin-tuc"]', 'start_urls = ["quangtri.gov.vn/tin-tuc"]'),
     "sites.toml: [sites.quangtri] key 'start_urls': not an absolute http(s) URL"),
    (('start_urls = ["https://quangtri.gov.vn/tin-tuc"]', 'start_urls = "https://quangtri.gov.vn/"'),
     "sites.toml: [sites.quangtri] key 'start_urls': must be list, not str"),
    (('province = "Quảng Trị"\n', 'province = "Quảng Trị"\npage_cap = "many"\n'),
     "sites.toml: [sites.quangtri] key 'page_cap': must be int, not str"),
])
def test_mistakes_name_file_site_and_key(tmp_path, change, message):
    old, new = change
    assert old in TEXT
    with pytest.raises(RegistryError) as err:
        load_sites(registry(tmp_path, TEXT.replace(old, new, 1)))
    assert str(err.value).startswith(message), str(err.value)


def test_new_site_writes_entry_fixture_and_draft_gold(tmp_path):
    reg = registry(tmp_path)
    fixtures = tmp_path / "pages"
    page = tmp_path / "saved.html"
    shutil.copy(PAGES / "seed_003_liferay.html", page)
    url = "https://quangtri.gov.vn/chi-tiet-tin/-/view-article/1/1689298574938/cum-thi-dua"
    written = new_site("quangtri-moi", url, page=page, registry=reg, fixtures=fixtures)
    assert written["family"] == "liferay"
    site = load_sites(reg)["quangtri-moi"]
    assert (site.family, site.start_urls, site.verified) == ("liferay", [url], False)
    assert site.name == "Cụm thi đua số 6 triển khai nhiệm vụ năm học 2023-2024"
    assert (fixtures / "site_quangtri-moi.html").read_bytes() == page.read_bytes()
    gold = json.loads((fixtures / "site_quangtri-moi.json").read_text(encoding="utf-8"))
    assert gold["draft"] is True and gold["url"] == url
    assert gold["expected"]["title"] == site.name


def test_new_site_refusals_leave_registry_unchanged(tmp_path):
    reg = registry(tmp_path)
    with pytest.raises(RegistryError, match="exists already"):
        new_site("quangtri", "https://quangtri.gov.vn/", registry=reg)
    with pytest.raises(RegistryError, match="did you mean https://example.gov.vn"):
        new_site("vidu", "example.gov.vn", registry=reg)
    with pytest.raises(RegistryError, match="use lowercase letters"):
        new_site("Bad Name", "https://example.gov.vn/", registry=reg)
    assert reg.read_text(encoding="utf-8") == TEXT
    new_site("vidu", "https://example.gov.vn/", registry=reg)
    assert load_sites(reg)["vidu"].family == "auto"
