"""A small demo site served on 127.0.0.1 in a background thread (the commune and Liferay
demo sites): subclasses write ``answer(path) -> (status, body, content type)``."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackSite:
    """Serves ``answer()``; ``requests`` logs (path, status) of every GET."""

    headers: dict[str, str] = {}  # sent with every answer (a server's signature)

    def __init__(self):
        self.base_url: str | None = None
        self.requests: list[tuple[str, int]] = []
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def start_url(self) -> str:
        return self.base_url + "/"

    def answer(self, path: str) -> tuple[int, bytes, str]:
        raise NotImplementedError

    def start(self, port: int = 0) -> str:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out without a 40 ms wait

            def log_message(self, *args):  # noqa: ANN002
                pass

            def do_GET(self):  # noqa: N802
                status, body, ctype = site.answer(self.path)
                with site._lock:
                    site.requests.append((self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for name, value in site.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128
            daemon_threads = True

        self._server = Server(("127.0.0.1", port), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
