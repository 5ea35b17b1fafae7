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
