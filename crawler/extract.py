"""One saved article page -> one clean, normalized record.

``extract_article(html, url)`` is a pure function over bytes: decode (weighing the
declared charset against the bytes), parse once with lxml, prune once, recognize the
layout family from the page itself, read every field from the family's profile
(``families.toml``), and fall back to trafilatura only when no family matches.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from . import dates
from .encoding import decode_html, looks_binary
from .generic import Reader, following, in_chrome
from .profiles import Family, Profiles, load
from .templates import SiteTemplate, strip_template
from .text import clean

FIELDS = (
    "url", "site", "family", "title", "published", "summary", "body", "captions",
    "images", "byline", "source", "attachments", "language", "warnings",
)

WARNINGS = {
    "empty_input": "the file is empty",
    "not_html": "the bytes are not an HTML page (binary data)",
    "truncated_html": "the document ends before </html>; text may be cut off",
    "charset_mismatch": "the declared charset contradicts the bytes; decoded as {}",
    "generic_fallback": "no layout family matched; generic extraction (trafilatura) used",
    "not_article": "this looks like a listing, home or search page, not an article",
    "no_title": "no title found",
    "no_body": "no article text found",
    "no_date": "no publication date found anywhere on the page",
    "date_from_body": "the layout shows no date; taken from the article text",
    "year_inferred": "the date shows no year; the year was taken from elsewhere on the page",
    "date_parsed_loosely": "the date slot was read by dateparser, not a known pattern",
    "field_fallback": "the layout family's {} failed validation; read generically",
}

_BLOCK = frozenset(
    "p div section article main header footer aside nav h1 h2 h3 h4 h5 h6 li ul ol dl dt dd "
    "blockquote figure figcaption center pre address tr td th tbody thead tfoot caption form "
    "fieldset table hr head item list row cell quote".split()
)
# Elements that may hold a list of dated links ("Tin cùng chuyên mục" as <p> rows).
_ROW_HOLDERS = frozenset(("div", "section", "aside"))
# What sits beside the links of such a list: dates, times, bullets, brackets, separators.
_LIST_MARKS = re.compile(r"\d{1,4}(?:[/.:-]\d{1,4}){1,2}|[»›•·▪►\-–|()\[\]{},;:.]")
# What stands between the links of an attachment line ("<a>A</a>; <a>B</a>").
_LINK_SEPARATORS = re.compile(r"\s*[;,|/]+\s*(?=[;,|/]|$)|(?<=:)\s*[;,|/]+")
_HEADINGS = frozenset("h1 h2 h3 h4 h5 h6 head".split())
_ITALIC = frozenset(("em", "i"))
_BOLD = frozenset(("strong", "b"))
_STYLE_ALIGN = re.compile(r"text-align\s*:\s*(right|center|justify|left)", re.I)
_STYLE_ITALIC = re.compile(r"font-style\s*:\s*italic", re.I)
_STYLE_BOLD = re.compile(r"font-weight\s*:\s*(bold|[6-9]00)", re.I)
# Utility classes that style a line (Bootstrap, Tailwind, CMS themes).
_CLASS_RIGHT = re.compile(r"(?i)(^|\s)(text-(right|end)|align-?right|right|pull-right|float-end|tr)(\s|$)")
_CLASS_CENTER = re.compile(r"(?i)(^|\s)(text-center|align-?center|center|tc)(\s|$)")
_CLASS_BOLD = re.compile(r"(?i)(^|\s)(fw-bold|font-bold|font-weight-bold|bold|b)(\s|$)")
_CLASS_ITALIC = re.compile(r"(?i)(^|\s)(fst-italic|font-italic|italic)(\s|$)")
_SOURCE = re.compile(r"^\(?\s*nguồn\s*:\s*(?P<src>.+?)\s*\)?\s*\.?$", re.I)
_BYLINE_PREFIX = re.compile(
    r"^(tin|bài|ảnh|tin, ảnh|tin và ảnh|bài, ảnh|bài và ảnh|bài và ảnh|tin - ảnh|"
    r"pv|phóng viên|ctv|cộng tác viên|tác giả|người viết)\b", re.I
)
_SENTENCE_END = re.compile(r"(\./\.|[.;:!?…])$")


@dataclass
class Block:
    kind: str  # "p", "img", "table"
    text: str = ""
    src: str = ""
    align: str = ""
    italic: bool = False
    bold: bool = False
    caption_hint: bool = False
    skip_image: bool = False
    extra: bool = False  # text the main-content choice left out (generic reading)
    heading: bool = False  # an <h1>-<h6> (a subheading of the text, never a caption)
    cites_doc: bool = False  # a sentence with a link to a document (trafilatura drops those)


@dataclass
class _Ctx:
    align: str = ""
    italic: bool = False
    bold: bool = False
    caption: bool = False
    doc_link: bool = False
    heading: bool = False


class _Walker:
    """Turns an element tree into paragraphs, images and tables, in reading order."""

    def __init__(self, url: str, profiles: Profiles):
        self.url = url
        self.profiles = profiles
        self.blocks: list[Block] = []
        self.chunks: list[tuple[str, bool, bool, bool]] = []
        self.para_ctx: _Ctx | None = None
        self.root = None  # the element the walk starts at (never itself a link list)
        self.doc_seen = False  # the paragraph being read links a document (icon links too)

    def flush(self) -> None:
        if self.chunks:
            text = clean("".join(c[0] for c in self.chunks))
            visible = [c for c in self.chunks if c[0].strip()]
            # A line that is a link to a document, with at most a label ("Tài liệu kèm
            # theo:"), is an attachment (listed in `attachments`), not article text.
            doc_line = False
            if self.doc_seen or any(c[3] for c in visible):
                label = _LINK_SEPARATORS.sub(" ", clean("".join(
                    c[0] for c in visible if not c[3]))).strip("-–—•·*»›+ ")
                doc_line = not label or (len(label) <= 40 and label.endswith(":"))
            if text and not doc_line:
                ctx = self.para_ctx or _Ctx()
                raw = "".join(c[0] for c in self.chunks)
                # A short line pushed right with runs of spaces (&nbsp;): right-aligned.
                pushed = len(text) <= 120 and len(raw) - len(raw.lstrip()) >= 8
                self.blocks.append(Block(
                    "p", text, align="right" if pushed and ctx.align in ("", "justify", "left")
                    else ctx.align,
                    cites_doc=any(c[3] for c in visible),
                    italic=all(c[1] for c in visible), bold=all(c[2] for c in visible),
                    caption_hint=ctx.caption, heading=ctx.heading,
                ))
        self.chunks = []
        self.para_ctx = None
        self.doc_seen = False

    def add(self, text: str | None, ctx: _Ctx) -> None:
        if text:
            if not self.chunks:
                self.para_ctx = ctx
            self.chunks.append((text, ctx.italic, ctx.bold, ctx.doc_link))

    def walk(self, el, ctx: _Ctx) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.lower().rpartition("}")[2]
        if tag == "br":
            self.flush()
            return
        if tag in ("img", "graphic"):
            self.flush()
            src = el.get("src") or el.get("data-src") or ""
            if src and not src.startswith("data:"):
                self.blocks.append(Block(
                    "img", src=urljoin(self.url, src.strip()),
                    skip_image=ctx.doc_link or self._tiny(el)
                    or bool(self.profiles.image_skip.search(src)),
                ))
            return
        if (tag in ("ul", "ol", "table", "dl") or (tag in _ROW_HOLDERS and el is not self.root)) \
                and self._is_link_list(el):
            self.flush()
            return  # "Các tin đã đưa" and friends: a list of links to other pages
        if tag == "table" and self._is_data_table(el):
            self.flush()
            rows = []
            for tr in el.iter("tr", "row"):
                cells = [clean(c.text_content() if hasattr(c, "text_content") else
                               "".join(c.itertext()))
                         for c in tr if isinstance(c.tag, str)]
                cells = [c for c in cells if c]
                if cells:
                    rows.append(" | ".join(cells))
            if rows:
                self.blocks.append(Block("table", "\n".join(rows)))
            return
        if not tag:  # comment or processing instruction
            return
        block = tag in _BLOCK
        style = el.get("style") or ""
        klass = el.get("class") or ""
        child_ctx = _Ctx(ctx.align, ctx.italic, ctx.bold, ctx.caption, ctx.doc_link,
                         ctx.heading or tag in _HEADINGS)
        align = el.get("align") or ""
        m = _STYLE_ALIGN.search(style)
        if m:
            align = m.group(1)
        elif klass and _CLASS_RIGHT.search(klass):
            align = "right"
        elif klass and _CLASS_CENTER.search(klass):
            align = "center"
        if align:
            child_ctx.align = align.lower()
        if (tag in _ITALIC or _STYLE_ITALIC.search(style) or el.get("rend") == "#i"
                or (klass and _CLASS_ITALIC.search(klass))):
            child_ctx.italic = True
        if (tag in _BOLD or _STYLE_BOLD.search(style) or el.get("rend") == "#b"
                or tag in _HEADINGS or (klass and _CLASS_BOLD.search(klass))):
            child_ctx.bold = True
        if tag == "figcaption" or (klass and self.profiles.generic.caption_class.search(klass)):
            child_ctx.caption = True
        if tag == "a" and self._is_doc(el.get("href") or ""):
            child_ctx.doc_link = True
            self.doc_seen = True
        if block:
            self.flush()
        self.add(el.text, child_ctx)
        for child in el:
            self.walk(child, child_ctx)
            if child.tail:
                self.add(child.tail, child_ctx)
        if block:
            self.flush()

    def _is_doc(self, href: str) -> bool:
        return _doc_file(urlsplit(href).path, self.profiles) is not None

    @staticmethod
    def _is_link_list(el) -> bool:
        """Three links or more that make up most of the element's text, not counting the
        dates, bullets and brackets beside them ("» <a>Giải bóng chuyền …</a> (25/09/2024)")."""
        links = [a for a in el.iter("a") if a.get("href")]
        if len(links) < 3:
            return False
        linked = sum(len(clean(a.text_content())) for a in links)
        total = len(clean(el.text_content()))
        if not linked or linked >= 0.7 * total:
            return bool(linked)
        if linked < 0.4 * total:
            return False
        # Count without the marks: only words outside the links are against a list.
        total = len(clean(_LIST_MARKS.sub(" ", el.text_content())))
        linked = len(clean(_LIST_MARKS.sub(" ", " ".join(a.text_content() for a in links))))
        return linked >= 0.7 * total

    @staticmethod
    def _tiny(img) -> bool:
        for attr in ("width", "height"):
            v = (img.get(attr) or "").strip().rstrip("px")
            if v.isdigit() and int(v) < 40:
                return True
        return False

    @staticmethod
    def _is_data_table(table) -> bool:
        """Text tables are kept as text; tables that lay out images or whole articles are walked."""
        if table.xpath(".//img | .//graphic | .//table"):
            return False
        texts = [clean("".join(c.itertext())) for c in table.iter("td", "th", "cell")]
        return bool(texts) and max(len(t) for t in texts) <= 400


@dataclass
class Record:
    """The extracted article; ``as_dict()`` gives the documented JSON shape."""

    url: str
    site: str
    family: str = "generic"
    title: str | None = None
    published: str | None = None
    summary: str | None = None
    body: str | None = None
    captions: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    byline: str | None = None
    source: str | None = None
    attachments: list[dict] = field(default_factory=list)
    language: str | None = "vi"
    warnings: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        """What the page's relative links resolve against: its <base href>, else its URL."""
        return self.__dict__.get("_base") or self.url

    def warn(self, code: str, *args) -> None:
        if not any(w.split(":", 1)[0] == code for w in self.warnings):
            self.warnings.append(f"{code}: {WARNINGS[code].format(*args)}")

    def warnings_has(self, code: str) -> bool:
        return code in self.warning_codes

    @property
    def warning_codes(self) -> list[str]:
        return [w.split(":", 1)[0] for w in self.warnings]

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in FIELDS}


def site_of(url: str) -> str:
    """The host (lowercase) with a non-default port, e.g. ``sgddt.backan.gov.vn``."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and (parts.scheme, port) not in (("http", 80), ("https", 443)):
        return f"{host}:{port}"
    return host


def _first(selectors, root, article) -> list:
    for sel in selectors:
        found = sel(root, article)
        if found:
            return found
    return []


def _text(el) -> str:
    return clean(" ".join(el.itertext())) if el is not None else ""


# Control characters (Word's vertical tab, stray NULs) are not allowed in an XML tree.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _html_classes():
    """lxml.html's element classes (HtmlElement; FormElement, InputElement, ... by tag)
    chosen in C: lxml.html's own lookup is a Python method called for every element
    object made (about 300 a page; reading a demo portal page: 1.85 -> 1.82 ms)."""
    fallback = etree.ElementDefaultClassLookup(
        element=lxml_html.HtmlElement, comment=lxml_html.HtmlComment,
        pi=lxml_html.HtmlProcessingInstruction, entity=lxml_html.HtmlEntity)
    lookup = etree.ElementNamespaceClassLookup(fallback)
    by_tag = lookup.get_namespace(None)
    for tag, cls in lxml_html.HtmlElementClassLookup._default_element_classes.items():
        by_tag[tag] = cls
    return lookup


_HTML_CLASSES = _html_classes()
_PARSERS = threading.local()  # an lxml parser is used by one thread at a time


def _parser():
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
        parser.set_element_class_lookup(_HTML_CLASSES)
        _PARSERS.parser = parser
    return parser


def _parse(text: str, base_url: str | None = None):
    text = _CONTROL.sub(" ", text)
    parser = _parser()
    try:
        return lxml_html.document_fromstring(text.encode("utf-8"), parser=parser,
                                             base_url=base_url)
    except (etree.ParserError, ValueError):
        return None


def _meta(root, *names: str) -> str | None:
    for name in names:
        found = root.xpath(f"//meta[@property='{name}' or @name='{name}' or @itemprop='{name}']/@content")
        if found and found[0].strip():
            return found[0].strip()
    return None


def detect_family(root, profiles: Profiles | None = None) -> Family | None:
    """The first family whose markers are on the page, else None (generic)."""
    profiles = profiles or load()
    for fam in profiles.families:
        if any(sel(root) for sel in fam.detect):
            return fam
    return None


def extract_article(html: bytes | str, url: str, *, content_type: str | None = None,
                    profiles: Profiles | None = None, family: str = "auto",
                    template: SiteTemplate | None = None) -> dict:
    """Extract one article record (see FIELDS and docs) from a page's bytes or text.

    ``family``: ``auto`` (recognize it from the page), ``generic`` (family rules off) or
    a family's name (its rules, whatever the page looks like). ``template``: the site's
    learned template (crawler.templates), whose blocks never reach a field."""
    return extract_record(html, url, content_type=content_type, profiles=profiles,
                          family=family, template=template).as_dict()


@dataclass
class Page:
    """A page decoded and parsed once; the spider reads its links, the extractor its record."""

    url: str
    root: object | None  # lxml HtmlElement, or None when there is nothing to parse
    warnings: list[str]  # codes found while reading (charset_mismatch, truncated_html, ...)
    encoding: str | None = None
    unreadable: str | None = None  # empty_input | not_html


def read_page(html: bytes | str, url: str, *, content_type: str | None = None) -> Page:
    """Decode (weighing the declared charset against the bytes) and parse with lxml."""
    codes: list[str] = []
    encoding = None
    if isinstance(html, str):
        text = html
        if not text.strip():
            return Page(url, None, codes, unreadable="empty_input")
    else:
        if not html.strip():
            return Page(url, None, codes, unreadable="empty_input")
        if looks_binary(html):
            return Page(url, None, codes, unreadable="not_html")
        decoded = decode_html(html, content_type)
        text, encoding = decoded.text, decoded.encoding
        if decoded.mismatch:
            codes.append("charset_mismatch")
    if "<" not in text[:2048] or not re.search(r"<\s*(html|body|head|div|p|!doctype)\b", text, re.I):
        return Page(url, None, codes, encoding, unreadable="not_html")
    if not re.search(r"</html\s*>", text[-2048:], re.I):
        codes.append("truncated_html")
    root = _parse(text, base_url=url)
    if root is None:
        return Page(url, None, codes, encoding, unreadable="not_html")
    return Page(url, root, codes, encoding)


def extract_record(html: bytes | str | Page, url: str, *, content_type: str | None = None,
                   profiles: Profiles | None = None, family: str = "auto",
                   template: SiteTemplate | None = None) -> Record:
    """The record of one page; ``html`` may be a ``Page`` already read (its tree is consumed)."""
    profiles = profiles or load()
    forced = None
    if family != "auto":
        chosen = profiles.family(family)
        if chosen is None and family != "generic":
            known = ", ".join(["auto", "generic", *(f.name for f in profiles.families)])
            raise ValueError(f"unknown family {family!r} (known: {known})")
        profiles = dataclasses.replace(profiles, families=[chosen] if chosen else [])
        forced = chosen
    page = html if isinstance(html, Page) else read_page(html, url, content_type=content_type)
    rec = Record(url=url, site=site_of(url))
    for code in page.warnings:
        rec.warn(code, page.encoding)
    if page.unreadable:
        return _unreadable(rec, page.unreadable)
    root = page.root
    page.root = None  # pruned and rearranged below: not for reuse
    base = root.xpath("string(//base/@href)").strip()
    if base:
        rec._base = urljoin(url, base)
    if profiles.prune_tags:  # scripts, styles, forms' inputs: one C-level pass, tails kept
        etree.strip_elements(root, *profiles.prune_tags, with_tail=False)
    for el in profiles.prune(root) if profiles.prune is not None else ():
        if el.getparent() is not None:
            el.drop_tree()
    family = forced or detect_family(root, profiles)
    if family is not None:
        rec.family = family.name
        _extract_family(root, family, profiles, rec, template)
    else:
        if template:
            strip_template(root, template)
        _extract_generic(root, profiles, rec)
    return rec


def _unreadable(rec: Record, code: str) -> Record:
    """Nothing to read: the record says why, and claims no language."""
    rec.language = None
    rec.warn(code)
    return rec


def _protect(*els) -> set:
    """Elements that must survive widget removal: the fields and all their ancestors."""
    keep = set()
    for el in els:
        while el is not None:
            keep.add(el)
            el = el.getparent()
    return keep


def _drop_widgets(scopes, profiles: Profiles, selectors, keep: set) -> list:
    """Remove widgets; return them (detached) since a year-less date may need their dates.

    One walk drops elements whose class or id names a widget (``drop_class``/``drop_id``),
    without descending into what it dropped; then the structural XPath rules run."""
    dropped = []
    by_class, by_id = profiles.drop_class.search, profiles.drop_id.search
    for scope in scopes:
        if scope is None:
            continue
        stack = [scope]
        while stack:
            for child in list(stack.pop()):
                if not isinstance(child.tag, str):
                    continue
                klass, ident = child.get("class"), child.get("id")
                if child not in keep and ((klass and by_class(klass)) or (ident and by_id(ident))):
                    child.drop_tree()
                    dropped.append(child)
                else:
                    stack.append(child)
        for sel in selectors:
            for el in sel.compiled(scope):
                if el not in keep and el.getparent() is not None:
                    el.drop_tree()
                    dropped.append(el)
    return dropped


def _extract_family(root, family: Family, profiles: Profiles, rec: Record,
                    template: SiteTemplate | None = None) -> None:
    """Read the fields through the family's rules, check each, and fall back to the generic
    reading of a field that fails (a warning names it). A page the family recognizes but
    cannot read is read generically, never dropped."""
    reader = Reader(root, rec.url, profiles.generic)
    articles = _first(family.article, root, None)
    article = articles[0] if articles else None
    titles = _first(family.title, root, article)
    title_el = next((t for t in titles if _text(t)), None)
    bodies = _first(family.body, root, article)
    body_el = bodies[0] if bodies else None
    summaries = _first(family.summary, root, article)
    summary_el = next((s for s in summaries if _text(s)), None)
    if article is None or body_el is None:
        if template:
            strip_template(root, template)
        # No article container: a listing or home page, or a theme the rules miss. The
        # generic reader decides (listings, home and static pages are not articles), so a
        # family's missing markup never costs an article.
        _extract_generic(root, profiles, rec, reader, family=family)
        return
    keep = _protect(title_el, body_el, summary_el)
    # Related lists, comments and share bars go before dates are read, so a related
    # article's date is never taken for this one's.
    inside = article in set(body_el.iterancestors()) or body_el is article
    scopes = [article] if inside else [article, body_el]
    dropped = _drop_widgets(scopes, profiles, profiles.drop + family.drop, keep)
    if template:
        strip_template(root, template, keep=(title_el, summary_el), scope=article)
    if title_el is None and not _text(body_el):
        _extract_generic(root, profiles, rec, reader, family=family)
        return
    title = _text(title_el)
    chrome = title_el is None or reader.is_chrome_title(title_el, title)
    if chrome or (reader.agreement(title) < 0.6
                  and reader.best_agreement() >= reader.agreement(title) + 0.3):
        # Checked against the evidence: a chrome title always, one the page's references
        # disagree with when another heading agrees much better.
        best = reader.headline(body_el, prior=None if chrome else title_el)
        if best is not None and best.el is not title_el and (
                chrome or best.agreement >= reader.agreement(title) + 0.3):
            title_el, title = best.el, best.text
            rec.warn("field_fallback", "title")
    rec.title = title or reader.fallback_title()
    if summary_el is None and title_el is not None:
        summary_el = reader.lead(title_el, body_el, text_start=body_el)
        if summary_el is not None and body_el in set(summary_el.iterancestors()) and not (
                _marked_lead(summary_el, profiles)):
            summary_el = None  # inside the body: the body's own rules decide
    rec.summary = _text(summary_el) or None
    slot_texts = [_text(el) for el in _first(family.date, root, article)]
    _assign_date(root, rec, slot_texts, body_el, dropped, reader=reader,
                 near=lambda: reader.date_texts(title_el, body_el, summary_el))
    schedule = _schedule_like(body_el)
    summary = rec.summary
    if not schedule:
        _read_body(body_el, rec, profiles, article)
        _images_before_body(title_el, body_el, rec, profiles)
        _lines_after_body(body_el, article, rec, profiles)
    min_chars = profiles.generic.min_article_chars
    if len(rec.body or "") < min_chars:
        # The family's body slot is empty or held little text once read (another
        # portlet, a schedule): the page's main text, when it has much more, is the
        # article's.
        container, chosen = _main_text(reader, profiles.generic)
        if container is None and not rec.body and not rec.images:
            # Nothing in the family's slot and no article text on the page: a listing
            # page of the family's layout (an asset publisher's page 2), not an article.
            _not_article(rec)
            return
        if container is not None and len(chosen or "") >= max(3 * len(rec.body or ""), min_chars):
            rec.body, rec.byline, rec.source, rec.summary = None, None, None, summary
            rec.images, rec.captions, rec.attachments = [], [], []
            rec.warnings = [w for w in rec.warnings if not w.startswith("no_body")]
            rec.warn("field_fallback", "body")
            _drop_widgets([container], profiles, profiles.drop, _protect(title_el))
            _read_body(container, rec, profiles, container, chosen)
            _lines_after_body(container, container.getparent(), rec, profiles)
            return
    if schedule:
        _not_article(rec)
        return
    _static_page(rec, profiles, family)


def _marked_lead(el, profiles: Profiles) -> bool:
    """The element says it is the lead: a lead class (sapo, lede, tomtat…) or
    ``itemprop="description"``."""
    klass = el.get("class") or ""
    return el.get("itemprop") == "description" or bool(
        klass and profiles.generic.summary_class.search(klass)
        and not profiles.generic.caption_class.search(klass))


def _images_before_body(title_el, body_el, rec: Record, profiles: Profiles) -> None:
    """Images printed between the headline and the text (a lead photo in its own field)
    are the article's first images, with the caption shown with them; an author element
    there (``div.tacgia``) is the byline when the text has none."""
    if title_el is None or body_el is None or title_el in set(body_el.iterancestors()):
        return
    found: list[dict] = []
    steps = 0
    for el in following(title_el):
        steps += 1
        if el is body_el or steps > 60:
            break
        if (rec.byline is None and isinstance(el.tag, str) and el.tag != "a"
                and profiles.generic.author_class.search(
                    f"{el.get('class') or ''} {el.get('id') or ''}")):
            text = _byline_value(el)
            if 2 < len(text) <= 90:  # "Tác giả: …" above the text
                rec.byline = text  # as shown ("Người viết: …" keeps its label)
            continue
        image = _content_image(el, rec, profiles)
        if image is not None:
            found.append(image)
    if found:
        for image in found:
            image["paragraph"] = 0  # above the text
        rec.images[:0] = found
        rec.captions[:0] = [im["caption"] for im in found if im["caption"]]


def _content_image(el, rec: Record, profiles: Profiles) -> dict | None:
    """``{src, caption}`` for an image of the article found outside its body (a lead photo,
    an image field, a gallery under the text); None for icons, teaser thumbnails, chrome,
    linked images and images already listed."""
    if el.tag != "img" or not el.get("src") or el.get("src", "").startswith("data:"):
        return None
    src = urljoin(rec.base, el.get("src").strip())
    drop_class = profiles.drop_class.search
    if (_Walker._tiny(el) or profiles.image_skip.search(src)
            or any(_links_elsewhere(a, src) or drop_class(a.get("class") or "")
                   for a in el.iterancestors())
            or any(src == im["src"] for im in rec.images) or _by_teaser(el)
            or in_chrome(el, profiles.generic) or any(
                profiles.generic.author_class.search(f"{a.get('class') or ''} {a.get('id') or ''}")
                for a in (el, *itertools.islice(el.iterancestors(), 3)))):
        return None  # (the last: an author box's photo)
    caption = None
    holder = el.getparent()
    for _ in range(2):
        if holder is None or len(holder.xpath(".//img")) > 1:
            break  # a gallery's other captions are not this image's
        for cap in holder.iter():
            if cap is el or not isinstance(cap.tag, str):
                continue
            klass = cap.get("class") or ""
            if (cap.tag == "figcaption" or profiles.generic.caption_class.search(klass)
                    or cap.tag in _ITALIC):
                caption = _text(cap) or None
                break
        if caption:
            break
        holder = holder.getparent()
    return {"src": src, "caption": caption}


_IMAGE_FILE = re.compile(r"(?i)\.(jpe?g|png|gif|webp|bmp|tiff?)(\?.*)?$")


def _links_elsewhere(el, src: str) -> bool:
    """A link around an image that goes somewhere else than the image itself (a teaser,
    a banner); a link to the full-size file is part of the photo."""
    if el.tag != "a":
        return False
    href = (el.get("href") or "").strip()
    return bool(href) and not _IMAGE_FILE.search(href)


def _by_teaser(img) -> bool:
    """An image next to a link with a headline's text: a teaser's thumbnail."""
    holder = img.getparent()
    for _ in range(2):
        if holder is None or len(_text(holder)) > 400:
            return False  # a teaser is a small block; this is an article or a page
        if any(len(_text(a)) >= 25 for a in holder.iter("a")):
            return True
        holder = holder.getparent()
    return False




# Labels of a byline or source field printed apart from its value ("Tác giả" | "Thu Hằng").
_FIELD_LABELS = {"tác giả": "byline", "người viết": "byline", "bút danh": "byline",
                 "nguồn": "source", "nguồn tin": "source"}


def _byline_value(el) -> str:
    """An author element's text; a field label in an element of its own ("<div
    class=field__label>Tác giả</div><div>Bảo Châu</div>") is left out, as in the
    labelled fields under the text."""
    parts = [c for c in el if isinstance(c.tag, str)]
    if len(parts) >= 2 and _text(parts[0]).rstrip(": ").lower() in _FIELD_LABELS:
        return clean(" ".join(_text(c) for c in parts[1:]))
    return _text(el)


def _lines_after_body(body_el, scope, rec: Record, profiles: Profiles) -> None:
    """A byline or ``Nguồn:`` line printed after the body, outside it (its own element
    under the text), read from the short lines that follow within the article."""
    inside = set(scope.iter()) if scope is not None and scope is not body_el else None
    steps = 0
    pending = None
    for el in following(body_el):
        steps += 1
        if steps > 40 or (inside is not None and el not in inside):
            break
        if el.tag == "a":
            _collect_attachments(el, rec, profiles)  # "Tệp đính kèm" under the text
            continue
        if el.tag == "img":
            image = _content_image(el, rec, profiles)  # an image field, a gallery
            if image is not None:
                image["paragraph"] = len(rec.body.split("\n\n")) if rec.body else 0
                rec.images.append(image)
                if image["caption"]:
                    rec.captions.append(image["caption"])
            continue
        if rec.byline is not None and rec.source is not None:
            continue
        if not isinstance(el.tag, str) or any(
                isinstance(c.tag, str) and c.tag in _BLOCK for c in el):
            continue
        text = _text(el)
        if not text:
            continue
        if len(text) > 200:
            break  # more prose: another block, not this article's signature
        if _in_link_list(el):
            continue  # other news with their dates: never this article's date or byline
        if _in_table_row(el):
            continue  # a cell of a table (an attachment list's "STT"), never a signature
        attrs = f"{el.get('class') or ''} {el.get('id') or ''}"
        if _boilerplate(text, profiles) or any(
                profiles.drop_class.search(a.get("class") or "")
                for a in (el, *el.iterancestors()) if inside is None or a in inside):
            continue  # a comment's author and date, a share bar: not this article's
        label = text.rstrip(": ").lower()
        if label in _FIELD_LABELS:
            pending = _FIELD_LABELS[label]  # Drupal-like fields: the value comes next
            continue
        if pending == "source" and rec.source is None:
            rec.source, pending = text, None
            continue
        if pending == "byline" and rec.byline is None:
            rec.byline, pending = text, None
            continue
        m = _SOURCE.match(text)
        if m and rec.source is None:
            rec.source = m.group("src")
            continue
        if (rec.warnings_has("date_from_body") or rec.published is None) and _is_meta_line(text):
            # "Ngày đăng bài: 23/05/2024 14:05" printed under the text: the page's date.
            found = dates.find_date(text, allow_yearless=False)
            if found:
                rec.published = found.value
                rec.warnings = [w for w in rec.warnings
                                if w.split(":", 1)[0] not in ("date_from_body", "no_date")]
                continue
        if rec.byline is None:
            klass = el.get("class") or ""
            style = el.get("style") or ""
            align = (el.get("align") or "").lower()
            if not align and (_CLASS_RIGHT.search(klass) or "right" in (
                    _STYLE_ALIGN.search(style) or [""])[0]):
                align = "right"
            block = Block("p", text, align=align,
                          bold=el.tag in _BOLD or bool(_CLASS_BOLD.search(klass)
                                                       or _STYLE_BOLD.search(style)),
                          italic=el.tag in _ITALIC or bool(_CLASS_ITALIC.search(klass)))
            if profiles.generic.author_class.search(attrs) or (
                    len(text) <= 60 and _is_byline(block, 2)):
                rec.byline = text  # as shown ("Người viết: …" keeps its label)


def _in_table_row(el) -> bool:
    """``el`` is (inside) a cell of a table row with two cells or more."""
    for anc in (el, *itertools.islice(el.iterancestors(), 4)):
        if anc.tag == "tr":
            return sum(1 for c in anc if c.tag in ("td", "th")) >= 2
    return False


def _page_title(root) -> str | None:
    og = _meta(root, "og:title")
    if og:
        return clean(og)
    t = root.find(".//title")
    return clean(t.text_content()) or None if t is not None else None


_BARE_DAY_MONTH = re.compile(r"([0-3]?\d)\s*[/.-]\s*([01]?\d)")


def _assign_date(root, rec: Record, slot_texts: list[str], body_el, dropped=(),
                 near=None, reader: Reader | None = None) -> None:
    """The date line by the headline (``near``) and the family's date slot -> a year-less
    or bare day/month there -> a labelled date line elsewhere -> the body text ->
    nothing: the date a reader is shown, never one only in meta tags or ``<time
    datetime>`` attributes (a warning for each fallback)."""
    # The line by the headline first: a family's date slot ({cls:date} anywhere in the
    # article) can hold another article's date; the headline's own line cannot. A slot
    # that holds a whole block of text (a wrapper whose class says "date") is no date line.
    slot_texts = [t for t in slot_texts if len(t) <= 300]
    near_texts = near() if near is not None else []
    for text in (*near_texts, *slot_texts):
        found = dates.find_date(text, allow_yearless=False)
        if found:
            rec.published = found.value
            return
    year = None
    for text in (*slot_texts, *near_texts):
        if dates.has_yearless(text):
            year = year or _page_year([root, *dropped], rec)
            found = dates.find_date(text, default_year=year)
            if found:
                rec.published = found.value
                rec.warn("year_inferred")
                return
    for text in slot_texts:
        # A date slot that holds only "15/11": the day and month of the article.
        m = _BARE_DAY_MONTH.fullmatch(text.strip())
        if m:
            year = year or _page_year([root, *dropped], rec)
            if year and (found := dates.find_date(f"ngày {m.group(1)}/{m.group(2)}",
                                                   default_year=year)):
                rec.published = found.value
                rec.warn("year_inferred")
                return
    if reader is not None and (found := _labelled_date_line(root, reader)):
        # "Cập nhật: 09/04/2024 10:45" alone in a bar away from the headline (a path
        # bar, a toolbar): the page's own date line, when it is the only such line.
        rec.published = found
        return
    if body_el is not None:
        found = dates.find_date(_text(body_el), allow_yearless=False, with_time=False)
        if found:
            rec.published = found.value
            rec.warn("date_from_body")
            return
    # Dates only in <meta> tags or <time datetime> attributes are not shown to a reader:
    # `published` stays empty (the page, kept raw in the archive, still holds them).
    for text in slot_texts:
        if (loose := dates.parse_with_dateparser(text)):
            rec.published = loose
            rec.warn("date_parsed_loosely")
            return
    rec.warn("no_date")


_DATE_LABEL = re.compile(r"(?i)^\s*(ngày\s+)?(cập nhật|đăng|đăng lúc|đăng ngày|ngày đăng|"
                         r"xuất bản|posted|published)\b")


def _labelled_date_line(root, reader: Reader) -> str | None:
    """The one date line on the page that says what it dates ("Cập nhật:", "Ngày đăng:")
    outside chrome (sidebars, footers, menus), link lists and widgets; None when there
    is none or they disagree."""
    found = set()
    for el in root.iter():
        text = el.text if isinstance(el.tag, str) else None
        if not text or not _DATE_LABEL.match(text):
            continue
        line = _text(el)
        ancestors = (el, *el.iterancestors())
        if not _is_meta_line(line) or reader.in_chrome(el) or reader.in_teaser_run(el) or any(
                a.tag in ("li", "dd") or reader.rules.date_skip_class.search(a.get("class") or "")
                for a in ancestors):
            continue
        day = dates.find_date(line, allow_yearless=False)
        if day:
            found.add(day.value)
    return found.pop() if len(found) == 1 else None


def _page_year(elements, rec: Record) -> int | None:
    texts = [_text(el) for el in elements]
    year = dates.page_year(texts)
    if year is None:
        years = dates.YEAR.findall(" ".join(filter(None, (rec.title, *texts))))
        year = int(max(set(years), key=years.count)) if years else None
    return year


def _read_body(body_el, rec: Record, profiles: Profiles, article, chosen: str | None = None,
               known_captions: dict | None = None) -> None:
    """Walk the body element; with ``chosen`` (the text a main-content extractor chose),
    paragraphs outside it are marked extra: kept only as captions, byline or source."""
    walker = _Walker(rec.base, profiles)
    walker.root = body_el
    walker.walk(body_el, _Ctx())
    walker.flush()
    if chosen is not None:
        for b in walker.blocks:
            if b.kind == "p":  # images and data tables inside the main element are content
                probe = b.text.split("\n", 1)[0].replace(" | ", " ").lower()
                # Short lines must be a whole paragraph of the choice ("57" is in any text).
                # Long prose inside the main element is text even where the choice
                # left it out; short lines must be a whole paragraph of the choice.
                b.extra = False if len(probe) >= 150 or b.cites_doc else (
                    probe not in chosen if len(probe) >= 30 else f" {probe} " not in f" {chosen} ")
        # Lines between two paragraphs of the text (a list of measures, a short line of
        # the story) are the text: trafilatura drops some lists; widgets there are
        # already gone (link lists, share bars).
        text_at = [i for i, b in enumerate(walker.blocks) if b.kind == "p" and not b.extra]
        if text_at:
            first, last = text_at[0], text_at[-1]
            for b in walker.blocks[first:last]:
                if b.kind == "p" and b.extra and len(b.text) >= 20:
                    b.extra = False
    _assemble(walker.blocks, rec, profiles, known_captions)
    _collect_attachments(article if article is not None else body_el, rec, profiles)


def _boilerplate(text: str, profiles: Profiles) -> bool:
    """A toolbar, share or widget line ("Tăng cỡ chữ", "Chia sẻ"): such lines are short,
    so prose is not searched (the expression has an unanchored branch)."""
    return len(text) <= _BOILERPLATE_MAX and bool(profiles.boilerplate.search(text))


_BOILERPLATE_MAX = 300


def _pair_image_rows(blocks: list[Block], known_captions: dict) -> None:
    """Photos side by side with their captions in the row under them (img, img, caption,
    caption): each caption goes to its photo, in order, through ``known_captions``, and
    leaves the blocks."""
    i = 0
    while i < len(blocks):
        k = 0
        while i + k < len(blocks) and blocks[i + k].kind == "img" and not blocks[i + k].skip_image:
            k += 1
        after = blocks[i + k:i + 2 * k]
        if k >= 2 and len(after) == k and all(
                b.kind == "p" and _is_caption(b) for b in after) and not any(
                blocks[i + j].src in known_captions for j in range(k)):
            for j in range(k):
                known_captions[blocks[i + j].src] = after[j].text
            del blocks[i + k:i + 2 * k]
        i += max(k, 1)


def _assemble(blocks: list[Block], rec: Record, profiles: Profiles,
              known_captions: dict[str, str] | None = None) -> None:
    """Blocks -> body paragraphs, images with captions, byline and source.

    ``known_captions`` maps image src to a caption read from the original page, for
    content that went through trafilatura (which drops figcaptions).
    """
    known_captions = known_captions or {}
    caption_texts = set(known_captions.values())
    blocks = [b for b in blocks if b.kind != "p" or not (
        _boilerplate(b.text, profiles) or b.text in caption_texts)]
    paragraphs: list[Block] = []
    anchors: list[tuple[dict, int]] = []  # (image, paragraphs before it), placed at the end
    _pair_image_rows(blocks, known_captions)
    i = 0
    while i < len(blocks):
        b = blocks[i]
        if b.kind == "img":
            caption = None
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            if b.src in known_captions:
                caption = known_captions[b.src]
            elif (not b.skip_image and nxt is not None and nxt.kind == "p"
                    and _is_caption(nxt)):
                caption = nxt.text
                i += 1
            elif (not b.skip_image and i and paragraphs and blocks[i - 1] is paragraphs[-1]
                    and _caption_above(paragraphs[-1])):
                # Printed above its photo: a centred italic line (or a caption element)
                # right before an image that has none under it.
                caption = paragraphs.pop().text
            if not b.skip_image:
                image = {"src": b.src, "caption": caption}
                rec.images.append(image)
                anchors.append((image, len(paragraphs)))
                if caption:
                    rec.captions.append(caption)
        elif b.caption_hint and b.kind == "p" and len(b.text) < 400:
            # A figcaption whose image was chrome or missing: still not body text.
            rec.captions.append(b.text)
        else:
            paragraphs.append(b)
        i += 1
    original = paragraphs

    # Text the main-content choice left out: trailing widgets go, unless they are the
    # source or byline line; elsewhere it never joins the body.
    while paragraphs and paragraphs[-1].extra:
        last = paragraphs[-1]
        if rec.source is None and _SOURCE.match(last.text):
            rec.source = _SOURCE.match(last.text).group("src")
        elif rec.byline is None and _is_byline(last, len(paragraphs)):
            rec.byline = last.text
        paragraphs.pop()
    # A byline the choice left out, just above a kept "Nguồn:" line.
    if (rec.byline is None and len(paragraphs) >= 3 and paragraphs[-2].extra
            and _SOURCE.match(paragraphs[-1].text) and _is_byline(paragraphs[-2], len(paragraphs))):
        paragraphs[-2].extra = False
    paragraphs = [p for p in paragraphs if not p.extra]
    # Date/metadata lines ("Ngày đăng: 12/05/2024 09:30 | Lượt xem: 356") are layout, and
    # so is a short table of fields with a date before the text begins (Ngày đăng | … |
    # Chuyên mục | …).
    paragraphs = [p for p in paragraphs if not _is_meta_line(p.text)]
    prose_at = next((k for k, p in enumerate(paragraphs) if len(p.text) >= 80
                     and p.kind == "p"), len(paragraphs))
    paragraphs = [p for k, p in enumerate(paragraphs) if not (
        k < prose_at and p.kind == "table" and len(p.text) <= 200
        and dates.find_date(p.text, allow_yearless=False))]
    # Source and byline sit at the end; the source line may come after the byline.
    for _ in range(2):
        if paragraphs and rec.source is None:
            m = _SOURCE.match(paragraphs[-1].text)
            if m:
                rec.source = m.group("src")
                paragraphs.pop()
                continue
        if paragraphs and rec.byline is None and _is_byline(paragraphs[-1], len(paragraphs)):
            rec.byline = paragraphs.pop().text
            continue
        break

    # The headline (and a category label above it) printed at the top of the text.
    for k, p in enumerate(paragraphs[:3]):
        if p.text == rec.title:
            del paragraphs[:k + 1]
            break
    plain = [p for p in paragraphs[1:3] if not p.heading]  # a subheading is bold anyway
    if (rec.summary is None and len(paragraphs) >= 3 and paragraphs[0].bold
            and not paragraphs[0].heading and 60 <= len(paragraphs[0].text) <= 800
            and plain and not plain[0].bold):
        # A bold first paragraph before plain ones is the layout's lead (sapo).
        rec.summary = paragraphs.pop(0).text
    if paragraphs and rec.title and paragraphs[0].text == rec.title:
        paragraphs.pop(0)
    if paragraphs and rec.summary and paragraphs[0].text == rec.summary:
        paragraphs.pop(0)
    if rec.summary:
        # A lead shown only inside the body is still the lead, once.
        paragraphs = [p for p in paragraphs if p.text != rec.summary]
    rec.body = "\n\n".join(p.text for p in paragraphs) or None
    # Each image's place: how many of the body's paragraphs come before it.
    kept = {id(p) for p in paragraphs}
    for image, before in anchors:
        image["paragraph"] = sum(1 for p in original[:before] if id(p) in kept)
    if not rec.body and not rec.warnings_has("not_article"):
        rec.warn("no_body")
    if not rec.title:
        rec.warn("no_title")


_META_WORDS = re.compile(
    r"(?i)\b(ngày|đăng|cập nhật|lúc|giờ|lượt xem|lượt đọc|xem|thứ|hai|ba|tư|năm|sáu|bảy|"
    r"chủ nhật|sáng|chiều|tối|by|posted|updated|views?|tăng|giảm|cỡ|chữ|in|bài|viết|gửi|"
    r"email|chia|sẻ|bản|lượt|đọc|bình luận|print|share|tháng|trang|a)\b")


def _is_meta_line(text: str) -> bool:
    """``Ngày đăng: 12/03/2024 08:15 | Lượt xem: 120``: a date and little else."""
    if len(text) > 120 or not (dates.find_date(text, allow_yearless=False)
                               or dates.has_yearless(text)):
        return False
    rest = re.sub(r"[\d/:.,|\-–+()\[\]]+", " ", text)
    rest = _META_WORDS.sub(" ", rest)
    return len(rest.split()) <= 3


def _is_caption(b: Block) -> bool:
    if len(b.text) > 400 or (b.heading and not b.caption_hint):
        return False  # a subheading after a photo without caption is the text's
    if b.caption_hint or b.italic or b.align == "center":
        return True
    # A short line right under a photo, not a sentence of the text: its caption.
    return len(b.text) <= 160 and not _SENTENCE_END.search(b.text) and len(b.text.split()) >= 3


def _caption_above(b: Block) -> bool:
    """A line set as a caption (a caption element, or italic and centred), short."""
    return len(b.text) <= 300 and (b.caption_hint or (b.italic and b.align == "center"))


def _is_byline(b: Block, n_paragraphs: int) -> bool:
    text = b.text
    words = [w for w in text.split() if any(c.isalnum() for c in w)]
    if n_paragraphs < 2 or len(text) > 90 or len(words) > 16:
        return False
    if _BYLINE_PREFIX.match(text):
        return True
    if _SENTENCE_END.search(text) and not text.endswith(")"):
        return False
    if b.align == "right" or b.bold or b.italic:
        return True
    words = text.replace("-", " ").split()
    return len(words) <= 5 and all(w[:1].isupper() for w in words)


def _not_article(rec: Record) -> None:
    """Turn what was read into a not_article record (the title kept for the log)."""
    title = rec.title
    rec.__init__(url=rec.url, site=rec.site, family=rec.family,
                 warnings=[w for w in rec.warnings
                           if w.split(":", 1)[0] not in ("no_date", "no_body", "date_from_body")])
    rec.title = title
    rec.warn("not_article")


def _static_page(rec: Record, profiles: Profiles, family: Family | None = None,
                 markup_missing: bool = False) -> bool:
    """No date anywhere and no article-shaped URL (the family's, or the generic one): a
    static page ("Giới thiệu", "Liên hệ", "Sơ đồ tổ chức"), not news. Says so on the
    record and returns True."""
    # On a family's site read without its article markup, a date only in the text (a
    # static page cites its decisions' dates) says no more than none at all.
    undated = rec.warnings_has("no_date") or (markup_missing and rec.warnings_has(
        "date_from_body"))
    if not undated:
        return False
    # On a family's site its own article shape says it (a static DNN page has a tabid
    # number too); elsewhere the generic shape.
    shaped = family.is_article_url(rec.url) if family else profiles.generic.is_article_url(rec.url)
    if shaped:
        return False
    _not_article(rec)
    return True


def _in_link_list(el) -> bool:
    """``el`` sits in a table or list made of links (a document library, a link box)."""
    for node in (el, *list(el.iterancestors())[:4]):
        if node.tag in ("table", "ul", "ol", "tbody") and _Walker._is_link_list(node):
            return True
    return False


_DATE_IN_ROW = re.compile(r"(?<!\d)[0-3]?\d[/.-][01]?\d(?:[/.-](?:19|20)\d\d)?(?!\d)")


def _schedule_like(el) -> bool:
    """Most of the text is a table whose rows carry dates: a work schedule ("Lịch công
    tác"), a document register, not an article."""
    if el is None:
        return False
    total = len(_text(el))
    for table in el.iter("table"):
        rows = [r for r in table.iter("tr")]
        dated = sum(1 for r in rows if _DATE_IN_ROW.search(_text(r)))
        if dated >= 4 and len(_text(table)) >= 0.5 * total:
            return True
    return False


def _has_date_line(texts: list[str]) -> bool:
    return any(dates.find_date(t, allow_yearless=False) or dates.has_yearless(t) for t in texts)


def _reads_as_article(reader: Reader, best, date_texts: list[str],
                      url_is_article: bool = False) -> bool:
    """Strong evidence for a family page without article markup: the main text starts
    right after a headline, with a date line by it, or on an article-shaped URL of the
    family with a headline the page's references agree with (a static page such as "Sơ
    đồ tổ chức" has prose and a headline too, but neither)."""
    if best is None or reader.text_start is None:
        return False
    gap = reader.text_start - reader.order.get(best.el, 1 << 30)
    if not 0 <= gap < 80:
        return False
    return _has_date_line(date_texts) or url_is_article


def _doc_file(path: str, profiles: Profiles) -> str | None:
    """The document's file name when ``path`` leads to one: its last segment, or a
    segment before a version id (Liferay's ``/documents/…/KH-156.pdf/2a4c…``)."""
    segments = [s for s in path.split("/") if s]
    for seg in reversed(segments[-2:]):
        if seg.lower().rpartition(".")[2] in profiles.attachment_ext and "." in seg:
            return clean(unquote(seg))
    return None


def _collect_attachments(scope, rec: Record, profiles: Profiles) -> None:
    seen = {a["url"]: a for a in rec.attachments}
    for a in scope.iter("a"):
        href = (a.get("href") or "").strip()
        file_name = _doc_file(urlsplit(href).path, profiles) if href else None
        if file_name is None:
            continue
        url = urljoin(rec.base, href)
        text = _text(a)
        if url in seen:
            # An icon link first, the named link next: the document keeps the name.
            if text and seen[url]["name"] == file_name:
                seen[url]["name"] = text
            continue
        seen[url] = {"url": url, "name": text or file_name}
        rec.attachments.append(seen[url])


def _main_text(reader: Reader, rules):
    """(container, chosen text) of the page's main text, or (None, None) when what
    trafilatura chooses is not an article's text. Its precise choice may be a list or a
    widget column beside the article (an "other news" box, a schedule): when that choice
    does not begin under the page's headline, its balanced choice is a second opinion,
    taken when it does."""
    if reader.main_text is None:
        reader.main_text = _choose_main_text(reader, rules)
    return reader.main_text


def _choose_main_text(reader: Reader, rules):
    container, chosen = reader.main_content()
    first = None if _listing_text(reader, container, chosen, rules) else (
        container, chosen, reader.text_start_el, reader.text_start)
    if first is not None and _anchored(reader, container):
        return container, chosen
    container, chosen = reader.main_content(precision=False)
    if not _listing_text(reader, container, chosen, rules) and _anchored(reader, container):
        return container, chosen
    if first is None:
        return None, None
    container, chosen, reader.text_start_el, reader.text_start = first
    reader.chosen_text = chosen
    return container, chosen


def _anchored(reader: Reader, container) -> bool:
    """The chosen text begins shortly after a headline that the page's references
    (og:title, <title>, the URL) agree with: an article's evidence that a home page's
    featured story or a listing's category title does not give."""
    best = reader.headline(container)
    start = reader.text_start
    return best is not None and best.agreement >= 0.6 and start is not None and (
        0 < start - reader.order.get(best.el, start) <= 60)


def _listing_text(reader: Reader, container, chosen: str | None, rules) -> bool:
    """The main text chosen is too short, mostly links, or starts in a run of teasers, a
    link list or chrome, or is a schedule: not an article's text."""
    if len(chosen or "") < rules.min_article_chars:
        return True
    if container is not None:
        text = _text(container)
        links = sum(len(clean(a.text_content())) for a in container.iter("a"))
        if links / max(len(text), 1) > rules.max_link_density:
            return True
    start = reader.text_start_el if reader.text_start_el is not None else container
    return (start is not None and (reader.in_teaser_run(start)
                                   or reader.in_chrome(start, 4, exempt_text=False)
                                   or _in_link_list(start))) or _schedule_like(container)


def _extract_generic(root, profiles: Profiles, rec: Record, reader: Reader | None = None,
                     *, strict: bool = False, url_is_article: bool = False,
                     family: Family | None = None) -> None:
    """No family rule reads this page: trafilatura chooses the main text, the element of
    our tree holding it is read with our rules, and the headline and date line are found
    by evidence (crawler.generic). ``strict``: a page of a known family whose article
    markup is missing (listings, home pages) must show a headline that agrees with the
    page's references and a date line to count as an article."""
    reader = reader or Reader(root, rec.url, profiles.generic)
    rules = profiles.generic
    if rec.family == "generic":
        rec.warn("generic_fallback")
    known_captions = {}
    for fig in rules.figure(root):
        cap = rules.figure_caption(fig)
        if cap and _text(cap[0]):
            for img in fig.iter("img"):
                if img.get("src"):
                    known_captions[urljoin(rec.base, img.get("src").strip())] = _text(cap[0])
    if strict:
        # Cheap check first (no trafilatura): a heading with a date line by it, or one the
        # references agree with on an article-shaped URL.
        early = reader.headline()
        likely = [c for c in sorted(reader.candidates(), key=lambda c: -c[2])[:3]]
        if early is None or not (url_is_article or any(
                _has_date_line(reader.date_texts(el)) for el, _, _ in [(early.el, 0, 0), *likely])):
            rec.warn("not_article")
            rec.title = reader.fallback_title()
            return
    container, chosen = _main_text(reader, rules)
    if chosen is None:
        rec.warn("not_article")
        rec.title = reader.fallback_title()
        return
    best = reader.headline(container)
    title_el = best.el if best is not None else None
    lead = reader.lead(title_el, container)
    date_texts = reader.date_texts(title_el, container, lead)
    if strict and not _reads_as_article(reader, best, date_texts, url_is_article):
        rec.warn("not_article")
        rec.title = reader.fallback_title()
        return
    rec.title = best.text if best is not None else reader.fallback_title()
    rec.summary = _text(lead) or None
    if container is not None:
        keep = _protect(title_el) if title_el is not None else set()
        dropped = _drop_widgets([container], profiles, profiles.drop, keep)
        _read_body(container, rec, profiles, container, chosen, known_captions)
    else:
        dropped = []
    _assign_date(root, rec, [], container, dropped, near=lambda: date_texts, reader=reader)
    if not strict and _static_page(rec, profiles, family, markup_missing=family is not None):
        return
    if not rec.body:
        # A photo album, a form: pictures and captions but no text of its own.
        _not_article(rec)
        return
    _images_before_body(title_el, container, rec, profiles)
    if container is not None:
        # The article's region: the element holding both the headline and the text.
        scope = container.getparent()
        if title_el is not None and title_el not in set(container.iter()):
            above = set(container.iterancestors())
            scope = next((a for a in title_el.iterancestors() if a in above), scope)
        if scope is not None and scope.tag in ("body", "html"):
            scope = container.getparent()
        _lines_after_body(container, scope, rec, profiles)
    if rec.byline is None:
        for el in rules.byline(root):
            text = _byline_value(el)
            if text and len(text) <= 90 and not reader.in_chrome(el):
                rec.byline = text  # as shown ("Người viết: …" keeps its label)
                break
