"""Pages per second of extract_article vs trafilatura.extract on the same pages, same run.

    .venv/bin/python bench/extract_bench.py [--rounds N]

Also prints field accuracy of both against the fixtures' gold records (title, date,
body exact match; body similarity), so speed is never bought with worse records.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from crawler.extract import extract_article  # noqa: E402

PAGES = ROOT / "tests" / "fixtures" / "pages"


def load_cases():
    cases = []
    for gold_path in sorted(PAGES.glob("*.json")):
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        if gold["expected"].get("body"):  # articles only: speed on what archives hold
            cases.append((gold_path.stem, gold_path.with_suffix(".html").read_bytes(), gold))
    return cases


def timed(fn, cases, rounds):
    start = time.perf_counter()
    for _ in range(rounds):
        for _, data, gold in cases:
            fn(data, gold)
    elapsed = time.perf_counter() - start
    return rounds * len(cases) / elapsed


def ours(data, gold):
    return extract_article(data, gold["url"], content_type=gold.get("content_type"))


def theirs(data, gold):
    # trafilatura's own pipeline with its metadata (title, date, author), as a user runs it.
    return trafilatura.bare_extraction(data, url=gold["url"], with_metadata=True,
                                       include_comments=False, include_tables=True)


def theirs_text_only(data, gold):
    # trafilatura.extract with its defaults: main text only, no metadata (its fastest path).
    return trafilatura.extract(data, url=gold["url"])


def similarity(a: str | None, b: str | None) -> float:
    return difflib.SequenceMatcher(None, a or "", b or "", autojunk=False).ratio()


def accuracy(cases):
    rows = {"ours": [0, 0, 0, 0.0], "trafilatura": [0, 0, 0, 0.0]}
    for _, data, gold in cases:
        exp = gold["expected"]
        rec = ours(data, gold)
        doc = theirs(data, gold)
        t_title = getattr(doc, "title", None) if doc else None
        t_date = getattr(doc, "date", None) if doc else None
        t_body = (getattr(doc, "text", None) or "").replace("\n", "\n\n") if doc else ""
        for name, title, date, body in (
            ("ours", rec["title"], rec["published"], rec["body"]),
            ("trafilatura", t_title, t_date, t_body),
        ):
            r = rows[name]
            r[0] += title == exp["title"]
            r[1] += (date or "")[:10] == (exp["published"] or "")[:10]
            r[2] += body == exp["body"]
            r[3] += similarity(body, exp["body"])
    n = len(cases)
    return {k: (v[0] / n, v[1] / n, v[2] / n, v[3] / n) for k, v in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    cases = load_cases()
    runs = [("extract_article", ours), ("trafilatura bare_extraction+metadata", theirs),
            ("trafilatura.extract (text only)", theirs_text_only)]
    for _, fn in runs:  # warm up: imports, compiled XPaths, caches
        for _, data, gold in cases:
            fn(data, gold)
    speeds = {name: timed(fn, cases, args.rounds) for name, fn in runs}
    print(f"{len(cases)} article pages x {args.rounds} rounds, one process")
    print(f"{'':40}{'pages/s':>10}{'ours is':>10}")
    for name, pps in speeds.items():
        print(f"{name:40}{pps:>10.1f}{speeds['extract_article'] / pps:>9.2f}x")
    print()
    print(f"{'field accuracy':16}{'title':>8}{'date':>8}{'body =':>8}{'body ~':>8}")
    for name, (t, d, b, s) in accuracy(cases).items():
        print(f"{name:16}{t:>8.0%}{d:>8.0%}{b:>8.0%}{s:>8.3f}")


if __name__ == "__main__":
    main()
