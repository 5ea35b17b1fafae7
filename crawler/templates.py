"""Site templates learned from a site's own pages.

A portal's menus, footers, sidebars, visitor counters and web-part or portlet titles sit
at the same place in the tree, with the same text, on every page of the site; an article
does not. ``TemplateLearner`` counts, over the pages of one site, the text blocks keyed by
their place in the tree (the chain of tags, first classes and ids from ``<body>``); a
block found on most pages is the site's template. ``strip_template`` removes those blocks
from a page before its fields are read, so boilerplate that no family rule names stays
out of records. The crawl learns a template per site and stores it with the site in the
archive (``site_templates``), so re-extraction uses it too; ``crawler extract`` learns
one from the pages it is given.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field

from .text import clean

# Leaf blocks: elements whose text is one block on the page.
_BLOCK_TAGS = frozenset(
    "p div li td th dt dd h1 h2 h3 h4 h5 h6 span a strong b em i font label small "
    "section article header footer nav aside center blockquote caption".split()
)
_CONTAINER_TAGS = frozenset(
    "p div li td th dt dd h1 h2 h3 h4 h5 h6 ul ol table tr tbody section article header "
    "footer nav aside center blockquote form".split()
)
_DIGITS = re.compile(r"\d+")

MIN_PAGES = 5
SHARE = 0.6
MAX_TEXT = 300


def _label(el) -> str:
    klass = (el.get("class") or "").split()
    ident = el.get("id") or ""
    label = el.tag
    if klass:
        label += "." + _DIGITS.sub("", klass[0])
    if ident:
        label += "#" + _DIGITS.sub("", ident)
    return label


def _path_of(el) -> str:
    """The path from <body> to ``el`` (as ``blocks`` writes it)."""
    chain = []
    node = el
    while node is not None and node.tag != "body":
        chain.append(_label(node))
        node = node.getparent()
    return "/".join(["body", *reversed(chain)]) if node is not None else "?"


def blocks(root, scope=None, paths_wanted=None):
    """(path, text, element) of every leaf text block of the page (a block with no block
    element inside), paths from <body>. ``scope``: only inside that element;
    ``paths_wanted``: only blocks at those paths (their text is not read otherwise)."""
    top = scope if scope is not None else root.find(".//body")
    if top is None:
        return
    paths = {top: _path_of(top) if scope is not None else "body"}
    for el in top.iterdescendants():
        if not isinstance(el.tag, str):
            continue
        parent = el.getparent()
        path = paths.get(parent, "?") + "/" + _label(el)
        paths[el] = path
        if el.tag not in _BLOCK_TAGS or (paths_wanted is not None and path not in paths_wanted):
            continue
        if any(isinstance(c.tag, str) and c.tag in _CONTAINER_TAGS for c in el):
            continue
        text = clean(el.text_content())
        if 2 <= len(text) <= MAX_TEXT:
            yield path, text, el


@dataclass
class SiteTemplate:
    """The blocks that recur on a site's pages, and how many pages taught it."""

    blocks: frozenset = field(default_factory=frozenset)
    pages: int = 0

    def __bool__(self) -> bool:
        return bool(self.blocks)

    @property
    def paths(self) -> frozenset:
        """The places in the tree its blocks sit at (computed once)."""
        cached = self.__dict__.get("_paths")
        if cached is None:
            cached = self.__dict__["_paths"] = frozenset(p for p, _ in self.blocks)
        return cached

    def to_json(self) -> str:
        return json.dumps({"pages": self.pages, "blocks": sorted(map(list, self.blocks))},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> SiteTemplate:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(frozenset(tuple(b) for b in data.get("blocks", [])), int(data.get("pages", 0)))


class TemplateLearner:
    """Counts blocks over the pages of one site (each block once per page)."""

    def __init__(self, *, min_pages: int = MIN_PAGES, share: float = SHARE):
        self.min_pages = min_pages
        self.share = share
        self.pages = 0
        self.counts: Counter = Counter()

    def observe(self, root) -> None:
        seen = {(path, text) for path, text, el in blocks(root) if not _is_name(el, text)}
        self.counts.update(seen)
        self.pages += 1

    def template(self) -> SiteTemplate:
        if self.pages < self.min_pages:
            return SiteTemplate(pages=self.pages)
        need = max(3, self.share * self.pages)
        return SiteTemplate(frozenset(k for k, n in self.counts.items() if n >= need), self.pages)


_RIGHT = re.compile(r"(?i)text-align\s*:\s*right|(^|\s)(text-right|text-end)(\s|$)")


def _is_name(el, text: str) -> bool:
    """A byline (a one-author site repeats it on every page, and it is not chrome): a
    person's name (two to six capitalized words, no digits or colon), or a short line
    set as a signature (bold, italic or right-aligned: "Văn phòng Sở"); never a link,
    list item or cell."""
    if el.tag in ("a", "li", "td", "th") or len(text) > 60 or ":" in text:
        return False
    words = text.replace("-", " ").split()
    if 2 <= len(words) <= 6 and all(w[:1].isupper() for w in words) and not _DIGITS.search(text):
        return True
    if len(words) > 8:
        return False
    for node in (el, el.getparent()):
        if node is None:
            break
        if node.tag in ("b", "strong", "em", "i") or _RIGHT.search(
                f"{node.get('style') or ''} {node.get('class') or ''}") or (
                (node.get("align") or "").lower() == "right"):
            return True
    return False


def strip_template(root, template: SiteTemplate, keep=(), scope=None) -> int:
    """Remove the template's blocks from a page, or only those inside ``scope``; never an
    element in ``keep`` nor one holding one. Returns how many were removed."""
    if not template:
        return 0
    doomed = [el for path, text, el in blocks(root, scope, template.paths)
              if (path, text) in template.blocks]
    keep = set(keep)
    removed = 0
    for el in doomed:
        if el in keep or any(k in keep for k in el.iter()):
            continue
        if el.getparent() is not None:
            el.drop_tree()
            removed += 1
    return removed
