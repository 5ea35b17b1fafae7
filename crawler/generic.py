"""Reading a page without family rules: headline, date line and main content from evidence.

Used for pages no family recognizes (thousands of commune and district portals) and, field
by field, when a family's reading fails validation (a portlet title taken for the headline,
an empty body, no date while a date line sits by the title). Each field weighs several
signals instead of trusting one XPath:

- headline: heading candidates scored by their agreement with ``og:title``, ``<title>`` and
  the URL slug, their level, their place before the main text, and penalties for chrome
  (portlet and web-part titles, breadcrumbs, menus, link lists);
- date: the date line between the headline and the text (or just above the headline),
  never sidebars, header clocks or "other news" links;
- main content: trafilatura chooses the text; the element of *our* tree that holds it is
  walked with our own rules, so captions, bylines and images keep their markup, and what
  trafilatura judged not to be text (widgets, date lines) stays out of the body.

What counts as chrome and which elements may carry a headline are data in
``families.toml`` (``[generic]``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from lxml import etree

from .text import clean, fold

_DATE = re.compile(r"(?<!\d)[0-3]?\d[/.-][01]?\d[/.-](?:19|20)\d\d(?!\d)")
_BOLD_CLASS = re.compile(r"(?i)(^|\s)(fw-(bold|semibold)|font-(bold|semibold)|font-weight-bold|bold)(\s|$)")
_BOLD_STYLE = re.compile(r"font-weight\s*:\s*(bold|[6-9]00)", re.I)
_SEPARATORS = re.compile(r"\s+(?:[-|–—:»>›]{1,2}|::)\s+")
_WORD = re.compile(r"\w+")
_UNSET = object()


def _tokens(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def _f1(a: list[str], b: list[str]) -> float:
    if not a or not b:
        return 0.0
    sa, sb = set(a), set(b)
    common = len(sa & sb)
    if not common:
        return 0.0
    p, r = common / len(sa), common / len(sb)
    return 2 * p * r / (p + r)


_SHORT_LINK_TEXT = etree.XPath(
    "//a[string-length(normalize-space(.)) > 0][string-length(normalize-space(.)) <= 60]"
    "/descendant-or-self::*/text()[normalize-space()][1]")


def short_link_texts(root) -> set[str]:
    """Texts (lower case) of the page's short links: menu, breadcrumb and category
    entries. Compared with text of the same page, so marks need no folding."""
    return {clean(t).lower() for t in _SHORT_LINK_TEXT(root)}


def references(root, url: str, categories=None) -> list[list[str]]:
    """Token lists the headline should agree with: og/twitter titles, <title> and its
    parts (site names are split off), the URL slug. ``categories``: a callable giving
    ``short_link_texts(root)`` (read only for a title made of several parts)."""
    refs: list[str] = []
    # Menu and breadcrumb entries (short link texts) are category names: a <title> made
    # of them ("UBND huyện > Tin tức > Tin hoạt động") says nothing of the headline.
    known = categories
    categories = None
    for xp in ("//meta[@property='og:title']/@content", "//meta[@name='twitter:title']/@content",
               "//meta[@name='title']/@content", "//title"):
        for found in root.xpath(xp)[:1]:
            text = clean(found if isinstance(found, str) else found.text_content())
            if not text:
                continue
            parts = [p for p in _SEPARATORS.split(text) if p]
            if len(parts) > 1 and categories is None:
                categories = known() if known is not None else short_link_texts(root)
            named = [p for p in parts if p.lower() in categories] if len(parts) > 1 else []
            if not named:
                refs.append(text)
            refs.extend(p for p in parts if len(p) > 12 and p not in named)
    path = unquote(urlsplit(url).path).rstrip("/")
    slug = path.rpartition("/")[2]
    slug = re.sub(r"\.(aspx?|html?|php|jsp)$", "", slug, flags=re.I)
    words = [w for w in re.split(r"[-_+.\s]+", slug) if w and not w.isdigit()]
    if len(words) >= 3:
        refs.append(" ".join(words))
    return [t for t in (_tokens(r) for r in refs) if t]


def _teaser_item(item) -> bool:
    """A list item holding a link with a headline's length: another article's entry."""
    return any(len(clean(a.text_content())) >= 25 for a in item.iter("a"))


@dataclass
class Candidate:
    el: object
    text: str
    score: float
    agreement: float


_MATCHERS: dict = {}


def cached_search(pattern: re.Pattern):
    """``pattern``'s search as a yes/no, remembered per string: class and id strings
    repeat across a site's pages (a process-wide cache, cleared when it grows large)."""
    match = _MATCHERS.get(pattern)
    if match is None:
        seen: dict[str, bool] = {}
        search = pattern.search

        def match(text: str) -> bool:
            verdict = seen.get(text)
            if verdict is None:
                if len(seen) > 50_000:
                    seen.clear()
                verdict = seen[text] = search(text) is not None
            return verdict

        _MATCHERS[pattern] = match
    return match


def in_chrome(el, rules, levels: int = 64, memo: dict | None = None,
              exempt: frozenset | set = frozenset()) -> bool:
    """Inside navigation, footer, breadcrumb, sidebar, portlet/web-part title or a link
    list (looking at most ``levels`` elements up; <body>'s own classes say nothing).
    ``memo`` keeps each element's own verdict (one regex per element per page).
    ``exempt``: elements that hold the article's text (a DNN "LeftPane" that is the
    main column): their names do not make what is inside them chrome."""
    chrome_tag, chrome_attr = rules.chrome_tags, cached_search(rules.chrome_class)
    node = el
    while node is not None and isinstance(node.tag, str) and levels > 0:
        levels -= 1
        if node.tag in ("body", "html"):
            return False
        own = memo.get(node) if memo is not None else None
        if own is None:
            attrs = f"{node.get('class') or ''} {node.get('id') or ''}"
            own = node.tag in chrome_tag or bool(attrs.strip() and chrome_attr(attrs))
            if memo is not None:
                memo[node] = own
        if own and node not in exempt:
            return True
        node = node.getparent()
    return False


def following(el):
    """Elements after ``el`` in document order (not its descendants), lazily."""
    node = el
    while node is not None:
        for sib in node.itersiblings():
            yield from sib.iter()
        node = node.getparent()


def _preceding(el):
    """Elements before ``el`` in reverse document order (not its ancestors), lazily."""
    node = el
    while node is not None:
        for sib in node.itersiblings(preceding=True):
            yield from reversed(list(sib.iter()))
        node = node.getparent()


class Reader:
    """Generic field reading over one pruned page tree (built once per page, lazily)."""

    def __init__(self, root, url: str, rules):
        self.root = root
        self.url = url
        self.rules = rules  # profiles.GenericRules
        self._order: dict | None = None
        self._refs: list[list[str]] | None = None
        self._candidates: list[tuple] | None = None
        self._skip_memo: dict = {}
        self._chrome_memo: dict = {}
        self._menu_at = _UNSET
        self._categories: set | None = None
        self._cat_words: dict | None = None  # menu texts by their number of words
        self._site_names: set | None = None  # the names the page gives itself, folded
        self._exempt_for = None  # the text start _exempt was computed for
        self._exempt: set = set()  # ancestors of the text start (never chrome)
        self.text_start: int | None = None  # document position where the main text begins
        self.text_start_el = None  # the element it begins in
        self.chosen_text: str | None = None  # trafilatura's choice, lowercase
        self.main_text: tuple | None = None  # crawler.extract._main_text's answer, once

    # -- document order ------------------------------------------------------
    @property
    def order(self) -> dict:
        if self._order is None:
            self._order = {el: i for i, el in enumerate(self.root.iter())}
        return self._order

    @property
    def refs(self) -> list[list[str]]:
        if self._refs is None:
            # A <title> that is only the site's name says nothing of this page's headline:
            # a name by its shape ("Cổng thông tin điện tử huyện …"), or the name the
            # page gives itself (og:site_name, the logo's alt text).
            self._refs = [r for r in references(self.root, self.url, self.categories)
                          if not self._is_site_name(" ".join(r)) and not self._is_section(r)]
        return self._refs

    _SITE_NAMES = etree.XPath(
        "//meta[@property='og:site_name']/@content"
        " | //img[contains(translate(concat(@src, ' ', @class, ' ', @id), 'LOGO', 'logo'),"
        " 'logo')]/@alt")

    def _is_site_name(self, folded: str) -> bool:
        """``folded`` (tokens joined by spaces) names the site: by its shape ("cong thong
        tin dien tu huyen …"), or as the page names itself (og:site_name, the logo's alt)."""
        site = self.rules.site_name
        if site is not None and site.search(folded):
            return True
        if self._site_names is None:
            self._site_names = {" ".join(_tokens(t)) for t in self._SITE_NAMES(self.root)}
        return folded in self._site_names

    def agreement(self, text: str) -> float:
        toks = _tokens(text)
        return max((_f1(toks, ref) for ref in self.refs), default=0.0)

    def in_chrome(self, el, levels: int = 64, exempt_text: bool = True) -> bool:
        """Inside navigation, footer, breadcrumb, sidebar, portlet/web-part title or a
        link list (looking at most ``levels`` elements up)."""
        start = self.text_start_el if exempt_text else None
        if start is not None and self._exempt_for is not start:
            self._exempt_for, self._exempt = start, set(start.iterancestors())
        return in_chrome(el, self.rules, levels, self._chrome_memo,
                         self._exempt if start is not None else frozenset())

    # -- headline ------------------------------------------------------------
    def headline(self, body_el=None, prior=None) -> Candidate | None:
        """The best-scored heading; ``prior`` (a family's pick) gets a small bonus."""
        order = self.order
        body_at = order.get(body_el, None) if body_el is not None else None
        if self.text_start is not None and (body_at is None or self.text_start > body_at):
            body_at = self.text_start
        seen = set()
        best: Candidate | None = None
        menu_at = self.menu_at
        if menu_at is not None and body_at is not None and menu_at > body_at:
            menu_at = None  # a link list after the text is not the header's menu
        for el, text, agree in self.candidates():
            seen.add(el)
            n_words = len(text.split())
            if n_words > 60 or n_words < 2:
                continue
            score = 1.2 * agree
            tag = el.tag
            score += {"h1": 0.35, "h2": 0.25, "h3": 0.15, "h4": 0.1, "h5": 0.05}.get(tag, 0.15)
            if el.get("itemprop") == "headline":
                score += 0.3
            if self.in_chrome(el):
                score -= 0.8
            if any(a.tag == "a" for a in el.iterancestors()) or el.find(".//a") is not None and \
                    len(clean(el.find(".//a").text_content())) >= len(text) * 0.8:
                score -= 0.35  # a teaser link, not this page's headline
            if any(a.tag in ("li", "dt", "dd") for a in el.iterancestors()):
                score -= 0.3
            if n_words <= 4:
                score -= 0.25
            if self.is_category(text):
                score -= 0.5  # a menu or breadcrumb entry: a section's name
            if self._is_site_name(" ".join(_tokens(text))):
                score -= 0.6  # the site's name in its header, not this page's headline
            elif menu_at is not None and order.get(el, 0) < menu_at:
                score -= 0.3  # above the site's main menu: the page header
            if n_words >= 12 and text[-1:] in ".;":
                score -= 0.3  # a sentence (a lead, a caption), not a headline
            if body_at is not None:
                at = order.get(el, 0)
                if at <= body_at:
                    # The nearer the text, the likelier the headline (a site name in the
                    # page header is far above it).
                    score += 0.1 + 0.25 * max(0.0, 1 - (body_at - at) / 120)
                elif body_el is not None and at - order.get(body_el, at) < 30 and (
                        self.text_start is None or at < self.text_start) and (
                        body_el in set(el.iterancestors())):
                    score += 0.2  # at the very top of the body element (Liferay puts it there)
                else:
                    score -= 0.5
            if prior is not None and el is prior:
                score += 0.3
            if best is None or score > best.score:
                best = Candidate(el, text, score, agree)
        if best is None or best.agreement < 0.8:
            # The headline may sit in an element no rule names (<div class="kz-head">):
            # look for the page's own title text itself.
            for el in self._elements_with_reference_text():
                if el in seen or self.in_chrome(el):
                    continue
                text = clean(el.text_content())
                score = 1.2 * self.agreement(text) + 0.15
                if body_at is not None and order.get(el, 0) < body_at:
                    score += 0.3
                if best is None or score > best.score:
                    best = Candidate(el, text, score, self.agreement(text))
        if best is None or best.score < 0.2:
            return None
        return best

    _MENUS = etree.XPath("//body//*[self::ul or self::nav][count(.//a[@href]) >= 6]")

    @property
    def menu_at(self) -> int | None:
        """Document position of the site's main menu: the first list of six links or more
        that is nearly all link text (None when the page has none)."""
        if self._menu_at is _UNSET:
            self._menu_at = None
            for el in self._MENUS(self.root):
                text = len(clean(el.text_content()))
                linked = sum(len(clean(a.text_content())) for a in el.iter("a"))
                if text and linked >= 0.8 * text:
                    self._menu_at = self.order.get(el)
                    break
        return self._menu_at

    _BY_TEXT = etree.XPath("//body//*[normalize-space(.) = $text][not(self::a)]")

    def _elements_with_reference_text(self):
        texts = set()
        for xp in ("//meta[@property='og:title']/@content", "//title"):
            for found in self.root.xpath(xp)[:1]:
                text = clean(found if isinstance(found, str) else found.text_content())
                texts.update(p for p in [text, *_SEPARATORS.split(text)] if len(p) > 12)
        for text in texts:
            found = self._BY_TEXT(self.root, text=text)
            if found:
                yield found[-1]  # the innermost of nested wrappers
        # The same words typed in capitals ("PHÒNG GIÁO DỤC …" for og:title's sentence
        # case): compared without case and marks, among elements of about that length.
        folded = {fold(t): len(t) for t in texts}
        body = self.root.find(".//body")
        for el in (body.iter() if body is not None else ()):
            if not isinstance(el.tag, str) or el.tag == "a" or len(el) > 3:
                continue
            raw = el.text_content()
            if not any(0.8 * n <= len(raw.strip()) <= 1.5 * n + 20 for n in folded.values()):
                continue
            text = clean(raw)
            if fold(text) in folded and text.isupper():
                yield el

    def candidates(self) -> list[tuple]:
        """(element, text, agreement) of every element that may hold the headline (once)."""
        if self._candidates is None:
            out, seen = [], set()
            for el in self.rules.title_candidates(self.root):
                if el in seen:
                    continue
                seen.add(el)
                text = clean(el.text_content())
                if 8 <= len(text) <= 400:
                    out.append((el, text, self.agreement(text)))
            self._candidates = out
        return self._candidates

    def best_agreement(self) -> float:
        """How well the best heading candidate agrees with the page's references."""
        return max((a for _, _, a in self.candidates()), default=0.0)

    def fallback_title(self) -> str | None:
        """og:title, else the longest part of <title> (site names split off)."""
        for xp in ("//meta[@property='og:title']/@content", "//title"):
            for found in self.root.xpath(xp)[:1]:
                text = clean(found if isinstance(found, str) else found.text_content())
                parts = [p for p in _SEPARATORS.split(text) if p]
                if parts:
                    return max(parts, key=len) if len(parts) > 1 else text
        return None

    def is_category(self, text: str) -> bool:
        """A short text that is also a link of the page's menus or breadcrumb ("Tin tức -
        Sự kiện"): the name of a section, not of an article."""
        return len(text.split()) <= 8 and clean(text).lower() in self.categories()

    def _is_section(self, ref: list[str]) -> bool:
        """A reference that is only a section's name (a menu entry): no evidence for a
        headline. Only menu texts of the same number of words are folded to compare."""
        if len(ref) > 8:
            return False
        if self._cat_words is None:
            self._cat_words = {}
            for c in self.categories():
                self._cat_words.setdefault(c.count(" ") + 1, []).append(c)
        joined = " ".join(ref)
        # Menu texts of about as many words (a " - " adds one), folded only then.
        return any(" ".join(_tokens(c)) == joined
                   for n in (len(ref), len(ref) + 1) for c in self._cat_words.get(n, ()))

    def categories(self) -> set[str]:
        if self._categories is None:
            self._categories = short_link_texts(self.root)
        return self._categories

    def is_chrome_title(self, el, text: str) -> bool:
        """A family's headline that is chrome: a web-part/portlet/breadcrumb title, a menu
        entry, or a short label no page reference agrees with while another heading does."""
        if not text or self.in_chrome(el) or self.is_category(text):
            return True
        return self._is_site_name(" ".join(_tokens(text)))

    # -- date line -----------------------------------------------------------
    def date_texts(self, title_el, body_el=None, lead_el=None) -> list[str]:
        """Text after the headline up to the lead or the main text, then text just above
        the headline (link text and widget text skipped): where a page prints its own
        date. A sentence there is the text beginning, not a date line."""
        if title_el is None:
            return []
        stops = {body_el, self.text_start_el} - {None}
        stops -= set(title_el.iterancestors())  # a headline inside the main element
        # The lead is passed over, not a stop: some layouts print the date line under it.
        in_lead = set(lead_el.iter()) if lead_el is not None else set()
        skip = self._skip_for_date
        after: list[str] = []
        budget, steps = 700, 0
        pieces = [title_el.tail] if not skip(title_el.getparent()) else []
        for el in following(title_el):
            steps += 1
            if el in stops or steps > 200 or budget <= 0:
                break
            if not isinstance(el.tag, str):
                continue
            if el in in_lead:
                if el is lead_el and not skip(el.getparent()):
                    pieces.append(el.tail)
                continue
            if not skip(el):
                pieces.append(el.text)
            if not skip(el.getparent()):
                pieces.append(el.tail)  # a tail is the parent's text
            prose = False
            for t in pieces:
                if t and t.strip():
                    words = t.split()
                    if len(t.strip()) > 150 or (len(words) >= 10 and t.strip()[-1:] in ".;:"):
                        prose = True  # the article's text has begun: no date line here
                        break
                    after.append(t)
                    budget -= len(t)
            pieces = []
            if prose:
                break
        before: list[str] = []
        budget = 200
        # Above the headline, only within its own block (a header clock is not its date).
        near = list(title_el.iterancestors())[:3]
        region = near[-1] if near else None
        inside = set(region.iter()) if region is not None and region.tag not in (
            "body", "html", "form") else None
        for steps, el in enumerate(_preceding(title_el)):
            if steps >= 40 or budget <= 0 or (inside is not None and el not in inside):
                break
            if not isinstance(el.tag, str) or self.in_chrome(el, 6) or any(
                    a.tag in ("li", "dd") and _teaser_item(a)
                    for a in itertools.islice(el.iterancestors(), 3)):
                continue  # chrome, or a news item of a list (latest news with their dates)
            tail = el.tail if not skip(el.getparent()) else None
            text = None if skip(el) else el.text
            for t in (tail, text):
                if t and t.strip():
                    before.insert(0, t)
                    budget -= len(t)
        out = []
        if after:
            out.append(clean(" ".join(after)))
        if before:
            out.append(clean(" ".join(before)))
        return out

    def _skip_for_date(self, el) -> bool:
        """Link text or widget text (other news, clocks, comments): never the date line.
        Memoized per element: the walk asks about siblings that share their ancestors."""
        if el is None:
            return True
        if el.tag == "time":
            return False  # the article's own <time>, even inside its permalink
        memo = self._skip_memo
        chain = []
        node = el
        verdict = False
        while node is not None:
            if node in memo:
                verdict = memo[node]
                break
            if node.tag == "a":
                verdict = True
                chain.append(node)
                break
            if node.tag in ("body", "html"):
                break
            chain.append(node)
            attrs = f"{node.get('class') or ''} {node.get('id') or ''}"
            if attrs.strip() and cached_search(self.rules.date_skip_class)(attrs):
                verdict = True
                break
            node = node.getparent()
        for seen in chain:
            memo[seen] = verdict
        return verdict

    # -- listings ----------------------------------------------------------------
    def in_teaser_run(self, el, min_run: int = 4) -> bool:
        """``el`` sits in one of several sibling blocks that each hold a link with a
        headline-long text: a teaser of a listing, search results or a home page."""
        node = el
        for _ in range(8):
            parent = node.getparent() if node is not None else None
            if parent is None or parent.tag in ("body", "html"):
                return False
            teasers = 0
            mine = False
            for child in parent:
                if not isinstance(child.tag, str):
                    continue
                links = [clean(a.text_content()) for a in child.iter("a")]
                if not links:
                    continue
                text = clean(child.text_content())
                # A teaser: a headline-long link in a small block (an article whose date
                # is a permalink is not one, nor a column holding the text), or a short
                # block with a link beside a date (a row of a document library or a list).
                if any(len(t) >= 25 for t in links) and len(text) <= 800 or (
                        len(text) <= 400 and _DATE.search(text)):
                    teasers += 1
                    mine = mine or child is node
            if teasers >= min_run and mine:
                return True
            node = parent
        return False

    # -- lead --------------------------------------------------------------------
    def lead(self, title_el, container, text_start=None):
        """The lead (sapo) between the headline and the text: an element whose class says
        so, else the first block there that is set apart as one (bold, or the page's
        description). Walks only the few elements after the headline."""
        if title_el is None:
            return None
        stop = text_start if text_start is not None else self.text_start_el
        in_container = set(container.iter()) if container is not None else set()
        lead_class, caption = self.rules.summary_class.search, self.rules.caption_class.search
        described = None
        first_block_seen = False
        for steps, el in enumerate(following(title_el)):
            if steps > 40 or not isinstance(el.tag, str):
                break
            klass = el.get("class") or ""
            if (klass and lead_class(klass) and not caption(klass) or
                    el.get("itemprop") == "description") and el is not container:
                text = clean(el.text_content())
                if 40 <= len(text) <= 1500 and not self.in_chrome(el, 4):
                    return el
            if el is stop or el is container:
                break
            if first_block_seen or el.tag in ("a", "img") or el in in_container:
                continue
            if any(isinstance(c.tag, str) and c.tag in self.rules.block_tags
                   and c.tag not in ("b", "strong", "em", "i", "span", "font") for c in el):
                continue
            if el.tag in ("table", "ul", "ol", "dl", "tr", "tbody"):
                continue  # a table of fields (date, category, views) is never the lead
            text = clean(el.text_content())
            if len(text) < 60 or (len(text) <= 120 and _DATE.search(text)):
                continue  # too short, or the date line
            first_block_seen = True  # only the first block there may be a lead
            styled = el.tag in ("b", "strong") or bool(_BOLD_STYLE.search(el.get("style") or "")) or bool(
                _BOLD_CLASS.search(el.get("class") or "")) or (
                len(el) == 1 and el[0].tag in ("b", "strong")
                and len(clean(el[0].text_content())) >= 0.9 * len(text))
            if described is None:
                described = {clean(d)[:50].lower() for d in self.root.xpath(
                    "//meta[@property='og:description' or @name='description']/@content") if d}
            if styled or text[:50].lower() in described or self._opens_text(
                    text, container if container is not None else stop):
                return el
        return None

    def _opens_text(self, text: str, body) -> bool:
        """The main text begins with this very paragraph: a lead the layout repeats."""
        if body is None:
            return False
        for el in body.iter("p", "div"):
            if any(isinstance(c.tag, str) and c.tag in ("p", "div") for c in el):
                continue
            first = clean(el.text_content())
            if len(first) >= 40:
                return first == text
        return False

    # -- main content ----------------------------------------------------------
    def main_content(self, precision: bool = True):
        """(container, text) where container is the element of this tree holding the text
        trafilatura chose, and text its chosen text (lowercase, one space); (None, None)
        when trafilatura finds nothing. ``precision``: trafilatura's favor_precision (the
        default); without it, its balanced choice."""
        import trafilatura

        self.text_start = self.text_start_el = None
        doc = trafilatura.bare_extraction(
            self.root, url=self.url, include_comments=False, include_tables=True,
            include_images=True, include_links=False, with_metadata=False,
            favor_precision=precision,
        )
        body = getattr(doc, "body", None) if doc is not None else None
        if body is None:
            return None, None
        paras = []
        for el in body.iter("p", "head", "item", "cell", "quote", "code"):
            if el.tag in ("cell", "item") and el.find(".//p") is not None:
                continue  # a layout cell around paragraphs: its paragraphs count
            text = clean("".join(el.itertext()))
            if text:
                paras.append(text)
        if not paras:
            return None, None
        joined = self.chosen_text = " ".join(paras).lower()
        wanted = {p for p in paras if len(p) >= 25}
        weights: dict = {}  # element -> matched text inside it
        direct: dict = {}  # element -> matched text in its own paragraphs
        total = 0
        starts = []
        paragraph_tags = self.rules.paragraph_tags

        def credit(el, n: int, owner: bool = False, at=None) -> None:
            nonlocal total
            total += n
            if n >= 80:
                starts.append(at if at is not None else el)
            holder = el if owner or el.tag not in paragraph_tags else el.getparent()
            if holder is not None:
                direct[holder] = direct.get(holder, 0) + n
            for anc in (el, *el.iterancestors()):
                weights[anc] = weights.get(anc, 0) + n

        block_texts = []
        for el in self.root.iter(*self.rules.block_tags):
            text = clean(el.text_content())
            block_texts.append((text, el))
            if text in wanted:
                wanted.discard(text)
                credit(el, len(text))
        if wanted:
            # Paragraphs that are runs of text between <br>s (or split over inline spans)
            # match no element: find the text node that starts them.
            nodes = []
            for el in self.root.iter():
                if not isinstance(el.tag, str):
                    continue
                if el.text and len(el.text) >= 20:
                    nodes.append((clean(el.text), el, el))
                if el.tail and len(el.tail) >= 20 and el.getparent() is not None:
                    nodes.append((clean(el.tail), el.getparent(), el))  # (text, owner, place)
            for para in wanted:
                prefix = para[:20]
                hit = next(((owner, at) for text, owner, at in nodes if prefix in text), None)
                if hit is None:
                    # Split over inline elements (<b>Chiều 22/02</b>, UBND ...): the
                    # tightest block whose text holds the paragraph's start.
                    probe = para[:60]
                    held = [(len(text), i) for i, (text, _) in enumerate(block_texts)
                            if probe in text]
                    if held:
                        el = block_texts[min(held)[1]][1]
                        hit = (el, el)
                if hit is not None:
                    owner, at = hit
                    while owner.tag not in self.rules.block_tags and owner.getparent() is not None:
                        owner = owner.getparent()
                    credit(owner, len(para), owner=True, at=at)
        if not direct:
            return None, joined
        # The element whose own paragraphs hold most of the text; then up while a parent
        # adds a real share of the chosen text (paragraphs split over sibling blocks), but
        # not for a footer line or a counter that trafilatura also kept.
        best = max(direct, key=direct.get)
        while True:
            parent = best.getparent()
            if parent is None or parent.tag in ("body", "html"):
                break
            gain = weights.get(parent, 0) - weights.get(best, 0)
            if gain < 0.3 * weights.get(best, 0):
                break
            best = parent
        # Where the main text begins: its first long paragraph inside the element.
        inside = [el for el in starts if el is best or best in set(el.iterancestors())]
        if not inside and starts:
            inside = [best]
        if inside:
            order = self.order
            self.text_start_el = min(inside, key=lambda el: order.get(el, 1 << 30))
            self.text_start = order.get(self.text_start_el)
        return best, joined
