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
    """One XPath, absolute or relative to the family's article element.

    An XPath that starts at a web part (``{wp:NAME}...``) finds that web part once per
    page: several fields' XPaths start at the same few web parts, and finding one means
    testing every <div> of the page (about 70 µs on a portal page, each time)."""

    source: str
    relative: bool
    compiled: etree.XPath
    anchor: tuple[str, etree.XPath] | None = None  # (web part name, its XPath)
    rest: etree.XPath | None = None  # the remainder, relative to each web part found

    def __call__(self, root, article=None) -> list:
        if self.relative:
            return self.compiled(article) if article is not None else []
        if self.anchor is None:
            return self.compiled(root)
        found = _anchors(root, *self.anchor)
        if self.rest is None or len(found) == 0:
            return list(found)
        if len(found) == 1:
            return self.rest(found[0])
        out, seen = [], set()
        for el in found:
            for hit in self.rest(el):
                if hit not in seen:
                    seen.add(hit)
                    out.append(hit)
        return out


# The web parts found on the last page read: (its root, {name: elements}). One tuple,
# replaced whole, so a reader in another thread never pairs one page with another's.
_ANCHORS: tuple = (None, {})


def _anchors(root, name: str, xpath: etree.XPath) -> list:
    global _ANCHORS
    page, found = _ANCHORS
    if page is not root:
        found = {}
        _ANCHORS = (root, found)
    hit = found.get(name)
    # A web part removed from the page since (template stripping) is looked for again.
    if hit is None or any(_detached(el, root) for el in hit):
        hit = found[name] = xpath(root)
    return hit


def _detached(el, root) -> bool:
    top = el
    while (parent := top.getparent()) is not None:
        top = parent
    return top is not root


_WP_START = re.compile(r"^\{wp:([^}]+)\}")


def _selectors(xpaths: list[str]) -> list[Selector]:
    out = []
    for xp in xpaths:
        relative = xp.startswith("{article}")
        text = "." + xp[len("{article}"):] if relative else xp
        sel = Selector(xp, relative, etree.XPath(_expand(text)))
        m = _WP_START.match(xp)
        rest = xp[m.end():] if m else ""
        if m and "|" not in _expand(rest) and "{wp:" not in rest and "{article}" not in rest and (
                not rest or rest.startswith("/")):
            sel.anchor = (m.group(1), etree.XPath(_expand(m.group(0))))
            sel.rest = etree.XPath(_expand("." + rest)) if rest else None
        out.append(sel)
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
    stale_pages: int | None = None  # nightly runs: K stale listing pages end a walk
    # Query parameters that carry a session or a portlet's state, never content: removed
    # before a URL is requested or keyed (crawler/canonical.py).
    session_params: list[str] = field(default_factory=list)

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
    session_params: list[str] = field(default_factory=list)  # every family's

    def denied(self, url: str) -> bool:
        return any(p.search(url) for p in self.deny)


@dataclass
class Profiles:
    families: list[Family]
    prune: etree.XPath | None  # the prune entries that are not a bare //tag
    drop: list[Selector]
    drop_class: re.Pattern
    drop_id: re.Pattern
    boilerplate: re.Pattern
    attachment_ext: frozenset[str]
    image_skip: re.Pattern
    crawl: CrawlRules
    generic: GenericRules
    prune_tags: tuple[str, ...] = ()  # the bare //tag prune entries, removed in one C pass

    def family(self, name: str) -> Family | None:
        return next((f for f in self.families if f.name == name), None)


_BARE_TAG = re.compile(r"//[a-z][a-z0-9]*")


class ProfileError(ValueError):
    """A mistake in a profile file, naming the file, the entry and the key."""


_FAMILY_KEYS = {"description", "detect", "article", "title", "date", "summary", "body", "drop",
                "canonical_params", "caseless_paths", "crawl"}
_FAMILY_CRAWL_KEYS = {"article_url", "listing_url", "stale_pages", "session_params"}
_COMMON_KEYS = {"prune", "drop", "drop_class", "drop_id", "boilerplate", "attachment_ext",
                "image_skip"}
_CRAWL_KEYS = {"deny", "postback_arg", "postback_target", "more_text", "session_params"}
_GENERIC_KEYS = {"title_candidates", "chrome_tags", "chrome_class", "date_skip_class",
                 "block_tags", "paragraph_tags", "summary_class", "caption_class", "byline", "article_url",
                 "author_class", "figures", "min_article_chars", "max_link_density",
                 "site_name"}


class _Checker:
    """Reads values out of the parsed file, failing with file, entry and key named."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, entry: str, key: str | None, problem: str):
        where = f"[{entry}]" + (f" key {key!r}" if key else "")
        raise ProfileError(f"{self.path.name}: {where}: {problem}")

    def table(self, data: dict, entry: str, allowed: set[str], required=()) -> dict:
        if not isinstance(data, dict):
            self.fail(entry, None, "must be a table")
        for key in data:
            if key not in allowed:
                self.fail(entry, key, f"unknown key (known: {', '.join(sorted(allowed))})")
        for key in required:
            if key not in data:
                self.fail(entry, key, "missing")
        return data

    def strings(self, data: dict, entry: str, key: str) -> list[str]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(entry, key, "must be a list of strings")
        return value

    def regex(self, entry: str, key: str, pattern, flags=0) -> re.Pattern:
        if not isinstance(pattern, str):
            self.fail(entry, key, "must be a string (a regular expression)")
        try:
            return re.compile(pattern, flags)
        except re.error as exc:
            self.fail(entry, key, f"bad regular expression {pattern!r}: {exc}")

    def selectors(self, data: dict, entry: str, key: str) -> list[Selector]:
        out = []
        for xp in self.strings(data, entry, key):
            try:
                out.extend(_selectors([xp]))
            except etree.XPathSyntaxError as exc:
                self.fail(entry, key, f"bad XPath {xp!r}: {exc}")
        return out

    def xpath(self, entry: str, key: str, xpaths: list[str]) -> etree.XPath:
        try:
            return etree.XPath(" | ".join(_expand(x) for x in xpaths))
        except etree.XPathSyntaxError as exc:
            self.fail(entry, key, f"bad XPath: {exc}")


def _positive(chk: _Checker, entry: str, key: str, table: dict) -> int | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        chk.fail(entry, key, "must be a whole number of 1 or more")
    return value


@dataclass
class GenericRules:
    """Data for crawler.generic: where headlines may be, what is chrome."""

    title_candidates: etree.XPath
    chrome_tags: frozenset[str]
    chrome_class: re.Pattern
    date_skip_class: re.Pattern
    block_tags: tuple[str, ...]
    paragraph_tags: frozenset[str]
    summary_class: re.Pattern
    author_class: re.Pattern
    figure: etree.XPath
    figure_caption: etree.XPath
    caption_class: re.Pattern
    byline: etree.XPath
    min_article_chars: int
    max_link_density: float
    article_url: list[re.Pattern] = field(default_factory=list)
    site_name: re.Pattern | None = None

    def is_article_url(self, url: str) -> bool:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        return any(p.search(tail) for p in self.article_url)


@lru_cache(maxsize=4)
def load(path: str | Path = PROFILE_PATH) -> Profiles:
    """Parse, validate and compile the profile file (cached: compile once per process).

    A mistake (unknown key, missing table, bad XPath or regular expression) raises
    :class:`ProfileError` naming the file, the entry and the key."""
    path = Path(path)
    chk = _Checker(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path.name}: not valid TOML: {exc}") from None
    chk.table(data, "top level", {"common", "families", "crawl", "generic"},
              required=("common", "families", "crawl", "generic"))
    common = chk.table(data["common"], "common", _COMMON_KEYS, required=_COMMON_KEYS)
    families = []
    for name, spec in chk.table(data["families"], "families", set(data["families"])).items():
        entry = f"families.{name}"
        chk.table(spec, entry, _FAMILY_KEYS, required=("detect", "article", "title", "body"))
        crawl = chk.table(spec.get("crawl", {}), f"{entry}.crawl", _FAMILY_CRAWL_KEYS)
        if not isinstance(spec.get("caseless_paths", False), bool):
            chk.fail(entry, "caseless_paths", "must be true or false")
        families.append(
            Family(
                name=name,
                description=spec.get("description", ""),
                **{
                    key: chk.selectors(spec, entry, key)
                    for key in ("detect", "article", "title", "date", "summary", "body", "drop")
                },
                canonical_params=chk.strings(spec, entry, "canonical_params"),
                caseless_paths=spec.get("caseless_paths", False),
                article_url=[chk.regex(f"{entry}.crawl", "article_url", p)
                             for p in chk.strings(crawl, f"{entry}.crawl", "article_url")],
                listing_url=[chk.regex(f"{entry}.crawl", "listing_url", p)
                             for p in chk.strings(crawl, f"{entry}.crawl", "listing_url")],
                session_params=[chk.regex(f"{entry}.crawl", "session_params", p).pattern
                                for p in chk.strings(crawl, f"{entry}.crawl", "session_params")],
                stale_pages=_positive(chk, f"{entry}.crawl", "stale_pages", crawl),
            )
        )
    crawl = chk.table(data["crawl"], "crawl", _CRAWL_KEYS,
                      required=_CRAWL_KEYS - {"session_params"})
    gen = chk.table(data["generic"], "generic", _GENERIC_KEYS, required=_GENERIC_KEYS)
    prune = chk.strings(common, "common", "prune")
    chk.xpath("common", "prune", prune)  # every entry checked, whichever way it runs
    for key in ("min_article_chars", "max_link_density"):
        if not isinstance(gen[key], int | float) or isinstance(gen[key], bool):
            chk.fail("generic", key, "must be a number")
    return Profiles(
        families=families,
        prune=chk.xpath("common", "prune", [x for x in prune if not _BARE_TAG.fullmatch(x)])
        if any(not _BARE_TAG.fullmatch(x) for x in prune) else None,
        prune_tags=tuple(x[2:] for x in prune if _BARE_TAG.fullmatch(x)),
        drop=chk.selectors(common, "common", "drop"),
        drop_class=chk.regex("common", "drop_class", common["drop_class"]),
        drop_id=chk.regex("common", "drop_id", common["drop_id"]),
        boilerplate=chk.regex("common", "boilerplate", "|".join(
            f"(?:{p})" for p in chk.strings(common, "common", "boilerplate")), re.I),
        attachment_ext=frozenset(chk.strings(common, "common", "attachment_ext")),
        image_skip=chk.regex("common", "image_skip",
                             "|".join(chk.strings(common, "common", "image_skip"))),
        crawl=CrawlRules(
            deny=[chk.regex("crawl", "deny", p) for p in chk.strings(crawl, "crawl", "deny")],
            postback_arg=chk.regex("crawl", "postback_arg", crawl["postback_arg"]),
            postback_target=chk.regex("crawl", "postback_target", crawl["postback_target"]),
            more_text=chk.regex("crawl", "more_text", crawl["more_text"]),
            session_params=[chk.regex("crawl", "session_params", p).pattern
                            for p in chk.strings(crawl, "crawl", "session_params")],
        ),
        generic=GenericRules(
            title_candidates=chk.xpath("generic", "title_candidates",
                                       chk.strings(gen, "generic", "title_candidates")),
            chrome_tags=frozenset(chk.strings(gen, "generic", "chrome_tags")),
            chrome_class=chk.regex("generic", "chrome_class", gen["chrome_class"]),
            date_skip_class=chk.regex("generic", "date_skip_class", gen["date_skip_class"]),
            block_tags=tuple(chk.strings(gen, "generic", "block_tags")),
            paragraph_tags=frozenset(chk.strings(gen, "generic", "paragraph_tags")),
            summary_class=chk.regex("generic", "summary_class", gen["summary_class"]),
            author_class=chk.regex("generic", "author_class", gen["author_class"]),
            figure=chk.xpath("generic", "figures", chk.strings(gen, "generic", "figures")[:1]),
            figure_caption=chk.xpath("generic", "figures",
                                     chk.strings(gen, "generic", "figures")[1:2]),
            caption_class=chk.regex("generic", "caption_class", gen["caption_class"]),
            byline=chk.xpath("generic", "byline", chk.strings(gen, "generic", "byline")),
            min_article_chars=int(gen["min_article_chars"]),
            max_link_density=float(gen["max_link_density"]),
            article_url=[chk.regex("generic", "article_url", p)
                         for p in chk.strings(gen, "generic", "article_url")],
            site_name=chk.regex("generic", "site_name", gen["site_name"]),
        ),
    )
