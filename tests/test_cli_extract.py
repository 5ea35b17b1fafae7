"""`python -m crawler extract` as a user runs it: a real subprocess, real files."""

import json
import subprocess
import sys
from pathlib import Path

PAGES = Path(__file__).parent / "fixtures" / "pages"
ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "crawler", "extract", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def test_one_page_with_url_prints_one_object():
    url = "https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=28383"
    out = run(str(PAGES / "seed_000_publishingportal.html"), "--url", url)
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout)
    assert rec["url"] == url
    assert rec["byline"] == "Ngọc Tú"
    assert rec["published"] == "2023-09-11"


def test_several_pages_print_json_lines_with_url_from_page(tmp_path):
    pages = [PAGES / "seed_002_dotnetnuke.html", PAGES / "seed_003_liferay.html"]
    out = run(*map(str, pages), cwd=tmp_path)  # any working directory
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().split("\n")
    records = [json.loads(line) for line in lines]
    assert [r["family"] for r in records] == ["dotnetnuke", "liferay"]
    # No --url: the page's <link rel=canonical>, else og:url, else the file path.
    assert records[0]["url"] == (
        "https://pgdvuban.namdinh.gov.vn/tin-tuc-su-kien/ArtMID/1587/ArticleID/2416/PHONG-GIAO-DUC-"
        "VA-DAO-TAO-SO-KET-GIUA-HOC-KY-I-TRIEN-KHAI-NHIEM-VU-TRONG-TAM-HOC-KY-II-NAM-HOC-2023-2024"
    )  # og:url
    # Liferay writes its canonical link entity-encoded (https&#x3a;&#x2f;&#x2f;...).
    assert records[1]["url"] == (
        "https://quangtri.gov.vn/chi-tiet-tin/-/view-article/1/1689298574938/"
        "cum-thi-dua-so-6-trien-khai-nhiem-vu-nam-hoc-2023-2024"
    )


def test_page_without_canonical_keeps_its_path(tmp_path):
    page = tmp_path / "p.html"
    page.write_bytes((PAGES / "struct_lead_repeated.html").read_bytes()
                     .replace(b'rel="canonical"', b'rel="x"').replace(b'og:url', b'og:x'))
    out = run(str(page))
    assert json.loads(out.stdout)["url"] == str(page)


def test_unreadable_file_exits_nonzero_with_one_line(tmp_path):
    out = run(str(tmp_path / "missing.html"))
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and "cannot read" in out.stderr and "missing.html" in out.stderr


def test_bad_input_gives_a_record_saying_why(tmp_path):
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    out = run(str(empty), "--url", "https://a.gov.vn/x")
    rec = json.loads(out.stdout)
    assert out.returncode == 0
    assert rec["body"] is None and rec["warnings"][0].startswith("empty_input: ")


def test_family_generic_switches_the_family_rules_off_and_a_bad_name_is_one_line():
    page = str(PAGES / "seed_003_liferay.html")
    out = run(page, "--family", "generic")
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout)
    assert rec["family"] == "generic"
    assert rec["title"] == "Cụm thi đua số 6 triển khai nhiệm vụ năm học 2023-2024"
    bad = run(page, "--family", "sharepoint")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "crawler extract: unknown family 'sharepoint' (known: auto, generic, "
        "publishingportal, liferay, dotnetnuke, towncms)"]


def test_learn_template_from_pages_of_one_site(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_templates import STORIES, page, url

    files = []
    for i in range(len(STORIES)):
        path = tmp_path / f"tin-{i}.html"
        path.write_bytes(page(i).replace(b"<head>", f'<head><link rel="canonical" href="{url(i)}">'.encode()))
        files.append(str(path))
    plain = [json.loads(line) for line in run(*files).stdout.splitlines()]
    assert "Bộ phận Một cửa" in plain[0]["body"]  # the in-column note leaks without it
    out = run(*files, "--learn-template")
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["body"] for r in records] == ["\n\n".join(p) for _, p in STORIES]
    few = run(*files[:2], "--learn-template")
    assert "needs 5 pages of one site or more; got 2" in few.stderr


def test_new_site_adds_an_entry_the_crawler_accepts(tmp_path):
    # Runs against a copy of the project's registry (CRAWLER_SITES points the CLI at it).
    import shutil

    reg = tmp_path / "sites.toml"
    shutil.copy(ROOT / "crawler" / "sites.toml", reg)
    env = {**__import__("os").environ, "CRAWLER_SITES": str(reg)}
    cmd = [sys.executable, "-m", "crawler", "new-site"]
    out = subprocess.run([*cmd, "quangtri-moi", "https://quangtri.gov.vn/tin-tuc", "--title",
                          "Cổng TTĐT tỉnh Quảng Trị (thử)"], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "added [sites.quangtri-moi] (family auto)" in out.stdout
    listed = subprocess.run([sys.executable, "-m", "crawler", "sites"], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=60)
    assert "quangtri-moi" in listed.stdout
    again = subprocess.run([*cmd, "quangtri-moi", "https://quangtri.gov.vn/"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert again.returncode == 2
    assert again.stderr.strip() == "crawler new-site: sites.toml: [sites.quangtri-moi] exists already"
