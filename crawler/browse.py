"""What the archive's reading pages need beyond SQL: search results with their count and
facets in one pass, Vietnamese dates, snippets with the matched words marked, and a
readable diff between two versions of an article.

Search results (``FacetIndex.search``). Datasette counts the hits of a search and
computes each facet with a query of its own, each visiting every hit in ``articles``
(rows of several KB): seconds for a common word in a large archive. Here the hit list is
read once from the full-text index (``group_concat(rowid)``, one string), and the count,
the facets (site, year, byline), the date range and the newest-first page are computed
on it with numpy over small per-article arrays (site, year, byline, publication time)
that are loaded from the archive's indexes (``group by COLUMN`` walks the covering index
of that column, not the table) and kept in step with the file by its newest id and
newest ``last_changed``. See docs/SCHEMA.md and docs/BENCHMARKS.md.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
import threading
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np

from .store import match_expression

# --------------------------------------------------------------------------- text

def _fold_table() -> dict[int, str]:
    """Per-character folding that keeps the length: base letter, lowercase, đ -> d."""
    table = {}
    for cp in range(0x41, 0x2000):
        c = chr(cp)
        base = unicodedata.normalize("NFD", c)[0]
        low = base.lower()
        if c in "đĐ":
            low = "d"
        if len(low) == 1 and low != c:
            table[cp] = low
    return table


_FOLD = _fold_table()
_WORD = re.compile(r"\w+")
_RAW_OPERATORS = {"AND", "OR", "NOT", "NEAR"}


def fold(text: str) -> str:
    """Lowercase, marks removed, đ written d; same length as the NFC input."""
    return text.translate(_FOLD)


def query_terms(query: str, *, raw: bool = False) -> tuple[set[str], tuple[str, ...]]:
    """The words a search looks for (folded), and the prefixes of ``word*`` terms."""
    query = unicodedata.normalize("NFC", query or "")
    words, prefixes = set(), []
    for m in re.finditer(r"(\w+)(\*?)", query):
        word = m.group(1)
        if raw and word in _RAW_OPERATORS:
            continue
        if m.group(2):
            prefixes.append(fold(word))
        else:
            words.add(fold(word))
    return words, tuple(prefixes)


def mark(text: str | None, terms: tuple[set[str], tuple[str, ...]]) -> list[tuple[str, bool]]:
    """``text`` as (piece, matched) pieces: the words the search found are matched."""
    if not text:
        return []
    words, prefixes = terms
    folded = fold(text)
    out, pos = [], 0
    for m in _WORD.finditer(folded):
        w = m.group()
        if w in words or (prefixes and w.startswith(prefixes)):
            if m.start() > pos:
                out.append((text[pos:m.start()], False))
            out.append((text[m.start():m.end()], True))
            pos = m.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def snippet(text: str | None, terms, *, words: int = 40) -> list[tuple[str, bool]]:
    """About ``words`` words of ``text`` around its first matched word, marked; the
    start of the text when nothing matches. ``…`` where text was cut."""
    if not text:
        return []
    text = " ".join(text.split())
    spans = [m.span() for m in _WORD.finditer(text)]
    if not spans:
        return [(text[:300], False)]
    first = 0
    vocab, prefixes = terms
    for i, (a, b) in enumerate(spans):
        w = fold(text[a:b])
        if w in vocab or (prefixes and w.startswith(prefixes)):
            first = i
            break
    lo = max(0, first - words // 4)
    hi = min(len(spans), lo + words)
    lo = max(0, min(lo, hi - words))
    start = 0 if lo == 0 else spans[lo][0]
    end = len(text) if hi == len(spans) else spans[hi - 1][1]
    pieces = mark(text[start:end], terms)
    if start > 0:
        pieces.insert(0, ("… ", False))
    if end < len(text):
        pieces.append((" …", False))
    return pieces


# --------------------------------------------------------------------------- dates

_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")
_VN_DATE = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$")
_YEAR = re.compile(r"^\s*(\d{4})\s*$")
_EPOCH = datetime(1900, 1, 1)


WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


def vn_date(value: str | None, *, with_time: bool = True, weekday: bool = False) -> str:
    """A stored date as Vietnamese readers write it: ``11/09/2023``, ``11/09/2023 08:30``,
    with ``weekday`` ``Thứ Hai, 11/09/2023``. Text that is no ISO date is returned as it is."""
    if not value:
        return ""
    m = _ISO.match(value)
    if not m:
        return value
    y, mo, d, hh, mm, _ss = m.groups()
    out = f"{d}/{mo}/{y}"
    if weekday:
        try:
            out = f"{WEEKDAYS[date(int(y), int(mo), int(d)).weekday()]}, {out}"
        except ValueError:
            pass
    if with_time and hh is not None:
        out += f" {hh}:{mm}"
    return out


def parse_day(text: str | None, *, end: bool = False) -> date | None:
    """A date typed by a reader: ``DD/MM/YYYY`` (also ``D/M/YYYY``, ``-`` or ``.``),
    ``YYYY-MM-DD``, or a year alone (its first day, or its last with ``end``).
    Empty gives None; anything else raises ValueError with what was expected."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if m := _VN_DATE.match(text):
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        if m := _ISO.match(text):
            if len(text) == 10:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m := _YEAR.match(text):
            return date(int(m.group(1)), 12, 31) if end else date(int(m.group(1)), 1, 1)
    except ValueError:
        pass
    raise ValueError(f"not a date: {text!r} (write it DD/MM/YYYY, e.g. 31/12/2022)")


def _seconds(published: str | None) -> int:
    """Seconds since 1900 of a stored publication date (0 when none): the sort key."""
    if not published:
        return 0
    m = _ISO.match(published)
    if not m:
        return 0
    y, mo, d, hh, mm, ss = m.groups()
    try:
        t = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
    except ValueError:
        return 0
    return max(1, int((t - _EPOCH).total_seconds()))


def day_seconds(day: date, *, end: bool = False) -> int:
    t = datetime(day.year, day.month, day.day)
    return int((t - _EPOCH).total_seconds()) + (86399 if end else 0)


# --------------------------------------------------------------------------- search


class SearchError(ValueError):
    """A search the archive cannot run as asked (bad FTS syntax, bad date); the
    message says why, for a 400 answer."""


@dataclass
class Search:
    q: str = ""
    raw: bool = False
    sort: str = "newest"  # newest, oldest, relevance
    site: str | None = None
    year: int | None = None
    byline: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1
    size: int = 20


@dataclass
class Results:
    count: int
    ids: list[int]
    facets: dict[str, list[tuple[object, int]]] = field(default_factory=dict)


@contextmanager
def _long_values(conn):
    """Our own hit and id lists may be longer than the per-connection value limit the
    server sets for everyone's queries (8 bytes an article): lifted for them only."""
    try:
        old = conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH)
    except (AttributeError, sqlite3.Error):
        yield
        return
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 2_000_000_000)
    try:
        yield
    finally:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, old)


def _ids(text: str | None) -> np.ndarray:
    if not text:
        return np.zeros(0, dtype=np.int64)
    return np.array(text.split(","), dtype=np.int64) if len(text) < 64 else np.fromstring(
        text, dtype=np.int64, sep=",")


class _Codes:
    """Values of one column as small integers (0 = null)."""

    def __init__(self):
        self.values: list = [None]
        self.code: dict = {None: 0}

    def get(self, value) -> int:
        c = self.code.get(value)
        if c is None:
            c = self.code[value] = len(self.values)
            self.values.append(value)
        return c


class FacetIndex:
    """Per-article site, year, byline and publication time in numpy arrays, for the
    search page's count, facets and order. One per served database file."""

    FACETS = ("site", "year", "byline")
    RECENT = 8

    def __init__(self):
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.signature = None
        self.size = 0
        self.exists = np.zeros(0, dtype=bool)
        self.columns = {name: np.zeros(0, dtype=np.int32) for name in self.FACETS}
        self.codes = {name: _Codes() for name in self.FACETS}
        self.pub = np.zeros(0, dtype=np.int64)
        # The hits of the last few searches (the next page, a facet click, another sort
        # reuse them); emptied whenever the file changes.
        self.recent: dict[str, np.ndarray] = {}

    def _grow(self, n: int) -> None:
        if n <= self.size:
            return
        n = max(n, int(self.size * 1.25) + 1024)
        self.exists = np.concatenate([self.exists, np.zeros(n - self.size, dtype=bool)])
        for name in self.FACETS:
            self.columns[name] = np.concatenate(
                [self.columns[name], np.zeros(n - self.size, dtype=np.int32)])
        self.pub = np.concatenate([self.pub, np.zeros(n - self.size, dtype=np.int64)])
        self.size = n

    def refresh(self, conn) -> None:
        """Bring the arrays in step with the file (cheap when nothing changed)."""
        # Two queries: SQLite answers a lone max() from the index, a pair by a scan.
        top_id = conn.execute("select max(id) from articles").fetchone()[0]
        top_changed = conn.execute("select max(last_changed) from articles").fetchone()[0]
        signature = (top_id, top_changed)
        with self.lock:
            if signature == self.signature:
                return
            self.recent = {}
            with _long_values(conn):
                if self.signature is None or (top_id or 0) < (self.signature[0] or 0):
                    self._load_all(conn, top_id or 0)
                else:
                    self._load_since(conn, self.signature)
            self.signature = signature

    def _load_all(self, conn, top_id: int) -> None:
        self._reset()
        self._grow(top_id + 1)
        # group by COLUMN walks that column's index (covering): the table is not read.
        for name in self.FACETS:
            codes, column = self.codes[name], self.columns[name]
            for value, ids in conn.execute(
                    f"select {name}, group_concat(id) from articles group by {name}"):
                idx = _ids(ids)
                column[idx] = codes.get(value)
                if name == "site":
                    self.exists[idx] = True
        for value, ids in conn.execute(
                "select published, group_concat(id) from articles group by published"):
            if value:
                self.pub[_ids(ids)] = _seconds(value)

    def _load_since(self, conn, old) -> None:
        old_id, old_changed = old
        rows = conn.execute(
            "select id, site, year, byline, published from articles where id > ?",
            [old_id or 0]).fetchall()
        if old_changed:
            rows += conn.execute(
                "select id, site, year, byline, published from articles "
                "where last_changed >= ? and id <= ?", [old_changed, old_id or 0]).fetchall()
        if rows:
            self._grow(max(r[0] for r in rows) + 1)
        for article_id, site, year, byline, published in rows:
            self.exists[article_id] = True
            for name, value in (("site", site), ("year", year), ("byline", byline)):
                self.columns[name][article_id] = self.codes[name].get(value)
            self.pub[article_id] = _seconds(published)

    # -- one search

    def _hits(self, conn, search: Search) -> np.ndarray:
        if not search.q.strip():
            return np.flatnonzero(self.exists)
        match = match_expression(search.q, raw=search.raw)
        if match in self.recent:
            return self.recent[match]
        try:
            with _long_values(conn):
                text = conn.execute(
                    "select group_concat(rowid) from articles_fts where articles_fts match ?",
                    [match]).fetchone()[0]
        except sqlite3.OperationalError as exc:  # fts5 syntax
            if "interrupted" in str(exc):
                raise
            raise SearchError(f"cannot search for {search.q!r}: {exc}") from exc
        hits = _ids(text)
        hits = hits[hits < self.size]
        hits = hits[self.exists[hits]]
        if len(self.recent) >= self.RECENT:
            self.recent.pop(next(iter(self.recent)))
        self.recent[match] = hits
        return hits

    def search(self, conn, search: Search, *, facet_sizes=None) -> Results:
        self.refresh(conn)
        facet_sizes = facet_sizes or {"site": 30, "year": 40, "byline": 15}
        with self.lock:
            hits = self._hits(conn, search)
            keep = np.ones(len(hits), dtype=bool)
            for name in self.FACETS:
                value = getattr(search, name)
                if value is not None:
                    code = self.codes[name].code.get(value, -1)
                    keep &= self.columns[name][hits] == code
            if search.date_from or search.date_to:
                pub = self.pub[hits]
                keep &= pub > 0
                if search.date_from:
                    keep &= pub >= day_seconds(search.date_from)
                if search.date_to:
                    keep &= pub <= day_seconds(search.date_to, end=True)
            hits = hits[keep]
            facets = {}
            for name in self.FACETS:
                codes = self.codes[name]
                counts = np.bincount(self.columns[name][hits], minlength=len(codes.values))
                order = np.flatnonzero(counts)
                if name == "year":
                    pairs = sorted(((codes.values[c], int(counts[c])) for c in order
                                    if codes.values[c] is not None), reverse=True)
                else:
                    order = order[np.argsort(-counts[order], kind="stable")]
                    pairs = [(codes.values[c], int(counts[c])) for c in order
                             if codes.values[c] is not None]
                facets[name] = pairs[:facet_sizes.get(name, 20)]
            count = len(hits)
            start = (max(1, search.page) - 1) * search.size
            if search.sort == "relevance" and search.q.strip():
                page = None  # computed below, outside the lock
            else:
                page = self._page(hits, start, search.size, oldest=search.sort == "oldest")
        if page is None:
            page = self._relevance_page(conn, search, hits, start)
        return Results(count=count, ids=page, facets=facets)

    def _page(self, hits: np.ndarray, start: int, size: int, *, oldest: bool) -> list[int]:
        if start >= len(hits):
            return []
        # One int64 per hit: publication time (undated last), then id, newest first.
        key = (self.pub[hits] << 31) | hits
        if oldest:
            key = np.where(self.pub[hits] > 0, -key, np.iinfo(np.int64).min + hits)
        need = min(len(hits), start + size)
        if need < len(hits):
            part = np.argpartition(-key, need - 1)[:need]
        else:
            part = np.arange(len(hits))
        part = part[np.argsort(-key[part], kind="stable")]
        return [int(i) for i in hits[part[start:start + size]]]

    def _relevance_page(self, conn, search: Search, hits: np.ndarray, start: int) -> list[int]:
        if start >= len(hits):
            return []
        allowed = np.zeros(self.size, dtype=bool)
        allowed[hits] = True
        out, seen = [], 0
        cur = conn.execute(
            "select rowid from articles_fts where articles_fts match ? order by rank",
            [match_expression(search.q, raw=search.raw)])
        for (rowid,) in cur:
            if rowid < self.size and allowed[rowid]:
                if seen >= start:
                    out.append(rowid)
                    if len(out) >= search.size:
                        break
                seen += 1
        return out


# --------------------------------------------------------------------------- diff

_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(old: str | None, new: str | None) -> list[tuple[str, str]]:
    """(op, text) pieces, op one of ``=``, ``-``, ``+``: the words that changed."""
    a, b = _TOKENS.findall(old or ""), _TOKENS.findall(new or "")
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", "".join(a[i1:i2])))
        else:
            if i2 > i1:
                out.append(("-", "".join(a[i1:i2])))
            if j2 > j1:
                out.append(("+", "".join(b[j1:j2])))
    return out


def body_diff(old: str | None, new: str | None, *, context: int = 1) -> list[dict]:
    """Paragraph by paragraph: ``{"op": "same", "count": n}`` for unchanged runs (the
    ``context`` paragraphs next to a change are shown), ``{"op": "changed",
    "pieces": word_diff}``, ``{"op": "added"|"removed", "text": ...}``."""
    a = [p for p in (old or "").split("\n\n") if p]
    b = [p for p in (new or "").split("\n\n") if p]
    out: list[dict] = []
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for k, (op, i1, i2, j1, j2) in enumerate(ops):
        if op == "equal":
            run = a[i1:i2]
            head = run[:context] if k > 0 else []
            tail = run[-context:] if k < len(ops) - 1 and len(run) > len(head) else []
            for p in head:
                out.append({"op": "context", "text": p})
            hidden = len(run) - len(head) - len(tail)
            if hidden > 0:
                out.append({"op": "same", "count": hidden})
            for p in tail:
                out.append({"op": "context", "text": p})
        elif op == "replace":
            for x, y in zip(a[i1:i2], b[j1:j2], strict=False):
                out.append({"op": "changed", "pieces": word_diff(x, y)})
            for x in a[i1 + (j2 - j1):i2]:
                out.append({"op": "removed", "text": x})
            for y in b[j1 + (i2 - i1):j2]:
                out.append({"op": "added", "text": y})
        elif op == "delete":
            out.extend({"op": "removed", "text": x} for x in a[i1:i2])
        else:
            out.extend({"op": "added", "text": y} for y in b[j1:j2])
    return out


def utc_label(value: str | None) -> str:
    """A recorded time (UTC) as ``04/12/2026 21:30 UTC``."""
    if not value:
        return ""
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return value
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return t.strftime("%d/%m/%Y %H:%M") + " UTC"
