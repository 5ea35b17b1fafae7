"""A small site that misbehaves the way real servers do, for the fault tests
(tests/test_faults.py) and the link-farm measurement in docs/BENCHMARKS.md.

    with FaultSite() as site:          # serves on 127.0.0.1, a free port
        site.start_url                 # http://127.0.0.1:PORT/
        site.hits("/busy")             # monotonic times the server got each request

Routes (each linked from the home page unless noted):
- ``/busy``: 503 with ``Retry-After`` (``retry_after`` seconds, or an HTTP date when
  ``retry_after_date``) the first time, then an article;
- ``/loop-a`` <-> ``/loop-b``: a redirect loop; ``/chain/0`` -> ``/chain/1`` -> ... a
  chain of ``chain`` redirects ending in an article;
- ``/bomb``: a gzip body that inflates to ``bomb_mb`` MB;
- ``/big``: a page of ``big_mb`` MB; ``/stream``: the same, chunked (no Content-Length);
- ``/deep``: an article nested ``deep`` elements deep; ``/empty``: 200 with no body;
- ``/farm``: a page of ``farm_links`` links (to ``/farm/N``, which answer 404);
- ``/article/N``: an article linking the next one, up to ``articles``;
- ``/robots.txt``: ``robots_status`` (200 with an allow-all file by default; 0: the
  connection is closed without an answer).
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_ARTICLE = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{title}</title>
</head><body><div class="menu"><a href="/">Trang chủ</a></div>{open}<article>
<h1>{title}</h1><div class="date">Ngày {day:02d}/03/2024</div>
{paragraphs}
</article>{close}</body></html>"""
_SENTENCES = [
    "Ủy ban nhân dân tỉnh tổ chức hội nghị tổng kết công tác năm và triển khai nhiệm vụ mới.",
    "Tham dự hội nghị có đại diện lãnh đạo các sở, ban, ngành và các huyện, thành phố.",
    "Đồng chí Chủ tịch đề nghị các đơn vị đẩy mạnh cải cách hành chính trong thời gian tới.",
    "Sở Giáo dục và Đào tạo đã hoàn thành kế hoạch tuyển sinh đầu cấp đúng thời hạn.",
    "Nhiều trường học được đầu tư xây dựng mới phòng học, nhà đa năng và thư viện.",
    "Ngành y tế tỉnh tăng cường công tác phòng, chống dịch bệnh mùa mưa bão.",
    "Hội nghị đã khen thưởng các tập thể, cá nhân có thành tích xuất sắc trong năm qua.",
    "Công tác chuyển đổi số được triển khai đồng bộ ở cấp tỉnh, huyện và xã.",
    "Nông dân trong tỉnh thu hoạch vụ lúa đông xuân đạt năng suất cao.",
    "Các tuyến đường giao thông nông thôn được bê tông hóa theo chương trình mục tiêu.",
    "Lễ hội truyền thống thu hút đông đảo du khách trong và ngoài tỉnh tham gia.",
]


def article(title: str, depth: int = 0, next_url: str | None = None) -> bytes:
    more = f'<div class="more"><a href="{next_url}">Hội nghị cán bộ</a></div>' if next_url else ""
    # The text differs from page to page: a site template drops what every page repeats.
    n = sum(map(ord, title))
    paragraphs = "\n".join(
        f"<p>{_SENTENCES[(n + i) % len(_SENTENCES)]} {_SENTENCES[(n * 7 + i) % len(_SENTENCES)]}"
        f" ({title}, mục {i + 1}).</p>" for i in range(3))
    return _ARTICLE.format(title=title, day=n % 28 + 1, paragraphs=paragraphs,
                           open="<div>" * depth, close="</div>" * depth + more).encode()


def farm(n: int) -> bytes:
    """A page of n links and no text of its own: a link farm."""
    links = "\n".join(f'<li><a href="/farm/{i}">Liên kết số {i}</a></li>' for i in range(n))
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>Liên kết</title></head>'
            f"<body><h1>Liên kết</h1><ul>{links}</ul></body></html>").encode()


class FaultSite:
    def __init__(self, *, retry_after: int = 3, retry_after_date: bool = False,
                 robots_status: int = 200, chain: int = 25, bomb_mb: int = 64,
                 big_mb: int = 3, deep: int = 400, farm_links: int = 100_000,
                 articles: int = 2, routes: tuple[str, ...] | None = None):
        self.retry_after = retry_after
        self.retry_after_date = retry_after_date
        self.robots_status = robots_status
        self.chain = chain
        self.bomb_mb = bomb_mb
        self.big_mb = big_mb
        self.deep = deep
        self.farm_links = farm_links
        self.articles = articles
        # Which routes the home page links (all by default).
        self.routes = routes or ("/busy", "/loop-a", "/chain/0", "/bomb", "/big", "/deep",
                                 "/farm", "/article/1")
        self._hits: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._bomb: bytes | None = None
        self._server: ThreadingHTTPServer | None = None

    # -- what was asked ---------------------------------------------------
    def hits(self, path: str | None = None) -> list[float]:
        with self._lock:
            return [t for t, p in self._hits if path is None or p == path]

    def paths(self) -> list[str]:
        with self._lock:
            return [p for _, p in self._hits]

    @property
    def start_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    # -- answers ----------------------------------------------------------
    def answer(self, path: str) -> tuple[int, dict, bytes]:
        html = {"Content-Type": "text/html; charset=utf-8"}
        if path == "/robots.txt":
            if self.robots_status == 0:
                return 0, {}, b""
            if self.robots_status == 200:
                return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow:\n"
            return self.robots_status, html, b"<html><body>Service Unavailable</body></html>"
        if path == "/":
            links = "".join(f'<li><a href="{r}">{r}</a></li>' for r in self.routes)
            return 200, html, (f'<!doctype html><html><head><meta charset="utf-8"><title>Trang '
                               f"chủ</title></head><body><ul>{links}</ul></body></html>").encode()
        if path == "/busy":
            if len(self.hits(path)) <= 1:
                when = (formatdate(time.time() + self.retry_after, usegmt=True)
                        if self.retry_after_date else str(self.retry_after))
                return 503, {**html, "Retry-After": when}, b"<html><body>Busy</body></html>"
            return 200, html, article("Hội nghị sau khi máy chủ bận")
        if path in ("/loop-a", "/loop-b"):
            return 302, {"Location": "/loop-b" if path == "/loop-a" else "/loop-a"}, b""
        if path.startswith("/chain/"):
            n = int(path.rsplit("/", 1)[1])
            if n < self.chain:
                return 302, {"Location": f"/chain/{n + 1}"}, b""
            return 200, html, article("Cuối chuỗi chuyển hướng")
        if path == "/bomb":
            if self._bomb is None:
                self._bomb = gzip.compress(b"<html><body>" + b" " * (self.bomb_mb << 20), 9)
            return 200, {**html, "Content-Encoding": "gzip"}, self._bomb
        if path in ("/big", "/stream"):
            filler = b"<p>" + "Nội dung lặp lại. ".encode() * 40 + b"</p>\n"
            body = article("Trang rất lớn").replace(
                b"</article>", filler * ((self.big_mb << 20) // len(filler)) + b"</article>")
            return 200, html, body
        if path == "/empty":
            return 200, html, b""
        if path == "/deep":
            return 200, html, article("Trang lồng quá sâu", depth=self.deep)
        if path == "/farm":
            return 200, html, farm(self.farm_links)
        if path.startswith("/article/"):
            n = int(path.rsplit("/", 1)[1])
            after = f"/article/{n + 1}" if n < self.articles else None
            return 200, html, article(f"Bài viết số {n}", next_url=after)
        return 404, html, b"<html><body>Not found</body></html>"

    # -- serving ----------------------------------------------------------
    def __enter__(self) -> FaultSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Headers and body are two writes: without this each kept-alive answer
                # waits ~40 ms for the delayed ACK.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self):  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                with site._lock:
                    site._hits.append((time.monotonic(), path))
                status, headers, body = site.answer(path)
                if status == 0:  # hang up without an answer
                    self.close_connection = True
                    return
                if path == "/stream":  # chunked: no Content-Length announces the size
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    try:
                        for i in range(0, len(body), 65536):
                            chunk = body[i:i + 65536]
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.write(b"0\r\n\r\n")
                    except OSError:  # the crawler stopped reading
                        self.close_connection = True
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # noqa: ANN002 - quiet
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # noqa: ANN001
                pass  # a crawler dropping a too-big answer resets the connection

        self._server = Server(("127.0.0.1", getattr(self, "port_wanted", 0)), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str] | None = None) -> None:
    """Serve a fault site until interrupted (for measurements by hand):
    ``python -m crawler.demo.faults --port 8940 --farm-links 100000 --routes /farm``."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8940)
    parser.add_argument("--farm-links", type=int, default=100_000)
    parser.add_argument("--big-mb", type=int, default=3)
    parser.add_argument("--robots-status", type=int, default=200)
    parser.add_argument("--routes", nargs="*", default=None)
    args = parser.parse_args(argv)
    site = FaultSite(farm_links=args.farm_links, big_mb=args.big_mb,
                     robots_status=args.robots_status,
                     routes=tuple(args.routes) if args.routes else None)
    site.port_wanted = args.port
    with site:
        print(f"serving {site.start_url}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
