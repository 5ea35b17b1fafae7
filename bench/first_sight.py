"""Per-field score of the extractor on a batch of saved pages with gold records.

    .venv/bin/python bench/first_sight.py tests/fixtures/blind/01          # one batch
    .venv/bin/python bench/first_sight.py tests/fixtures/blind/* --generic # families off
    .venv/bin/python bench/first_sight.py tests/fixtures/pages --detail    # every miss

Run it on a blind batch before any code changes to get that batch's *first-sight* score
(docs/BENCHMARKS.md). Columns:

- title, date, byline, captions, summary, source: exact match with the gold record
  (captions: the whole list), over article pages;
- body F1: token F1 of the body against the gold body (bag of words), mean over articles;
- chrome: article pages where title, summary, byline or body holds a paragraph of three
  words or more that appears nowhere in the gold record (menu, footer, widget text);
- empty body: article pages that came back with no body (lost in a crawl);
- not-article right: non-article pages (gold warning ``not_article``) recognized as such.

``--trafilatura`` adds trafilatura's own title/date/author/body on the same pages.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.extract import extract_article  # noqa: E402
from crawler.profiles import load  # noqa: E402
from crawler.text import clean  # noqa: E402

EXACT = ("title", "published", "byline", "captions", "summary", "source")


def tokens(text: str | None) -> list[str]:
    return clean(text or "").lower().split()


def token_f1(got: str | None, want: str | None) -> float:
    g, w = Counter(tokens(got)), Counter(tokens(want))
    if not g and not w:
        return 1.0
    common = sum((g & w).values())
    if not common:
        return 0.0
    precision, recall = common / sum(g.values()), common / sum(w.values())
    return 2 * precision * recall / (precision + recall)


def _gold_text(expected: dict) -> str:
    parts = [expected.get(k) or "" for k in ("title", "summary", "body", "byline", "source")]
    parts += expected.get("captions") or []
    parts += [a.get("name") or "" for a in expected.get("attachments") or []]
    return clean(" ".join(parts)).lower()


def chrome_in(record: dict, expected: dict) -> list[str]:
    """Paragraphs of the record's text fields that the gold record does not hold."""
    gold = _gold_text(expected)
    leaks = []
    for name in ("title", "summary", "byline", "body"):
        for para in (record.get(name) or "").split("\n\n"):
            para = clean(para).lower()
            if len(para.split()) >= 3 and para not in gold:
                leaks.append(f"{name}: {para[:80]}")
    return leaks


def cases(paths: list[str]):
    for p in paths:
        path = Path(p)
        golds = sorted(path.glob("*.json")) if path.is_dir() else [path]
        for gold_path in golds:
            gold = json.loads(gold_path.read_text(encoding="utf-8"))
            if "expected" not in gold:
                continue
            yield gold_path, gold, gold_path.with_suffix(".html").read_bytes()


def trafilatura_record(data: bytes, url: str) -> dict:
    import trafilatura

    doc = trafilatura.bare_extraction(data, url=url, with_metadata=True,
                                      include_comments=False, include_tables=True)
    if doc is None:
        return {}
    get = (lambda k: getattr(doc, k, None)) if not isinstance(doc, dict) else doc.get
    return {"title": get("title"), "published": get("date"), "byline": get("author"),
            "body": get("text")}


def score(paths: list[str], *, generic: bool = False, detail: bool = False,
          with_trafilatura: bool = False) -> dict:
    profiles = load()
    if generic:
        profiles = dataclasses.replace(profiles, families=[])
    right: Counter = Counter()
    f1s: list[float] = []
    traf: Counter = Counter()
    traf_f1: list[float] = []
    n_articles = n_other = other_right = chrome = empty = 0
    for gold_path, gold, data in cases(paths):
        exp = gold["expected"]
        rec = extract_article(data, gold["url"], content_type=gold.get("content_type"),
                              profiles=profiles)
        codes = {w.split(":", 1)[0] for w in rec["warnings"]}
        if "not_article" in exp["warnings"]:
            n_other += 1
            ok = "not_article" in codes and not rec["body"]
            other_right += ok
            if detail and not ok:
                print(f"  {gold_path.stem}: non-article taken as article "
                      f"(title {rec['title']!r})")
            continue
        n_articles += 1
        misses = []
        for name in EXACT:
            if rec[name] == exp[name]:
                right[name] += 1
            else:
                misses.append(f"{name}: got {str(rec[name])[:90]!r} want {str(exp[name])[:90]!r}")
        f1 = token_f1(rec["body"], exp["body"])
        f1s.append(f1)
        leaks = chrome_in(rec, exp)
        chrome += bool(leaks)
        empty += bool(exp["body"]) and not rec["body"]
        if with_trafilatura:
            t = trafilatura_record(data, gold["url"])
            traf["title"] += clean(t.get("title")) == exp["title"]
            traf["published"] += (t.get("published") or None) == (exp["published"] or "")[:10] or (
                t.get("published") is None and exp["published"] is None)
            traf["byline"] += clean(t.get("byline")) == (exp["byline"] or "")
            traf_f1.append(token_f1(t.get("body"), exp["body"]))
        if detail and (misses or f1 < 0.98 or leaks):
            print(f"  {gold_path.stem}: body F1 {f1:.3f}")
            for m in misses + [f"chrome {x}" for x in leaks[:3]]:
                print(f"      {m}")
    result = {
        "articles": n_articles, "non_articles": n_other,
        **{name: right[name] for name in EXACT},
        "body_f1": sum(f1s) / len(f1s) if f1s else 0.0,
        "chrome": chrome, "empty_body": empty, "not_article_right": other_right,
    }
    if with_trafilatura:
        result["trafilatura"] = {**{k: traf[k] for k in ("title", "published", "byline")},
                                 "body_f1": sum(traf_f1) / len(traf_f1) if traf_f1 else 0.0}
    return result


def table(name: str, r: dict) -> str:
    n = r["articles"]
    pct = (lambda k: f"{r[k]}/{n} ({100 * r[k] / n:.0f}%)") if n else (lambda k: "-")
    head = ("| batch | title | date | byline | captions | summary | source | body F1 | "
            "chrome | empty body | not-article right |")
    row = (f"| {name} | {pct('title')} | {pct('published')} | {pct('byline')} | "
           f"{pct('captions')} | {pct('summary')} | {pct('source')} | {r['body_f1']:.3f} | "
           f"{r['chrome']}/{n} | {r['empty_body']}/{n} | "
           f"{r['not_article_right']}/{r['non_articles']} |")
    out = f"{head}\n|{'---|' * 11}\n{row}"
    if "trafilatura" in r:
        t = r["trafilatura"]
        out += (f"\ntrafilatura alone: title {t['title']}/{n}, date (day) {t['published']}/{n}, "
                f"byline {t['byline']}/{n}, body F1 {t['body_f1']:.3f}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", help="batch folders (NAME.html + NAME.json) or gold files")
    ap.add_argument("--generic", action="store_true", help="families switched off")
    ap.add_argument("--detail", action="store_true", help="print every miss")
    ap.add_argument("--trafilatura", action="store_true", help="score trafilatura alongside")
    ap.add_argument("--json", action="store_true", help="print the scores as JSON")
    args = ap.parse_args(argv)
    r = score(args.paths, generic=args.generic, detail=args.detail,
              with_trafilatura=args.trafilatura)
    name = " ".join(Path(p).name for p in args.paths) + (" (generic only)" if args.generic else "")
    print(json.dumps(r) if args.json else table(name, r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
