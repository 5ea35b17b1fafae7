"""The crawl CLI's answers that need no network: the registry and clear refusals."""

import subprocess
import sys


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def test_sites_lists_the_registry_with_verification_state(tmp_path):
    out = cli("sites", cwd=tmp_path)
    assert out.returncode == 0
    line = next(x for x in out.stdout.splitlines() if x.startswith("backan-sgddt"))
    assert "publishingportal" in line and "not yet verified" in line


def test_unknown_site_is_refused_in_one_line(tmp_path):
    out = cli("crawl", "no-such-site", "--db", str(tmp_path / "a.db"))
    assert out.returncode == 2
    assert "unknown site(s) no-such-site" in out.stderr and out.stderr.count("\n") == 1
    assert not (tmp_path / "a.db").exists()  # nothing written for a refused crawl


def test_crawl_without_target_is_refused(tmp_path):
    out = cli("crawl", "--db", str(tmp_path / "a.db"))
    assert out.returncode == 2 and "name a site, --all, or --start-url" in out.stderr
