"""Crawl state in one place, kept beside the archive.

One :class:`CrawlState` per crawl (``CrawlState.of(crawler)``) owns what the spider, the
middlewares, the pipeline and the progress display used to keep as attributes of the
spider: the sites and the family learned per site, the one de-duplication layer (keys
claimed this run; ``FrontierDupeFilter`` is Scrapy's view of it), postbacks seen,
redirects met, the page-cap counts, and the **frontier**: every URL queued or done, in
the archive's ``frontier`` table, with the validators (``ETag``, ``Last-Modified``) of
the answer it got.

Writes are transactional and in order. A claimed link is buffered as ``pending``; a page
becomes ``done`` only in a transaction that also holds its out-links (the buffer is
written in the order things happened) and, for an article or a failure, its record or
``fetch_errors`` row (``commit``: the pipeline writes the record on the same connection
inside it). Records are queued in that same buffer and committed a few at a time
(``ARCHIVE_COMMIT_ITEMS``, within ``ARCHIVE_COMMIT_SECONDS``): a kill loses the last
uncommitted ones together with the frontier rows that would have said they were done.
So after ``kill -9`` the frontier says exactly what is left to do:

- **resume**: a site whose last run did not finish continues it. Its pending URLs are
  requested again, articles and failures done in that run are not; listings and start
  pages are walked again from a fresh GET (a saved ``__VIEWSTATE`` would be stale, so
  postbacks are never stored).
- **nightly** (incremental, the default once a site has one finished run): known
  articles are asked for again only when due (``REVISIT_POLICY``), with conditional
  requests; listings are walked newest first and a listing stops after
  ``STALE_LISTING_PAGES`` consecutive pages that show no new article.
- **full** (``crawl --full``, and the first run of a site): every listing is walked to its
  end and every known article is revalidated with its stored validators.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from scrapy.dupefilters import BaseDupeFilter
from scrapy.utils.request import fingerprint

from .canonical import BadURL, fetch_key, host_of
from .store import Archive, utc_now

logger = logging.getLogger(__name__)

# Outcomes of a URL in the frontier.
ARTICLE, LISTING, NEXT, PAGE, ERROR, SKIPPED, REDIRECT, DROPPED = (
    "article", "listing", "next", "page", "error", "skipped", "redirect", "dropped")
# Done in the current run: never asked again in it (a resumed run included). Pages and
# listings are walked again on resume: their links are what leads to the rest.
_FINAL = {ARTICLE, ERROR, SKIPPED, REDIRECT}
FLUSH_EVERY = 2.0  # seconds: buffered frontier rows are written at least this often
FLUSH_SIZE = 2000


@lru_cache(maxsize=200_000)
def canonical_for_fetch(url: str, family: str | None) -> str:
    """The de-duplication key of a URL (``crawler.canonical.fetch_key``; cached: the same
    links recur on every page)."""
    try:
        return fetch_key(url, family)
    except BadURL:
        return url


def _setting(settings):  # noqa: ANN001, ANN202
    """A getter: the crawl's setting, else crawler/settings.py's (a crawler built from
    other settings, as tests do, still gets the project's one value)."""
    from . import settings as project

    def value(name: str):  # noqa: ANN202
        got = settings.get(name)
        return getattr(project, name) if got is None else got

    return value


def parse_revisit_policy(text: str) -> list[tuple[float, float]]:
    """``"7:1,30:7,365:30,*:180"`` -> [(max age in days, revisit every N days), ...].

    An article published (or first seen) at most 7 days ago is due again after a day,
    one up to 30 days old after a week, ... and any older one after 180 days.
    """
    rules = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        age, sep, every = part.partition(":")
        if not sep:
            raise ValueError(f"REVISIT_POLICY: {part!r} is not AGE_DAYS:EVERY_DAYS")
        try:
            rules.append((float("inf") if age.strip() == "*" else float(age), float(every)))
        except ValueError as exc:
            raise ValueError(f"REVISIT_POLICY: {part!r} is not AGE_DAYS:EVERY_DAYS") from exc
    if not rules:
        raise ValueError("REVISIT_POLICY is empty")
    return sorted(rules)


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value[:25] if "T" in value else value[:10])
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass
class Row:
    """A frontier row as a run sees it (see the ``frontier`` table in docs/SCHEMA.md)."""

    key: str
    site: str
    url: str
    kind: str
    hops: int
    priority: int
    state: str
    run: int | None
    outcome: str | None
    article_id: int | None
    etag: str | None
    last_modified: str | None
    fetched_at: str | None
    published: str | None = None
    first_seen: str | None = None


class CrawlState:
    """The crawl's state; see the module docstring."""

    def __init__(self, crawler):  # noqa: ANN001
        self.crawler = crawler
        settings = crawler.settings
        # One value of each: crawler/settings.py's, unless the crawl's settings override it.
        value = _setting(settings)
        self.page_cap = int(value("SITE_PAGE_CAP"))
        self.hop_limit = int(value("LINK_HOP_LIMIT"))
        self.stale_pages = int(value("STALE_LISTING_PAGES"))
        self.revisit = parse_revisit_policy(value("REVISIT_POLICY"))
        self.revisit_other = float(value("REVISIT_OTHER_DAYS"))
        self.revisit_errors = float(value("REVISIT_ERROR_DAYS"))
        self.full_requested = settings.getbool("CRAWL_FULL", False)
        self.sites: dict = {}  # site key -> crawler.sites.Site
        self.host_site: dict = {}
        self.family: dict[str, str | None] = {}  # learned or given per site
        self.seen: set[str] = set()  # THE de-duplication layer: keys claimed this run
        self.known: set[str] = set()  # keys the frontier held when the run began
        self.postbacks_seen: set[tuple] = set()
        self.hrefs_decided: set[tuple[str, str]] = set()
        self.redirects: dict[str, str] = {}  # URL -> where it redirected
        self.sent: dict[str, int] = {}  # page-cap counts per site
        self.counts: Counter = Counter()  # new/changed/unchanged/errors, for people
        self.run: dict[str, int] = {}  # site key -> crawl id that began the current run
        self.mode: dict[str, str] = {}  # site key -> "full" | "nightly"
        self.resumed: dict[str, bool] = {}
        self.scheduled: list[Row] = []  # what start() requests before the start URLs
        self.watermarks: dict[tuple[str, str], str] = {}
        # Site templates (crawler/templates.py), per host: stored ones from earlier runs,
        # relearned from the first TEMPLATE_LEARN_PAGES pages of this run, then kept.
        self.templates: dict = {}
        self.learners: dict = {}
        self.template_pages = settings.getint("TEMPLATE_LEARN_PAGES", 40)
        self.stored_templates: set[str] = set()  # hosts whose template an earlier run kept
        self.archive: Archive | None = None
        self.crawl_id: int | None = None
        self._buffer: list[tuple] = []  # ("pending"|"done"|"mark"|"call", values) in order
        self._flushed = time.monotonic()
        self.commit_items = max(1, int(value("ARCHIVE_COMMIT_ITEMS")))
        self.commit_seconds = float(value("ARCHIVE_COMMIT_SECONDS"))
        self._calls = 0  # records waiting in the buffer
        self._writing = False
        self._first_call = 0.0  # when the oldest of them was queued
        self._timer = None
        # Run just before each commit: the WARC files are fsynced before a row pointing
        # into them commits (crawler/warc.py).
        self.before_commit: list = []
        self._now = datetime.now(UTC)

    @classmethod
    def of(cls, crawler) -> CrawlState:  # noqa: ANN001
        state = getattr(crawler, "_crawl_state", None)
        if state is None:
            state = crawler._crawl_state = cls(crawler)
        return state

    # -- sites ----------------------------------------------------------------
    def add_sites(self, sites) -> None:  # noqa: ANN001
        for site in sites:
            self.sites[site.key] = site
            self.family.setdefault(site.key, None if site.family == "auto" else site.family)
            for host in site.hosts:
                self.host_site[host] = site

    def site_of_url(self, url: str):  # noqa: ANN201
        return self.host_site.get(host_of(url))

    def page_cap_of(self, site_key: str) -> int:
        site = self.sites.get(site_key)
        return (site.page_cap if site and site.page_cap else None) or self.page_cap

    def learn_family(self, site_key: str, family: str) -> None:
        """The family recognized from a site's pages; kept, so that a resumed or later run
        computes the same keys from its first request on."""
        self.family[site_key] = family
        self._add("family", (family, site_key))

    def stale_pages_of(self, site_key: str) -> int:
        """K: a nightly run stops paging a listing after K pages with no new article. A
        site's ``stale_pages`` (registry) wins over its family's, which wins over
        STALE_LISTING_PAGES."""
        site = self.sites.get(site_key)
        for holder in (site, self._family_obj(site_key)):
            value = getattr(holder, "stale_pages", None)
            if value:
                return int(value)
        return self.stale_pages

    def _family_obj(self, site_key: str):  # noqa: ANN202
        name = self.family.get(site_key)
        if not name:
            return None
        from .profiles import load

        return load().family(name)

    # -- the run --------------------------------------------------------------
    def open(self, path) -> Archive:  # noqa: ANN001
        """Open the archive (one connection: records and frontier commit together)."""
        if self.archive is None:
            self.archive = Archive(path)
        return self.archive

    def begin(self, crawl_id: int) -> None:
        """Decide per site: resume its unfinished run, or start a full or nightly one; load
        what it knows (seen keys, requests to make first)."""
        self.crawl_id = crawl_id
        if self._timer is None and self.commit_seconds > 0:
            from twisted.internet import reactor, task

            if reactor.running:
                self._timer = task.LoopingCall(self._tick)
                self._timer.start(self.commit_seconds, now=False)
        db = self.archive.db
        self._now = datetime.now(UTC)
        for key, site in self.sites.items():
            row = db.execute("select run, mode, family, finished from frontier_sites "
                             "where site = ?", [key]).fetchone()
            full = self.full_requested
            if row is not None and row[3] is None:
                run, mode = row[0], ("full" if full or row[1] == "full" else "nightly")
                self.resumed[key] = True
            else:
                run, mode = crawl_id, ("full" if full or row is None else "nightly")
                self.resumed[key] = False
            if row is not None and row[2] and not self.family.get(key):
                self.family[key] = row[2]
            self.run[key], self.mode[key] = run, mode
            with db.atomic():
                db.execute(
                    "insert into frontier_sites (site, run, mode, family, started, finished, "
                    "crawl_id) values (?, ?, ?, ?, ?, null, ?) on conflict(site) do update set "
                    "run = excluded.run, mode = excluded.mode, family = coalesce("
                    "excluded.family, frontier_sites.family), started = case when "
                    "frontier_sites.run = excluded.run then frontier_sites.started else "
                    "excluded.started end, finished = null, crawl_id = excluded.crawl_id",
                    [key, run, mode, self.family.get(key), utc_now(), crawl_id])
            self._load(key, site, run, mode)
            for host in site.hosts:
                stored = self.archive.load_template(host)
                if stored:
                    self.templates[host] = stored
                    self.stored_templates.add(host)
            for (listing, newest) in db.execute(
                    "select listing, newest from frontier_marks where site = ?", [key]):
                self.watermarks[(key, listing)] = newest
            logger.info("site %s: %s run %s (%s); %d requests from the frontier", key,
                        "resuming" if self.resumed[key] else "new", run, mode,
                        sum(r.site == key for r in self.scheduled))

    def _load(self, key: str, site, run: int, mode: str) -> None:  # noqa: ANN001
        family = self.family.get(key)
        rows = self.archive.db.execute(
            "select f.key, f.site, f.url, f.kind, f.hops, f.priority, f.state, f.run, "
            "f.outcome, f.article_id, f.etag, f.last_modified, f.fetched_at, a.published, "
            "a.first_seen from frontier f left join articles a on a.id = f.article_id "
            "where f.site = ?", [key]).fetchall()
        start = {self.key_of(u, family) for u in site.start_urls}
        by_key: dict[str, Row] = {}
        for values in rows:
            row = Row(*values)
            # Keys depend on the family; one learned late in an earlier run is known now.
            row.key = self.key_of(row.url, family) if row.kind == "page" else row.key
            old = by_key.get(row.key)
            if old is None or (old.outcome != ARTICLE and row.outcome == ARTICLE):
                by_key[row.key] = row
        for row in by_key.values():
            self.known.add(row.key)
            if row.key in start or row.kind == "robots":
                continue  # start pages: always asked for; robots.txt: Scrapy's own
            current = row.run == run
            if current and row.state == "pending":
                self.seen.add(row.key)
                self.scheduled.append(row)
            elif current and row.outcome in _FINAL:
                self.seen.add(row.key)
            elif row.outcome == LISTING:
                # Listings, feeds, sitemaps: every run, from a fresh GET, even when the
                # pages that led to them are not read again (a sub-site's home page).
                self.seen.add(row.key)
                self.scheduled.append(row)
            elif current:
                continue  # a listing's later page or a page of this run: walked again
            elif row.outcome == ARTICLE:
                self.seen.add(row.key)
                if mode == "full" or self._due(row):
                    self.scheduled.append(row)
            elif row.outcome in (NEXT, None) or mode == "full":
                continue  # a listing's later pages: reached by walking it
            elif not self._due(row):
                self.seen.add(row.key)

    def _due(self, row: Row) -> bool:
        fetched = _when(row.fetched_at)
        if fetched is None:
            return True
        since = (self._now - fetched).total_seconds() / 86400
        if row.outcome == ARTICLE:
            born = _when(row.published) or _when(row.first_seen) or fetched
            age = (self._now - born).total_seconds() / 86400
            every = next(e for a, e in self.revisit if age <= a) if age <= self.revisit[-1][0] \
                else self.revisit[-1][1]
            return since >= every
        if row.outcome == ERROR:
            return since >= self.revisit_errors
        return since >= self.revisit_other

    def is_nightly(self, site_key: str) -> bool:
        return self.mode.get(site_key) == "nightly"

    # -- de-duplication -------------------------------------------------------
    def key_of(self, url: str, family: str | None) -> str:
        return canonical_for_fetch(url, family)

    def claim(self, key: str, url: str, site_key: str, *, kind: str = "page", hops: int = 0,
              priority: int = 0, force: bool = False) -> bool:
        """First time this run: True, and the URL is queued in the frontier."""
        if key in self.seen and not force:
            return False
        self.seen.add(key)
        self._add("pending", (key, site_key, url, kind, hops, priority,
                              self.run.get(site_key, self.crawl_id)))
        return True

    def is_new(self, key: str) -> bool:
        """Not in the frontier when this run began."""
        return key not in self.known

    # -- outcomes -------------------------------------------------------------
    def done(self, keys, outcome: str, *, url: str | None = None, site_key: str = "",
             kind: str = "page", hops: int = 0, etag: str | None = None,
             last_modified: str | None = None, article_id: int | None = None,
             fetched: bool = True) -> None:  # noqa: ANN001
        """Mark URLs done (buffered: written in order, after the links found before)."""
        run = self.run.get(site_key, self.crawl_id)
        at = utc_now() if fetched else None
        for i, key in enumerate(dict.fromkeys(k for k in keys if k)):
            self._add("done", (key, site_key, url if i == 0 and url else key, kind, hops, run,
                               outcome if i == 0 else REDIRECT if outcome == ARTICLE else
                               outcome, article_id if i == 0 else None, etag if i == 0 else
                               None, last_modified if i == 0 else None, at))

    def watermark(self, site_key: str, listing: str, newest: str) -> None:
        """The newest article a listing's first page shows (kept per listing)."""
        if self.watermarks.get((site_key, listing)) != newest:
            self.watermarks[(site_key, listing)] = newest
            self._add("mark", (site_key, listing, newest, utc_now(), self.crawl_id))

    def _add(self, what: str, values: tuple) -> None:
        self._buffer.append((what, values))
        if self._writing:
            return  # a record being written adds its marks: written right after it
        if len(self._buffer) >= FLUSH_SIZE or time.monotonic() - self._flushed >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write and commit everything buffered, records included, in one transaction."""
        if self.archive is None or not self._buffer or self._writing:
            return
        self._writing = True
        pending = self._buffer
        try:
            with self.archive.db.atomic():
                self._write()
                for hook in self.before_commit:
                    hook()
        except BaseException:
            # Rolled back (disk full, the archive locked by another process too long):
            # kept, and tried again with the next commit.
            self._buffer = pending + self._buffer
            raise
        else:
            self._calls = 0
        finally:
            self._writing = False

    def commit(self, write, then=None) -> None:  # noqa: ANN001
        """Queue ``write(archive)`` (a record and the done marks it adds) after everything
        buffered so far (the out-links of the page it records). It is written in one
        transaction with those rows and up to ARCHIVE_COMMIT_ITEMS - 1 other records,
        within ARCHIVE_COMMIT_SECONDS; ``then(result)`` is called once it is written.
        A crash loses only uncommitted work, and the frontier commits with it: the
        pages of lost records are still pending, so the next run fetches them."""
        self._buffer.append(("call", (write, then)))
        now = time.monotonic()
        if not self._calls:
            self._first_call = now
        self._calls += 1
        if self._calls >= self.commit_items or now - self._first_call >= self.commit_seconds:
            self.flush()

    def _tick(self) -> None:
        if self._calls and time.monotonic() - self._first_call >= self.commit_seconds:
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - retried at the next tick or commit
                logger.exception("could not write the archive")

    def _call(self, write, then) -> None:  # noqa: ANN001
        # Its own savepoint: a record that fails leaves the others of the batch intact.
        try:
            with self.archive.db.atomic():
                result = write(self.archive)
                self._write()  # the done marks it added, right after it
        except Exception:  # noqa: BLE001 - one record, not the crawl
            logger.exception("could not write a record to the archive")
            return
        if then is not None:
            then(result)

    _PENDING_SQL = (
        "insert into frontier (key, site, url, kind, hops, priority, state, run) "
        "values (?, ?, ?, ?, ?, ?, 'pending', ?) on conflict(key) do update set "
        "state = 'pending', run = excluded.run, hops = min(frontier.hops, "
        "excluded.hops), priority = excluded.priority")
    _DONE_SQL = (
        "insert into frontier (key, site, url, kind, hops, priority, run, state, "
        "outcome, article_id, etag, last_modified, fetched_at) values "
        "(?, ?, ?, ?, ?, 0, ?, 'done', ?, ?, ?, ?, ?) on conflict(key) do update set "
        "state = 'done', run = excluded.run, outcome = case when "
        "frontier.outcome = 'listing' and excluded.outcome in ('page', 'next') then 'listing' "
        "else excluded.outcome end, "
        "url = case when excluded.article_id is not null then excluded.url else "
        "frontier.url end, article_id = coalesce(excluded.article_id, "
        "frontier.article_id), etag = coalesce(excluded.etag, frontier.etag), "
        "last_modified = coalesce(excluded.last_modified, frontier.last_modified), "
        "fetched_at = coalesce(excluded.fetched_at, frontier.fetched_at)")

    def _write(self) -> None:
        buffer, self._buffer = self._buffer, []
        self._flushed = time.monotonic()
        conn = self.archive.db.conn
        # Consecutive frontier rows of one kind go in one executemany (same order).
        rows: list = []
        sql = None
        for what, values in buffer:
            if what in ("pending", "done"):
                kind_sql = self._PENDING_SQL if what == "pending" else self._DONE_SQL
                if kind_sql is not sql and rows:
                    conn.executemany(sql, rows)
                    rows = []
                sql = kind_sql
                rows.append(values)
                continue
            if rows:
                conn.executemany(sql, rows)
                rows = []
            if what == "call":
                self._call(*values)
            elif what == "template":
                self.archive.save_template(*values)
            elif what == "family":
                conn.execute("update frontier_sites set family = ? where site = ?", values)
            else:
                conn.execute(
                    "insert into frontier_marks (site, listing, newest, seen_at, crawl_id) "
                    "values (?, ?, ?, ?, ?) on conflict(site, listing) do update set "
                    "newest = excluded.newest, seen_at = excluded.seen_at, "
                    "crawl_id = excluded.crawl_id", values)
        if rows:
            conn.executemany(sql, rows)

    def template_for(self, host: str, root):  # noqa: ANN001, ANN201
        """The host's template for this page; the page teaches it while the run's learner
        has seen fewer than TEMPLATE_LEARN_PAGES pages (call before extraction, which
        rearranges the tree)."""
        from .templates import TemplateLearner

        learner = self.learners.get(host)
        if learner is None:
            learner = self.learners[host] = TemplateLearner()
        if root is not None and learner.pages < self.template_pages:
            learner.observe(root)
            # A stored template stays the one this run reads with (a resumed run reads
            # its remaining articles as the killed run read the first ones).
            if host not in self.stored_templates and learner.pages >= learner.min_pages and (
                    learner.pages % 5 == 0 or learner.pages == self.template_pages):
                self.templates[host] = learner.template()
            if host not in self.stored_templates and learner.pages == self.template_pages:
                # Learned: kept at once, written before the first article read with it.
                self._add("template", (host, self.templates[host]))
        return self.templates.get(host)

    def template_pending(self, host: str) -> bool:
        """The host has no stored template and this run is still learning it (fewer than
        TEMPLATE_LEARN_PAGES pages seen): its articles wait for the template (the spider
        holds them, bounded by that number) rather than keep its chrome."""
        if host in self.stored_templates:
            return False
        learner = self.learners.get(host)
        return learner is None or learner.pages < self.template_pages

    def finish(self, reason: str) -> None:
        """Write what is buffered; a run that ended normally is finished (the next one is
        new), any other end (shutdown, kill) leaves it to be resumed. Templates learned
        from enough pages are kept with their site."""
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        if self.archive is None:
            return
        self.flush()
        db = self.archive.db
        for host, learner in self.learners.items():
            # A short nightly run learns from few pages: it does not replace a template
            # learned from more.
            if host in self.stored_templates and learner.pages < self.template_pages:
                continue
            template = learner.template()
            if template:
                self.archive.save_template(host, template)
        with db.atomic():
            self._write()
            for key in self.sites:
                db.execute("update frontier_sites set family = coalesce(?, family) "
                           "where site = ?", [self.family.get(key), key])
                if reason == "finished":
                    # Left pending in a finished run: dropped on the way (a duplicate
                    # redirect, an off-site answer); nothing to resume.
                    db.execute("update frontier set state = 'done', outcome = coalesce("
                               "outcome, ?) where site = ? and state = 'pending'", [DROPPED, key])
                    db.execute("update frontier_sites set finished = ? where site = ?",
                               [utc_now(), key])


class FrontierDupeFilter(BaseDupeFilter):
    """Scrapy's duplicate filter over the crawl state's keys: requests the spider made
    were claimed when it made them; others (redirects) are claimed here."""

    def __init__(self, state: CrawlState):
        self.state = state

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001, ANN206
        return cls(CrawlState.of(crawler))

    def request_seen(self, request) -> bool:  # noqa: ANN001
        meta = request.meta
        if meta.get("key") is not None and meta.get("key_url") == request.url:
            return False  # claimed by the spider when it made the request
        if request.method == "GET":
            key = self.state.key_of(request.url, meta.get("family"))
        else:
            key = fingerprint(request).hex()
        if key in self.state.seen:
            if meta.get("key") is not None:  # a redirect to a URL fetched already
                self.state.done([meta["key"]], REDIRECT, site_key=meta.get("site", ""))
            return True
        self.state.seen.add(key)  # a redirect target: the done mark covers it
        return False

    def log(self, request, spider) -> None:  # noqa: ANN001
        logger.debug("duplicate, not requested again: %s", request.url)


_PAGE_NO = re.compile(r"(?i)[?&](?:page|p|trang|pageindex)=(\d{1,5})")


def page_number(url: str, default: int = 1) -> int:
    m = _PAGE_NO.search(url)
    return int(m.group(1)) if m else default
