"""The site registry (``sites.toml``): sites as data, families hold the defaults."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REGISTRY_PATH = Path(__file__).with_name("sites.toml")


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
    deny: list[str] = field(default_factory=list)
    allow_paths: list[str] = field(default_factory=list)

    @property
    def hosts(self) -> list[str]:
        return sorted({urlsplit(u).netloc.lower() for u in self.start_urls})


def load_sites(path: str | Path = REGISTRY_PATH) -> dict[str, Site]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return {key: Site(key=key, **spec) for key, spec in data.get("sites", {}).items()}


def adhoc_site(start_url: str, family: str = "auto") -> Site:
    """A site for ``crawl --start-url``: no profile written, family recognized from pages."""
    host = urlsplit(start_url).netloc.lower()
    if not host:
        raise ValueError(f"not an absolute URL: {start_url!r}")
    return Site(key=host, name=host, family=family, start_urls=[start_url])
