"""What the spider reads from a page's tree besides its record: its links (anchors,
feeds, "Xem thêm" loaders, ASP.NET postbacks with the form they post), its
``rel=canonical``, its size and depth, and its family.

``scan_tree`` reads them from a parsed tree into a ``Scan`` (plain data, picklable), so
the same reading runs in the crawl process (``EXTRACT_WORKERS = 0``, and a site's first
pages, which also teach its template) or in an extraction worker, which then reads the
record from the same tree: with workers the crawl process does not parse pages at all.
The spider decides the links from the ``Scan`` alone (``spiders/portal.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from form2request import form2request
from lxml import etree

POSTBACK = re.compile(r"__doPostBack\(\s*['\"]([^'\"]*)['\"]\s*,\s*['\"]([^'\"]*)['\"]\s*\)")
LOADER_ATTRS = ("data-url", "data-href", "data-load-url", "data-next")
# Elements with any of those attributes, in document order: a union of attribute steps
# (3x faster than //*[@a or @b ...], which tests every element for every attribute).
_LOADERS = etree.XPath(" | ".join(f"//@{name}/.." for name in (*LOADER_ATTRS, "onclick")))
_ONCLICK_URL = re.compile(r"""['"]((?:/|\?|https?://)[^'"\s]+)['"]""")
# libxml2's HTML parser stops at 256 levels of nesting: an element 255 levels under <html>.
_TOO_DEEP = etree.XPath("boolean(" + "/".join(["*"] * 255) + ")")
_CANONICAL = etree.XPath("//link[contains(concat(' ', translate(normalize-space(@rel), "
                         "'CANONIL', 'canonil'), ' '), ' canonical ')]/@href")
_FEEDS = etree.XPath("//link[@rel='alternate'][contains(@type, 'rss') or "
                     "contains(@type, 'atom')]/@href")
_BASE = etree.XPath("string(//base/@href)")
_COUNT = etree.XPath("count(//*)")


@dataclass
class Scan:
    base: str = ""  # //base/@href ("" when none)
    feeds: list = field(default_factory=list)  # hrefs of RSS/Atom <link rel=alternate>
    # Every <a>'s href attribute (None when it has none), in document order.
    hrefs: list = field(default_factory=list)
    # text_content() of the first ``cap`` <a> with a non-empty href ("" for the others).
    texts: list = field(default_factory=list)
    capped: bool = False  # more than ``cap`` <a> elements
    loaders: list = field(default_factory=list)  # (urls, text) of "load more" elements
    canonical: str | None = None  # the first rel=canonical href, unstripped
    elements: int = 0  # count(//*), when a cap on elements was given
    too_deep: bool = False
    family: str | None = None  # detected (only when asked)
    has_form: bool = False  # a <form> with a __VIEWSTATE input
    viewstate: str = ""  # the first such form's __VIEWSTATE value
    # (target, arg) -> form2request.Request (or the exception it raised), for every
    # postback link among the first ``cap`` whose target and argument the rules accept.
    postbacks: dict = field(default_factory=dict)


def scan_tree(root, *, link_cap: int, element_cap: int, rules, detect: bool = False,  # noqa: ANN001
              profiles=None) -> Scan:  # noqa: ANN001
    """The ``Scan`` of a parsed page (read only: the tree is left as it was).
    ``rules``: the profiles' crawl rules (more_text, postback_arg, postback_target)."""
    scan = Scan(base=str(_BASE(root)))
    scan.feeds = [str(href) for href in _FEEDS(root)]
    hrefs, texts = scan.hrefs, scan.texts
    postbacks = []
    for n, a in enumerate(root.iter("a")):
        href = a.get("href")
        hrefs.append(href)
        if link_cap and n >= link_cap:
            scan.capped = True
            continue
        stripped = (href or "").strip()
        if not stripped:
            texts.append("")
            continue
        texts.append(str(a.text_content()))  # a plain str: pickled small
        if stripped[:11].lower() == "javascript:" and "__doPostBack" in stripped:
            postbacks.append(stripped)
    more = rules.more_text
    for el in _LOADERS(root):
        urls = [el.get(name) for name in LOADER_ATTRS if el.get(name)]
        text = str(el.text_content())
        onclick = el.get("onclick")
        if onclick and more.match(" ".join(text.split())):
            urls += _ONCLICK_URL.findall(onclick)
        if urls:
            scan.loaders.append((urls, text))
    canonical = _CANONICAL(root)
    scan.canonical = str(canonical[0]) if canonical else None
    if element_cap:
        scan.elements = int(_COUNT(root))
    scan.too_deep = bool(_TOO_DEEP(root))
    if detect and profiles is not None:
        from .extract import detect_family

        fam = detect_family(root, profiles)
        scan.family = fam.name if fam is not None else None
    if postbacks:
        forms = root.xpath("//form[.//input[@name='__VIEWSTATE']]")
        if forms:
            scan.has_form = True
            scan.viewstate = str(forms[0].xpath("string(.//input[@name='__VIEWSTATE']/@value)"))
            for href in postbacks:
                m = POSTBACK.search(href)
                if not m:
                    continue
                target, arg = m.groups()
                if (target, arg) in scan.postbacks or not (
                        rules.postback_arg.match(arg) and rules.postback_target.search(target)):
                    continue
                # What a browser does for javascript:__doPostBack(target, arg): POST the
                # whole form (with its __VIEWSTATE) with __EVENTTARGET/__EVENTARGUMENT
                # set, no button.
                try:
                    scan.postbacks[(target, arg)] = form2request(
                        forms[0], {"__EVENTTARGET": target, "__EVENTARGUMENT": arg},
                        click=False)
                except Exception as exc:  # noqa: BLE001 - raised where the request is made
                    scan.postbacks[(target, arg)] = exc
    return scan
