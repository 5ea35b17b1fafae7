"""families.toml is validated on load: a mistake names the file, the entry and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.profiles import PROFILE_PATH, ProfileError, load

TEXT = PROFILE_PATH.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "families.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_profiles_load_with_every_family_and_generic_rules():
    profiles = load()
    assert [f.name for f in profiles.families] == [
        "publishingportal", "liferay", "dotnetnuke", "towncms"]
    assert profiles.generic.min_article_chars > 0
    assert "nav" in profiles.generic.chrome_tags


def test_misspelt_family_key_names_file_entry_and_key(tmp_path):
    bad = TEXT.replace('[families.liferay]\ndescription', '[families.liferay]\ndescripton', 1)
    with pytest.raises(ProfileError) as err:
        load(write(tmp_path, bad))
    assert str(err.value).startswith("families.toml: [families.liferay] key 'descripton': unknown key")


def test_bad_xpath_is_reported_with_its_key(tmp_path):
    bad = TEXT.replace('title_candidates = [\n  "//h1",', 'title_candidates = [\n  "//h1[",', 1)
    with pytest.raises(ProfileError, match=r"\[generic\] key 'title_candidates': bad XPath"):
        load(write(tmp_path, bad))


def test_bad_regex_and_missing_key(tmp_path):
    bad = TEXT.replace("postback_arg = '^(", "postback_arg = '^((", 1)
    with pytest.raises(ProfileError, match=r"\[crawl\] key 'postback_arg': bad regular expression"):
        load(write(tmp_path, bad))
    missing = TEXT.replace("min_article_chars = 150\n", "", 1)
    with pytest.raises(ProfileError, match=r"\[generic\] key 'min_article_chars': missing"):
        load(write(tmp_path, missing))


def test_not_toml_at_all(tmp_path):
    with pytest.raises(ProfileError, match="families.toml: not valid TOML"):
        load(write(tmp_path, "[common\n"))


WEB_PARTS = """<html><body>
<div class="ms-webpart-zone">
 <div class="ms-webpart-chrome-title"><span title="PublishingPortal - Block_BanTin_Toolbar">
  PublishingPortal - Block_BanTin_Toolbar</span></div>
 <div class="ms-WPBody"><h2 class="title">{title}</h2><span class="date">{date}</span></div>
 <div class="ms-webpart-chrome-title"><span>PublishingPortal - Block_BanTin_ViewData</span></div>
 <div class="ms-WPBody"><div class="ms-rtestate-field"><p>{text}</p></div></div>
</div></body></html>"""


def test_web_part_selectors_answer_like_their_plain_xpath_page_after_page():
    """Family XPaths starting at a web part find it once per page: the answers are those
    of the whole XPath on every page, pages read in turn, and after a web part is
    removed from the tree (template stripping) it is not answered from memory."""
    import lxml.html

    fam = load().family("publishingportal")
    selectors = [s for name in ("article", "title", "date", "summary", "body")
                 for s in getattr(fam, name)]
    assert sum(s.anchor is not None for s in selectors) >= 8
    pages = [lxml.html.document_fromstring(WEB_PARTS.format(
        title=f"Tin số {i}", date=f"0{i}/11/2026", text=f"Nội dung bài {i}.")) for i in (1, 2)]
    for root in (*pages, pages[0], pages[1]):  # interleaved: each page its own web parts
        for sel in selectors:
            assert sel(root) == sel.compiled(root), sel.source
    title = next(s for s in fam.title if "tieude" in s.source)
    assert [h.text for h in title(pages[0])] == ["Tin số 1"]
    toolbar = pages[0].xpath("//div[@class='ms-WPBody']")[0]
    toolbar.getparent().remove(toolbar)  # as strip_template may
    for sel in selectors:
        assert sel(pages[0]) == sel.compiled(pages[0]), sel.source
    assert title(pages[0]) == []
