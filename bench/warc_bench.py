"""What archival capture costs: WARC and media bytes per article, and crawl time with and
without capture, on the demo portal.

    .venv/bin/python bench/warc_bench.py [--articles 300] [--rounds 3] [--latency 0.05]

Each round crawls one demo portal (served by this process on 127.0.0.1) three times into
fresh archives, as users run it (``python -m crawler crawl`` in a child process, no delay,
no AutoThrottle, two requests in flight): with WARC capture and media downloads (the
default), with WARC capture only (``--no-media``), and with neither (``WARC_ENABLED=False``,
``--no-media``). Prints the median wall time of each and the bytes written.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s",
        "PROGRESS_ENABLED=False", "-s", "DOWNLOAD_TIMEOUT=10", "-s", "RETRY_TIMES=1",
        "-s", "BACKOFF_MAX_DELAY=0"]
CONFIGS = {
    "WARC + media (default)": [],
    "WARC, --no-media": ["--no-media"],
    "no capture": ["--no-media", "-s", "WARC_ENABLED=False"],
}


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() \
        else 0


def run(start_url: str, extra: list[str]) -> dict:
    import sqlite3

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "archive.db"
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--start-url",
                              start_url, "--db", str(db), *FAST, *extra],
                             capture_output=True, text=True, cwd=tmp)
        elapsed = time.perf_counter() - t0
        if out.returncode not in (0, 1):
            sys.exit(out.stderr[-3000:])
        conn = sqlite3.connect(db)
        articles = conn.execute("select count(*) from articles").fetchone()[0]
        media = conn.execute("select count(*) from media").fetchone()[0]
        conn.close()
        return {"seconds": elapsed, "articles": articles, "media": media,
                "warc": size(Path(tmp) / "warc"), "files": size(Path(tmp) / "files")}


def main() -> None:
    from crawler.demo import DemoPortal

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds the portal waits before every answer (default 0)")
    args = parser.parse_args()
    results: dict[str, list[dict]] = {name: [] for name in CONFIGS}
    with DemoPortal(n_articles=args.articles, seed=1, slow_delay=0.2,
                    delay=args.latency) as portal:
        for _ in range(args.rounds):
            for name, extra in CONFIGS.items():
                results[name].append(run(portal.start_url, extra))
    base = statistics.median(r["seconds"] for r in results["no capture"])
    print(f"demo portal, {args.articles} articles, server latency {args.latency * 1000:.0f} ms, "
          f"{args.rounds} rounds (median wall time of `python -m crawler crawl`, process "
          "start included)")
    print(f"{'configuration':<24} {'seconds':>8} {'vs none':>8} {'articles':>8} {'media':>6} "
          f"{'WARC MB':>8} {'WARC KB/art':>11} {'media KB/art':>12}")
    for name, rs in results.items():
        seconds = statistics.median(r["seconds"] for r in rs)
        last = rs[-1]
        n = max(1, last["articles"])
        print(f"{name:<24} {seconds:8.2f} {seconds / base:8.2f} {last['articles']:8d} "
              f"{last['media']:6d} {last['warc'] / 1e6:8.2f} {last['warc'] / n / 1e3:11.1f} "
              f"{last['files'] / n / 1e3:12.1f}")


if __name__ == "__main__":
    main()
