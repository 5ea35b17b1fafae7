"""The site registry (``sites.toml``): sites as data, families hold the defaults."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REGISTRY_PATH = Path(__file__).with_name("sites.toml")


def registry_path() -> Path:
    """The registry in use: $CRAWLER_SITES (an archivist's own file), else the shipped one."""
    import os

    return Path(os.environ.get("CRAWLER_SITES") or REGISTRY_PATH)


@dataclass
class Site:
    key: str
    name: str
    family: str
    start_urls: list[str]
    province: str | None = None
    level: str | None = None
    verified: bool = False
    page_cap: int | None = None
    stale_pages: int | None = None  # nightly runs: stop a listing after K pages with nothing new
    deny: list[str] = field(default_factory=list)
    allow_paths: list[str] = field(default_factory=list)

    @property
    def hosts(self) -> list[str]:
        from .canonical import host_of

        return sorted({host_of(u) for u in self.start_urls})


class RegistryError(ValueError):
    """A mistake in the site registry, naming the file, the site and the key."""


_TYPES = {
    "name": str, "family": str, "start_urls": list, "province": str, "level": str,
    "verified": bool, "page_cap": int, "stale_pages": int, "deny": list, "allow_paths": list,
}
_REQUIRED = ("name", "family", "start_urls")
LEVELS = ("province", "department", "district", "town", "commune")


def _check(path: Path, key: str, spec, families: set[str]) -> Site:
    def fail(field: str | None, problem: str):
        where = f"[sites.{key}]" + (f" key {field!r}" if field else "")
        raise RegistryError(f"{path.name}: {where}: {problem}")

    if not isinstance(spec, dict):
        fail(None, "must be a table")
    for name, value in spec.items():
        if name not in _TYPES:
            fail(name, f"unknown key (known: {', '.join(_TYPES)})")
        want = _TYPES[name]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            fail(name, f"must be {want.__name__}, not {type(value).__name__} ({value!r})")
    for name in _REQUIRED:
        if name not in spec:
            fail(name, "missing")
    if spec["family"] not in families:
        fail("family", f"unknown family {spec['family']!r} "
                       f"(known: {', '.join(sorted(families))})")
    if not spec["start_urls"]:
        fail("start_urls", "needs at least one URL")
    for url in spec["start_urls"]:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            fail("start_urls", f"not an absolute http(s) URL: {url!r}")
    if "level" in spec and spec["level"] not in LEVELS:
        fail("level", f"must be one of {', '.join(LEVELS)}")
    for name in ("deny", "allow_paths"):
        for item in spec.get(name, []):
            if not isinstance(item, str):
                fail(name, "must be a list of strings")
    for pattern in spec.get("deny", []):
        try:
            re.compile(pattern)
        except re.error as exc:
            fail("deny", f"bad regular expression {pattern!r}: {exc}")
    for name in ("page_cap", "stale_pages"):
        if name in spec and spec[name] < 1:
            fail(name, "must be at least 1")
    return Site(key=key, **spec)


def family_names() -> set[str]:
    """Families a site may name: those in families.toml, plus auto and generic."""
    from .profiles import load

    return {f.name for f in load().families} | {"auto", "generic"}


def load_sites(path: str | Path | None = None) -> dict[str, Site]:
    """The registry, validated: a mistake raises :class:`RegistryError` naming the file,
    the site and the key (a misspelt family would silently lose its URL rules)."""
    path = Path(path) if path is not None else registry_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path.name}: not valid TOML: {exc}") from None
    unknown = set(data) - {"sites"}
    if unknown:
        raise RegistryError(f"{path.name}: unknown top-level table(s) {sorted(unknown)}; "
                            "sites go in [sites.NAME]")
    families = family_names()
    return {key: _check(path, key, spec, families) for key, spec in data.get("sites", {}).items()}


def adhoc_site(start_url: str, family: str = "auto") -> Site:
    """A site for ``crawl --start-url``: no profile written, family recognized from pages."""
    from .canonical import host_of

    host = host_of(start_url)
    if not host:
        raise ValueError(f"not an absolute URL: {start_url!r}")
    return Site(key=host, name=host, family=family, start_urls=[start_url])


_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,40}$")
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "pages"


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def new_site(key: str, url: str, *, page: Path | None = None, name: str | None = None,
             registry: Path | None = None, fixtures: Path = FIXTURES) -> dict:
    """Add a site to the registry (and, with a saved page, a fixture with a gold skeleton
    to fill in by hand). Returns what was written. Refuses a key already taken, a bad key
    or URL, and leaves the registry as it was if the new entry does not validate."""
    from .extract import detect_family, extract_article, read_page

    registry = Path(registry) if registry is not None else registry_path()
    fixtures = Path(fixtures)
    if not _KEY.match(key):
        raise RegistryError(f"site name {key!r}: use lowercase letters, digits and '-' "
                            "(e.g. backan-sgddt)")
    sites = load_sites(registry)
    if key in sites:
        raise RegistryError(f"{registry.name}: [sites.{key}] exists already")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RegistryError(f"not an absolute http(s) URL: {url!r} (did you mean https://{url}?)")
    family, record, data = "auto", None, None
    if page is not None:
        data = Path(page).read_bytes()
        parsed = read_page(data, url)
        fam = detect_family(parsed.root) if parsed.root is not None else None
        family = fam.name if fam is not None else "auto"
        record = extract_article(data, url)
        name = name or record.get("title")
    entry = (
        f"\n[sites.{key}]\nname = {_toml_str(name or parts.netloc)}\nfamily = {_toml_str(family)}\n"
        f"start_urls = [{_toml_str(url)}]\nverified = false\n"
    )
    before = registry.read_text(encoding="utf-8")
    registry.write_text(before.rstrip("\n") + "\n" + entry, encoding="utf-8")
    try:
        load_sites(registry)
    except RegistryError:
        registry.write_text(before, encoding="utf-8")
        raise
    written = {"registry": str(registry), "family": family}
    if data is not None:
        fixtures.mkdir(parents=True, exist_ok=True)
        html_path = fixtures / f"site_{key}.html"
        html_path.write_bytes(data)
        gold = {
            "url": url, "content_type": None, "draft": True,
            "note": "DRAFT: the extractor's reading of this page, to be checked field by field "
                    "against the page in a browser. Correct every field, describe what the page "
                    "exercises here, then delete the 'draft' key (the fixture test refuses drafts).",
            "expected": record,
        }
        gold_path = html_path.with_suffix(".json")
        gold_path.write_text(json.dumps(gold, ensure_ascii=False, indent=2) + "\n",
                             encoding="utf-8")
        written.update(page=str(html_path), gold=str(gold_path))
    return written
