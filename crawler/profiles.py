"""Layout families loaded from ``families.toml`` and compiled once."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from lxml import etree

PROFILE_PATH = Path(__file__).with_name("families.toml")
_MACRO = re.compile(r"\{(wp|cls|id):([^}]+)\}")


def _expand(xpath: str) -> str:
    def sub(m: re.Match) -> str:
        kind, arg = m.group(1), m.group(2)
        if kind == "wp":
            # From the few chrome titles to their web part body (cheaper than testing
            # every div's preceding siblings).
            return (
                f"//div[contains(@class, 'ms-webpart-chrome-title')][contains(., '{arg}')]"
                "/following-sibling::div[contains(concat(' ', normalize-space(@class), ' '),"
                " ' ms-WPBody ')][1]"
            )
        attr = "@class" if kind == "cls" else "@id"
        return " or ".join(f"contains({attr}, '{name}')" for name in arg.split("|"))

    return _MACRO.sub(sub, xpath)


@dataclass
class Selector:
    """One XPath, absolute or relative to the family's article element."""

    source: str
    relative: bool
    compiled: etree.XPath

    def __call__(self, root, article=None) -> list:
        if self.relative:
            return self.compiled(article) if article is not None else []
        return self.compiled(root)


def _selectors(xpaths: list[str]) -> list[Selector]:
    out = []
    for xp in xpaths:
        relative = xp.startswith("{article}")
        text = "." + xp[len("{article}"):] if relative else xp
        out.append(Selector(xp, relative, etree.XPath(_expand(text))))
    return out


@dataclass
class Family:
    name: str
    description: str
    detect: list[Selector]
    article: list[Selector]
    title: list[Selector]
    date: list[Selector]
    summary: list[Selector]
    body: list[Selector]
    drop: list[Selector]
    canonical_params: list[str] = field(default_factory=list)
    caseless_paths: bool = False  # the server (IIS) answers any case of a path
    article_url: list[re.Pattern] = field(default_factory=list)
    listing_url: list[re.Pattern] = field(default_factory=list)

    def is_article_url(self, url: str) -> bool:
        return any(p.search(url) for p in self.article_url)

    def is_listing_url(self, url: str) -> bool:
        return any(p.search(url) for p in self.listing_url)


@dataclass
class CrawlRules:
    """What every spider avoids and how it recognizes listing continuations."""

    deny: list[re.Pattern]
    postback_arg: re.Pattern
    postback_target: re.Pattern
    more_text: re.Pattern

    def denied(self, url: str) -> bool:
        return any(p.search(url) for p in self.deny)


@dataclass
class Profiles:
    families: list[Family]
    prune: etree.XPath
    drop: list[Selector]
    drop_class: re.Pattern
    drop_id: re.Pattern
    boilerplate: re.Pattern
    attachment_ext: frozenset[str]
    image_skip: re.Pattern
    crawl: CrawlRules

    def family(self, name: str) -> Family | None:
        return next((f for f in self.families if f.name == name), None)


@lru_cache(maxsize=4)
def load(path: str | Path = PROFILE_PATH) -> Profiles:
    """Parse and compile the profile file (cached: compile once per process)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    common = data["common"]
    families = []
    for name, spec in data["families"].items():
        families.append(
            Family(
                name=name,
                description=spec.get("description", ""),
                **{
                    key: _selectors(spec.get(key, []))
                    for key in ("detect", "article", "title", "date", "summary", "body", "drop")
                },
                canonical_params=spec.get("canonical_params", []),
                caseless_paths=spec.get("caseless_paths", False),
                article_url=[re.compile(p) for p in spec.get("crawl", {}).get("article_url", [])],
                listing_url=[re.compile(p) for p in spec.get("crawl", {}).get("listing_url", [])],
            )
        )
    return Profiles(
        families=families,
        prune=etree.XPath(" | ".join(_expand(x) for x in common["prune"])),
        drop=_selectors(common["drop"]),
        drop_class=re.compile(common["drop_class"]),
        drop_id=re.compile(common["drop_id"]),
        boilerplate=re.compile("|".join(f"(?:{p})" for p in common["boilerplate"]), re.I),
        attachment_ext=frozenset(common["attachment_ext"]),
        image_skip=re.compile("|".join(common["image_skip"])),
        crawl=CrawlRules(
            deny=[re.compile(p) for p in data["crawl"]["deny"]],
            postback_arg=re.compile(data["crawl"]["postback_arg"]),
            postback_target=re.compile(data["crawl"]["postback_target"]),
            more_text=re.compile(data["crawl"]["more_text"]),
        ),
    )
