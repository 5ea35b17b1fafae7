"""The bundled demo portal: a SharePoint PublishingPortal-style provincial site served on
127.0.0.1 by a stdlib ``ThreadingHTTPServer`` in a background thread.

    portal = DemoPortal(n_articles=300, seed=1, slow_delay=0.5)
    base_url = portal.start(port=0)        # "http://127.0.0.1:54321"
    ...                                    # crawl it
    portal.articles                        # ground truth, one dict per archivable article
    portal.broken                          # URLs that must end in fetch_errors
    portal.requests                        # [(method, path_with_query, status), ...]
    portal.stop()

or ``with DemoPortal() as portal: ...``. By hand: ``python -m crawler.demo.portal --port 8080``.
"""

from __future__ import annotations

import argparse
import threading
import time
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from .content import MAIN_CATEGORIES, MAIN_PREFIX, SUB_CATEGORIES, SUB_PREFIX, Article
from .site import PAGER_TARGET, Response, Site

__all__ = ["DemoPortal"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/8.5"
    sys_version = ""
    timeout = 15  # idle keep-alive connections are closed after this
    # Headers and body go out in two writes: with Nagle's algorithm on, the body waits
    # for the client's delayed ACK (about 40 ms per answer on a kept-alive connection).
    disable_nagle_algorithm = True
    portal: DemoPortal  # set on the subclass made per portal

    def log_message(self, format, *args):  # noqa: A002 - silence the stderr access log
        pass

    def _serve(self, method: str) -> None:
        self.portal._enter()
        try:
            self._answer(method)
        finally:
            self.portal._leave()

    def _answer(self, method: str) -> None:
        form = None
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            form = {k: v[-1] for k, v in
                    parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
        host = self.headers.get("Host") or self.portal.host_port
        resp = self.portal.site.handle(method, self.path, form, host_base=f"http://{host}",
                                       headers=self.headers if self.portal.validators else None)
        if resp.delay < 0:
            resp.delay = self.portal.slow_delay
        resp.delay += self.portal.delay
        if resp.delay:
            time.sleep(resp.delay)
        self.portal._log(method, self.path, resp.status)
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        self.send_header("X-AspNet-Version", "4.0.30319")
        self.send_header("X-Powered-By", "ASP.NET")
        self.send_header("MicrosoftSharePointTeamServices", "15.0.0.4569")
        self.send_header("X-SharePointHealthScore", "0")
        if resp.content_type.startswith("text/html"):
            self.send_header("Cache-Control", "private, max-age=0")
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(resp.body)

    def do_GET(self):  # noqa: N802
        self._serve("GET")

    def do_HEAD(self):  # noqa: N802
        self._serve("HEAD")

    def do_POST(self):  # noqa: N802
        self._serve("POST")


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a crawler opening 8 connections at once
    # overflows it, and the kernel drops SYNs that the client only resends after 1 s.
    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request, client_address):  # noqa: ANN001
        # A crawler killed mid-request resets its connections: not the server's error.
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class DemoPortal:
    """The demo site plus its ground truth. Deterministic for a given (n_articles, seed)."""

    def __init__(self, n_articles: int = 300, seed: int = 1, slow_delay: float = 0.5,
                 host: str = "127.0.0.1", delay: float = 0.0, validators: bool = True,
                 discovery: str = "home"):
        self.n_articles = n_articles
        self.seed = seed
        self.slow_delay = slow_delay
        self.delay = delay  # seconds every answer waits (a slower server, for kill tests)
        # Article pages carry ETag/Last-Modified; False: conditional requests are ignored
        # (answered 200 in full), as some servers do.
        self.validators = validators
        self.host = host
        # What the home page leads to first (crawler.demo.site.DISCOVERY).
        self.site = Site(n_articles=n_articles, seed=seed, discovery=discovery)
        self.base_url: str | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._log_lock = threading.Lock()
        self._requests: list[tuple[str, str, int]] = []
        self._in_flight = 0
        self.max_in_flight = 0  # most requests served at the same time (politeness checks)

    # ------------------------------------------------------------------ server
    @property
    def host_port(self) -> str:
        return (self.base_url or f"http://{self.host}").removeprefix("http://")

    def start(self, port: int = 0) -> str:
        """Serve in a background thread; returns the base URL (``http://127.0.0.1:PORT``)."""
        if self._server is not None:
            return self.base_url
        handler = type("DemoPortalHandler", (_Handler,), {"portal": self})
        self._server = _Server((self.host, port), handler)
        self._server.daemon_threads = True
        self.base_url = f"http://{self.host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="demo-portal", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> DemoPortal:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _enter(self) -> None:
        with self._log_lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._log_lock:
            self._in_flight -= 1

    def _log(self, method: str, path: str, status: int) -> None:
        with self._log_lock:
            self._requests.append((method, path, status))

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        """A copy of the request log: (method, path with query, status), in serving order."""
        with self._log_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._requests.clear()

    # ------------------------------------------------------------------ pages without HTTP
    def render(self, target: str, method: str = "GET", form: dict | None = None) -> Response:
        """The response the server would give (fail-once state included; no slow delay)."""
        return self.site.handle(method, target, form, host_base=self._base())

    def page(self, article: dict | Article) -> bytes:
        """The HTML of an article page at its canonical URL, bypassing error behaviour."""
        a = article if isinstance(article, Article) else self._article(article["item_id"],
                                                                        article.get("subsite"))
        return self.site.article_page(a, a.path().split("?", 1)[1])

    # ------------------------------------------------------------------ ground truth
    def _base(self) -> str:
        return self.base_url or f"http://{self.host}"

    def _article(self, item_id: int, subsite: str | None = None) -> Article:
        prefix = SUB_PREFIX if subsite else MAIN_PREFIX
        return self.site.by_key[(prefix, item_id)]

    def _truth(self, a: Article) -> dict:
        base = self._base()
        nfc = _nfc
        paragraphs = [nfc(p) for p in a.paragraphs]
        return {
            "item_id": a.item_id,
            "subsite": a.prefix.strip("/") or None,
            "categories": list(a.categories),
            "status": a.status,
            "url": base + a.path(),
            "urls": [base + p for p in self.site.url_variants(a)],
            "site": self.host_port,
            "family": "publishingportal",
            "title": nfc(a.title),
            "published": a.published,
            "summary": nfc(a.lead),
            "body": "\n\n".join(paragraphs),
            "captions": [nfc(im.caption) for im in a.images if im.caption],
            # "paragraph": the image stands after that many body paragraphs (markup.body).
            "images": [{"src": base + im.path, "caption": nfc(im.caption) if im.caption else None,
                        "paragraph": im.after} for im in a.images],
            "byline": nfc(a.byline) if a.byline else None,
            "source": nfc(a.source) if a.source else None,
            "attachments": [{"url": base + f.path, "name": nfc(f.name)} for f in a.attachments],
        }

    @property
    def articles(self) -> list[dict]:
        """One dict per article that a correct crawl archives (oldest first; after
        ``advance()`` the deleted one is left out and the new ones come last)."""
        return [self._truth(a) for a in self.site.articles
                if a.status not in ("always_500", "missing", "deleted")]

    def advance(self, n_new: int = 15) -> None:
        """Switch to the later state: ``n_new`` new articles on top, three edited (newest,
        middle, oldest), one deleted (404), every other page byte-identical with the same
        ETag and Last-Modified. See ``new_articles``, ``edited``, ``deleted``."""
        self.site.advance(n_new)

    @property
    def new_articles(self) -> list[dict]:
        return [self._truth(a) for a in self.site.new]

    @property
    def edited(self) -> list[dict]:
        return [self._truth(a) for a in self.site.edited]

    @property
    def deleted(self) -> list[dict]:
        return [self._truth(a) for a in self.site.deleted]

    @property
    def broken(self) -> list[str]:
        """Canonical URLs that never succeed: the always-500 articles and the 404 teaser."""
        base = self._base()
        out = [base + a.path() for a in self.site.articles if a.status == "always_500"]
        return out + [base + self.site.phantom.path()]

    @property
    def broken_items(self) -> list[dict]:
        base = self._base()
        out = [{"item_id": a.item_id, "status": 500, "url": base + a.path(),
                "urls": [base + p for p in self.site.url_variants(a)]}
               for a in self.site.articles if a.status == "always_500"]
        ph = self.site.phantom
        return out + [{"item_id": ph.item_id, "status": 404, "url": base + ph.path(),
                       "urls": [base + ph.path()]}]

    @property
    def flaky(self) -> list[str]:
        """Canonical URLs of the pages that answer 500 once, then 200."""
        return [self._base() + a.path() for a in self.site.articles if a.status == "fail_once"]

    @property
    def slow_url(self) -> str:
        a = next(a for a in self.site.articles if a.status == "slow")
        return self._base() + a.path()

    @property
    def redirects(self) -> dict[str, str]:
        """Legacy ``/Pages/ViewNews.aspx?ID=n`` URL -> the canonical URL it 301-redirects to."""
        base = self._base()
        return {base + self.site.legacy_path(a): base + a.path() for a in self.site.featured}

    @property
    def start_url(self) -> str:
        return self._base() + "/"

    @property
    def feed_url(self) -> str:
        return self._base() + f"/_layouts/15/listfeed.aspx?List={self.site.list_guid}"

    @property
    def sitemap_url(self) -> str:
        return self._base() + "/sitemap.xml"

    @property
    def listing_urls(self) -> dict[str, str]:
        """First page of every listing: ``{"Tintrongtinh": url, ..., "congdoan/Tinhoatdong": url}``."""
        base = self._base()
        out = {code: f"{base}/noidung/tintuc/Pages/tin-tuc.aspx?l={code}"
               for code, _, _ in MAIN_CATEGORIES}
        for code, _, _ in SUB_CATEGORIES:
            out[f"{SUB_PREFIX.strip('/')}/{code}"] = \
                f"{base}{SUB_PREFIX}/noidung/tintuc/Pages/tin-tuc.aspx?l={code}"
        return out

    @property
    def pagination(self) -> dict[str, str]:
        """How each listing pages: ``get`` (``&Page=N``), ``postback`` or ``more`` (cursor)."""
        out = {code: kind for code, _, kind in MAIN_CATEGORIES}
        out.update({f"{SUB_PREFIX.strip('/')}/{c}": k for c, _, k in SUB_CATEGORIES})
        return out

    postback_target = PAGER_TARGET

    # Paths a polite crawler never requests (robots.txt) and trap prefixes it must avoid.
    disallowed_prefixes = ("/_layouts/", "/Pages/tim-kiem.aspx",
                           "/noidung/tintuc/Pages/in-bai-viet.aspx",
                           f"{SUB_PREFIX}/_layouts/", f"{SUB_PREFIX}/Pages/tim-kiem.aspx",
                           f"{SUB_PREFIX}/noidung/tintuc/Pages/in-bai-viet.aspx")
    allowed_exceptions = ("/_layouts/15/listfeed.aspx",)
    trap_prefixes = ("/lich-cong-tac/",)

    def summary(self) -> dict:
        """Counts, for the CLI and the docs."""
        arts = self.site.articles
        good = [a for a in arts if a.status not in ("always_500", "missing")]
        return {
            "articles": len(good),
            "main_site": sum(a.prefix == MAIN_PREFIX for a in good),
            "sub_site": sum(a.prefix == SUB_PREFIX for a in good),
            "multi_category": sum(len(a.categories) > 1 for a in good),
            "with_images": sum(bool(a.images) for a in good),
            "images": sum(len(a.images) for a in good),
            "with_attachments": sum(bool(a.attachments) for a in good),
            "attachments": sum(len(a.attachments) for a in good),
            "with_source": sum(bool(a.source) for a in good),
            "with_time": sum(a.show_time for a in good),
            "url_variants": sum(len(self.site.url_variants(a)) for a in good),
            "always_500": sum(a.status == "always_500" for a in arts),
            "fail_once": sum(a.status == "fail_once" for a in arts),
            "not_found": 1,
            "slow": 1,
            "in_feed": min(30, sum(a.prefix == MAIN_PREFIX for a in arts)),
            "in_sitemap": len(self.site.sitemap_articles()),
        }


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.demo.portal",
                                     description="Serve the demo PublishingPortal by hand.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--articles", type=int, default=300, help="number of archivable articles")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slow-delay", type=float, default=0.5)
    args = parser.parse_args(argv)
    portal = DemoPortal(n_articles=args.articles, seed=args.seed, slow_delay=args.slow_delay,
                        host=args.host)
    base = portal.start(port=args.port)
    counts = ", ".join(f"{k}={v}" for k, v in portal.summary().items())
    print(f"demo portal at {base}/  ({counts})\nCtrl-C to stop.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        portal.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
