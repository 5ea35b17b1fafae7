"""Archive store at scale: size per article and newest-first search pages, side by side
with naive FTS5 in the same run.

    .venv/bin/python bench/store_bench.py                    # 1,000,000 articles (~25 min)
    .venv/bin/python bench/store_bench.py -n 20000 --keep    # a quick look
    .venv/bin/python bench/store_bench.py --db /tmp/a.db --reuse   # time an existing run

1. Generates a synthetic archive (seeded; Vietnamese syllables with a Zipf distribution
   headed by the real seed articles' words; lognormal lengths: title ~14, lead ~40, body
   ~430 syllables in paragraphs, captions, bylines, 300 sites, 15 years of dates) and
   writes it through ``Archive.save_article``, the code the crawl pipelines use.
2. Size per article, per table (dbstat), and the size of the search mechanism against the
   alternatives, measured on a small sample in the same run: no index; this archive's
   contentless folded index; a plain FTS5 index (sqlite-utils enable_fts, no đ folding);
   a folded shadow copy of the text with an FTS5 index on it.
3. For a rare, two medium and two very common words: the first page of ``_search=WORD``
   newest first as Datasette runs it (an in-process Datasette with the shipped metadata
   and plugin; its SQL re-timed), next to the naive query on a plain FTS5 table
   (``rowid in (select rowid from fts where fts match ?) order by published desc``).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.store import (  # noqa: E402
    FTS_COLUMNS,
    Archive,
    match_expression,
    search_plan,
    search_where,
)

SEEDS = Path("/work/shared/seeds")
_ONSETS = "b c ch d đ g gh gi h k kh l m n ng ngh nh p ph qu r s t th tr v x".split() + [""]
_RHYMES = (
    "a ai am an ang anh ao au ay e em en eng eo ê êm ên ênh êu i ia im in inh iu iêm iên "
    "iêng iêt o oa oai oan oang oanh oc oe oi om on ong ô ôi ôm ôn ông ơ ơi ơm ơn u ua uân "
    "uê ui um un ung uô uôi uôn uông ư ưa ưi ưng ươi ươn ương ưu y yên"
).split()
_TONES = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]
# The head of the distribution when the seed texts are not at hand.
_HEAD = (
    "và của các có được trong năm cho với đã là những một này người tại theo công tác "
    "học sinh giáo dục đào tạo tỉnh huyện xã ủy ban nhân dân ngày hội nghị thực hiện "
    "trường kế hoạch chỉ đạo đồng chí phát triển triển khai chương trình quản lý hoạt động"
).split()
_FAMILY_NAMES = "Nguyễn Trần Lê Phạm Hoàng Vũ Đặng Bùi Đỗ Hồ Ngô Dương Lý".split()
_GIVEN = "Ngọc Tú Thanh Tuyền Hồng Hà Minh Đức Thu Trang Văn Hùng Thị Lan Quốc Anh Bảo".split()


class Corpus:
    """Seeded Vietnamese-looking text with a Zipf word distribution."""

    def __init__(self, seed: int = 1, tail: int = 100_000):
        rng = random.Random(seed)
        head: dict[str, int] = {}
        texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
        for word in re.findall(r"\w+", " ".join(texts).lower() or " ".join(_HEAD)):
            if not word.isdigit():
                head[word] = head.get(word, 0) + 1
        vocab = sorted(head, key=lambda w: -head[w]) or list(_HEAD)
        syllables = set()
        for onset in _ONSETS:
            for rhyme in _RHYMES:
                for tone in _TONES:
                    s = onset + rhyme[0] + tone + rhyme[1:]
                    syllables.add(unicodedata.normalize("NFC", s))
        rest = sorted(syllables - set(vocab))
        rng.shuffle(rest)
        vocab += rest
        # Proper names and rare compounds: the long tail.
        vocab += [rng.choice(rest) + rng.choice(rest) for _ in range(tail)]
        self.vocab = vocab
        self.cum = list(itertools.accumulate(1 / (r + 2) ** 1.05 for r in range(len(vocab))))
        self.rng = rng

    def words(self, n: int) -> list[str]:
        return self.rng.choices(self.vocab, cum_weights=self.cum, k=max(1, n))

    def sentence(self, n: int) -> str:
        w = self.words(n)
        return w[0].capitalize() + " " + " ".join(w[1:]) + "."

    def length(self, median: float, sigma: float = 0.5) -> int:
        return max(3, int(self.rng.lognormvariate(0, sigma) * median))

    def record(self, i: int, sites: list[str]) -> dict:
        rng = self.rng
        site = sites[i % len(sites)]
        paragraphs = []
        remaining = self.length(430)
        while remaining > 0:
            n = min(remaining, self.length(70, 0.4))
            paragraphs.append(" ".join(self.sentence(self.length(18, 0.3))
                                       for _ in range(max(1, n // 18))))
            remaining -= n
        day = rng.randrange(15 * 365)
        published = None if rng.random() < 0.03 else time.strftime(
            "%Y-%m-%d", time.gmtime(1262304000 + day * 86400))
        n_images = rng.choice((0, 1, 1, 2, 3))
        captions = [self.sentence(self.length(10, 0.3)) for _ in range(n_images)
                    if rng.random() < 0.7]
        return {
            "url": f"https://{site}/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID={i}&l=Tin",
            "site": site,
            "family": "publishingportal",
            "title": self.sentence(self.length(14, 0.3)).rstrip("."),
            "published": published,
            "summary": self.sentence(self.length(40, 0.4)) if rng.random() < 0.8 else None,
            "body": "\n\n".join(paragraphs),
            "captions": captions,
            "images": [{"src": f"https://{site}/PictureLibrary/{i:x}/image{k:03}.jpg",
                        "caption": captions[k] if k < len(captions) else None}
                       for k in range(n_images)],
            "byline": (f"{rng.choice(_FAMILY_NAMES)} {rng.choice(_GIVEN)}"
                       if rng.random() < 0.85 else None),
            "source": None,
            "attachments": ([{"url": f"https://{site}/Documents/vb{i}.pdf", "name": "Văn bản"}]
                            if rng.random() < 0.15 else []),
            "language": "vi",
            "warnings": [],
        }


def generate(path: Path, n: int, seed: int = 1, progress: bool = True) -> float:
    """Write n synthetic articles through Archive.save_article; returns seconds taken."""
    corpus = Corpus(seed)
    sites = [f"s{k:03}.{p}.gov.vn" for k, p in zip(range(300), itertools.cycle(
        ["backan", "thainguyen", "caobang", "langson", "hagiang"]), strict=False)]
    start = time.perf_counter()
    with Archive(path) as archive:
        archive.db.execute("PRAGMA synchronous = OFF")
        crawl = archive.start_crawl(["bench"], {"articles": n, "seed": seed})
        batch = 5000
        for lo in range(0, n, batch):
            with archive.db.atomic():  # one commit per batch; each save as the pipeline does
                for i in range(lo, min(n, lo + batch)):
                    archive.save_article(corpus.record(i, sites), crawl_id=crawl,
                                         fetched_at="2025-01-01T00:00:00+00:00")
            if progress and (lo // batch) % 20 == 0:
                rate = (lo + batch) / (time.perf_counter() - start)
                print(f"  {min(n, lo + batch):>9,} articles, {rate:,.0f}/s", file=sys.stderr)
        archive.finish_crawl(crawl, "finished", {"pages_fetched": n})
        archive.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        archive.db.execute("ANALYZE")
    return time.perf_counter() - start


def table_sizes(conn: sqlite3.Connection) -> dict[str, int]:
    conn.execute("create virtual table if not exists temp.stat using dbstat")
    sizes: dict[str, int] = {}
    for name, size in conn.execute("select name, sum(pgsize) from temp.stat group by name"):
        sizes[name] = size
    return sizes


def group_sizes(sizes: dict[str, int], conn: sqlite3.Connection) -> dict[str, int]:
    """Bytes per table with its indexes; FTS shadow tables under their FTS table."""
    owner = {name: tbl for name, tbl in conn.execute(
        "select name, tbl_name from sqlite_master where type = 'index'")}
    out: dict[str, int] = {}
    for name, size in sizes.items():
        table = owner.get(name, name)
        if table.startswith("articles_fts"):
            table = "articles_fts (search index)"
        elif table.startswith("plain_fts"):
            table = "plain_fts (naive reference)"
        out[table] = out.get(table, 0) + size
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def mechanism_sizes(sample: Path, n: int) -> dict[str, float]:
    """Bytes per article of each search mechanism, on the same sample of articles."""
    src = sqlite3.connect(sample)
    rows = src.execute(f"select id, {', '.join(FTS_COLUMNS)} from articles limit ?",
                       [n]).fetchall()
    src.close()
    cols = ", ".join(FTS_COLUMNS)
    tok = "tokenize='unicode61 remove_diacritics 2'"
    out = {}
    fold = "replace(replace({c}, 'đ', 'd'), 'Đ', 'D')"
    folded = ", ".join(fold.format(c=c) for c in FTS_COLUMNS)
    shadow = ", ".join(f"f_{c}" for c in FTS_COLUMNS)
    variants = {
        "no index": [],
        "contentless, đ folded (this archive)": [
            f"create virtual table fts using fts5({cols}, content='', {tok})",
            f"insert into fts (rowid, {cols}) select id, {folded} from articles",
        ],
        "plain FTS5, external content (no đ folding)": [
            f"create virtual table fts using fts5({cols}, content='articles', "
            f"content_rowid='id', {tok})",
            "insert into fts (fts) values ('rebuild')",
        ],
        "folded shadow copy + FTS5 on it": [
            f"create table folded (id integer primary key, {shadow})",
            f"insert into folded select id, {folded} from articles",
            f"create virtual table fts using fts5({shadow}, content='folded', "
            f"content_rowid='id', {tok})",
            "insert into fts (fts) values ('rebuild')",
        ],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, statements) in enumerate(variants.items()):
            conn = sqlite3.connect(Path(tmp) / f"{i}.db")
            conn.execute(f"create table articles (id integer primary key, {cols})")
            conn.executemany(
                f"insert into articles values (?, {', '.join('?' * len(FTS_COLUMNS))})", rows)
            for sql in statements:
                conn.execute(sql)
            conn.commit()
            conn.execute("vacuum")
            sizes = table_sizes(conn)
            base = sum(v for k, v in sizes.items() if k in ("articles", "sqlite_schema"))
            out[name] = (sum(sizes.values()) - base) / len(rows)
            conn.close()
    return out


def pick_words(conn: sqlite3.Connection, total: int) -> list[tuple[str, str, int]]:
    """A rare, two medium and two very common words, by measured document frequency."""
    conn.execute("create virtual table if not exists temp.vocab using fts5vocab("
                 "main, articles_fts, 'row')")
    terms = conn.execute("select term, doc from temp.vocab where term not glob '*[0-9]*'"
                         ).fetchall()
    terms.sort(key=lambda t: t[1])
    docs = [t[1] for t in terms]
    wanted = [("rare", 0.0001), ("medium", 0.02), ("medium", 0.10), ("common", 0.5),
              ("very common", 0.99)]
    out = []
    for label, share in wanted:
        k = min(len(terms) - 1, bisect.bisect_left(docs, max(3, share * total)))
        out.append((label, terms[k][0], terms[k][1]))
    return out


def timed(conn: sqlite3.Connection, sql: str, params, repeat: int = 5) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        conn.execute(sql, params).fetchall()
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


async def datasette_pages(db: Path, words: list[str]) -> dict[str, dict]:
    """For each word: the SQL Datasette ran for the first page, its own timings, and the
    archive's search results page (HTML with count and facets) as a reader gets it."""
    from crawler.serve import build_datasette

    ds = build_datasette(db, public=False)
    t = time.perf_counter()
    await ds.invoke_startup()  # loads the search page's per-article arrays
    startup_ms = (time.perf_counter() - t) * 1000
    out = {"_startup_ms": startup_ms}
    for word in words:
        path = "/archive/articles.json"
        rows_only = await ds.client.get(path, params={"_search": word, "_nocount": "1",
                                                      "_nofacet": "1"})
        rows_only = await ds.client.get(path, params={"_search": word, "_nocount": "1",
                                                      "_nofacet": "1"})
        data = rows_only.json()
        page2_ms = None
        if data.get("next"):
            page2 = await ds.client.get(path, params={"_search": word, "_nocount": "1",
                                                      "_nofacet": "1", "_next": data["next"]})
            page2_ms = page2.json()["query_ms"]
        t = time.perf_counter()
        full = await ds.client.get(path, params={"_search": word})
        full_ms = (time.perf_counter() - t) * 1000
        html = {}
        indexes = ds.__dict__.get("_vngov_facet_indexes", {})
        for label, params in (("newest", {"_search": word}),
                              ("relevance", {"_search": word, "_sort": "relevance"}),
                              ("range", {"_search": word, "from": "01/01/2020",
                                         "to": "31/12/2021"})):
            runs = []
            for _ in range(5):
                for index in indexes.values():
                    index.recent.clear()  # no hits kept from an earlier request
                t = time.perf_counter()
                r = await ds.client.get("/archive/articles", params=params)
                runs.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (word, params, r.status_code, r.text[:300])
                assert 'class="facet facet-byline"' in r.text
                assert label == "range" or "<mark>" in r.text
            t = time.perf_counter()  # the next page: the hits are kept
            await ds.client.get("/archive/articles", params={**params, "page": "2"})
            html[label] = {"median_ms": statistics.median(runs), "max_ms": max(runs),
                           "page2_ms": (time.perf_counter() - t) * 1000}
        out[word] = {
            "sql": data["query"]["sql"], "params": data["query"]["params"],
            "rows": len(data["rows"]),
            "page_ms": data["query_ms"], "page2_ms": page2_ms, "full_page_ms": full_ms,
            "count": full.json().get("filtered_table_rows_count"), "html": html,
        }
    return out


def build_plain_fts(conn: sqlite3.Connection) -> float:
    """The naive reference: sqlite-utils' enable_fts on articles (external content)."""
    from sqlite_utils import Database

    t = time.perf_counter()
    db = Database(conn)
    if "plain_fts" not in db.table_names():
        conn.execute(
            f"create virtual table plain_fts using fts5({', '.join(FTS_COLUMNS)}, "
            "content='articles', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 2')")
        conn.execute("insert into plain_fts (plain_fts) values ('rebuild')")
        conn.commit()
    return time.perf_counter() - t


def run(n: int, db: Path, *, reuse: bool = False, sample: int = 20_000,
        out=print) -> dict:
    result: dict = {"articles": n}
    if not (reuse and db.exists()):
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        secs = generate(db, n, progress=n >= 50_000)
        result["generate_s"] = secs
        out(f"generated {n:,} articles through Archive.save_article in {secs:,.0f} s "
            f"({n / secs:,.0f}/s)")
    conn = sqlite3.connect(db)
    total = conn.execute("select count(*) from articles").fetchone()[0]
    result["articles"] = total
    size = db.stat().st_size
    sizes = group_sizes(table_sizes(conn), conn)
    sizes.pop("plain_fts (naive reference)", None)
    result["bytes_per_article"] = sum(sizes.values()) / total
    out(f"\narchive: {total:,} articles, {sum(sizes.values()) / 1e9:.2f} GB of pages "
        f"(file {size / 1e9:.2f} GB), {result['bytes_per_article']:,.0f} bytes per article")
    for name, b in sizes.items():
        out(f"  {name:32} {b / total:>8,.0f} B/article  {b / 1e6:>10,.1f} MB")
    result["tables"] = {k: v / total for k, v in sizes.items()}

    mech = mechanism_sizes(db, min(sample, total))
    result["mechanisms"] = mech
    out(f"\nsearch mechanisms, bytes per article on top of the article text "
        f"(same {min(sample, total):,} articles):")
    for name, b in mech.items():
        out(f"  {name:46} {b:>8,.0f}")

    secs = build_plain_fts(conn)
    out(f"\nnaive reference: plain FTS5 (external content) built in {secs:,.0f} s")
    words = pick_words(conn, total)
    pages = asyncio.run(datasette_pages(db, [w for _, w, _ in words]))
    result["search_page_startup_ms"] = pages.pop("_startup_ms")
    out("\nfirst page of _search=WORD, newest first (median of 5, warm cache, ms):")
    out(f"  {'word':14} {'articles':>9} {'share':>6}  {'plan':5} {'datasette':>9} "
        f"{'naive':>8} {'ratio':>6}   {'in':>7} {'scan':>7} {'probe':>7}   "
        f"{'page':>6} {'page 2':>6} {'full page':>9}")
    result["words"] = []
    for label, word, df in words:
        p = pages[word]
        ours = timed(conn, p["sql"], p["params"])
        match = match_expression(word)
        plan = search_plan(conn, match)
        # The same page (columns, order, size) with each WHERE clause swapped in.
        clause = search_where(plan, param="vngov_search")
        assert clause in p["sql"], p["sql"]
        naive = timed(conn, p["sql"].replace(clause, (
            "rowid in (select rowid from plain_fts where plain_fts match :vngov_search)")),
            {"vngov_search": f'"{word}"'})
        per_plan = {}
        for name in ("in", "scan", "probe"):
            if name == "probe" and df < 0.01 * total:
                per_plan[name] = None  # would probe every article: seconds
                continue
            per_plan[name] = timed(conn, p["sql"].replace(
                clause, search_where(name, param="vngov_search")), p["params"], repeat=3)
        row = {"label": label, "word": word, "docs": df, "plan": plan, "datasette_ms": ours,
               "naive_ms": naive, "plans_ms": per_plan, "page_ms": p["page_ms"],
               "page2_ms": p["page2_ms"], "full_page_ms": p["full_page_ms"],
               "count": p["count"]}
        result["words"].append(row)
        fmt = {k: ("-" if v is None else f"{v:.1f}") for k, v in per_plan.items()}
        out(f"  {word:14} {df:>9,} {df / total:>6.1%}  {plan:5} {ours:>9.1f} {naive:>8.1f} "
            f"{naive / max(ours, 0.001):>5.0f}x   {fmt['in']:>7} {fmt['scan']:>7} "
            f"{fmt['probe']:>7}   {p['page_ms']:>6.0f} {p['page2_ms'] or 0:>6.0f} "
            f"{p['full_page_ms']:>9.0f}")
    out("  datasette = the SQL Datasette ran for the page (from its JSON), re-timed; naive = "
        "plain FTS5 rowid-in query; in/scan/probe = each plan's clause; page = Datasette's "
        "query_ms with _nocount&_nofacet; page 2 = the same for the next page; full page = whole request with count and facets "
        "(ms); page size 50 (+1)")
    out(f"\nsearch results page /archive/articles?_search=WORD (HTML: 20 results with marked "
        f"snippets, exact count, site/year/byline facets), whole request in-process, ms; "
        f"arrays loaded at startup in {result['search_page_startup_ms']:,.0f} ms:")
    out(f"  {'word':14} {'articles':>9}   {'newest':>7} {'max':>5} {'page 2':>6}   "
        f"{'relevance':>9}   {'2020-2021':>9}")
    for row in result["words"]:
        h = pages[row["word"]]["html"]
        row["html"] = h
        out(f"  {row['word']:14} {row['docs']:>9,}   {h['newest']['median_ms']:>7.0f} "
            f"{h['newest']['max_ms']:>5.0f} {h['newest']['page2_ms']:>6.0f}   "
            f"{h['relevance']['median_ms']:>9.0f}   {h['range']['median_ms']:>9.0f}")
    out("  newest = median of 5 requests, none reusing another's hits (max = the slowest); "
        "page 2 = the next page, which reuses the hits; relevance = _sort=relevance (bm25 "
        "over every hit); 2020-2021 = from=01/01/2020&to=31/12/2021")
    conn.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--articles", type=int, default=1_000_000)
    parser.add_argument("--db", help="archive file to write (default: a temporary file)")
    parser.add_argument("--reuse", action="store_true", help="time an existing --db")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    tmp = None
    if args.db:
        db = Path(args.db)
    else:
        tmp = tempfile.mkdtemp(prefix="store-bench-")
        db = Path(tmp) / "bench.db"
    try:
        result = run(args.articles, db, reuse=args.reuse)
        if args.json:
            Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1))
    finally:
        if tmp and not args.keep:
            for p in Path(tmp).glob("*"):
                p.unlink()
            Path(tmp).rmdir()
        elif tmp:
            print(f"kept {db}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
